//! The log line's facts a rule value reads (`%t %Ts %b %s %ID %Tw %B %ac %rt`... in
//! `set-header` values, `set-var-fmt`, `lf-string` bodies, redirect targets): what the
//! request's log line would say at that moment, written by the log line's own function
//! (`log_vars::write`) from an [`Entry`] of the open stream, as HAProxy 2.6 writes them there
//! (its `sess_build_logline` on the live stream): the backend is the frontend before routing
//! and the server `<NOSRV>` before one is chosen; the timers not reached yet are -1 (`%TR`
//! and `%Tq` too during the request rules: HAProxy dates the request after them); `%Tt` is 0,
//! `%Ta` -(`%Th`+`%Ti`) and `%Td` minus the time to the response head (its `t_close` is 0);
//! `%B` and `%U` are 0, `%ts`/`%tsc` `--`/`----` (the cookie's request flag once known);
//! `%CC` is empty before the response and `%CS` in rule values (HAProxy captures them after
//! those rules); `%ID` is empty in the request rules unless a `unique-id` fetch made the id
//! (HAProxy makes it after them).
//!
//! A request gets one only when its frontend's or backends' rule values use such a variable
//! (`state::Frontend::rule_facts`): the common request pays nothing.

use crate::http::capture::Captures;
use crate::http::sample_env::{HttpEnv, LogFacts, ResponseFacts};
use crate::log::Logger;
use crate::logline::{Entry, Timers, Waits};
use crate::termination::Termination;
use fulcrum_config::model::Mode;
use fulcrum_sample::logformat::{Flags, Written};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::SystemTime;

/// A request's own clock and id, kept by its session for rules that run outside the
/// request's phases (`http-after-response` on the proxy's own answers).
#[derive(Debug, Clone)]
pub struct Clock {
    pub accept: SystemTime,
    pub waits: Waits,
    pub rt: u64,
    pub unique_id: Option<Vec<u8>>,
}

/// One request's facts for its rule values.
pub struct RuleFacts<'a> {
    pub mode: Mode,
    pub frontend: &'a str,
    /// The frontend's connections (`%fc`).
    pub frontend_conns: &'a AtomicU64,
    /// The frontend's logger (`%lc`: lines it logged so far).
    pub log: Option<&'a Logger>,
    pub tls: Option<&'a crate::stream::TlsInfo>,
    pub accept: SystemTime,
    pub waits: Waits,
    pub rt: u64,
    later: OnceLock<ResponseFacts>,
    id_made: AtomicBool,
    /// `http-after-response` on an answer the proxy made: no server's response came.
    local: bool,
}

impl<'a> RuleFacts<'a> {
    pub fn new(
        mode: Mode,
        frontend: &'a str,
        frontend_conns: &'a AtomicU64,
        log: Option<&'a Logger>,
        accept: SystemTime,
        waits: Waits,
        rt: u64,
    ) -> RuleFacts<'a> {
        RuleFacts {
            mode,
            frontend,
            frontend_conns,
            log,
            tls: None,
            accept,
            waits,
            rt,
            later: OnceLock::new(),
            id_made: AtomicBool::new(false),
            local: false,
        }
    }

    /// The same facts, for `http-after-response` rules on an answer the proxy made (what
    /// the request rules saw: no response facts, `%CC` and `%ID` as there).
    pub fn local_answer(mut self) -> RuleFacts<'a> {
        self.local = true;
        self
    }

    /// The same facts, on a TLS connection (`%ft`'s `~`).
    pub fn with_tls(mut self, tls: Option<&'a crate::stream::TlsInfo>) -> RuleFacts<'a> {
        self.tls = tls;
        self
    }
}

impl LogFacts for RuleFacts<'_> {
    fn id_made(&self) {
        self.id_made.store(true, Ordering::Relaxed);
    }

    fn response(&self, r: ResponseFacts) {
        let _ = self.later.set(r);
    }

    fn var(
        &self,
        env: &HttpEnv<'_>,
        name: &str,
        flags: Flags,
        out: &mut Vec<u8>,
    ) -> Option<Written> {
        let later = self.later.get().copied();
        let responded = later.is_some() || (env.res.is_some() && !self.local);
        match name {
            // Captured after the rules that could read them (HAProxy 2.6).
            "CC" if !responded => return None,
            "CS" => return None,
            "ID" if !responded && !self.id_made.load(Ordering::Relaxed) => return None,
            _ => {}
        }
        let later = later.unwrap_or_default();
        let (be, srv) = env.place.map_or((None, None), |p| p.names());
        let guard = env.shared_samples.and_then(|s| s.lock().ok());
        let samples: &[Option<Vec<u8>>] = match (&guard, env.samples) {
            (Some(g), _) => g.as_slice(),
            (None, Some(s)) => s,
            (None, None) => &[],
        };
        let none = Captures::new(&[]);
        let caps = env.captures.unwrap_or(&none);
        let e = Entry {
            mode: self.mode,
            frontend: self.frontend,
            tls: self.tls,
            peer: env.src,
            local: env.dst,
            accept: self.accept,
            backend: be,
            server: srv.map(|s| s.0),
            timers: Timers {
                request: later.request,
                queue: later.queue,
                connect: later.connect,
                response: later.response,
                total: std::time::Duration::ZERO,
            },
            status: 0,
            bytes: 0,
            term: Termination::NORMAL,
            cookie: [
                if later.cookie == 0 {
                    b'-'
                } else {
                    later.cookie
                },
                b'-',
            ],
            active: crate::counters::active_connections(),
            frontend_conns: self.frontend_conns.load(Ordering::Relaxed),
            retries: later.retries,
            bytes_in: 0,
            log_count: self.log.map_or(0, Logger::logged),
            unique_id: env.unique_id,
            samples,
            server_addr: srv.and_then(|s| s.1),
            source: later.source,
            rt: self.rt,
            handshake: self.waits.handshake,
            idle: self.waits.idle,
            asap: false,
            place: env.place,
            counters: env.counters,
            open: true,
            priority: env.priority,
        };
        crate::log_vars::write(&e, env, caps, name, flags, out)
    }
}

#[cfg(test)]
mod tests;
