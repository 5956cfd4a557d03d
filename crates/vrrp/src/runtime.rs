//! VRRP's own thread and single-threaded tokio runtime.
//!
//! Adverts must leave on time (every 100 ms at VRRPv3 `advert_int 0.1`, where a backup takes
//! over after 361 ms of silence) even when the proxy saturates the process's main runtime. So
//! every VRRP task (instances, scripts, notify) runs here, on a thread of its own, and talks to
//! the rest of fulcrum only through channels. Sockets are registered with this runtime's
//! reactor, which is why callers `enter()` it before opening any.

use std::io;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

pub struct VrrpRuntime {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl VrrpRuntime {
    /// Starts the thread (named `vrrp`) and its runtime.
    pub fn start() -> io::Result<VrrpRuntime> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("vrrp".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => {
                        let _ = handle_tx.send(Ok(rt.handle().clone()));
                        rt.block_on(async {
                            let _ = stop_rx.await;
                        });
                    }
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                    }
                }
            })?;
        let handle = handle_rx.recv().map_err(|_| {
            io::Error::other("the VRRP thread exited before starting its runtime")
        })??;
        Ok(VrrpRuntime {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The runtime to spawn on or `enter()` before opening sockets.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for VrrpRuntime {
    /// Stops the runtime (dropping whatever still runs there) and lets the thread end; the
    /// thread is not joined, so dropping never blocks an async caller.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        drop(self.thread.take());
    }
}
