//! Unix socket files this process bound (the control socket, `stats socket`s, the master
//! CLI): removed when the process lets them go, unless another process has bound the same path
//! since (told by the file's inode), so an exiting fulcrum never deletes a newer process's
//! socket (`-sf` reloads, two fulcrums started on one default control path).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The inode of the socket file at `path` just bound (0 when it cannot be read: then the
/// file is never removed).
pub fn inode(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).map_or(0, |m| m.ino())
}

/// Removes `path` if it is still the file with inode `ino`.
pub fn remove_if_ours(path: &Path, ino: u64) {
    if ino != 0 && std::fs::symlink_metadata(path).is_ok_and(|m| m.ino() == ino) {
        let _ = std::fs::remove_file(path);
    }
}

/// A bound socket file, removed on drop if still ours.
pub struct SocketFile {
    path: PathBuf,
    ino: u64,
}

impl SocketFile {
    /// Records the file just bound at `path`.
    pub fn bound(path: PathBuf) -> SocketFile {
        let ino = inode(&path);
        SocketFile { path, ino }
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        remove_if_ours(&self.path, self.ino);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_socket_file_is_left_to_its_new_owner() {
        let dir = std::env::temp_dir().join(format!("fulcrum-sockfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let first = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let ours = SocketFile::bound(path.clone());
        // Another process replaces it (a new file at the same path).
        std::fs::remove_file(&path).expect("unlink");
        let second = std::os::unix::net::UnixListener::bind(&path).expect("bind again");
        drop(ours);
        assert!(path.exists(), "the newer socket file was removed");
        let theirs = SocketFile::bound(path.clone());
        drop(theirs);
        assert!(!path.exists(), "its own socket file was kept");
        drop((first, second));
        let _ = std::fs::remove_dir(&dir);
    }
}
