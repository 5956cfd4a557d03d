//! keepalived-compatible notify scripts, run without blocking the protocol and bounded in time.
//!
//! On a state change keepalived runs `notify_master` / `notify_backup` / `notify_fault` /
//! `notify_stop` as written, then `notify` with "INSTANCE|GROUP NAME STATE PRIORITY" appended.
//! Each script runs in its own task and is killed after `SCRIPT_TIMEOUT`. Splitting, the script
//! user and `enable_script_security` are the shared runner's (crates/script).

use crate::machine::State;
use fulcrum_script::{prepare_argv, split_command, Policy};
use std::time::Duration;

/// How long a notify script may run before it is killed.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The notify settings of an instance or a sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notify {
    /// "INSTANCE" or "GROUP".
    pub kind: &'static str,
    pub name: String,
    pub notify: Option<String>,
    pub master: Option<String>,
    pub backup: Option<String>,
    pub fault: Option<String>,
    pub stop: Option<String>,
    /// `script_user` / `enable_script_security`.
    pub policy: Policy,
    /// keepalived's mail alerts, when `smtp_alert` is on for this instance or group.
    pub mail: Option<crate::mail::Alerts>,
}

impl Notify {
    /// The command lines to run for entering `state` at `priority`, in keepalived's order.
    pub fn commands(&self, state: State, priority: u8) -> Vec<Vec<String>> {
        let specific = match state {
            State::Master => &self.master,
            State::Backup => &self.backup,
            State::Fault => &self.fault,
            State::Init => &self.stop,
        };
        let mut out = Vec::new();
        if let Some(cmd) = specific {
            out.push(split_command(cmd));
        }
        if let Some(cmd) = &self.notify {
            let state_word = if state == State::Init {
                "STOP"
            } else {
                state.keyword()
            };
            let mut argv = split_command(cmd);
            argv.extend([
                self.kind.to_string(),
                self.name.clone(),
                state_word.to_string(),
                priority.to_string(),
            ]);
            out.push(argv);
        }
        out.retain(|argv| !argv.is_empty());
        out
    }

    /// Starts the scripts for `state` in the background; returns their join handles (tests and
    /// shutdown wait on them, the protocol never does).
    pub fn run(&self, state: State, priority: u8) -> Vec<tokio::task::JoinHandle<()>> {
        if let Some(alerts) = &self.mail {
            let kind = if self.kind == "GROUP" {
                "Group"
            } else {
                "Instance"
            };
            crate::mail::spawn_alert(alerts, kind, &self.name, state);
        }
        self.commands(state, priority)
            .into_iter()
            .filter_map(|argv| match prepare_argv(&self.policy, argv) {
                Ok(script) => Some(tokio::spawn(run_script(script, SCRIPT_TIMEOUT))),
                Err(refused) => {
                    tracing::error!("{} {}: notify {refused}", self.kind, self.name);
                    None
                }
            })
            .collect()
    }
}

/// Runs one script to completion or until `timeout`, logging failures; never panics.
pub async fn run_script(script: fulcrum_script::Prepared, timeout: Duration) {
    use fulcrum_script::Outcome;
    let program = script.argv.first().cloned().unwrap_or_default();
    match fulcrum_script::run(&script, timeout).await {
        Outcome::Exited(status) if status.success() => {}
        Outcome::Exited(status) => {
            tracing::warn!(
                "notify script {program} (as {}) exited with {status}",
                script.user
            )
        }
        Outcome::CannotStart(e) => {
            tracing::warn!(
                "notify script {program} (as {}): cannot start: {e}",
                script.user
            )
        }
        Outcome::TimedOut => {
            tracing::warn!("notify script {program} still running after {timeout:?}; killed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Notify {
        Notify {
            kind: "INSTANCE",
            name: "VI_1".into(),
            notify: Some("/etc/keepalived/notify.sh".into()),
            master: Some("/bin/echo 'became master'".into()),
            ..Notify::default()
        }
    }

    #[test]
    fn keepalived_arguments() {
        let cmds = n().commands(State::Master, 150);
        assert_eq!(cmds[0], vec!["/bin/echo", "became master"]);
        assert_eq!(
            cmds[1],
            vec![
                "/etc/keepalived/notify.sh",
                "INSTANCE",
                "VI_1",
                "MASTER",
                "150"
            ]
        );
        let cmds = n().commands(State::Backup, 100);
        assert_eq!(
            cmds,
            vec![vec![
                "/etc/keepalived/notify.sh",
                "INSTANCE",
                "VI_1",
                "BACKUP",
                "100"
            ]]
        );
        let cmds = n().commands(State::Init, 100);
        assert_eq!(cmds[0][3], "STOP");
    }

    #[tokio::test]
    async fn scripts_run_with_arguments_and_are_bounded() {
        let dir = std::env::temp_dir().join(format!("fulcrum-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let script = dir.join("notify.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$@\" > {}\n", out.display()),
        )
        .unwrap();
        let notify = Notify {
            kind: "GROUP",
            name: "G1".into(),
            notify: Some(format!("/bin/sh {}", script.display())),
            ..Notify::default()
        };
        for h in notify.run(State::Fault, 0) {
            h.await.unwrap();
        }
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "GROUP G1 FAULT 0\n");
        // A script that hangs is killed at the timeout.
        let started = std::time::Instant::now();
        let policy = Policy::default();
        let sleep = fulcrum_script::prepare(&policy, "/bin/sleep 30").unwrap();
        run_script(sleep, Duration::from_millis(200)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        // A missing script is logged, not a panic.
        let missing = fulcrum_script::prepare(&policy, "/no/such/script").unwrap();
        run_script(missing, Duration::from_secs(1)).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
