//! The slot map of a virtual server: the chain each slot jumps to, and the slots applied now
//! read back as member indices (so a change patches assignments instead of reshuffling them).

use super::{Inputs, Member};
use crate::names::{self, TABLE};
use crate::ruleset::TableId;

/// The previous slot map of `chain` as member indices of `members`.
pub(super) fn previous_slots(
    inputs: &Inputs,
    family: &'static str,
    chain: &str,
    members: &[Member],
) -> Vec<Option<usize>> {
    let id = TableId {
        family,
        name: TABLE.into(),
    };
    let Some(map) = inputs
        .previous
        .tables
        .get(&id)
        .and_then(|t| t.maps.get(&format!("{chain}_slots")))
    else {
        return Vec::new();
    };
    let names: Vec<String> = members
        .iter()
        .map(|m| format!("goto {}", member_chain(chain, m)))
        .collect();
    let mut out = vec![None; map.elems.len()];
    for (k, v) in &map.elems {
        if let Ok(i) = k.parse::<usize>() {
            if i < out.len() {
                out[i] = names.iter().position(|n| n == v);
            }
        }
    }
    out
}

pub(super) fn member_chain(vs_chain: &str, m: &Member) -> String {
    if m.sorry {
        format!("{vs_chain}_sorry")
    } else {
        names::rs_chain(vs_chain, m.ip, m.port)
    }
}

pub(super) fn slot_elems(
    chain: &str,
    table: &[usize],
    members: &[Member],
) -> std::collections::BTreeMap<String, String> {
    table
        .iter()
        .enumerate()
        .map(|(slot, &i)| {
            (
                slot.to_string(),
                format!("goto {}", member_chain(chain, &members[i])),
            )
        })
        .collect()
}
