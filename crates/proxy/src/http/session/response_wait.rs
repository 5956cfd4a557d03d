//! `http-response wait-for-body time T [at-least N]` (a proxy's first `http-response` rule,
//! the backend's or else the frontend's): before the response rules, the server's answer
//! body is read into the response buffer until it is whole (its length, the last chunk, the
//! server's close), at least N bytes are in (`at-least`), the buffer is full, or T has
//! passed (then, as HAProxy 2.6, the client gets a 504 instead); the rules see it (`res.len`),
//! and it is relayed from the buffer as the bytes that came with the head are. HTTP/1 servers only (an HTTP/2 server's answer is not
//! waited for: README).

use super::Session;
use crate::connect::ServerStream;
use crate::http::body::Framing;
use crate::stream::ClientStream;
use fulcrum_config::model::WaitForBody;
use tokio::io::AsyncReadExt;

impl<C: ClientStream> Session<C> {
    /// Reads the answer's body into `self.bufs.sbuf` as `w` asks (see the module); `false` when
    /// the time ran out first (HAProxy 2.6 then answers 504).
    pub(super) async fn wait_response_body<S: ServerStream>(
        &mut self,
        server: &mut S,
        w: &WaitForBody,
        framing: Framing,
        limit: usize,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + w.time;
        let whole = |b: &[u8]| match framing {
            Framing::None => true,
            Framing::Length(n) => b.len() as u64 >= n,
            Framing::Chunked => {
                b.starts_with(b"0\r\n\r\n") || b.windows(7).any(|x| x == b"\r\n0\r\n\r\n")
            }
            Framing::UntilClose => false,
        };
        loop {
            let have = self.bufs.sbuf.len();
            if whole(&self.bufs.sbuf)
                || (w.at_least > 0 && have as u64 >= w.at_least)
                || have >= limit
            {
                return true;
            }
            self.bufs
                .sbuf
                .reserve(limit.saturating_sub(have).min(16_384));
            match tokio::time::timeout_at(deadline, server.read_buf(&mut self.bufs.sbuf)).await {
                Ok(Ok(n)) if n > 0 => {}
                // closed or failed: the rules see what there is
                Ok(_) => return true,
                Err(_) => return false,
            }
        }
    }
}
