//! What the API's pure tests share: an admin caller, creating an object through Octavia's
//! rules (`ops`) and settling its load balancer, and the real haproxy's verdict on a
//! rendered config.
#![allow(dead_code)]

use fulcrum_api::ops::{self, Caller};
use fulcrum_api::state::{s, State};
use serde_json::Value;

pub fn admin() -> Caller {
    Caller {
        project: "p".into(),
        admin: true,
    }
}

pub fn body(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Creates `kind` under `parent` as the admin and settles the pending load balancers;
/// the new object's id, or the API's (status, message).
pub fn try_create(
    st: &mut State,
    kind: &str,
    parent: Option<&str>,
    v: Value,
) -> Result<String, (u16, String)> {
    let (o, _) = ops::create(st, kind, parent, &body(v), &admin()).map_err(|e| (e.code, e.msg))?;
    let lbs = st.pending_lbs();
    st.settle(&lbs, true, "");
    Ok(s(&o, "id").to_string())
}

pub fn create(st: &mut State, kind: &str, parent: Option<&str>, v: Value) -> String {
    try_create(st, kind, parent, v).expect("create")
}

/// `haproxy -c` accepts the rendered `text` (written to a temporary file named after
/// `tag`). Without haproxy: a loud skip, or a failure under FULCRUM_REQUIRE_NETNS=1.
pub fn haproxy_accepts(text: &str, tag: &str) {
    match std::process::Command::new("haproxy").arg("-v").output() {
        Ok(o) if o.status.success() => {
            let path =
                std::env::temp_dir().join(format!("fulcrum-{tag}-{}.cfg", std::process::id()));
            std::fs::write(&path, text).expect("write");
            let out = std::process::Command::new("haproxy")
                .args(["-c", "-f"])
                .arg(&path)
                .output()
                .expect("haproxy -c");
            let _ = std::fs::remove_file(&path);
            assert!(
                out.status.success(),
                "haproxy -c:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        _ => {
            assert!(
                std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() != Ok("1"),
                "haproxy missing under FULCRUM_REQUIRE_NETNS=1"
            );
            eprintln!("SKIPPED: haproxy not installed; the rendering was not checked by it");
        }
    }
}
