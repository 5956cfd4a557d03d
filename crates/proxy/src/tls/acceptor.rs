//! TLS on a `bind ... ssl` line: its certificates (`crt`, `crt-list`, `default-crt`), SNI
//! selection, per-certificate options (crt-list lines), and the handshake itself. The set of
//! certificates served can change while the bind runs: a `commit ssl cert` re-indexes the SNI
//! names, and the runtime socket's `add/del ssl crt-list` insert or remove a crt-list line's
//! certificate (`tls::crtlists`); each handshake reads the set as it is then, established
//! connections keep what they negotiated.
//!
//! The ClientHello is read first (rustls's lazy acceptor), so each certificate can carry its
//! own settings (crt-list lines) and the right key type (ECDSA or RSA) is chosen per client;
//! before it, a peek at the hello says whether the client offers a session to resume (one
//! TLS 1.3 ticket after a resumption, two after a full handshake, as OpenSSL sends them).

use super::certs::{self, CertEntry};
use super::conn::TlsConn;
use super::crtlist::{self, ListRead, Listed};
use super::server_config::Builder;
use super::sni::SniIndex;
use super::store::{self, Slot, SlotUse};
use super::suites;
use fulcrum_config::model::Bind;
use fulcrum_config::tls::{GlobalTls, TlsOptions};
use rustls::server::ServerConfig;
use std::io;
use std::sync::{Arc, RwLock};
use tokio::net::TcpStream;

/// A client's TLS stream (its socket can be taken off the runtime while idle: `sock`).
pub type ServerTls = tokio_rustls::server::TlsStream<super::sock::Sock>;

/// One certificate with the settings it is served with.
pub struct Entry {
    config: Arc<ServerConfig>,
    /// The same settings for a client offering a session to resume: one TLS 1.3 ticket after
    /// the handshake, not two (OpenSSL's, so haproxy's, count after a resumption).
    resuming: Arc<ServerConfig>,
    /// The options it is served with (its settings are rebuilt with them when a CA or CRL
    /// file is committed), and its uses of those files.
    opts: TlsOptions,
    _files: Vec<super::cafiles::FileUse>,
    /// The certificate file's slot: `commit ssl cert` replaces what it holds.
    slot: SlotUse,
    path: String,
    /// crt-list SNI filters (`[!]name`); none: the certificate's own names.
    filters: Vec<String>,
    excluded: Vec<String>,
    /// The crt-list (or `crt` directory) and line it came from.
    list: Option<(String, usize)>,
    /// A `default-crt`.
    default: bool,
}

impl Entry {
    /// The same certificate with settings built again (CA and CRL files as committed).
    fn rebuilt(&self, b: &mut Builder<'_>) -> Result<Arc<Entry>, String> {
        let (config, files) = b.config(&self.opts, &self.slot.0)?;
        Ok(Arc::new(Entry {
            resuming: resuming(&config),
            config,
            opts: self.opts.clone(),
            _files: files,
            slot: SlotUse::new(self.slot.0.clone()),
            path: self.path.clone(),
            filters: self.filters.clone(),
            excluded: self.excluded.clone(),
            list: self.list.clone(),
            default: self.default,
        }))
    }

    fn is_line(&self, list: &str, linenum: usize, cert: &str) -> bool {
        self.path == cert
            && self
                .list
                .as_ref()
                .is_some_and(|(l, n)| l == list && *n == linenum)
    }
}

/// `config` for a client that offers a session to resume: OpenSSL sends one TLS 1.3 ticket
/// after a resumed handshake where it sends two after a full one. (A client whose offered
/// session is refused then gets one ticket here, two from haproxy.)
fn resuming(config: &Arc<ServerConfig>) -> Arc<ServerConfig> {
    let mut c = ServerConfig::clone(config);
    c.send_tls13_tickets = c.send_tls13_tickets.min(1);
    Arc::new(c)
}

/// Whether the ClientHello waiting on `tcp` offers a session to resume, peeked (not read)
/// once the first bytes are in; a hello larger than the peek, or not all in yet, counts as
/// not offering one.
async fn offers_psk(tcp: &TcpStream) -> bool {
    thread_local! {
        static PEEK: std::cell::RefCell<Box<[u8]>> = std::cell::RefCell::new(vec![0; 4096].into());
    }
    std::future::poll_fn(|cx| {
        PEEK.with_borrow_mut(|b| {
            let mut rb = tokio::io::ReadBuf::new(b);
            tcp.poll_peek(cx, &mut rb)
                .map(|r| r.is_ok_and(|_| super::hello::offers_psk(rb.filled())))
        })
    })
    .await
}

/// The certificates a bind serves now and their SNI index.
struct Served {
    /// `store::commits()` when the index was built (a commit changes the names).
    commits: u64,
    /// `cafiles::generation()` the entries' settings were built at (or after).
    files: u64,
    entries: Vec<Arc<Entry>>,
    index: SniIndex,
}

