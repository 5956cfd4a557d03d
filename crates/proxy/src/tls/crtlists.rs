//! The process's crt-lists by path (and the `crt` directories, which HAProxy lists the same
//! way), the binds that serve each, and the runtime socket's commands on them with HAProxy
//! 2.6's answers: `show ssl crt-list [-n] [LIST]`, `add ssl crt-list LIST CERT` (or a one-line
//! payload `CERT [OPTIONS] FILTERS`), `del ssl crt-list LIST CERT[:LINE]`.
//!
//! An added line is built for every bind using the list first (its options over each bind's),
//! then served by all of them from their next handshake; a deleted line stops being offered
//! the same way. Connections keep what they negotiated. As in HAProxy, the file is not
//! rewritten: a reload reads it again and runtime changes are gone.

use super::acceptor::TlsBind;
use super::crtlist::{self, ListRead, Listed};
use super::store;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, Weak};

/// A runtime socket command on crt-lists (the words as typed, payload included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrtListCommand {
    /// `show ssl crt-list [-n] [LIST]` (`numbers`: `-n` was given).
    Show { numbers: bool, list: Option<String> },
    /// `add ssl crt-list LIST CERT`, or `LIST <<` with the line as payload.
    Add {
        list: String,
        cert: String,
        payload: Option<String>,
    },
    /// `del ssl crt-list LIST CERT[:LINE]`.
    Del { list: String, cert: String },
}

struct List {
    dir: bool,
    linecount: usize,
    lines: Vec<Listed>,
    binds: Vec<Weak<TlsBind>>,
}

impl List {
    fn live(&self) -> Vec<Arc<TlsBind>> {
        self.binds.iter().filter_map(Weak::upgrade).collect()
    }
}

static LISTS: Mutex<BTreeMap<String, List>> = Mutex::new(BTreeMap::new());

/// Bind `bind` serves the lists it read; a list read again (a reload) starts from the file.
pub fn register(bind: &Arc<TlsBind>, reads: Vec<ListRead>) {
    let mut lists = LISTS.lock().unwrap_or_else(|e| e.into_inner());
    for r in reads {
        let l = lists.entry(r.key).or_insert_with(|| List {
            dir: r.dir,
            linecount: 0,
            lines: Vec::new(),
            binds: Vec::new(),
        });
        l.binds.retain(|w| w.strong_count() > 0);
        l.binds.push(Arc::downgrade(bind));
        l.dir = r.dir;
        l.linecount = r.linecount;
        l.lines = r.lines;
    }
}

/// Runs one command; HAProxy's answer text.
pub fn run(cmd: &CrtListCommand) -> String {
    let mut lists = LISTS.lock().unwrap_or_else(|e| e.into_inner());
    lists.retain(|_, l| {
        l.binds.retain(|w| w.strong_count() > 0);
        !l.binds.is_empty()
    });
    match cmd {
        CrtListCommand::Show { numbers, list } => show(&lists, *numbers, list.as_deref()),
        CrtListCommand::Add {
            list,
            cert,
            payload,
        } => match add(&mut lists, list, cert, payload.as_deref()) {
            Ok(done) => done,
            Err(m) => format!("Can't edit the crt-list: {m}\n"),
        },
        CrtListCommand::Del { list, cert } => match del(&mut lists, list, cert) {
            Ok(done) => done,
            Err(m) => format!("Can't delete the entry: {m}\n"),
        },
    }
}

fn key(list: &str) -> &str {
    let t = list.trim_end_matches('/');
    if t.is_empty() {
        list
    } else {
        t
    }
}

fn show(lists: &BTreeMap<String, List>, numbers: bool, list: Option<&str>) -> String {
    let Some(name) = list.filter(|n| !n.is_empty()) else {
        if numbers {
            return "'show ssl crt-list -n' expects a filename or a directory\n".into();
        }
        return lists.keys().map(|k| format!("{k}\n")).collect();
    };
    let Some((k, l)) = lists.get_key_value(key(name)) else {
        return "didn't find the specified filename\n".into();
    };
    let mut out = format!("# {k}\n");
    for line in &l.lines {
        out.push_str(&line.shown(numbers));
        out.push('\n');
    }
    out
}

