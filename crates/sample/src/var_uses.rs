//! Which variables a configuration reads and sets, noted while it is compiled so that
//! `fulcrum check` can say where a variable is read that nothing sets (it is always empty
//! there: HAProxy says nothing about it). Nothing is noted outside [`collect`], so the data
//! plane's own compilations cost nothing here.

use std::cell::RefCell;

/// The variables one stretch of compiling read and set, as `(scope, name)`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Uses {
    pub reads: Vec<(String, String)>,
    pub sets: Vec<(String, String)>,
}

thread_local! {
    static NOTED: RefCell<Option<Uses>> = const { RefCell::new(None) };
}

/// Runs `f`, returning what it returned and the variables compiled expressions read and
/// rules set meanwhile (on this thread).
pub fn collect<R>(f: impl FnOnce() -> R) -> (R, Uses) {
    let outer = NOTED.with(|n| n.replace(Some(Uses::default())));
    let r = f();
    let mine = NOTED.with(|n| n.replace(outer)).unwrap_or_default();
    NOTED.with(|n| {
        if let Some(o) = n.borrow_mut().as_mut() {
            o.reads.extend(mine.reads.iter().cloned());
            o.sets.extend(mine.sets.iter().cloned());
        }
    });
    (r, mine)
}

/// A `var(scope.name)` (fetch or converter argument) was compiled.
pub fn note_read(scope: &str, name: &str) {
    note(|u| u.reads.push((scope.to_string(), name.to_string())));
}

/// A rule or check sets `scope.name` (`set-var`, `set-var-fmt`).
pub fn note_set(scope: &str, name: &str) {
    note(|u| u.sets.push((scope.to_string(), name.to_string())));
}

fn note(f: impl FnOnce(&mut Uses)) {
    NOTED.with(|n| {
        if let Some(u) = n.borrow_mut().as_mut() {
            f(u);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noted_only_while_collecting_and_nested_collections_add_up() {
        note_read("txn", "lost");
        let ((), outer) = collect(|| {
            note_set("txn", "a");
            let ((), inner) = collect(|| note_read("txn", "b"));
            assert_eq!(inner.reads, vec![("txn".to_string(), "b".to_string())]);
        });
        assert_eq!(outer.sets, vec![("txn".to_string(), "a".to_string())]);
        assert_eq!(outer.reads, vec![("txn".to_string(), "b".to_string())]);
    }
}
