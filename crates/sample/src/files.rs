//! Where a relative map or ACL file (`map(FILE)`, `-f FILE`) is read from, under HAProxy's
//! `default-path` (the config crate's `haproxy/paths.rs` owns the policy).
//!
//! A file keeps the name the configuration writes (HAProxy's `show map` / `show acl` print
//! it, the runtime commands take it; two files of one name are one reference), but it is read
//! from the directory of the line that named it. While the config parser reads a line it sets
//! that directory ([`with_base`]) and collects the names it resolved; the configuration
//! carries them, and whoever compiles the configuration again (the proxy's generation build,
//! `fulcrum check`) installs them ([`install`]) so every compile finds the same files.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

static TABLE: RwLock<Option<Arc<HashMap<String, PathBuf>>>> = RwLock::new(None);

/// Names resolved: (as written, file to read).
type Resolved = Vec<(String, PathBuf)>;

thread_local! {
    /// The directory of the config line being parsed, and the names resolved under it.
    static BASE: RefCell<Option<(PathBuf, Resolved)>> = const { RefCell::new(None) };
}

/// Installs the names a configuration resolved (name as written, file to read).
pub fn install(resolved: &[(String, PathBuf)]) {
    let table = (!resolved.is_empty()).then(|| Arc::new(resolved.iter().cloned().collect()));
    if let Ok(mut t) = TABLE.write() {
        *t = table;
    }
}

/// Runs `f` (one config line) with relative file names read under `base`; returns what `f`
/// returned and the names resolved meanwhile.
pub fn with_base<T>(base: &Path, f: impl FnOnce() -> T) -> (T, Resolved) {
    let outer = BASE.with(|b| b.replace(Some((base.to_path_buf(), Vec::new()))));
    let out = f();
    let seen = BASE
        .with(|b| b.replace(outer))
        .map(|(_, seen)| seen)
        .unwrap_or_default();
    (out, seen)
}

/// The name a reference is registered under and the file to read for `file`, written in a
/// compile whose own base is `base_dir` (tests and tools: empty).
pub(crate) fn resolve(base_dir: &Path, file: &str) -> (String, PathBuf) {
    if Path::new(file).is_absolute() {
        return (file.to_string(), PathBuf::from(file));
    }
    let parsing = BASE.with(|b| {
        let mut b = b.borrow_mut();
        let (dir, seen) = b.as_mut()?;
        let path = dir.join(file);
        if !seen.iter().any(|(n, _)| n == file) {
            seen.push((file.to_string(), path.clone()));
        }
        Some(path)
    });
    if let Some(path) = parsing {
        return (file.to_string(), path);
    }
    let installed = TABLE
        .read()
        .ok()
        .and_then(|t| t.as_ref().and_then(|t| t.get(file).cloned()));
    if let Some(path) = installed {
        return (file.to_string(), path);
    }
    let path = base_dir.join(file);
    (path.display().to_string(), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_line_reads_under_its_base_and_keeps_the_name() {
        let (r, seen) = with_base(Path::new("/pkg/conf"), || resolve(Path::new(""), "a.map"));
        assert_eq!(r, ("a.map".to_string(), PathBuf::from("/pkg/conf/a.map")));
        assert_eq!(
            seen,
            vec![("a.map".to_string(), PathBuf::from("/pkg/conf/a.map"))]
        );
        // outside a parsed line: as before (relative to the compiler's own directory)
        assert_eq!(
            resolve(Path::new("d"), "b.map"),
            ("d/b.map".to_string(), PathBuf::from("d/b.map"))
        );
        assert_eq!(
            resolve(Path::new("d"), "/abs.map").1,
            PathBuf::from("/abs.map")
        );
    }
}
