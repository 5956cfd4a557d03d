//! The forward path's side of session persistence: shows the request's and the response's
//! header fields to the pure [`crate::persist`] code as views, and applies the header edits it
//! returns to the messages; and runs a backend's sample-keyed stick rules (`stick match
//! req.cook(C)` / `stick store-response res.cook(C)`) on the messages. Nothing here runs for a
//! backend without a `cookie` line or such rules.

use super::message::Message;
use super::sample_env::HttpEnv;
use crate::backend::Backend;
use crate::persist::cookie::{CookieRequest, CookieResponse, CookieState};
use crate::persist::HeaderEdit;
use std::time::{SystemTime, UNIX_EPOCH};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn view(m: &Message) -> Vec<(&[u8], &[u8])> {
    m.fields.iter().map(|f| (m.name(f), m.value(f))).collect()
}

/// Applies edits by position, in [`crate::persist::apply_edits`]'s order: replacements,
/// removals, then appends.
fn apply(m: &mut Message, edits: &[HeaderEdit]) {
    if edits.is_empty() {
        return;
    }
    let mut removals = Vec::new();
    for e in edits {
        match e {
            HeaderEdit::Replace { index, value } => m.set_value_at(*index, value.as_bytes()),
            HeaderEdit::Remove { index } => removals.push(*index),
            HeaderEdit::Append { .. } => {}
        }
    }
    m.remove_at(removals);
    for e in edits {
        if let HeaderEdit::Append { name, value } = e {
            m.append(name.as_bytes(), value.as_bytes());
        }
    }
}

/// Cookie request phase: which server the client's cookie names (if usable, or DOWN with
/// `option persist`), with the request's Cookie headers edited for the server (`indirect`,
/// `prefix`). `None` when the backend has no `cookie` line.
/// `persist` (`force-persist` / `ignore-persist`): a forced cookie may name a DOWN server;
/// an ignored one chooses no server and gets no new cookie (it is still removed from the
/// request under `indirect`), as haproxy 2.6 measured.
pub fn on_request(
    be: &Backend,
    req: &mut Message,
    persist: super::server_rules::Persist,
) -> Option<CookieRequest> {
    use super::server_rules::Persist;
    let cp = be.policy.cookie.as_ref()?;
    let servers = be.cookie_servers();
    let decision = match persist {
        Persist::Normal => cp.on_request(now_secs(), &view(req), &servers),
        Persist::Ignore => {
            let mut d = cp.on_request(now_secs(), &view(req), &servers);
            d.server = None;
            d.ignored = true;
            d
        }
        Persist::Force => {
            let mut forced = cp.clone();
            forced.persist = true;
            forced.on_request(now_secs(), &view(req), &servers)
        }
    };
    apply(req, &decision.edits);
    Some(decision)
}

/// The third character of HAProxy's termination state in `option httplog`: what the request's
/// persistence cookie was.
pub fn request_flag(decision: &CookieRequest) -> u8 {
    match decision.state {
        CookieState::None => b'N',
        CookieState::Valid => b'V',
        CookieState::Down => b'D',
        CookieState::Invalid => b'I',
        CookieState::Expired => b'E',
        CookieState::Old => b'O',
    }
}

/// The fourth character: what became of the persistence cookie in the response — `I`
/// inserted, `U` updated (a valid cookie's dates refreshed), `R` rewritten, `D` the server's
/// one deleted, `P` the server's one passed as is, `N` none.
fn response_flag(
    edits: &[HeaderEdit],
    decision: &CookieRequest,
    direct: bool,
    server_set: bool,
) -> u8 {
    if edits.iter().any(
        |e| matches!(e, HeaderEdit::Append { name, .. } if name.eq_ignore_ascii_case("set-cookie")),
    ) {
        if direct && decision.state == CookieState::Valid {
            b'U'
        } else {
            b'I'
        }
    } else if edits
        .iter()
        .any(|e| matches!(e, HeaderEdit::Replace { .. }))
    {
        b'R'
    } else if edits.iter().any(|e| matches!(e, HeaderEdit::Remove { .. })) {
        b'D'
    } else if server_set {
        b'P'
    } else {
        b'N'
    }
}

