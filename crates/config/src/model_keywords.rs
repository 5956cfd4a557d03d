//! Model of the proxy keywords issue 13 moved from "refused" to "run": `disabled` /
//! `enabled`, `http-send-name-header`, `errorloc*`, `http-error`.
//!
//! Parsed by `haproxy/keywords.rs`. `errorloc*` and
//! `http-error` become error pages ([`crate::model::ErrorFile`] with a [`ErrorReply`]);
//! `server-template` becomes plain servers.

use serde::Serialize;

/// Keywords of one proxy (inherited from `defaults` where HAProxy allows it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProxyKeywords {
    /// `disabled` (`enabled` clears it): the proxy does not serve. Applied by the config
    /// crate: a disabled proxy keeps no listener and no server.
    pub disabled: bool,
    /// `http-send-name-header NAME`: the chosen server's name, sent to it in header NAME.
    pub send_name_header: Option<String>,
}

/// An error page that is not a file: `errorloc302|303 CODE URL` or `http-error status CODE ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorReply {
    /// A redirect (302 or 303) to `url`, with no body.
    Location { code: u16, url: String },
    /// `http-error status CODE [content-type T] [string S|file F] [hdr N V]...`.
    Reply {
        content_type: Option<String>,
        /// The body (a `string`, or a `file`'s content read when the config is loaded).
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    },
    /// `http-error status CODE errorfile F`: the file is the whole answer.
    File,
}
