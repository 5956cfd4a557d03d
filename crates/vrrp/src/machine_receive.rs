//! The receive path of [`Machine`]: a packet is validated (RFC 5798 §7.1: TTL, version,
//! VRID, authentication, interval), counted as accepted or dropped by cause, and a valid
//! advert drives the state machine.

use super::{Machine, Received, State, HANDOVER_LINGER};
use crate::packet::{self, Advert, Auth};
use crate::received::DropCause;
use std::net::IpAddr;
use std::time::Instant;

impl Machine {
    /// Validates a received packet; a valid advert drives the state machine.
    pub fn handle_packet(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), DropCause> {
        self.counters.received += 1;
        let result = self.validate(rx);
        match result {
            Ok(advert) => {
                self.counters.accepted += 1;
                self.handle_advert(now, rx.src, &advert);
                Ok(())
            }
            Err(cause) => {
                *self.counters.dropped.entry(cause).or_insert(0) += 1;
                Err(cause)
            }
        }
    }

    fn validate(&mut self, rx: &Received<'_>) -> Result<Advert, DropCause> {
        if rx.src == self.cfg.primary {
            return Err(DropCause::OwnPacket);
        }
        if rx.ttl != packet::TTL {
            return Err(DropCause::Ttl);
        }
        let advert = packet::decode(rx.bytes, rx.src, rx.dst)?;
        if advert.version != self.cfg.version {
            return Err(DropCause::VersionMismatch);
        }
        if advert.vrid != self.cfg.vrid {
            return Err(DropCause::Vrid);
        }
        if advert.version == 2 && (advert.auth != self.cfg.auth || advert.auth == Auth::Ah) {
            return Err(DropCause::Authentication);
        }
        if advert.interval_cs != self.wire_interval_cs() {
            return Err(DropCause::Interval);
        }
        let mut theirs = advert.addresses.clone();
        let mut ours: Vec<IpAddr> = self
            .cfg
            .addresses
            .iter()
            .copied()
            .filter(|a| a.is_ipv4() == rx.src.is_ipv4())
            .collect();
        theirs.sort();
        ours.sort();
        if theirs != ours {
            self.counters.address_list_mismatch += 1;
        }
        Ok(advert)
    }

    fn handle_advert(&mut self, now: Instant, from: IpAddr, advert: &Advert) {
        match self.state {
            State::Backup => {
                if advert.priority == 0 {
                    // The master is leaving: take over after Skew_Time only.
                    self.timer = Some(now + self.skew_time());
                } else if !self.cfg.preempt || advert.priority >= self.priority {
                    self.preempt_at = None;
                    self.timer = Some(now + self.master_down_interval());
                } else if let Some(delay) = self.cfg.preempt_delay {
                    // A lower master: keep deferring to it until preempt_delay has passed.
                    let at = *self.preempt_at.get_or_insert(now + delay);
                    if now < at {
                        self.timer = Some(now + self.master_down_interval());
                    }
                }
                // Otherwise (preempting a lower master) the advert is discarded and the
                // Master_Down_Timer runs out.
            }
            State::Master if self.handover.is_some() => {
                if advert.priority > 0 && self.successor.is_none() {
                    self.successor = Some(from);
                    self.timer = None;
                    self.handover = Some(now + HANDOVER_LINGER);
                }
            }
            State::Master => {
                if advert.priority == 0 {
                    self.send_advert(self.priority);
                    self.timer = Some(now + self.master_adver_interval());
                } else if advert.priority > self.priority
                    || (advert.priority == self.priority && from > self.cfg.primary)
                {
                    // A new master: keep the addresses HANDOVER_LINGER more, while clients
                    // follow its gratuitous ARPs (zero loss when our priority was lowered).
                    self.garp_second = None;
                    self.garp_refresh = None;
                    self.remove_at = Some(now + HANDOVER_LINGER);
                    self.become_backup(now);
                } else {
                    // A lower-priority master: answer at once so it steps down quickly (as
                    // keepalived does) rather than waiting for our next interval.
                    self.send_advert(self.priority);
                    self.timer = Some(now + self.master_adver_interval());
                }
            }
            State::Init | State::Fault => {}
        }
    }
}
