//! The rule actions that change a map or an ACL file from traffic, as HAProxy 2.6's
//! `http-request|http-response set-map(FILE) KEY VALUE`, `del-map(FILE) KEY`,
//! `add-acl(FILE) KEY`, `del-acl(FILE) KEY`: the same reference the runtime socket changes,
//! so every converter and ACL using the file sees the change at once.

use crate::registry::Registry;
use crate::registry_cli::{add, del, set};

/// What a rule does to a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// `set-map`: the value of every entry with the key, or a new entry.
    SetMap,
    /// `del-map`, `del-acl`: every entry with the key goes.
    Delete,
    /// `add-acl`: a new pattern, unless one is already written so.
    AddAcl,
}

impl Registry {
    /// The reference `file` (as the rule names it) for a rule action, read from the file
    /// the first time (HAProxy loads it when the rule is parsed if nothing else did).
    pub fn edited(
        &self,
        file: &str,
        map: bool,
        read: impl FnOnce() -> Result<String, String>,
    ) -> Result<(), String> {
        let mut inner = self.inner.lock().map_err(|_| "registry poisoned")?;
        let i = Registry::file_ref(&mut inner, file, map, read)?;
        let r = &mut inner.refs[i];
        if map {
            r.is_map = true;
        } else {
            r.is_acl = true;
        }
        Ok(())
    }

    /// Applies `edit` to the reference `file` with `key` (and `value` for `set-map`).
    pub fn edit(&self, edit: Edit, file: &str, key: &str, value: &str) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let uid = inner.uid();
        let Some(r) = inner
            .refs
            .iter_mut()
            .find(|r| r.file.as_deref() == Some(file))
        else {
            return;
        };
        let exists = r.entries.iter().any(|e| e.key == key);
        let _ = match edit {
            Edit::SetMap if exists => set(r, key, value),
            Edit::SetMap => add(r, uid, key, Some(value)),
            Edit::Delete if exists => del(r, key),
            Edit::AddAcl if !exists => add(r, uid, key, None),
            Edit::Delete | Edit::AddAcl => String::new(),
        };
    }
}
