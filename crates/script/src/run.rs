//! Preparing and running one script: the policy decides the user and whether the script may
//! run; the child runs with stdin/stdout/stderr on /dev/null (as keepalived), is killed past
//! its timeout, and is always reaped.

use crate::policy::{Policy, RunAs};
use crate::security::check_path;
use crate::split::split_command;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::process::Command;

/// A script ready to run: its words and the ids it runs as (None: as fulcrum itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub argv: Vec<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// For log lines: the user's name.
    pub user: String,
}

/// Why a script is not run; the message is the log line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    Exited(ExitStatus),
    /// Still running at the timeout: killed and reaped.
    TimedOut,
    CannotStart(std::io::Error),
}

impl Outcome {
    pub fn success(&self) -> bool {
        matches!(self, Outcome::Exited(s) if s.success())
    }
}

static VIOLATION_LOGGED: AtomicBool = AtomicBool::new(false);

/// Applies `policy` to the script line `line`.
pub fn prepare(policy: &Policy, line: &str) -> Result<Prepared, Refused> {
    prepare_argv(policy, split_command(line))
}

/// Applies `policy` to a script already split into words.
pub fn prepare_argv(policy: &Policy, argv: Vec<String>) -> Result<Prepared, Refused> {
    let Some(program) = argv.first() else {
        return Err(Refused("empty script line".into()));
    };
    let (want_uid, want_gid) = policy
        .ids()
        .map_err(|why| Refused(format!("script {program} not run: {why}")))?;
    // Only root can run a child as another user; otherwise scripts run as fulcrum runs.
    let euid = nix::unistd::geteuid().as_raw();
    let (uid, gid, user) = if euid == 0 {
        (want_uid, want_gid, policy.user_name().to_string())
    } else {
        let egid = nix::unistd::getegid().as_raw();
        (euid, egid, format!("uid {euid} (fulcrum's own)"))
    };
    if policy.security {
        if let Err(why) = check_path(program, uid, gid) {
            return Err(Refused(format!(
                "script {program} refused (enable_script_security): {why}"
            )));
        }
    } else if uid == 0
        && matches!(policy.run_as, RunAs::Root)
        && !VIOLATION_LOGGED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            "SECURITY VIOLATION - scripts are being executed as root but enable_script_security is not set (keepalived's warning); set script_user or create the user keepalived_script"
        );
    }
    let switch = euid == 0 && (uid != 0 || gid != 0);
    Ok(Prepared {
        argv,
        uid: switch.then_some(uid),
        gid: switch.then_some(gid),
        user,
    })
}

/// Runs `script` to completion or until `timeout`.
pub async fn run(script: &Prepared, timeout: Duration) -> Outcome {
    let Some((program, args)) = script.argv.split_first() else {
        return Outcome::CannotStart(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty script line",
        ));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    // std drops supplementary groups (setgroups(0)) when a uid is set by root.
    if let Some(gid) = script.gid {
        cmd.gid(gid);
    }
    if let Some(uid) = script.uid {
        cmd.uid(uid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::CannotStart(e),
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => Outcome::Exited(status),
        Ok(Err(e)) => Outcome::CannotStart(e),
        Err(_) => {
            let _ = child.kill().await; // kills and reaps
            Outcome::TimedOut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_and_bounds() {
        let p = Policy::default();
        let ok = prepare(&p, "/bin/sh -c 'exit 0'").unwrap();
        assert!(run(&ok, Duration::from_secs(5)).await.success());
        let three = prepare(&p, "/bin/sh -c 'exit 3'").unwrap();
        match run(&three, Duration::from_secs(5)).await {
            Outcome::Exited(s) => assert_eq!(s.code(), Some(3)),
            other => panic!("{other:?}"),
        }
        let started = std::time::Instant::now();
        let sleep = prepare(&p, "/bin/sleep 30").unwrap();
        assert!(matches!(
            run(&sleep, Duration::from_millis(200)).await,
            Outcome::TimedOut
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing = prepare(&p, "/no/such/script").unwrap();
        assert!(matches!(
            run(&missing, Duration::from_secs(1)).await,
            Outcome::CannotStart(_)
        ));
        assert!(prepare(&p, "  ").is_err());
        let unresolved = Policy {
            security: true,
            run_as: RunAs::Unresolved("no user".into()),
        };
        assert!(prepare(&unresolved, "/bin/true").is_err());
    }
}
