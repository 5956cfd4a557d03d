//! keepalived's command line: `keepalived [-f FILE] [-n] [-l] [-D] [-P] [-t] [-p PIDFILE] ...`.
//!
//! Honoured: -f/--use-file, -n/--dont-fork, -t/--config-test, -P/--vrrp (VRRP only: fulcrum
//! runs no LVS virtual servers anyway), -p/--pid, -r/--vrrp_pid, -c/--checkers_pid (pid files),
//! -i/--config-id (selects `@ID` conditional lines), -v/--version. `-t` exits 5 on an error, as
//! keepalived does. Cosmetic (accepted, no effect): -l/--log-console, -D/--log-detail,
//! -S/--log-facility, -G/--no-syslog, --release-vips, -x/--snmp (refused, see below).
//! Refused with an error naming the flag: -C/--check (LVS health checking only: not yet),
//! -x/--snmp, and any unknown flag.

use super::value;
use crate::cmd::run::RunOptions;
use std::path::PathBuf;
use std::process::ExitCode;

/// keepalived's exit status for a configuration that does not pass `-t`.
pub const KEEPALIVED_EXIT_CONFIG: u8 = 5;

#[derive(Debug, Default, PartialEq)]
pub struct KeepalivedArgs {
    pub file: Option<PathBuf>,
    pub dont_fork: bool,
    pub config_test: bool,
    pub version: bool,
    pub pidfiles: Vec<PathBuf>,
    pub config_id: Option<String>,
}

pub fn parse(args: &[String]) -> Result<KeepalivedArgs, String> {
    let mut a = KeepalivedArgs::default();
    let mut i = 0;
    while i < args.len() {
        let raw = args[i].as_str();
        // --opt=value form
        let (flag, inline) = match raw.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (raw, None),
        };
        let take = |i: &mut usize| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => value(args, i, flag).map(str::to_string),
            }
        };
        match flag {
            "-f" | "--use-file" => a.file = Some(PathBuf::from(take(&mut i)?)),
            "-n" | "--dont-fork" => a.dont_fork = true,
            "-t" | "--config-test" => a.config_test = true,
            "-v" | "--version" => a.version = true,
            "-P" | "--vrrp" => {}
            "-p" | "--pid" | "-r" | "--vrrp_pid" | "-c" | "--checkers_pid" => {
                a.pidfiles.push(PathBuf::from(take(&mut i)?))
            }
            "-i" | "--config-id" => a.config_id = Some(take(&mut i)?),
            "-S" | "--log-facility" => {
                take(&mut i)?;
            }
            "-l" | "--log-console" | "-D" | "--log-detail" | "-G" | "--no-syslog"
            | "--release-vips" | "-R" | "--dont-respawn" | "-d" | "--dump-conf" => {}
            "-C" | "--check" => return Err(
                "option '-C' (run only the LVS health checkers) is not supported by fulcrum yet"
                    .into(),
            ),
            "-x" | "--snmp" => {
                return Err("option '-x' (SNMP subsystem) is not supported by fulcrum".into())
            }
            other => return Err(format!("unknown option '{other}'")),
        }
        i += 1;
    }
    Ok(a)
}

pub fn main(args: &[String]) -> ExitCode {
    let a = match parse(args) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("fulcrum (as keepalived): {msg}");
            return ExitCode::from(1);
        }
    };
    if a.version {
        println!(
            "fulcrum v{} (keepalived-compatible: keepalived.conf VRRP and virtual_server syntax)",
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    let file = a
        .file
        .unwrap_or_else(|| PathBuf::from("/etc/keepalived/keepalived.conf"));
    let files = vec![file];
    let load = fulcrum_config::LoadOptions {
        keepalived_config_id: a.config_id.clone(),
    };
    if a.config_test {
        // keepalived -t exits 5 (KEEPALIVED_EXIT_CONFIG) on a configuration error.
        let code = crate::cmd::check::run_with(&files, false, &load);
        return if code == ExitCode::SUCCESS {
            code
        } else {
            ExitCode::from(KEEPALIVED_EXIT_CONFIG)
        };
    }
    if !a.dont_fork && !super::daemon::is_daemon_child() {
        return super::daemon::detach();
    }
    crate::cmd::run::run(RunOptions {
        files,
        pidfiles: a.pidfiles,
        load,
        ..RunOptions::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn debian_unit_file_command_lines() {
        let a = parse(&args("--dont-fork -D -f /etc/keepalived/keepalived.conf")).unwrap();
        assert!(a.dont_fork);
        assert_eq!(
            a.file,
            Some(PathBuf::from("/etc/keepalived/keepalived.conf"))
        );
        let a = parse(&args(
            "-n -l -D -t --use-file=/tmp/k.conf -p /run/k.pid -r /run/v.pid",
        ))
        .unwrap();
        assert!(a.config_test);
        assert_eq!(a.file, Some(PathBuf::from("/tmp/k.conf")));
        assert_eq!(a.pidfiles.len(), 2);
        assert!(parse(&args("-C")).unwrap_err().contains("'-C'"));
        assert!(parse(&args("--bogus")).unwrap_err().contains("'--bogus'"));
    }
}
