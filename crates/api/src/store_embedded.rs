//! The embedded store (`store PATH`): every object as one JSON value under `KIND/ID` in a redb
//! table. redb is a pure-Rust, crash-safe (copy-on-write B-trees, fsync on commit) embedded
//! database: a change is on disk when its transaction commits, before the API answers.

use crate::state::State;
use crate::store::{decode, BoxFuture, Store, StoreError, Write};
use redb::{Database, ReadableTable, TableDefinition};
use std::path::Path;

const OBJECTS: TableDefinition<&str, &str> = TableDefinition::new("objects");

pub struct Embedded {
    db: Database,
}

impl Embedded {
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("api store {}: {e}", dir.display()))?;
        }
        let db =
            Database::create(path).map_err(|e| format!("api store {}: {e}", path.display()))?;
        Ok(Embedded { db })
    }

    /// Everything stored, as the in-memory state.
    pub fn load_now(&self) -> Result<State, String> {
        let mut state = State::default();
        let tx = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = match tx.open_table(OBJECTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(state),
            Err(e) => return Err(e.to_string()),
        };
        for row in table.iter().map_err(|e| e.to_string())? {
            let (k, v) = row.map_err(|e| e.to_string())?;
            decode(&mut state, k.value(), v.value())?;
        }
        Ok(state)
    }

    fn commit_now(&self, writes: &[Write]) -> Result<(), String> {
        let tx = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = tx.open_table(OBJECTS).map_err(|e| e.to_string())?;
            for (key, value) in writes {
                match value {
                    Some(text) => {
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

impl Store for Embedded {
    fn load(&self) -> BoxFuture<'_, Result<State, String>> {
        Box::pin(async move { self.load_now() })
    }
    fn commit(&self, writes: Vec<Write>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { Ok(self.commit_now(&writes)?) })
    }
}
