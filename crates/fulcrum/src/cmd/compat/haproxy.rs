//! HAProxy 2.6's command line: `haproxy [-c] [-f FILE|DIR]... [-p PIDFILE] [-D|-W|-Ws] ...`.
//!
//! Honoured: -f (a directory loads its `*.cfg` in lexical order), -c, -v/-vv, -p, -D, -W, -Ws,
//! -L (sets HAPROXY_LOCALPEER), -C DIR, -N (default maxconn), -sf/-st (the old processes are
//! told to finish or stop once this one serves), -S (the master CLI: `show proc`, `reload`,
//! see master_cli.rs), -x SOCKET (see below). Cosmetic (accepted, no effect): -d, -db, -dM,
//! -dr, -dV, -dW, -V, -q. Refused with an error naming the flag: -m and any unknown flag.
//!
//! `-x SOCKET` asks HAProxy to fetch the old process's listening sockets from its stats socket
//! so a `-sf` takeover resets nothing. fulcrum always does that for the `-sf`/`-st` processes,
//! directly from them (proxy/handover.rs), so SOCKET itself is not needed: it is accepted and
//! an info line says so.

use super::value;
use crate::cmd::run::RunOptions;
use std::path::PathBuf;
use std::process::ExitCode;

/// The configuration language fulcrum implements, for `-v`.
pub const HAPROXY_LANGUAGE: &str = "2.6";

#[derive(Debug, Default, PartialEq)]
pub struct HaproxyArgs {
    pub files: Vec<PathBuf>,
    pub check: bool,
    pub version: u8,
    pub pidfile: Option<PathBuf>,
    pub daemon: bool,
    pub master_worker: bool,
    pub systemd: bool,
    pub localpeer: Option<String>,
    pub chdir: Option<PathBuf>,
    pub maxconn: Option<u32>,
    pub finish_pids: Vec<u32>,
    pub terminate_pids: Vec<u32>,
    pub master_cli: Option<String>,
    pub expose_socket: Option<PathBuf>,
    /// `-cc EXPR`: evaluate a `.if` condition and exit (0 true, 1 false, 2 error).
    pub condition: Option<String>,
}

pub fn parse(args: &[String]) -> Result<HaproxyArgs, String> {
    let mut a = HaproxyArgs::default();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        match flag {
            "-f" => a.files.push(PathBuf::from(value(args, &mut i, flag)?)),
            "-c" => a.check = true,
            "-cc" => a.condition = Some(value(args, &mut i, flag)?.to_string()),
            "-v" => a.version = a.version.max(1),
            "-vv" => a.version = 2,
            "-p" => a.pidfile = Some(PathBuf::from(value(args, &mut i, flag)?)),
            "-D" => a.daemon = true,
            "-W" => a.master_worker = true,
            "-Ws" => {
                a.master_worker = true;
                a.systemd = true;
            }
            "-L" => a.localpeer = Some(value(args, &mut i, flag)?.to_string()),
            "-C" => a.chdir = Some(PathBuf::from(value(args, &mut i, flag)?)),
            "-N" => {
                let v = value(args, &mut i, flag)?;
                a.maxconn = Some(
                    v.parse()
                        .map_err(|_| format!("option '-N' expects a number, found '{v}'"))?,
                );
            }
            "-sf" | "-st" => {
                let mut pids = Vec::new();
                while let Some(p) = args.get(i + 1).and_then(|s| s.parse::<u32>().ok()) {
                    pids.push(p);
                    i += 1;
                }
                if flag == "-sf" {
                    a.finish_pids.extend(pids);
                } else {
                    a.terminate_pids.extend(pids);
                }
            }
            // diagnostic mode: `.diag` messages are printed
            "-dD" => fulcrum_config::show_diag(true),
            "-d" | "-db" | "-dM" | "-dr" | "-dV" | "-dW" | "-V" | "-q" | "-de" | "-dp" | "-dS"
            | "-dk" => {}
            "-x" => a.expose_socket = Some(PathBuf::from(value(args, &mut i, flag)?)),
            "-S" => a.master_cli = Some(value(args, &mut i, flag)?.to_string()),
            "-m" => return Err("option '-m' (memory limit) is not supported by fulcrum".into()),
            "--" => {
                a.files.extend(args[i + 1..].iter().map(PathBuf::from));
                break;
            }
            other if other.starts_with('-') => return Err(format!("unknown option '{other}'")),
            other => {
                return Err(format!(
                    "unexpected argument '{other}' (configuration files are given with -f)"
                ))
            }
        }
        i += 1;
    }
    Ok(a)
}

