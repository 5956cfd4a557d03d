//! Helpers shared by the daemon personalities: going to the background, config directories.
//!
//! Backgrounding re-runs this same binary with the same arguments, detached (own process group,
//! no stdio), marked by an environment variable so the child stays in the foreground; the
//! parent exits 0 as the daemons do. No fork() of a running async process.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

const CHILD_MARK: &str = "FULCRUM_DAEMON_CHILD";

pub fn is_daemon_child() -> bool {
    std::env::var_os(CHILD_MARK).is_some()
}

pub fn detach() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find my own executable to go to the background: {e}");
            return ExitCode::from(1);
        }
    };
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let mut cmd = Command::new(exe);
    cmd.arg0(argv0)
        .args(args)
        .env(CHILD_MARK, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    match cmd.spawn() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot go to the background: {e}");
            ExitCode::from(1)
        }
    }
}

/// Expands each directory among `paths` into its `*.EXT` files in lexical order (HAProxy's -f DIR).
pub fn expand_config_dirs(paths: &[PathBuf], ext: &str) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("cannot read directory '{}': {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == ext))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}
