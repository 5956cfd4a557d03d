//! `http-send-name-header NAME`: the request sent to a server carries the server's name in
//! header NAME (every earlier NAME removed), set again when a retry or redispatch picks
//! another server, as HAProxy 2.6 does. HAProxy adds its `Connection` header when the head is
//! written, after this one: a `Connection` field the proxy appended stays last here too.

use crate::http::message::Message;

/// Sets `header: server` on `req`; `conn_appended`: the last field is the proxy's own
/// `Connection` header, kept last.
pub fn apply(req: &mut Message, header: &str, server: &str, conn_appended: bool) {
    let conn_last = conn_appended
        && req
            .fields
            .last()
            .is_some_and(|f| req.name(f).eq_ignore_ascii_case(b"connection"));
    req.remove(header.as_bytes());
    req.append(header.as_bytes(), server.as_bytes());
    let n = req.fields.len();
    if conn_last && n >= 2 {
        req.fields.swap(n - 1, n - 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: &Message) -> Vec<String> {
        m.fields
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    String::from_utf8_lossy(m.name(f)),
                    String::from_utf8_lossy(m.value(f))
                )
            })
            .collect()
    }

    #[test]
    fn replaces_and_keeps_connection_last() {
        let mut m = Message::new();
        m.append(b"Host", b"a");
        m.append(b"X-Server", b"forged");
        m.append(b"Connection", b"close");
        apply(&mut m, "X-Server", "s1", true);
        assert_eq!(names(&m), ["Host: a", "X-Server: s1", "Connection: close"]);
        // a retry on another server
        apply(&mut m, "X-Server", "s2", true);
        assert_eq!(names(&m), ["Host: a", "X-Server: s2", "Connection: close"]);
        let mut m = Message::new();
        m.append(b"Connection", b"keep-alive");
        apply(&mut m, "x-srv", "s1", false);
        assert_eq!(names(&m), ["Connection: keep-alive", "x-srv: s1"]);
    }
}