pub fn main(args: &[String]) -> ExitCode {
    let a = match parse(args) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("[ALERT] fulcrum (as haproxy): {msg}");
            return ExitCode::from(1);
        }
    };
    if let Some(cond) = &a.condition {
        let env = |name: &str| std::env::var(name).ok();
        return match fulcrum_config::haproxy::cond_expr::evaluate(cond, &env) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!(
                    "[ALERT] Failed to evaluate condition: {} at position {}",
                    e.msg,
                    e.at + 1
                );
                ExitCode::from(2)
            }
        };
    }
    if a.version > 0 {
        println!(
            "fulcrum version {} (HAProxy-compatible)",
            env!("CARGO_PKG_VERSION")
        );
        println!(
            "Implements HAProxy {HAPROXY_LANGUAGE}'s configuration language and command line."
        );
        if a.version > 1 {
            println!(
                "Running on: {} {}",
                std::env::consts::OS,
                std::env::consts::ARCH
            );
        }
        return ExitCode::SUCCESS;
    }
    if let Some(dir) = &a.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!(
                "[ALERT] cannot change to directory '{}': {e}",
                dir.display()
            );
            return ExitCode::from(1);
        }
    }
    let files = match super::daemon::expand_config_dirs(&a.files, "cfg") {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => {
            eprintln!("[ALERT] No configuration file specified (use -f FILE)");
            return ExitCode::from(1);
        }
        Err(msg) => {
            eprintln!("[ALERT] {msg}");
            return ExitCode::from(1);
        }
    };
    if let Some(peer) = &a.localpeer {
        std::env::set_var("HAPROXY_LOCALPEER", peer);
    }
    let cfgfiles: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    std::env::set_var("HAPROXY_CFGFILES", cfgfiles.join(";"));
    if a.check {
        let code = crate::cmd::check::run(&files, false);
        if code == ExitCode::SUCCESS {
            println!("Configuration file is valid");
        }
        return code;
    }
    if a.daemon && !a.master_worker && !super::daemon::is_daemon_child() {
        return super::daemon::detach();
    }
    if let Some(x) = &a.expose_socket {
        // Printed, not logged: logging starts in `run`.
        eprintln!(
            "[NOTICE] -x {}: fulcrum takes the listening sockets of the -sf/-st processes directly from them; this socket is not needed",
            x.display()
        );
    }
    let opts = RunOptions {
        files,
        pidfiles: a.pidfile.into_iter().collect(),
        default_maxconn: a.maxconn,
        finish_pids: a.finish_pids,
        terminate_pids: a.terminate_pids,
        master_cli: a.master_cli,
        ..RunOptions::default()
    };
    crate::cmd::run::run(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn unit_file_command_lines() {
        // Debian 12's haproxy.service: ExecStart with EXTRAOPTS="-S /run/haproxy-master.sock".
        let a = parse(&args(
            "-Ws -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid -S /run/haproxy-master.sock",
        ))
        .unwrap();
        assert_eq!(a.master_cli.as_deref(), Some("/run/haproxy-master.sock"));
        assert!(parse(&args("-Ws -f x.cfg -S"))
            .unwrap_err()
            .contains("'-S' needs a value"));
        // Debian's init script: -x with the stats socket when it has `expose-fd listeners`.
        let a = parse(&args(
            "-f x.cfg -p /run/haproxy.pid -sf 42 -D -x /run/haproxy/admin.sock",
        ))
        .unwrap();
        assert_eq!(
            (a.finish_pids.as_slice(), a.expose_socket.as_deref()),
            (
                &[42][..],
                Some(std::path::Path::new("/run/haproxy/admin.sock"))
            )
        );
        assert!(parse(&args("-m 100")).unwrap_err().contains("'-m'"));
        let a = parse(&args(
            "-Ws -f /etc/haproxy/haproxy.cfg -f /etc/haproxy/conf.d -p /run/haproxy.pid",
        ))
        .unwrap();
        assert!(a.master_worker && a.systemd);
        assert_eq!(a.files.len(), 2);
        assert_eq!(a.pidfile, Some(PathBuf::from("/run/haproxy.pid")));
        let a = parse(&args("-c -q -f x.cfg")).unwrap();
        assert!(a.check);
        let a = parse(&args("-D -f x.cfg -sf 10 11 -st 12")).unwrap();
        assert_eq!(a.finish_pids, vec![10, 11]);
        assert_eq!(a.terminate_pids, vec![12]);
        assert!(parse(&args("-f"))
            .unwrap_err()
            .contains("'-f' needs a value"));
        assert!(parse(&args("-Z"))
            .unwrap_err()
            .contains("unknown option '-Z'"));
        assert_eq!(parse(&args("-vv")).unwrap().version, 2);
    }
}
