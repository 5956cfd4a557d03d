//! Layer-6 fetches ([`crate::fetch::FetchKw::l6`]) in log-format strings: HAProxy 2.6 warns
//! "L6 sample fetch <TEXT> ignored in HTTP log-format string." where an HTTP action's value
//! or a `unique-id-format` reads one (TEXT: the string from the fetch to its end, as haproxy
//! quotes it). The log-format compiler notes them while the config parser collects
//! ([`with_l6_uses`]).

thread_local! {
    static L6_USES: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Notes an expression reading layer 6 at the start of `rest` (the format from there on).
pub(crate) fn note(rest: &str) {
    L6_USES.with(|u| {
        if let Some(v) = u.borrow_mut().as_mut() {
            v.push(rest.to_string());
        }
    });
}

/// Runs `f`, returning the layer-6 fetches of every log-format string compiled meanwhile on
/// this thread, each as the text haproxy's warning quotes (from the fetch to the string's end).
pub fn with_l6_uses<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let outer = L6_USES.with(|u| u.replace(Some(Vec::new())));
    let out = f();
    let uses = L6_USES.with(|u| u.replace(outer)).unwrap_or_default();
    (out, uses)
}

#[cfg(test)]
mod tests {
    use super::with_l6_uses;
    use crate::logformat::compile_format;

    #[test]
    fn layer6_fetches_are_noted_with_the_rest_of_the_format() {
        let (r, uses) = with_l6_uses(|| {
            compile_format("a %[req.hdr(host)] %[req.len,add(1)] %{+Q}[res.payload(0,1)] b")
        });
        assert!(r.is_ok());
        assert_eq!(
            uses,
            [
                "req.len,add(1)] %{+Q}[res.payload(0,1)] b",
                "res.payload(0,1)] b"
            ]
        );
        // Nested: the inner collection is its own; nothing is noted outside one.
        let ((), outer) = with_l6_uses(|| {
            let (_, inner) = with_l6_uses(|| compile_format("%[req.len]"));
            assert_eq!(inner, ["req.len]"]);
        });
        assert!(outer.is_empty());
        assert!(compile_format("%[req_ssl_sni]").is_ok());
    }
}
