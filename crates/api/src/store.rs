//! The embedded store (`store PATH`): every object as one JSON value under `KIND/ID` in a redb
//! table. redb is a pure-Rust, crash-safe (copy-on-write B-trees, fsync on commit) embedded
//! database: a change is on disk when its transaction commits, before the API answers.
//! Without `store`, state lives in memory only.

use crate::state::{State, KINDS};
use redb::{Database, ReadableTable, TableDefinition};
use std::path::Path;

const OBJECTS: TableDefinition<&str, &str> = TableDefinition::new("objects");

pub struct Store {
    db: Option<Database>,
}

impl Store {
    pub fn memory() -> Self {
        Store { db: None }
    }

    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("api store {}: {e}", dir.display()))?;
        }
        let db =
            Database::create(path).map_err(|e| format!("api store {}: {e}", path.display()))?;
        Ok(Store { db: Some(db) })
    }

    /// Everything stored, as the in-memory state.
    pub fn load(&self) -> Result<State, String> {
        let mut state = State::default();
        let Some(db) = &self.db else {
            return Ok(state);
        };
        let tx = db.begin_read().map_err(|e| e.to_string())?;
        let table = match tx.open_table(OBJECTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(state),
            Err(e) => return Err(e.to_string()),
        };
        for row in table.iter().map_err(|e| e.to_string())? {
            let (k, v) = row.map_err(|e| e.to_string())?;
            let key = k.value();
            let Some((kind, id)) = key.split_once('/') else {
                continue;
            };
            if !KINDS.contains(&kind) {
                continue;
            }
            let obj: crate::state::Obj = serde_json::from_str(v.value())
                .map_err(|e| format!("api store: object {key} is not valid JSON: {e}"))?;
            state.insert(kind, id, obj);
        }
        Ok(state)
    }

    /// Writes (or removes, when gone from `state`) each changed object in one transaction.
    pub fn save(&self, state: &State, changed: &[(String, String)]) -> Result<(), String> {
        let Some(db) = &self.db else {
            return Ok(());
        };
        let tx = db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = tx.open_table(OBJECTS).map_err(|e| e.to_string())?;
            for (kind, id) in changed {
                let key = format!("{kind}/{id}");
                match state.get(kind, id) {
                    Some(obj) => {
                        let text = serde_json::to_string(obj).map_err(|e| e.to_string())?;
                        table
                            .insert(key.as_str(), text.as_str())
                            .map_err(|e| e.to_string())?;
                    }
                    None => {
                        table.remove(key.as_str()).map_err(|e| e.to_string())?;
                    }
                }
            }
        }
        tx.commit().map_err(|e| e.to_string())
    }
}
