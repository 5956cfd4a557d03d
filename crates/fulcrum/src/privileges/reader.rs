//! Reloads under `chroot`: the configuration files live outside the new root, so before
//! chrooting fulcrum starts a small reader process (itself, re-executed with
//! `FULCRUM_CONFIG_READER=1`) that stays outside, as root, and can do one thing: read the
//! `-f` files named at start and send their contents back when asked. A reload asks it
//! through its stdin/stdout pipes and parses what it sends. A compromised fulcrum can make it
//! read only those files. Files the configuration itself names (keepalived `include`, `acl -f`)
//! are read by the parser, so after a chroot they are looked up inside it.
//!
//! Wire format, reader to fulcrum, per file in order: `ok LEN\n` + LEN bytes, or
//! `err LEN\n` + LEN bytes of error text.

use fulcrum_config::{Diagnostics, Span};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub const ENV: &str = "FULCRUM_CONFIG_READER";

/// The reader's side: called first thing in `main`; returns true when this process is one.
pub fn reader_main() -> bool {
    if std::env::var_os(ENV).is_none() {
        return false;
    }
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        if line.is_err() {
            break;
        }
        for f in &files {
            let (tag, bytes) = match std::fs::read(f) {
                Ok(b) => ("ok", b),
                Err(e) => ("err", e.to_string().into_bytes()),
            };
            if writeln!(out, "{tag} {}", bytes.len()).is_err() || out.write_all(&bytes).is_err() {
                return true;
            }
        }
        if out.flush().is_err() {
            break;
        }
    }
    true
}

/// fulcrum's side.
pub struct Reader {
    files: Vec<PathBuf>,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Reader {
    pub fn spawn(files: &[PathBuf]) -> Result<Reader, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .env(ENV, "1")
            .args(files)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the config reader: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("config reader: no pipes".into());
        };
        Ok(Reader {
            files: files.to_vec(),
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// Reads every file through the reader process: (name, text) each, and what could not be read.
    pub fn read(&mut self) -> (Vec<(String, String)>, Diagnostics) {
        let mut texts = Vec::new();
        let mut errors = Diagnostics::new();
        match self.fetch() {
            Ok(results) => {
                for (f, r) in self.files.iter().zip(results) {
                    let name = f.display().to_string();
                    match r {
                        Ok(text) => texts.push((name, text)),
                        Err(e) => {
                            errors.error(&Span::new(name, 0), format!("cannot read file: {e}"))
                        }
                    }
                }
            }
            Err(e) => {
                let name = self
                    .files
                    .first()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                errors.error(
                    &Span::new(name, 0),
                    format!("cannot read the files through the config reader: {e}"),
                );
            }
        }
        (texts, errors)
    }

    fn fetch(&mut self) -> Result<Vec<Result<String, String>>, String> {
        self.stdin
            .write_all(b"read\n")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for _ in &self.files {
            let mut head = String::new();
            self.stdout
                .read_line(&mut head)
                .map_err(|e| e.to_string())?;
            let (tag, len) = head
                .trim_end()
                .split_once(' ')
                .ok_or_else(|| format!("bad answer {head:?}"))?;
            let len: usize = len.parse().map_err(|_| format!("bad length {len:?}"))?;
            if len > 64 << 20 {
                return Err(format!("file of {len} bytes"));
            }
            let mut bytes = vec![0; len];
            self.stdout
                .read_exact(&mut bytes)
                .map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            out.push(if tag == "ok" { Ok(text) } else { Err(text) });
        }
        Ok(out)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
