//! A bounded request loop in a thread, for "nothing fails while X happens" tests: counts what it
//! sent and what failed, and lets the test wait until it has observably sent enough (instead of
//! sleeping and hoping the loop ran).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a loop may run at most, whatever the test does.
const LIMIT: Duration = Duration::from_secs(120);

pub struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    /// Runs `request` (true: it succeeded) again and again, `max` times at most, until
    /// `finish`.
    pub fn start(max: u64, mut request: impl FnMut() -> bool + Send + 'static) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + LIMIT;
                for _ in 0..max {
                    if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    let ok = request();
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        Load {
            stop,
            sent,
            failed,
            thread: Some(thread),
        }
    }

    /// Requests completed so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Waits until `n` more requests than now have completed; fails the test after 10 s.
    pub fn wait_more(&self, n: u64) {
        let target = self.sent() + n;
        let done = crate::wait::until(Duration::from_secs(10), || self.sent() >= target);
        assert!(
            done.is_some(),
            "the load loop did not send {n} requests in 10 s (sent {})",
            self.sent()
        );
    }

    /// Stops the loop; (sent, failed).
    pub fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        (self.sent(), self.failed.load(Ordering::Relaxed))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
