//! Where relative file names of the configuration are read from: HAProxy's global
//! `default-path current|config|parent|origin PATH`.
//!
//! HAProxy `chdir`s while it parses each file (the file's directory, its parent or PATH) and
//! goes back to the start directory after it; files it opens while parsing (error files,
//! `return file`, `-f` ACL files, maps, certificates, CA and CRL files, crt-lists) follow the
//! policy, files it opens after parsing (`h1-case-adjust-file`, `stats socket`, `pidfile`) do
//! not. fulcrum never changes directory: the parser keeps a base directory for the lines
//! it reads ([`Paths`], carried by every `Line`), and every keyword naming a file read while
//! parsing joins it through [`Paths::file`] (or `crt`/`ca` for certificates), so the model
//! holds names the rest of fulcrum opens as they are. Map and ACL files keep the name as
//! written (HAProxy's `show map` / `show acl` print it): the sample crate resolves them
//! through `fulcrum_sample::files`, fed by the parser.

use std::path::{Path, PathBuf};

/// The `default-path` policy in force (it carries over to the next files, as in HAProxy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Policy {
    /// The directory fulcrum was started in (HAProxy's default).
    #[default]
    Current,
    Config,
    Parent,
    Origin(String),
}

impl Policy {
    /// Reads `default-path`'s arguments.
    pub fn parse(words: &[String]) -> Result<Policy, String> {
        let arg = |i: usize| words.get(i).map(String::as_str);
        let policy = match arg(1) {
            Some("current") => Policy::Current,
            Some("config") => Policy::Config,
            Some("parent") => Policy::Parent,
            Some("origin") => match arg(2) {
                Some(p) if !p.is_empty() => {
                    if let Some(extra) = arg(3) {
                        return Err(format!("unexpected '{extra}' after 'default-path origin {p}'"));
                    }
                    return Ok(Policy::Origin(p.to_string()));
                }
                _ => return Err("'default-path origin' expects a path".into()),
            },
            Some(other) => {
                return Err(format!(
                    "'default-path' expects 'current', 'config', 'parent' or 'origin <path>', found '{other}'"
                ))
            }
            None => {
                return Err(
                    "'default-path' expects 'current', 'config', 'parent' or 'origin <path>'"
                        .into(),
                )
            }
        };
        if let Some(extra) = arg(2) {
            return Err(format!(
                "unexpected '{extra}' after '{}'",
                words[..2].join(" ")
            ));
        }
        Ok(policy)
    }

    /// The base directory for the lines of `file` (None: the start directory). As HAProxy:
    /// `config` is the file's name up to its last `/` (no `/`: the current directory),
    /// `parent` that plus `/..` (no `/`: `..`).
    pub fn base(&self, file: &str) -> Option<PathBuf> {
        let dir = file.rfind('/').map(|i| &file[..i.max(1)]);
        match self {
            Policy::Current => None,
            Policy::Config => dir.map(PathBuf::from),
            Policy::Parent => {
                Some(dir.map_or_else(|| PathBuf::from(".."), |d| Path::new(d).join("..")))
            }
            Policy::Origin(p) => Some(PathBuf::from(p)),
        }
    }
}

/// What a line's relative file names are joined with.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// The `default-path` directory of the line (None: names stay as written).
    pub base: Option<PathBuf>,
    /// The global `crt-base` / `ca-base` read so far (already joined with their own base).
    pub crt_base: Option<String>,
    pub ca_base: Option<String>,
}

impl Paths {
    /// `name` as fulcrum must open it: joined with the base when relative.
    pub fn file(&self, name: &str) -> String {
        match &self.base {
            // `@system-ca` and the like are names, not files
            Some(b) if !name.starts_with(['/', '@']) && !name.is_empty() => {
                b.join(name).display().to_string()
            }
            _ => name.to_string(),
        }
    }

    /// A `crt` / `crt-list` / `default-crt` name: left as written when `crt-base` applies
    /// (the TLS code joins it with `crt-base`, itself already resolved), else [`Paths::file`].
    pub fn crt(&self, name: &str) -> String {
        if self.crt_base.is_some() {
            return name.to_string();
        }
        self.file(name)
    }

    /// A `ca-file` / `ca-verify-file` / `crl-file` name: under `ca-base` when relative (as
    /// HAProxy), then [`Paths::file`].
    pub fn ca(&self, name: &str) -> String {
        match &self.ca_base {
            Some(b) if !name.starts_with(['/', '@']) => {
                self.file(&Path::new(b).join(name).display().to_string())
            }
            _ => self.file(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn policies_give_haproxy_directories() {
        assert_eq!(Policy::Current.base("/etc/h/h.cfg"), None);
        assert_eq!(Policy::Config.base("/etc/h/h.cfg"), Some("/etc/h".into()));
        assert_eq!(Policy::Config.base("h.cfg"), None);
        assert_eq!(Policy::Config.base("/h.cfg"), Some("/".into()));
        assert_eq!(Policy::Parent.base("../a/h.cfg"), Some("../a/..".into()));
        assert_eq!(Policy::Parent.base("h.cfg"), Some("..".into()));
        assert_eq!(
            Policy::Origin("/srv".into()).base("x/h.cfg"),
            Some("/srv".into())
        );
    }

    #[test]
    fn parse_refuses_what_haproxy_refuses() {
        assert_eq!(
            Policy::parse(&words("default-path config")),
            Ok(Policy::Config)
        );
        assert_eq!(
            Policy::parse(&words("default-path origin /x")),
            Ok(Policy::Origin("/x".into()))
        );
        assert!(Policy::parse(&words("default-path origin")).is_err());
        assert!(Policy::parse(&words("default-path nowhere")).is_err());
        assert!(Policy::parse(&words("default-path config x")).is_err());
        assert!(Policy::parse(&words("default-path")).is_err());
    }

    #[test]
    fn names_join_the_base_unless_absolute() {
        let p = Paths {
            base: Some("/pkg/conf".into()),
            crt_base: None,
            ca_base: Some("/pkg/ca".into()),
        };
        assert_eq!(p.file("a.map"), "/pkg/conf/a.map");
        assert_eq!(p.file("/abs"), "/abs");
        assert_eq!(p.crt("c.pem"), "/pkg/conf/c.pem");
        assert_eq!(p.ca("ca.pem"), "/pkg/ca/ca.pem");
        let rel = Paths {
            base: Some("/pkg".into()),
            crt_base: Some("/pkg/certs".into()),
            ca_base: Some("cas".into()),
        };
        assert_eq!(rel.crt("c.pem"), "c.pem");
        assert_eq!(rel.ca("ca.pem"), "/pkg/cas/ca.pem");
        assert_eq!(Paths::default().ca("ca.pem"), "ca.pem");
    }
}