/// Cookie response phase: the server's Set-Cookie handled and HAProxy's Set-Cookie /
/// Cache-control added. `direct`: the server is the one the cookie chose (false after a
/// redispatch or when balanced). Returns the log's response cookie flag.
pub fn on_response(
    be: &Backend,
    decision: &CookieRequest,
    method: &[u8],
    server: usize,
    direct: bool,
    res: &mut Message,
) -> u8 {
    let Some(cp) = be.policy.cookie.as_ref() else {
        return b'-';
    };
    let name = cp.cfg.name.as_bytes();
    let server_set = view(res).iter().any(|(n, v)| {
        n.eq_ignore_ascii_case(b"set-cookie")
            && v.split(|&b| b == b'=')
                .next()
                .is_some_and(|k| k.trim_ascii() == name)
    });
    let ctx = CookieResponse {
        method,
        status: res.status,
        server_cookie: be.server_cookies.get(server).and_then(|c| c.as_deref()),
        direct,
    };
    // The `dispatch` address is no server: HAProxy inserts no cookie for it.
    let dispatched = be
        .servers
        .get(server)
        .is_some_and(|s| s.name == fulcrum_config::model_keywords::DISPATCH_SERVER);
    let edits = if dispatched {
        Vec::new()
    } else {
        cp.on_response(now_secs(), decision, &ctx, &view(res))
    };
    apply(res, &edits);
    response_flag(&edits, decision, direct, server_set)
}

/// Sample-keyed stick rules, request phase (`stick match|on EXPR [table T] [if COND]`): the
/// usable server the request's key is stuck to, unless `assigned` (a cookie already chose),
/// and the `stick on|store-request` keys to store once the server is known.
pub fn stick_request(be: &Backend, env: &HttpEnv<'_>, assigned: bool) -> (Option<usize>, Stores) {
    let Some(ss) = be.policy.stick_sample.as_ref() else {
        return (None, Vec::new());
    };
    // The server of the stored name, else of the stored id (HAProxy 2.6: `server_key`, then
    // `server_id`, e.g. a table shared by backends with different servers); DRAIN (or
    // runtime weight 0) keeps its stuck clients; DOWN and MAINT do not.
    let usable = |stuck: &crate::persist::stick_sample::Stuck| {
        let i = be
            .servers
            .iter()
            .position(|s| s.name == stuck.name)
            .or_else(|| (0..be.servers.len()).find(|&i| be.policy.server_id(i) == stuck.id))?;
        let s = &be.servers[i];
        s.persistable().then(|| s.name.clone())
    };
    let got = ss.on_request(std::time::Instant::now(), env, assigned, usable, |c| {
        c.eval(env)
    });
    let index = got
        .server
        .and_then(|name| be.servers.iter().position(|s| s.name == name));
    (index, got.stores)
}

/// The keys stick rules keep until the server is known.
pub type Stores = Vec<(
    std::sync::Arc<crate::persist::stick_sample::StickStore>,
    Vec<u8>,
)>;

/// Stores a request's `stick on|store-request` keys with server `index` (not a `non-stick`
/// one, as HAProxy's `process_store_rules`).
pub fn stick_store(be: &Backend, stores: &Stores, index: usize) {
    // Nothing to store (no `stick` rule, or none matched): no server name copied per request.
    if stores.is_empty() {
        return;
    }
    if let Some(s) = be.servers.get(index).filter(|_| be.policy.sticks(index)) {
        let stuck = crate::persist::stick_sample::Stuck {
            name: s.name.clone(),
            id: be.policy.server_id(index),
        };
        crate::persist::stick_sample::SampleStick::<crate::acl::Cond>::store(
            std::time::Instant::now(),
            stores.clone(),
            &stuck,
        );
    }
}

/// Sample-keyed stick rules, response phase (`stick store-response EXPR`): the response's
/// keys now stick to server `index`, the one that answered.
pub fn stick_response(be: &Backend, env: &HttpEnv<'_>, index: usize) {
    if let Some(ss) = be.policy.stick_sample.as_ref() {
        let stores = ss.on_response(env, |c| c.eval(env));
        if !stores.is_empty() {
            stick_store(be, &stores, index);
        }
    }
}
