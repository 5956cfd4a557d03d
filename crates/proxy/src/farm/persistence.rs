//! The farm's persistence hooks: what cookie persistence needs to know about each server, and
//! the `stick on src` table (match, store, hand-over on reload). The protocol decides when to
//! call them; the farm only knows servers.

use super::Farm;
use crate::persist::cookie::CookieServer;
use crate::persist::stick::{StickDecision, StickTable};
use crate::server::AdminState;
use std::net::IpAddr;
use std::time::Instant;

impl<P> Farm<P> {
    /// What the cookie's request phase needs to know about each server.
    pub fn cookie_servers(&self) -> Vec<CookieServer<'_>> {
        self.servers
            .iter()
            .enumerate()
            .map(|(i, s)| CookieServer {
                // A server in MAINT takes nothing, even from `option persist`: its cookie names
                // no server, so the client is balanced elsewhere and gets a new cookie.
                cookie: if s.admin() == AdminState::Maint {
                    None
                } else {
                    self.server_cookies.get(i).and_then(|c| c.as_deref())
                },
                // DRAIN keeps its cookie clients.
                usable: s.persistable(),
            })
            .collect()
    }

    pub fn has_stick_table(&self) -> bool {
        self.stick.is_some()
    }

    /// The live stick table itself (replication applies peers' entries to it).
    pub fn stick_handle(
        &self,
    ) -> Option<std::sync::Arc<std::sync::Mutex<StickTable<IpAddr, String>>>> {
        self.stick.clone()
    }

    /// A copy of the stick table (a reload hands the entries to the next generation).
    pub fn stick_table(&self) -> Option<StickTable<IpAddr, String>> {
        let table = self.stick.as_ref()?;
        Some(match table.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        })
    }

    /// `stick on src`, match part: the server `src` is stuck to, if it is usable.
    pub fn stick_match(&self, now: Instant, src: IpAddr) -> Option<usize> {
        let table = self.stick.as_ref()?;
        let mut t = match table.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        // DRAIN (or runtime weight 0) keeps its stuck clients; DOWN and MAINT do not.
        let usable = |name: &String| {
            self.servers
                .iter()
                .any(|s| &s.name == name && s.persistable())
        };
        match t.stick_on(now, &src, usable) {
            StickDecision::Use(name) => self.servers.iter().position(|s| s.name == name),
            StickDecision::Balance => None,
        }
    }

    /// `stick on src`, store part: `src` now sticks to server `index` (refreshes expiry).
    pub fn stick_store(&self, now: Instant, src: IpAddr, index: usize) {
        let (Some(table), Some(s)) = (self.stick.as_ref(), self.servers.get(index)) else {
            return;
        };
        let mut t = match table.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        t.store(now, src, s.name.clone());
    }

    /// `stick on src`, as a session calls it before balancing: the usable server `src` is
    /// stuck to (none without a stick table).
    pub fn stuck_server(&self, src: IpAddr) -> Option<usize> {
        self.stick.as_ref()?;
        self.stick_match(Instant::now(), src)
    }

    /// `stick on src`, as a session calls it once connected: `src` now sticks to `index`.
    pub fn remember_server(&self, src: IpAddr, index: usize) {
        if self.stick.is_some() {
            self.stick_store(Instant::now(), src, index);
        }
    }
}
