//! When and how a message body is spliced (`splice`) instead of copied: both ends plain TCP
//! sockets, the body forwarded without a look (no compression, no cache copy: the callers
//! decide), and the direction's [`Mode`]: `Always` splices whatever is left of the body;
//! `Auto` once more than a buffer is left (then to the body's end). Each splice stops at the
//! body's known end (its length, the current chunk's payload) so what follows stays in the
//! socket; a body delimited by the server's close is spliced to that close.

use crate::splice::{Fail, Got, Mode};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpStream;

/// What a body forwarding needs to splice: the direction's mode and how to reach the plain
/// TCP socket of each end (`None`: not one, then bytes are copied).
pub struct Splicing<S, D> {
    pub mode: Mode,
    pub src: fn(&S) -> Option<&TcpStream>,
    pub dst: fn(&D) -> Option<&TcpStream>,
}

impl<S, D> Splicing<S, D> {
    pub(super) fn start(self, bufsize: usize) -> Going<S, D> {
        Going {
            how: self,
            bufsize: bufsize as u64,
            started: false,
        }
    }
}

/// A body's splicing under way.
pub struct Going<S, D> {
    how: Splicing<S, D>,
    bufsize: u64,
    /// Something of this body was spliced already (`Auto` then splices to its end).
    started: bool,
}

/// Splices at most `max` bytes of the body (none in the buffer: the caller writes those
/// first) when worth it: `Some(n)` moved (0: the source's end), `None` copy instead. `sent`
/// grows by each byte `dst` took, also when the call fails. (Not an `async fn`: the future
/// holds the sockets only, not `src`/`dst`, which need not be `Sync`.)
pub fn splice_some<'a, S, D>(
    sp: &'a mut Option<Going<S, D>>,
    src: &'a S,
    dst: &'a D,
    max: u64,
    t: (Option<Duration>, Option<Duration>),
    sent: &'a mut u64,
) -> impl Future<Output = Result<Option<u64>, Fail>> + Send + 'a {
    let ends = sp.as_mut().and_then(|g| {
        let worth = match g.how.mode {
            Mode::Off => false,
            Mode::Always => true,
            Mode::Auto => g.started || max > g.bufsize,
        };
        let ends = (g.how.src)(src).zip((g.how.dst)(dst));
        g.started |= worth && ends.is_some();
        worth.then_some(ends)
    });
    if matches!(ends, Some(None)) {
        // Not two plain TCP sockets: never for this body.
        *sp = None;
    }
    async move {
        let Some(Some((s, d))) = ends else {
            return Ok(None);
        };
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        match crate::splice::move_some(s, d, max, false, t, sent).await {
            Ok(Got::Moved(n)) => Ok(Some(n as u64)),
            Ok(Got::Eof) => Ok(Some(0)),
            Ok(Got::Drained) | Err(Fail::NoPipe) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
