//! The `http_auth*` fetches: a request's Basic credentials (from `Authorization`, or
//! `Proxy-Authorization` for a proxy request under `option http-use-proxy-header`) checked
//! against a `userlist`.

use super::{str_arg_of, HttpEnv};
use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::Value;

impl HttpEnv<'_> {
    /// The header carrying the client's credentials.
    fn auth_header(&self) -> &'static [u8] {
        if self.proxy_auth {
            b"proxy-authorization"
        } else {
            b"authorization"
        }
    }

    /// The userlist named by `f`'s argument and the request's `Authorization` credentials.
    pub(super) fn credentials<'f>(
        &self,
        f: &'f Fetch,
    ) -> Option<(&'f str, crate::http::userlist::Credentials)> {
        let list = std::str::from_utf8(str_arg_of(f)).ok()?;
        let c = crate::http::userlist::parse(self.req?.header(self.auth_header())?)?;
        Some((list, c))
    }

    /// `http_auth*` fetches.
    pub(super) fn auth_fetch(&self, f: &Fetch) -> Option<Value> {
        let c = || crate::http::userlist::parse(self.req?.header(self.auth_header())?);
        match f.kw.name {
            // No sample without credentials (as HAProxy), false for wrong ones.
            "http_auth" => {
                let (l, c) = self.credentials(f)?;
                Some(Value::Bool(crate::http::userlist::check(l, &c).is_some()))
            }
            "http_auth_group" => {
                let (l, c) = self.credentials(f)?;
                crate::http::userlist::check(l, &c).map(|_| Value::Str(c.user))
            }
            "http_auth_type" => {
                let c = c()?;
                let name: &[u8] = match c.scheme.to_ascii_lowercase().as_slice() {
                    b"basic" => b"Basic",
                    b"digest" => b"Digest",
                    b"bearer" => b"Bearer",
                    _ => return None,
                };
                Some(Value::Str(name.to_vec()))
            }
            "http_auth_user" => c()
                .filter(|c| !c.user.is_empty())
                .map(|c| Value::Str(c.user)),
            "http_auth_pass" => c()
                .filter(|c| !c.user.is_empty())
                .map(|c| Value::Str(c.pass)),
            _ => None,
        }
    }
}
