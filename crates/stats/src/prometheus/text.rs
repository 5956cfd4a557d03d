//! Prometheus' text exposition format (version 0.0.4), the format HAProxy's own
//! `prometheus-exporter` service answers with: `# HELP`, `# TYPE`, then `name{labels} value`
//! lines, families in one block each. Label values are escaped (`\\`, `\"`, `\n`), HELP text
//! too (`\\`, `\n`). Pure: builds a String.
//!
//! Hand-written rather than prometheus-client: that crate emits OpenMetrics, where a counter
//! family is declared without its `_total` suffix; dashboards built on HAProxy's exporter
//! expect HAProxy's exact names (`haproxy_frontend_bytes_in_total` as the family).

use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// An exposition under construction.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Self {
        Exposition {
            out: String::with_capacity(16 * 1024),
        }
    }

    /// Starts a family; the samples that follow belong to it until the next `family`.
    /// Callers write each family once, with all its samples.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) -> &mut Self {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.word());
        self
    }

    /// One sample of `name` (the family's name) with its labels.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label_into(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        write_value(&mut self.out, value);
        self.out.push('\n');
        self
    }

    /// A family with one sample and no labels.
    pub fn single(&mut self, name: &str, help: &str, kind: Kind, value: f64) -> &mut Self {
        self.family(name, help, kind).sample(name, &[], value)
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

fn escape_label_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(h: &str) -> String {
    h.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaping() {
        let mut e = Exposition::new();
        e.family(
            "haproxy_server_up",
            "Current status of the server.",
            Kind::Gauge,
        )
        .sample(
            "haproxy_server_up",
            &[("proxy", "app"), ("server", "a\"b\\c\nd")],
            1.0,
        )
        .sample(
            "haproxy_server_up",
            &[("proxy", "app"), ("server", "s2")],
            0.0,
        );
        e.single(
            "haproxy_process_uptime_seconds",
            "Up\ntime",
            Kind::Gauge,
            12.5,
        );
        e.single("x_total", "big", Kind::Counter, 12345678901.0);
        assert_eq!(
            e.finish(),
            "# HELP haproxy_server_up Current status of the server.\n# TYPE haproxy_server_up gauge\n\
             haproxy_server_up{proxy=\"app\",server=\"a\\\"b\\\\c\\nd\"} 1\nhaproxy_server_up{proxy=\"app\",server=\"s2\"} 0\n\
             # HELP haproxy_process_uptime_seconds Up\\ntime\n# TYPE haproxy_process_uptime_seconds gauge\n\
             haproxy_process_uptime_seconds 12.5\n# HELP x_total big\n# TYPE x_total counter\nx_total 12345678901\n"
        );
    }

    #[test]
    fn special_values() {
        let mut s = String::new();
        write_value(&mut s, f64::NAN);
        s.push(' ');
        write_value(&mut s, f64::INFINITY);
        s.push(' ');
        write_value(&mut s, 0.25);
        assert_eq!(s, "NaN +Inf 0.25");
    }
}
