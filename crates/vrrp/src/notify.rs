//! keepalived-compatible notify scripts, run without blocking the protocol and bounded in time.
//!
//! On a state change keepalived runs `notify_master` / `notify_backup` / `notify_fault` /
//! `notify_stop` as written, then `notify` with "INSTANCE|GROUP NAME STATE PRIORITY" appended.
//! Each script runs in its own task and is killed after `SCRIPT_TIMEOUT`. The command line is
//! split like keepalived does (whitespace, with single or double quotes grouping words), and is
//! executed directly, not through a shell.

use crate::machine::State;
use std::time::Duration;
use tokio::process::Command;

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
        self.commands(state, priority)
            .into_iter()
            .map(|argv| tokio::spawn(run_script(argv, SCRIPT_TIMEOUT)))
            .collect()
    }
}

/// Runs one script to completion or until `timeout`, logging failures; never panics.
pub async fn run_script(argv: Vec<String>, timeout: Duration) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("notify script {program}: cannot start: {e}");
            return;
        }
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => tracing::warn!("notify script {program} exited with {status}"),
        Ok(Err(e)) => tracing::warn!("notify script {program}: {e}"),
        Err(_) => {
            tracing::warn!("notify script {program} still running after {timeout:?}; killing it");
            let _ = child.kill().await;
        }
    }
}

/// Splits a script line into words: whitespace separates, quotes group.
pub fn split_command(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for ch in line.chars() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => cur.push(ch),
            None if ch == '"' || ch == '\'' => {
                quote = Some(ch);
                in_word = true;
            }
            None if ch.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(ch);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
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

    #[test]
    fn splitting() {
        assert_eq!(
            split_command("  a  \"b c\" d'e f'  "),
            vec!["a", "b c", "de f"]
        );
        assert_eq!(split_command(""), Vec::<String>::new());
        assert_eq!(split_command("x ''"), vec!["x", ""]);
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
        run_script(
            vec!["/bin/sleep".into(), "30".into()],
            Duration::from_millis(200),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        // A missing script is logged, not a panic.
        run_script(vec!["/no/such/script".into()], Duration::from_secs(1)).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
