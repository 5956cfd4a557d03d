//! `fulcrum cluster standby NODE | unstandby NODE | move VIP NODE [LIFETIME] | clear VIP`: a
//! runtime command for cluster mode, sent to the running fulcrum over its control socket (which
//! writes it to etcd, so every node sees it). Exit 0 with its answer, 1 with the reason.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(control: &Path, words: &[String]) -> ExitCode {
    let mut conn = match crate::control::connect(control) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    if let Err(e) = conn.write_all(format!("cluster {}\n", words.join(" ")).as_bytes()) {
        eprintln!("cannot send the command: {e}");
        return ExitCode::from(1);
    }
    let mut text = String::new();
    if let Err(e) = conn.read_to_string(&mut text) {
        eprintln!("no answer from fulcrum: {e}");
        return ExitCode::from(1);
    }
    match text.trim().strip_prefix("ok: ") {
        Some(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "{}",
                text.trim().strip_prefix("error: ").unwrap_or(text.trim())
            );
            ExitCode::from(1)
        }
    }
}