impl Served {
    /// `files`: the `cafiles::generation()` the entries' settings are as recent as.
    fn new(entries: Vec<Arc<Entry>>, strict: bool, files: u64) -> Served {
        let commits = store::commits();
        let mut index = SniIndex::new(strict);
        for (idx, e) in entries.iter().enumerate() {
            let names = if e.filters.is_empty() {
                e.slot
                    .0
                    .current()
                    .and_then(|k| k.cert.first().map(certs::names))
                    .unwrap_or_default()
            } else {
                e.filters.clone()
            };
            index.add(idx, &names, &e.excluded);
        }
        for (idx, e) in entries.iter().enumerate() {
            if e.default {
                index.set_default(idx);
            }
        }
        Served {
            commits,
            files,
            entries,
            index,
        }
    }

    /// The entry served when no name matches: the last `default-crt`, else the first one.
    fn default(&self) -> Option<usize> {
        let d = self.entries.iter().rposition(|e| e.default);
        d.or((!self.entries.is_empty()).then_some(0))
    }
}

/// The TLS side of one bind line.
pub struct TlsBind {
    served: RwLock<Arc<Served>>,
    strict: bool,
    /// The bind's options with the global defaults (a crt-list line's options apply over them).
    opts: TlsOptions,
    global: GlobalTls,
    /// `FILE:LINE` of the bind (the runtime socket names it).
    span: String,
}

impl TlsBind {
    /// Loads everything a bind line's TLS needs, and the crt-lists (and `crt` directories) it
    /// read; errors name what is wrong (the caller adds the line).
    pub fn build(bind: &Bind, global: &GlobalTls) -> Result<(TlsBind, Vec<ListRead>), String> {
        if matches!(
            bind.address,
            fulcrum_config::model::BindAddress::Unix(_)
                | fulcrum_config::model::BindAddress::Abns(_)
        ) {
            return Err("'ssl' on a unix socket bind is not supported by fulcrum yet".into());
        }
        let opts = suites::merged(&bind.tls, &global.default_bind);
        // Read before the files are: a commit while they are read rebuilds them later.
        let files = super::cafiles::generation();
        let mut b = Builder::new(global);
        let crt_base = global.crt_base.as_deref();
        let mut entries = Vec::new();
        let mut lists = Vec::new();
        let mut add = |e: CertEntry,
                       o: &TlsOptions,
                       l: Option<&crtlist::CrtLine>,
                       list: Option<(String, usize)>,
                       default: bool|
         -> Result<(), String> {
            let slot = store::install(&e.path, e.key);
            let (config, files) = b
                .config(o, &slot)
                .map_err(|m| format!("certificate '{}': {m}", e.path))?;
            entries.push(Arc::new(Entry {
                resuming: resuming(&config),
                config,
                opts: o.clone(),
                _files: files,
                slot: SlotUse::new(slot),
                path: e.path,
                filters: l.map(|l| l.filters.clone()).unwrap_or_default(),
                excluded: l.map(|l| l.excluded.clone()).unwrap_or_default(),
                list,
                default,
            }));
            Ok(())
        };
        for crt in &opts.crt {
            let path = certs::under(crt_base, crt);
            let loaded = certs::load_path(&path)?;
            let dir = path.is_dir().then(|| crtlist::list_key(&path));
            let mut read = dir.as_ref().map(|k| ListRead::new(k, true, 0));
            for e in loaded {
                if let Some(r) = &mut read {
                    r.lines.push(Listed::plain(0, &e.path));
                }
                let list = dir.as_ref().map(|k| (k.clone(), 0));
                add(e, &opts, None, list, false)?;
            }
            lists.extend(read);
        }
        for list in &opts.crt_list {
            let path = certs::under(crt_base, list);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read crt-list '{}': {e}", path.display()))?;
            let lines =
                crtlist::parse(&text).map_err(|(n, m)| format!("{}:{n}: {m}", path.display()))?;
            let key = crtlist::list_key(&path);
            let mut read = ListRead::new(&key, false, text.lines().count());
            for l in lines {
                let line_opts = match &l.options {
                    Some(lo) => suites::line_over(lo, &opts),
                    None => opts.clone(),
                };
                // without `crt-base`, under the bind line's `default-path` directory
                let file = certs::under(crt_base.or(opts.list_base.as_deref()), &l.file);
                for e in certs::load_path(&file)
                    .map_err(|m| format!("{}:{}: {m}", path.display(), l.line))?
                {
                    read.lines.push(Listed::from_line(&l, &e.path));
                    add(e, &line_opts, Some(&l), Some((key.clone(), l.line)), false)
                        .map_err(|m| format!("{}:{}: {m}", path.display(), l.line))?;
                }
            }
            lists.push(read);
        }
        for d in &opts.default_crt {
            for e in certs::load_path(&certs::under(crt_base, d))? {
                add(e, &opts, None, None, true)?;
            }
        }
        if entries.is_empty() {
            return Err("'ssl' on a bind needs at least one certificate".into());
        }
        let bind = TlsBind {
            served: RwLock::new(Arc::new(Served::new(entries, opts.strict_sni, files))),
            strict: opts.strict_sni,
            opts,
            global: global.clone(),
            span: bind.span.to_string(),
        };
        Ok((bind, lists))
    }

