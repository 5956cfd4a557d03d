//! `http-reuse never|safe|aggressive|always`: which requests of a backend may ride an idle
//! server connection (HAProxy's default: `safe`).

use super::line::Line;
use crate::model::HttpReuse;

pub fn parse(line: &Line<'_>) -> Result<HttpReuse, String> {
    let mode = match line.need(1, "'never', 'safe', 'aggressive' or 'always'")? {
        "never" => HttpReuse::Never,
        "safe" => HttpReuse::Safe,
        "aggressive" => HttpReuse::Aggressive,
        "always" => HttpReuse::Always,
        other => {
            return Err(format!(
                "'http-reuse' expects 'never', 'safe', 'aggressive' or 'always', found '{other}'"
            ))
        }
    };
    line.no_more(2)?;
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use crate::model::HttpReuse;

    fn load(text: &str) -> crate::Loaded {
        crate::load_sources(&[crate::Source {
            name: "t.cfg",
            text,
        }])
    }

    #[test]
    fn modes_parse_and_defaults_inherit() {
        let l = load(
            "defaults\n  mode http\n  http-reuse never\nbackend a\n  server s 127.0.0.1:1\n\
             backend b\n  http-reuse always\n  server s 127.0.0.1:1\n",
        );
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        assert!(
            !format!("{:?}", l.diagnostics).contains("http-reuse"),
            "no longer ignored: {:?}",
            l.diagnostics
        );
        let p = |n: &str| {
            l.config
                .proxies
                .iter()
                .find(|p| p.name == n)
                .unwrap()
                .options
                .http_reuse
        };
        assert_eq!(p("a"), HttpReuse::Never);
        assert_eq!(p("b"), HttpReuse::Always);
        let l = load("backend c\n  mode http\n  server s 127.0.0.1:1\n");
        assert_eq!(l.config.proxies[0].options.http_reuse, HttpReuse::Safe);
    }

    #[test]
    fn bad_mode_and_frontend_are_refused_or_warned() {
        let l = load("backend a\n  mode http\n  http-reuse sometimes\n");
        let text = format!("{:?}", l.diagnostics);
        assert!(
            text.contains("t.cfg") && text.contains("sometimes"),
            "{text}"
        );
        let l = load("frontend f\n  mode http\n  bind 127.0.0.1:1\n  http-reuse never\n");
        let text = format!("{:?}", l.diagnostics);
        assert!(
            text.contains("not allowed in a 'frontend' section"),
            "{text}"
        );
    }
}
