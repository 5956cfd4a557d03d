//! `enable_script_security`'s path check, as keepalived 2.2 makes it: the script is found (on
//! PATH when it has no `/`), symlinks are resolved, and the file and every directory above it
//! must be changeable only by root or by the user the script runs as. A component is insecure
//! when it is owned by another user, or writable by a group other than root's (or the script
//! user's), or writable by everyone — except a directory with the sticky bit (like /tmp),
//! where nobody can replace another user's file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a script is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insecure {
    /// The program was not found (on PATH, or at the path given).
    NotFound(String),
    /// `path` can be changed by a user other than root and the script user.
    Writable { path: PathBuf, why: String },
}

impl std::fmt::Display for Insecure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Insecure::NotFound(p) => write!(f, "{p} not found"),
            Insecure::Writable { path, why } => write!(f, "{} {why}", path.display()),
        }
    }
}

/// Finds `program` as execvp would: a name with a `/` as given, else the first executable
/// file of that name on PATH (keepalived's default PATH when unset).
pub fn resolve_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0))
}

/// Checks the script `program` for a run as `uid`:`gid`.
pub fn check_path(program: &str, uid: u32, gid: u32) -> Result<PathBuf, Insecure> {
    let found = resolve_program(program).ok_or_else(|| Insecure::NotFound(program.into()))?;
    let real = std::fs::canonicalize(&found)
        .map_err(|e| Insecure::NotFound(format!("{}: {e}", found.display())))?;
    for component in real.ancestors() {
        let meta = std::fs::metadata(component)
            .map_err(|e| Insecure::NotFound(format!("{}: {e}", component.display())))?;
        if let Some(why) = insecure(&meta, uid, gid) {
            return Err(Insecure::Writable {
                path: component.to_path_buf(),
                why,
            });
        }
    }
    Ok(real)
}

fn insecure(meta: &std::fs::Metadata, uid: u32, gid: u32) -> Option<String> {
    let mode = meta.mode();
    if meta.uid() != 0 && meta.uid() != uid {
        return Some(format!("is owned by uid {}", meta.uid()));
    }
    let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
    if sticky_dir {
        return None;
    }
    if mode & 0o020 != 0 && meta.gid() != 0 && meta.gid() != gid {
        return Some(format!("is writable by group {}", meta.gid()));
    }
    if mode & 0o002 != 0 {
        return Some("is writable by everyone".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn path_components_are_checked() {
        let me = nix::unistd::geteuid().as_raw();
        let my_gid = nix::unistd::getegid().as_raw();
        // A private directory (not under world-writable /tmp without sticky: /tmp is sticky).
        let dir = std::env::temp_dir().join(format!("fulcrum-sec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = dir.join("sub/chk.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = script.to_str().unwrap();
        assert!(
            check_path(s, me, my_gid).is_ok(),
            "{:?}",
            check_path(s, me, my_gid)
        );
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o757)).unwrap();
        let err = check_path(s, me, my_gid).unwrap_err();
        assert!(
            err.to_string().ends_with("chk.sh is writable by everyone"),
            "{err}"
        );
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.join("sub"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_path(s, me, my_gid).unwrap_err();
        assert!(
            err.to_string().ends_with("sub is writable by everyone"),
            "{err}"
        );
        // Sticky, like /tmp: fine.
        std::fs::set_permissions(dir.join("sub"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(check_path(s, me, my_gid).is_ok());
        // A symlink is followed to the real file.
        let link = dir.join("link.sh");
        std::os::unix::fs::symlink(&script, &link).unwrap();
        assert_eq!(
            check_path(link.to_str().unwrap(), me, my_gid).unwrap(),
            std::fs::canonicalize(&script).unwrap()
        );
        assert!(matches!(
            check_path(dir.join("missing").to_str().unwrap(), me, my_gid),
            Err(Insecure::NotFound(_))
        ));
        // A bare name is looked up on PATH.
        assert!(resolve_program("sh").is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
