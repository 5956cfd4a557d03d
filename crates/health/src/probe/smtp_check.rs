//! keepalived's SMTP_CHECK: the greeting must start with `220`, `HELO NAME` must be answered
//! with `250`, then `QUIT` must be answered with a line. As keepalived, each answer is read
//! afresh until a newline arrives and only its first three characters count; each read is
//! bounded by `connect_timeout`, as is the connect.

use crate::probe::addr::{CheckAddr, Conn};
use crate::probe::tcp;
use crate::status::{CheckOutcome, CheckStatus};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpCheck {
    pub addr: CheckAddr,
    pub helo_name: String,
    pub timeout: Duration,
}

/// The SMTP status at the start of a line (`220 ...`, `250-...`), as keepalived reads it.
pub fn status(line: &[u8]) -> Option<u16> {
    let d = line.get(..3)?;
    if d.iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(d).ok()?.parse().ok()
    } else {
        None
    }
}

enum Step {
    Failed(CheckStatus, String),
}

impl SmtpCheck {
    pub async fn run(&self) -> CheckOutcome {
        let start = crate::clock::now();
        let conn = match tcp::connect_to(&self.addr, self.timeout).await {
            Ok(c) => c,
            Err(o) => return o,
        };
        let r = match conn {
            Conn::Tcp(s) => self.talk(s).await,
            Conn::Unix(s) => self.talk(s).await,
        };
        match r {
            Ok(()) => CheckOutcome::new(CheckStatus::L7Ok, crate::clock::since(start)),
            Err(Step::Failed(status, info)) => {
                CheckOutcome::new(status, crate::clock::since(start)).with_info(info)
            }
        }
    }

    async fn talk<S: AsyncRead + AsyncWrite + Unpin>(&self, mut s: S) -> Result<(), Step> {
        let banner = self.line(&mut s).await?;
        if status(&banner) != Some(220) {
            return Err(Step::Failed(
                CheckStatus::L7Status,
                format!("Bad greeting banner: {}", printable(&banner)),
            ));
        }
        self.send(&mut s, format!("HELO {}\r\n", self.helo_name).as_bytes())
            .await?;
        let helo = self.line(&mut s).await?;
        if status(&helo) != Some(250) {
            return Err(Step::Failed(
                CheckStatus::L7Status,
                format!("Bad HELO response: {}", printable(&helo)),
            ));
        }
        self.send(&mut s, b"QUIT\r\n").await?;
        self.line(&mut s).await?;
        Ok(())
    }

    async fn send<S: AsyncWrite + Unpin>(&self, s: &mut S, bytes: &[u8]) -> Result<(), Step> {
        match tokio::time::timeout(self.timeout, s.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Step::Failed(
                CheckStatus::SocketError,
                format!("Write failure: {}", tcp::io_error_info(&e)),
            )),
            Err(_) => Err(Step::Failed(CheckStatus::L7Timeout, "Write timeout".into())),
        }
    }

    /// Reads until the buffer holds a newline (keepalived clears its buffer for each line).
    async fn line<S: AsyncRead + Unpin>(&self, s: &mut S) -> Result<Vec<u8>, Step> {
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 512];
        let read = async {
            loop {
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>(None);
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.contains(&b'\n') || buf.len() >= 4096 {
                    return Ok(Some(()));
                }
            }
        };
        match tokio::time::timeout(self.timeout, read).await {
            Ok(Ok(Some(()))) => Ok(buf),
            Ok(Ok(None)) => Err(Step::Failed(
                CheckStatus::L7Response,
                "Read failure: connection closed".into(),
            )),
            Ok(Err(e)) => Err(Step::Failed(
                CheckStatus::SocketError,
                format!("Read failure: {}", tcp::io_error_info(&e)),
            )),
            Err(_) => Err(Step::Failed(CheckStatus::L7Timeout, "Read timeout".into())),
        }
    }
}

fn printable(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\r', '\n'])
        .chars()
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_the_first_three_digits() {
        assert_eq!(status(b"220 mail ESMTP\r\n"), Some(220));
        assert_eq!(status(b"250-PIPELINING\r\n"), Some(250));
        assert_eq!(status(b"22"), None);
        assert_eq!(status(b"hello\r\n"), None);
    }
}
