//! `tune.http.logurilen N` (default 1024): HAProxy captures the request line for the log cut
//! to N bytes (measured with haproxy 2.6), and `%r %HM %HU %HP %HPO %HQ %HV` read that capture (in log lines and rule
//! values alike). A line that fits is written from the request as usual; a longer one is cut
//! here and its parts found again as HAProxy 2.6's `log.c` finds them (a cut line without a
//! version has `%HV` `HTTP/0.9`; one without a space has `%HU` `<BADREQ>`). Sans-IO, pure.

use std::sync::atomic::{AtomicUsize, Ordering};

/// HAProxy's default `tune.http.logurilen`.
pub const DEFAULT: usize = 1024;

static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT);

/// Sets the process's `tune.http.logurilen` (at each configuration load).
pub fn install(limit: Option<u32>) {
    let n = limit.map_or(DEFAULT, |n| n as usize);
    LIMIT.store(n, Ordering::Relaxed);
}

/// `name`'s value when the request line `METHOD SP TARGET SP HTTP/VERSION` does not fit the
/// capture; None when it fits (the caller writes it from the request).
pub fn cut(name: &str, method: &[u8], target: &[u8], version: &str) -> Option<Vec<u8>> {
    let limit = LIMIT.load(Ordering::Relaxed);
    let len = method.len() + target.len() + version.len() + 7;
    if len <= limit {
        return None;
    }
    let mut line = Vec::with_capacity(len);
    line.extend_from_slice(method);
    line.push(b' ');
    line.extend_from_slice(target);
    line.extend_from_slice(b" HTTP/");
    line.extend_from_slice(version.as_bytes());
    line.truncate(limit);
    Some(part(name, &line))
}

fn is_sp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A part of a (cut) captured request line, as HAProxy 2.6's log variables read it.
pub fn part(name: &str, line: &[u8]) -> Vec<u8> {
    let end = line.len();
    let mut i = 0;
    while i < end && !is_sp(line[i]) {
        i += 1;
    }
    let method_end = i;
    let mut spaces = 0;
    while i < end && is_sp(line[i]) {
        i += 1;
        spaces += 1;
    }
    let uri_start = i;
    while i < end && !is_sp(line[i]) {
        i += 1;
    }
    let uri = &line[uri_start..i];
    while i < end && is_sp(line[i]) {
        i += 1;
    }
    let bad = b"<BADREQ>".to_vec();
    match name {
        "r" => line.to_vec(),
        "HM" => line[..method_end].to_vec(),
        _ if spaces == 0 => bad,
        "HU" => uri.to_vec(),
        "HP" => uri.split(|&b| b == b'?').next().unwrap_or(uri).to_vec(),
        "HPO" => {
            let p = uri.split(|&b| b == b'?').next().unwrap_or(uri);
            // an absolute URI's scheme and authority are not the path
            match p.windows(3).position(|w| w == b"://") {
                Some(s) => {
                    let rest = &p[s + 3..];
                    rest.iter()
                        .position(|&b| b == b'/')
                        .map_or_else(Vec::new, |k| rest[k..].to_vec())
                }
                None => p.to_vec(),
            }
        }
        "HQ" => uri
            .iter()
            .position(|&b| b == b'?')
            .map_or_else(Vec::new, |q| uri[q..].to_vec()),
        "HV" if i == end => b"HTTP/0.9".to_vec(),
        "HV" => line[i..].to_vec(),
        _ => bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_a_cut_line_as_haproxy() {
        let line = b"GET /abc?x=1 HTT";
        assert_eq!(part("HM", line), b"GET");
        assert_eq!(part("HU", line), b"/abc?x=1");
        assert_eq!(part("HP", line), b"/abc");
        assert_eq!(part("HQ", line), b"?x=1");
        assert_eq!(part("HV", line), b"HTT");
        assert_eq!(part("HV", b"GET /abc"), b"HTTP/0.9");
        assert_eq!(part("HU", b"GETX"), b"<BADREQ>");
        assert_eq!(part("HPO", b"GET http://h/p?q HTTP/1.1"), b"/p");
    }

    #[test]
    fn only_lines_that_do_not_fit_are_cut() {
        // the default 1024: a longer line is cut to 1024 bytes
        let long = vec![b'a'; 2000];
        assert_eq!(cut("r", b"GET", b"/", "1.1"), None);
        let r = cut("r", b"GET", &long, "1.1").expect("cut");
        assert_eq!(r.len(), DEFAULT);
        assert_eq!(cut("HV", b"GET", &long, "1.1"), Some(b"HTTP/0.9".to_vec()));
    }
}
