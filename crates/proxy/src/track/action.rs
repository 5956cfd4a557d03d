//! The stick-counter actions of every rule set (`http-request`, `http-response`,
//! `tcp-request connection|session|content`, `tcp-response content`), one code path for all:
//! `sc-inc-gpc(IDX,N)`, `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`, `sc-set-gpt(IDX,N) VALUE` and
//! `sc-set-gpt0(N) VALUE` (an integer or a sample expression, evaluated when the rule runs).
//! The legacy forms reach an array's first elements when the table stores the array, as
//! HAProxy's; the array forms only the arrays.

use super::Tracking;
use crate::persist::track::Event;
use fulcrum_config::model::CounterAction;
use fulcrum_sample::{Env, Expr, Value};

/// A compiled counter action (not `track-sc`, which needs its table).
#[derive(Debug)]
pub struct CounterOp {
    slot: usize,
    what: What,
}

#[derive(Debug)]
enum What {
    Inc { idx: u8, array: bool },
    Set { idx: u8, array: bool, value: Expr },
}

impl CounterOp {
    /// `None` for `track-sc`; an error for a value that is no sample expression.
    pub fn compile(c: &CounterAction) -> Option<Result<CounterOp, String>> {
        Some(match c {
            CounterAction::TrackSc { .. } => return None,
            CounterAction::IncGpc { slot, idx, array } => Ok(CounterOp {
                slot: usize::from(*slot),
                what: What::Inc {
                    idx: *idx,
                    array: *array,
                },
            }),
            CounterAction::SetGpt {
                slot,
                idx,
                array,
                value,
            } => fulcrum_sample::compile(value)
                .map(|value| CounterOp {
                    slot: usize::from(*slot),
                    what: What::Set {
                        idx: *idx,
                        array: *array,
                        value,
                    },
                })
                .map_err(|e| format!("sc-set-gpt value '{value}': {e}")),
        })
    }

    /// Runs the action on the entry slot N tracks (nothing when it tracks none; a value that
    /// is no integer sets nothing, as HAProxy).
    pub fn run(&self, tracking: &Tracking, env: &dyn Env) {
        let ev = match &self.what {
            What::Inc { idx, array } => Event::IncGpc {
                idx: *idx,
                array: *array,
            },
            What::Set { idx, array, value } => {
                let Some(Value::Sint(v)) = value
                    .eval(env)
                    .and_then(|v| fulcrum_sample::cast::cast(v, fulcrum_sample::Type::Sint))
                else {
                    return;
                };
                // HAProxy keeps a 32-bit unsigned tag
                Event::SetGpt {
                    idx: *idx,
                    array: *array,
                    value: u64::from(v as u32),
                }
            }
        };
        tracking.event(self.slot, ev);
    }
}
