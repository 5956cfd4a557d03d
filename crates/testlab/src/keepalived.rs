//! The real keepalived's health checkers, run on this IPVS-less kernel: `keepalived -C` with
//! `fake_ipvs.so` preloaded (see fake_ipvs.c), inside a lab node's namespace. What keepalived
//! would do to IPVS is read back from the shim's log: the real servers it keeps, with weights.
//! Tests compare fulcrum's checkers with it on the same keepalived.conf.

use crate::netns::Node;
use crate::process::{signal_pid, Child, Sig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Builds fake_ipvs.so into `dir` with the system C compiler; None (and why) when it cannot.
pub fn build_shim(dir: &Path) -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fake_ipvs.c");
    let out = dir.join("fake_ipvs.so");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-ldl")
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if !built.status.success() {
        return Err(format!(
            "cc failed: {}",
            String::from_utf8_lossy(&built.stderr)
        ));
    }
    Ok(out)
}

/// A running `keepalived -C` in a lab node, its IPVS commands logged.
pub struct KeepalivedChecker {
    child: Option<Child>,
    dir: PathBuf,
    ipvs_log: PathBuf,
}

impl KeepalivedChecker {
    /// Starts keepalived's checker process on `config` in `node` (files under `dir`).
    pub fn start(node: &Node, config: &Path, dir: &Path) -> Result<KeepalivedChecker, String> {
        let shim = build_shim(dir)?;
        let ipvs_log = dir.join("ipvs.log");
        let _ = std::fs::remove_file(&ipvs_log);
        let mut cmd = node.command("keepalived");
        cmd.args(["-n", "-C", "-l", "-G", "-D", "-f"])
            .arg(config)
            .arg("-p")
            .arg(dir.join("keepalived.pid"))
            .arg("-c")
            .arg(dir.join("checkers.pid"))
            .arg("-r")
            .arg(dir.join("vrrp.pid"))
            .env("LD_PRELOAD", &shim)
            .env("FAKE_IPVS_LOG", &ipvs_log);
        let child = Child::spawn("keepalived", cmd, dir.join("keepalived.log"))
            .map_err(|e| format!("cannot start keepalived: {e}"))?;
        Ok(KeepalivedChecker {
            child: Some(child),
            dir: dir.to_path_buf(),
            ipvs_log,
        })
    }

    /// The real servers keepalived has in IPVS now, as "IP:PORT" → weight (0: inhibited).
    pub fn kept(&self) -> BTreeMap<String, u32> {
        let text = std::fs::read_to_string(&self.ipvs_log).unwrap_or_default();
        let mut kept = BTreeMap::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let weight = words
                .iter()
                .position(|w| *w == "weight")
                .and_then(|i| words.get(i + 1))
                .and_then(|w| w.parse().ok())
                .unwrap_or(0);
            match words.as_slice() {
                ["NEW_DEST" | "SET_DEST", dest, ..] => {
                    kept.insert((*dest).to_string(), weight);
                }
                ["DEL_DEST", dest, ..] => {
                    kept.remove(*dest);
                }
                _ => {}
            }
        }
        kept
    }

    /// Whether keepalived has started its checkers (the virtual server is in IPVS).
    pub fn started(&self) -> bool {
        std::fs::read_to_string(&self.ipvs_log).is_ok_and(|t| t.contains("NEW_SERVICE"))
    }

    /// keepalived's console output so far.
    pub fn output(&self) -> String {
        self.child.as_ref().map(Child::output).unwrap_or_default()
    }
}

impl Drop for KeepalivedChecker {
    /// SIGTERM and a bounded wait (the parent stops its checker child), then SIGKILL both.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.signal(Sig::SIGTERM);
            if child.wait_timeout(Duration::from_secs(5)).is_none() {
                if let Some(pid) = std::fs::read_to_string(self.dir.join("checkers.pid"))
                    .ok()
                    .and_then(|p| p.trim().parse().ok())
                {
                    signal_pid(pid, Sig::SIGKILL);
                }
            }
        }
    }
}
