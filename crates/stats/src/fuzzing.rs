//! The stats crate's fuzz entry (fuzz/fuzz_targets/stats_admin_form.rs) and its stable corpus
//! replay (`tests/fuzz_replay.rs`): the admin form body a browser POSTs and the Basic-auth
//! credentials of `stats auth`, both from outside. Never a panic; a decoded form names only
//! what the body carried.

use crate::admin;
use crate::serve::base64_decode;

pub fn one_input(data: &[u8]) {
    let f = admin::parse(data);
    let pairs = data.split(|b| *b == b'&').filter(|p| !p.is_empty()).count();
    assert!(f.servers.len() <= pairs);
    if let Some(a) = &f.action {
        let _ = admin::action_state(a);
    }
    let _ = admin::url_decode(data);
    // Basic auth: the header value after `Basic `.
    if let Some(d) = base64_decode(data) {
        assert!(d.len() <= data.len());
    }
}
