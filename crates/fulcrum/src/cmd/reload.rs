//! `fulcrum reload`: ask the running fulcrum (over its control socket) to re-read its files.
//! Exit 0 when the new configuration serves; 1 with every reason when it was refused.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(control: &Path) -> ExitCode {
    let mut conn = match crate::control::connect(control) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
    if let Err(e) = conn.write_all(b"reload\n") {
        eprintln!("cannot send the reload request: {e}");
        return ExitCode::from(1);
    }
    let mut ok = false;
    for line in BufReader::new(conn).lines() {
        match line {
            Ok(l) if l == "ok" => ok = true,
            Ok(l) => eprintln!("{}", l.strip_prefix("error: ").unwrap_or(&l)),
            Err(e) => {
                eprintln!("no answer from fulcrum: {e}");
                return ExitCode::from(1);
            }
        }
    }
    if ok {
        println!("reloaded");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
