//! `http-response wait-for-body ... [if|unless COND]` among a proxy's leading `http-response`
//! rules (the config layer refuses one after other rules): the first of them whose condition
//! holds on the answer's head says how long to wait for its body, before any rule runs (the
//! rules between them are waits too, so nothing else could have run first, as in HAProxy).

use super::{Action, Env, Rule};
use crate::http::message::Message;
use fulcrum_config::model::WaitForBody;

/// The wait the leading `wait-for-body` rules of `sets` (the backend's, then the frontend's)
/// ask for this answer, if any.
pub fn response_wait(
    sets: &[&[Rule]],
    env: &Env<'_>,
    req: &Message,
    res: &Message,
) -> Option<WaitForBody> {
    for rules in sets {
        for r in rules.iter() {
            let Action::WaitBody(w) = &r.action else {
                break;
            };
            if r.cond
                .as_ref()
                .is_none_or(|c| c.eval(&env.sample(Some(req), Some(res))))
            {
                return Some(w.clone());
            }
        }
    }
    None
}
