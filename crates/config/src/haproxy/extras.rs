//! Proxy keywords beyond the core model: `compression`.
//!
//! Each function parses one keyword line into `model_extras` types, as HAProxy 2.6 reads it.

use super::line::Line;
use crate::model::ProxyOptions;
use crate::model_extras::{CompAlgo, Compression};

/// `compression algo ALGO...` | `compression type MIME...` | `compression offload`.
pub fn compression(o: &mut ProxyOptions, line: &Line<'_>) -> Result<(), String> {
    let what = line.need(1, "'algo', 'type' or 'offload'")?;
    let c = o.compression.get_or_insert_with(Compression::default);
    match what {
        "algo" => {
            let names = line.args_from(2);
            if names.is_empty() {
                return Err("'compression algo' expects <algorithm>".into());
            }
            for n in names {
                let a = CompAlgo::parse(n).ok_or_else(|| {
                    format!(
                        "'compression algo': '{n}' is not a supported algorithm \
                         (expected identity, deflate, raw-deflate or gzip)"
                    )
                })?;
                // HAProxy puts each new algorithm in front of the list.
                c.algos.insert(0, a);
            }
        }
        "type" => {
            let types = line.args_from(2);
            if types.is_empty() {
                return Err("'compression type' expects <type>".into());
            }
            c.types.extend(types.iter().map(|t| t.to_string()));
        }
        "offload" => {
            line.no_more(2)?;
            c.offload = true;
        }
        other => {
            return Err(format!(
                "'compression' expects 'algo', 'type' or 'offload', found '{other}'"
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model_extras::CompAlgo;
    use crate::{load_sources, Loaded, Source};

    fn cfg(body: &str) -> Loaded {
        let text = format!(
            "defaults\n  mode http\nbackend b\n  server s 127.0.0.1:80\nfrontend f\n  bind :8080\n  default_backend b\n{body}"
        );
        load_sources(&[Source {
            name: "t.cfg",
            text: &text,
        }])
    }

    fn errors(l: &Loaded) -> String {
        l.diagnostics
            .errors()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn compression_lines_accumulate_in_haproxy_order() {
        let l = cfg("  compression algo gzip deflate\n  compression algo raw-deflate\n  compression type text/html text/plain\n  compression offload\n");
        assert!(l.is_ok(), "{}", errors(&l));
        let c = l
            .config
            .proxies
            .iter()
            .find(|p| p.name == "f")
            .and_then(|p| p.options.compression.clone());
        let c = c.expect("compression set");
        assert_eq!(
            c.algos,
            vec![CompAlgo::RawDeflate, CompAlgo::Deflate, CompAlgo::Gzip]
        );
        assert_eq!(c.types, vec!["text/html", "text/plain"]);
        assert!(c.offload);
    }

    #[test]
    fn compression_errors_name_the_line() {
        for (body, want) in [
            (
                "  compression algo br\n",
                "'br' is not a supported algorithm",
            ),
            ("  compression algo\n", "expects <algorithm>"),
            (
                "  compression direction both\n",
                "expects 'algo', 'type' or 'offload'",
            ),
            ("  compression offload now\n", ""),
        ] {
            let l = cfg(body);
            assert!(!l.is_ok(), "{body}");
            let d = errors(&l);
            assert!(
                d.contains(want) && d.starts_with("t.cfg:8: "),
                "{body}: {d}"
            );
        }
    }
}
