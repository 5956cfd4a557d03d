//! Child processes that are always reaped: `Child` kills (SIGKILL) and waits on drop.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

pub struct Child {
    pub name: String,
    inner: std::process::Child,
    /// Where stderr/stdout go, for dumping on failure.
    pub log: std::path::PathBuf,
}

impl Child {
    /// Spawns `cmd` with stdout and stderr to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: std::path::PathBuf) -> std::io::Result<Child> {
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let inner = cmd.spawn()?;
        Ok(Child {
            name: name.to_string(),
            inner,
            log,
        })
    }

    /// The real `haproxy -db -f CFG`, its output in `log`. Panics when it cannot be started: a
    /// side-by-side comparison must fail, never compare against nothing.
    pub fn haproxy(cfg: &std::path::Path, log: std::path::PathBuf) -> Child {
        let mut c = Command::new("haproxy");
        c.arg("-db").arg("-f").arg(cfg);
        match Child::spawn("haproxy", c, log) {
            Ok(child) => child,
            Err(e) => panic!("cannot start haproxy (scripts/install-deps.sh installs it): {e}"),
        }
    }

    /// `haproxy` on `cfg`, waited for until `port` on 127.0.0.1 accepts (10 s at most).
    pub fn haproxy_listening(cfg: &std::path::Path, log: std::path::PathBuf, port: u16) -> Child {
        let h = Child::haproxy(cfg, log);
        assert!(
            crate::wait::listening(port, Duration::from_secs(10)),
            "haproxy never listened on {port}: {}",
            h.output()
        );
        h
    }

    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// Sends `sig` (e.g. SIGTERM, SIGKILL).
    pub fn signal(&self, sig: Signal) {
        let _ = kill(Pid::from_raw(self.inner.id() as i32), sig);
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = std::time::Instant::now();
        loop {
            if let Ok(Some(st)) = self.inner.try_wait() {
                return Some(st);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.inner.try_wait(), Ok(None))
    }

    /// The output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.inner.try_wait() {
            let _ = self.inner.kill();
        }
        let _ = self.inner.wait();
    }
}

pub use nix::sys::signal::Signal as Sig;

/// Sends `sig` to process `pid` (e.g. keepalived's VRRP child, known from its pid file).
pub fn signal_pid(pid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid), sig);
}

/// A number unique in this process (log file names).
pub fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}
