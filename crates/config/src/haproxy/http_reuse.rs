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

    #[test]
    fn pool_max_conn_and_pool_low_conn_are_read() {
        let l = load(
            "defaults\n  mode http\n  default-server pool-low-conn 4\nbackend a\n  \
             server s 127.0.0.1:1 pool-max-conn 0\n  server t 127.0.0.1:2 pool-max-conn -1\n  \
             server u 127.0.0.1:3 pool-max-conn 20 pool-low-conn 1\n",
        );
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let d = format!("{:?}", l.diagnostics);
        assert!(
            !d.contains("pool-max-conn") && !d.contains("pool-low-conn"),
            "{d}"
        );
        let s = &l.config.proxies[0].servers;
        let got: Vec<_> = s
            .iter()
            .map(|s| (s.pool_max_conn, s.pool_low_conn))
            .collect();
        assert_eq!(got, vec![(Some(0), 4), (None, 4), (Some(20), 1)]);
        let bad = load("backend a\n  server s 127.0.0.1:1 pool-max-conn -2\n");
        assert!(bad.diagnostics.has_errors());
        let e = format!("{:?}", bad.diagnostics);
        assert!(
            e.contains("line: 2") && e.contains("pool-max-conn expects"),
            "{e}"
        );
    }
}