    /// What the bind serves now (re-indexed first if a certificate was committed since,
    /// its settings rebuilt if a CA or CRL file was).
    fn served(&self) -> Arc<Served> {
        let s = self
            .served
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let files = super::cafiles::generation();
        if s.commits == store::commits() && s.files == files {
            return s;
        }
        let mut w = self.served.write().unwrap_or_else(|e| e.into_inner());
        if w.files != files {
            let mut b = Builder::live(&self.global);
            let entries = w
                .entries
                .iter()
                .map(|e| {
                    e.rebuilt(&mut b).unwrap_or_else(|m| {
                        tracing::warn!("{}: certificate '{}': {m}", self.span, e.path);
                        e.clone()
                    })
                })
                .collect();
            *w = Arc::new(Served::new(entries, self.strict, files));
        } else if w.commits != store::commits() {
            *w = Arc::new(Served::new(w.entries.clone(), self.strict, w.files));
        }
        w.clone()
    }

    /// `FILE:LINE` of the bind line.
    pub fn span(&self) -> &str {
        &self.span
    }

    /// Paths of the certificates served now.
    pub fn paths(&self) -> Vec<String> {
        self.served()
            .entries
            .iter()
            .map(|e| e.path.clone())
            .collect()
    }

    /// The certificate of crt-list line `line` as this bind would serve it, built but not
    /// served yet (`add ssl crt-list`): the line's options over the bind's.
    pub fn prepare(
        &self,
        line: &Listed,
        list: &str,
        slot: &Arc<Slot>,
    ) -> Result<Arc<Entry>, String> {
        let parsed = crtlist::parse_line(&line.text(), line.linenum)
            .map_err(|(_, m)| m)?
            .ok_or("an empty crt-list line")?;
        let o = match &parsed.options {
            Some(lo) => suites::line_over(lo, &self.opts),
            None => self.opts.clone(),
        };
        let (config, files) = Builder::live(&self.global).config(&o, slot)?;
        Ok(Arc::new(Entry {
            resuming: resuming(&config),
            config,
            opts: o,
            _files: files,
            slot: SlotUse::new(slot.clone()),
            path: line.cert.clone(),
            filters: parsed.filters,
            excluded: parsed.excluded,
            list: Some((list.to_string(), line.linenum)),
            default: false,
        }))
    }

    /// Serves `entry` from the next handshake on.
    pub fn insert(&self, entry: Arc<Entry>) {
        let mut w = self.served.write().unwrap_or_else(|e| e.into_inner());
        let mut entries = w.entries.clone();
        entries.push(entry);
        *w = Arc::new(Served::new(entries, self.strict, w.files));
    }

    /// Whether line `linenum` of `list` (certificate `cert`) is this bind's default
    /// certificate.
    pub fn is_default(&self, list: &str, linenum: usize, cert: &str) -> bool {
        let s = self.served();
        s.default()
            .is_some_and(|d| s.entries[d].is_line(list, linenum, cert))
    }

    /// `crt-base`: where a relative certificate path of a crt-list line starts.
    pub fn crt_base(&self) -> Option<&str> {
        self.global.crt_base.as_deref()
    }

    /// Stops serving line `linenum` of `list` (`del ssl crt-list`) from the next handshake on.
    pub fn remove(&self, list: &str, linenum: usize, cert: &str) {
        let mut w = self.served.write().unwrap_or_else(|e| e.into_inner());
        let entries: Vec<Arc<Entry>> = w
            .entries
            .iter()
            .filter(|e| !e.is_line(list, linenum, cert))
            .cloned()
            .collect();
        *w = Arc::new(Served::new(entries, self.strict, w.files));
    }

    /// Runs the handshake on an accepted connection.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<TlsConn<ServerTls>> {
        let open = super::totals::connection();
        let psk = offers_psk(&tcp).await;
        let start = tokio_rustls::LazyConfigAcceptor::new(
            rustls::server::Acceptor::default(),
            super::sock::Sock::Live(tcp),
        )
        .await?;
        let hello = start.client_hello();
        let schemes = hello.signature_schemes();
        let served = self.served();
        let Some(idx) = served.index.select(hello.server_name(), |i| {
            served.entries[i]
                .slot
                .0
                .current()
                .is_some_and(|k| k.key.choose_scheme(schemes).is_some())
        }) else {
            return Err(io::Error::other(format!(
                "strict-sni: no certificate for {:?}",
                hello.server_name()
            )));
        };
        let e = &served.entries[idx];
        let config = if psk { &e.resuming } else { &e.config }.clone();
        drop(served);
        let stream = start.into_stream(config).await?;
        let conn = stream.get_ref().1;
        let mut info = super::conn::info(conn);
        info.sni = conn.server_name().map(Into::into);
        Ok(TlsConn::new(stream, info, open))
    }
}
