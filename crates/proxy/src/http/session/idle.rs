//! A keep-alive connection between requests: its server connection handed to the idle pool
//! (or kept when private), its buffers given back, and taken again when bytes arrive.

use super::*;
use crate::stream::ClientStream;

impl<C: ClientStream> Session<C> {
    /// The client connection is idle between requests: it keeps no buffers and no shared
    /// server connection.
    pub(super) fn go_idle(&mut self) {
        self.release_bufs();
        if self.attached.as_ref().is_some_and(|a| !a.private) {
            if let Some(a) = self.attached.take() {
                a.release();
            }
        }
    }

    /// Gives this connection's transaction buffers back to the thread's pool.
    pub(super) fn release_bufs(&mut self) {
        use std::mem::take;
        super::super::bufs::give(super::super::bufs::Bufs {
            cbuf: take(&mut self.cbuf),
            sbuf: take(&mut self.sbuf),
            req: take(&mut self.req),
            res: take(&mut self.res),
            out: take(&mut self.out),
            scratch: take(&mut self.scratch),
        });
    }

    /// Takes a set of transaction buffers from the thread's pool (bytes have arrived).
    pub(super) fn acquire_bufs(&mut self) {
        let b = super::super::bufs::take(self.fe.bufsize);
        self.cbuf = b.cbuf;
        self.sbuf = b.sbuf;
        self.req = b.req;
        self.res = b.res;
        self.out = b.out;
        self.scratch = b.scratch;
    }
}