fn add(
    lists: &mut BTreeMap<String, List>,
    list: &str,
    cert: &str,
    payload: Option<&str>,
) -> Result<String, String> {
    if list.is_empty() || (payload.is_none() && cert.is_empty()) {
        return Ok("'add ssl crtlist' expects a filename and a certificate name\n".into());
    }
    let k = key(list).to_string();
    let l = lists
        .get_mut(&k)
        .ok_or_else(|| format!("crt-list '{k}' does not exist!"))?;
    let mut line = match payload {
        Some(p) => {
            let p = p.strip_suffix('\n').unwrap_or(p);
            if p.is_empty() || p.contains('\n') {
                return Err("only one line of payload is supported!".into());
            }
            let parsed = crtlist::parse_line(p, 1)
                .map_err(|(_, m)| format!("parsing [CLI:1]: {}", haproxy_words(&m)))?
                .ok_or("'add ssl crtlist' should contain the certificate name in the payload")?;
            Listed::from_line(&parsed, &parsed.file)
        }
        None => Listed::plain(0, cert),
    };
    if l.dir {
        let inside = line
            .cert
            .rsplit_once('/')
            .is_some_and(|(d, _)| d == k.as_str());
        if !inside {
            return Err(format!(
                "'{k}' is a directory, certificate path '{}' must contain the directory path",
                line.cert
            ));
        }
    }
    let binds = l.live();
    if !line.cert.starts_with('/') {
        if let Some(base) = binds.first().and_then(|b| b.crt_base()) {
            line.cert = format!("{base}/{}", line.cert);
        }
    }
    let slot = store::lookup(&line.cert)?;
    if l.dir {
        if l.lines.iter().any(|x| x.cert == line.cert) {
            return Err("file already exists in this directory!".into());
        }
        if line.option_words.is_some() || !line.filter_words.is_empty() {
            return Err(
                "this is a directory, SSL configuration and filters are not allowed".into(),
            );
        }
    }
    line.linenum = l.linecount + 1;
    let mut out = format!("Inserting certificate '{}' in crt-list '{k}'", line.cert);
    let mut built = Vec::new();
    for b in &binds {
        match b.prepare(&line, &k, &slot) {
            Ok(e) => {
                built.push(e);
                out.push('.');
            }
            Err(m) => return Ok(format!("{out}\n{m}\nFailed!\n")),
        }
    }
    for (b, e) in binds.iter().zip(built) {
        b.insert(e);
    }
    l.linecount += 1;
    l.lines.push(line);
    out.push_str("\nSuccess!\n");
    Ok(out)
}

/// HAProxy's words for an option it does not know (the config parser's are fulcrum's).
fn haproxy_words(m: &str) -> String {
    match m
        .strip_prefix("unknown crt-list option '")
        .and_then(|r| r.strip_suffix('\''))
    {
        Some(kw) => format!("unknown ssl keyword {kw}"),
        None => m.to_string(),
    }
}

fn del(lists: &mut BTreeMap<String, List>, list: &str, cert_arg: &str) -> Result<String, String> {
    if list.is_empty() || cert_arg.is_empty() {
        return Ok("'del ssl crtlist' expects a filename and a certificate name\n".into());
    }
    let (cert, linenum) = match cert_arg.split_once(':') {
        None => (cert_arg, 0),
        Some((c, n)) => match n.parse::<usize>() {
            Ok(n) => (c, n),
            Err(_) => return Err(format!("wrong line number after colons in '{cert_arg}'!")),
        },
    };
    let k = key(list).to_string();
    let l = lists
        .get_mut(&k)
        .ok_or_else(|| format!("crt-list '{k}' does not exist!"))?;
    let slot = store::lookup(cert)?;
    let found: Vec<usize> = (0..l.lines.len())
        .filter(|&i| l.lines[i].cert == cert)
        .collect();
    if found.is_empty() {
        return Err(format!(
            "certificate '{cert}' can't be found in crt-list '{k}'!"
        ));
    }
    let numbers = found
        .iter()
        .map(|&i| l.lines[i].linenum.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let Some(&at) = found
        .iter()
        .find(|&&i| linenum == 0 || l.lines[i].linenum == linenum)
    else {
        return Err(format!("found a certificate '{cert}' but the line number is incorrect, please specify a correct line number preceded by colons ({numbers})!"));
    };
    if linenum == 0 && found.len() > 1 {
        return Err(format!("found the certificate '{cert}' in several entries, please specify a line number preceded by colons ({numbers})!"));
    }
    let n = l.lines[at].linenum;
    let binds = l.live();
    let defaults: Vec<&str> = binds
        .iter()
        .filter(|b| b.is_default(&k, n, cert))
        .map(|b| b.span())
        .collect();
    if !defaults.is_empty() {
        let mut m = format!("certificate '{cert}' cannot be deleted, it is used as default certificate by the following frontends:\n");
        for d in defaults {
            let _ = writeln!(m, "\t- {d}");
        }
        return Err(m);
    }
    for b in &binds {
        b.remove(&k, n, cert);
    }
    l.lines.remove(at);
    slot.keep();
    Ok(format!("Entry '{cert}' deleted in crtlist '{k}'!\n"))
}
