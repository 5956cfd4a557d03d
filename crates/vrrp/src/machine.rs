//! The VRRP state machine of one `vrrp_instance` (RFC 5798 §6.4, RFC 3768 §6.4), sans-IO.
//!
//! Fed with events and the current time (`start`, `handle_packet`, `handle_timeout`,
//! `set_priority`, `set_fault`, `shutdown`, `shutdown_now`), it queues `Action`s for the adapter (send an
//! advertisement, add/remove the virtual addresses, announce them with gratuitous ARP / NA) and
//! says when it next needs to be woken (`poll_timeout`). It never touches a socket, a clock or a
//! thread. Received packets are validated here and every drop is counted by cause; logging the
//! causes (once each) is the adapter's job.

use crate::packet::{self, Advert, Auth};
pub use crate::received::{Counters, DropCause, Received};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// What the machine needs to know about its instance, resolved from the model by the adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceConfig {
    /// 2 or 3.
    pub version: u8,
    pub vrid: u8,
    /// Configured priority; 255 makes this router the address owner.
    pub priority: u8,
    pub advert_int: Duration,
    pub auth: Auth,
    /// The virtual addresses carried in adverts (and announced when MASTER).
    pub addresses: Vec<IpAddr>,
    /// This router's primary address on the interface (or `unicast_src_ip`): the advert source
    /// and the tie-breaker between equal priorities.
    pub primary: IpAddr,
    /// `nopreempt` clears it.
    pub preempt: bool,
    pub preempt_delay: Option<Duration>,
    pub garp: GarpTiming,
}

/// keepalived's `garp_master_delay`, `garp_master_repeat`, `garp_master_refresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpTiming {
    /// Delay before the second burst after becoming MASTER; zero means no second burst.
    pub delay: Duration,
    /// Messages per burst.
    pub repeat: u32,
    /// Re-announce this often while MASTER (one message each time).
    pub refresh: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
}

impl State {
    /// keepalived's word for the state, as passed to notify scripts.
    pub fn keyword(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

/// What the adapter must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advertisement (to the multicast group or every unicast peer).
    SendAdvert(Advert),
    /// Add the virtual addresses to the interface.
    AddAddresses,
    /// Remove the virtual addresses from the interface.
    RemoveAddresses,
    /// Send `count` gratuitous ARPs / unsolicited neighbour advertisements per virtual address.
    Announce { count: u32 },
    /// The state changed (notify scripts, logs, sync groups).
    StateChanged { from: State, to: State },
    /// A planned handover ended: the addresses were released because `new_master` advertised
    /// (None: nobody did before the bound).
    HandedOver { new_master: Option<IpAddr> },
}

/// The longest a leaving MASTER keeps its addresses waiting for a new master's advert.
pub const HANDOVER_MAX: Duration = Duration::from_secs(4);

/// How long a leaving MASTER still holds its addresses after the new master's first advert: the
/// new master adds the addresses and sends its gratuitous ARPs just after that advert, and
/// clients that still resolve the address to us must find it here until they have switched.
pub const HANDOVER_LINGER: Duration = Duration::from_millis(200);

/// One VRRP instance's protocol state.
pub struct Machine {
    cfg: InstanceConfig,
    state: State,
    /// Current (possibly tracked) priority; `cfg.priority` at start.
    priority: u8,
    /// Adver_Timer in MASTER, Master_Down_Timer in BACKUP.
    timer: Option<Instant>,
    /// When a BACKUP delaying preemption (`preempt_delay`) will stop deferring to a lower master.
    preempt_at: Option<Instant>,
    /// Second gratuitous ARP burst after becoming MASTER.
    garp_second: Option<Instant>,
    garp_refresh: Option<Instant>,
    /// Whether a fault is being reported (track_script weight 0, track_interface down...).
    fault: bool,
    /// A MASTER leaving on a planned stop: until when it keeps its addresses (see `shutdown`).
    handover: Option<Instant>,
    /// The new master seen during a handover (the addresses go `HANDOVER_LINGER` later).
    successor: Option<IpAddr>,
    /// A MASTER that stepped down for a higher-priority advert (e.g. after its own priority
    /// dropped) removes its addresses at this time, `HANDOVER_LINGER` after that advert.
    remove_at: Option<Instant>,
    actions: VecDeque<Action>,
    counters: Counters,
}

impl Machine {
    pub fn new(cfg: InstanceConfig) -> Machine {
        let priority = cfg.priority;
        Machine {
            cfg,
            state: State::Init,
            priority,
            timer: None,
            preempt_at: None,
            garp_second: None,
            garp_refresh: None,
            fault: false,
            handover: None,
            successor: None,
            remove_at: None,
            actions: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn priority(&self) -> u8 {
        self.priority
    }
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }

    /// The next action to perform, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Whether a planned handover is under way (the adapter keeps the instance running until
    /// the state is INIT).
    pub fn handing_over(&self) -> bool {
        self.handover.is_some()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timer,
            self.garp_second,
            self.garp_refresh,
            self.handover,
            self.remove_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The Startup event (RFC 5798 §6.4.1).
    pub fn start(&mut self, now: Instant) {
        if self.state != State::Init {
            return;
        }
        if self.fault {
            self.transition(State::Fault);
        } else if self.priority == 255 {
            self.become_master(now);
        } else {
            self.become_backup(now);
        }
    }

    /// A planned stop (SIGTERM, an instance removed or restarted by a reload). A MASTER sends
    /// priority 0 so a backup takes over after its Skew_Time, but keeps its addresses and keeps
    /// answering on them until it sees the new master's first advert (any advert with a
    /// priority above 0) and `HANDOVER_LINGER` more, then removes them and goes to INIT.
    /// Nobody taking over within
    /// `handover_timeout` releases them anyway. The priority-0 advert is repeated every
    /// interval meanwhile, in case one is lost. keepalived (and RFC 5798) remove the addresses
    /// at once, which loses the requests that arrive during the Skew_Time.
    pub fn shutdown(&mut self, now: Instant) {
        if self.state == State::Master && self.handover.is_none() {
            self.send_advert(0);
            self.timer = Some(now + self.master_adver_interval());
            self.garp_second = None;
            self.garp_refresh = None;
            self.handover = Some(now + self.handover_timeout());
            return;
        }
        if self.handover.is_none() {
            self.shutdown_now(now);
        }
    }

    /// How long a planned handover may take: Master_Down_Interval (a backup that missed the
    /// priority-0 advert takes over by then), at most `HANDOVER_MAX`.
    pub fn handover_timeout(&self) -> Duration {
        self.master_down_interval().min(HANDOVER_MAX)
    }

    fn release(&mut self, new_master: Option<IpAddr>) {
        self.handover = None;
        self.successor = None;
        self.actions.push_back(Action::RemoveAddresses);
        self.actions.push_back(Action::HandedOver { new_master });
        self.clear_timers();
        self.transition(State::Init);
    }

    /// The Shutdown event as RFC 5798 has it: a MASTER sends priority 0 and removes its
    /// addresses at once (a handover under way ends now).
    pub fn shutdown_now(&mut self, _now: Instant) {
        if self.handover.is_some() {
            self.release(self.successor);
            return;
        }
        if self.state == State::Master {
            self.send_advert(0);
            self.actions.push_back(Action::RemoveAddresses);
        }
        self.clear_timers();
        if self.state != State::Init {
            self.transition(State::Init);
        }
    }

    /// Skew_Time for the current priority and interval.
    pub fn skew_time(&self) -> Duration {
        let p = u32::from(self.priority);
        if self.cfg.version == 2 {
            Duration::from_secs(1) * (256 - p) / 256
        } else {
            self.master_adver_interval() * (256 - p) / 256
        }
    }

    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
    pub fn master_down_interval(&self) -> Duration {
        self.master_adver_interval() * 3 + self.skew_time()
    }

    /// Adverts with another interval are dropped, so the master's interval is always ours (as it
    /// goes on the wire: a v2 `advert_int 0.5` is sent and timed as 1 s, the v2 resolution).
    fn master_adver_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.wire_interval_cs()) * 10)
    }

    /// The interval as it goes on the wire (v2: whole seconds).
    fn wire_interval_cs(&self) -> u16 {
        let cs = packet::interval_to_cs(self.cfg.advert_int);
        if self.cfg.version == 2 {
            (cs / 100).clamp(1, 255) * 100
        } else {
            cs
        }
    }

    /// Runs the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.remove_at.is_some_and(|t| t <= now) {
            self.remove_at = None;
            self.actions.push_back(Action::RemoveAddresses);
        }
        if let Some(until) = self.handover {
            if until <= now {
                self.release(self.successor);
            } else if self.timer.is_some_and(|t| t <= now) {
                self.send_advert(0);
                self.timer = Some(now + self.master_adver_interval());
            }
            return;
        }
        if self.timer.is_some_and(|t| t <= now) {
            match self.state {
                State::Backup => self.become_master(now),
                State::Master => {
                    self.send_advert(self.priority);
                    self.timer = Some(now + self.master_adver_interval());
                }
                State::Init | State::Fault => self.timer = None,
            }
        }
        if self.garp_second.is_some_and(|t| t <= now) {
            self.garp_second = None;
            if self.state == State::Master {
                self.actions.push_back(Action::Announce {
                    count: self.cfg.garp.repeat,
                });
            }
        }
        if self.garp_refresh.is_some_and(|t| t <= now) {
            self.garp_refresh = None;
            if self.state == State::Master {
                self.actions.push_back(Action::Announce { count: 1 });
                self.garp_refresh = self.cfg.garp.refresh.map(|r| now + r);
            }
        }
    }

    /// A new effective priority from tracking (track_script / track_interface weights).
    /// The address owner (255) is never changed, as in keepalived.
    pub fn set_priority(&mut self, now: Instant, priority: u8) {
        if self.cfg.priority == 255 {
            return;
        }
        let priority = priority.clamp(1, 254);
        if priority == self.priority || self.handover.is_some() {
            return;
        }
        self.priority = priority;
        if self.state == State::Master {
            // Tell the backups at once so a higher one can preempt without waiting.
            self.send_advert(priority);
            self.timer = Some(now + self.master_adver_interval());
        }
    }

    /// A tracked object failed (`true`) or recovered (`false`).
    pub fn set_fault(&mut self, now: Instant, fault: bool) {
        if fault == self.fault {
            return;
        }
        self.fault = fault;
        if fault && self.handover.is_some() {
            // Leaving anyway, and now unable to serve: release at once.
            self.release(None);
            return;
        }
        match (fault, self.state) {
            (true, State::Master) => {
                self.send_advert(0);
                self.actions.push_back(Action::RemoveAddresses);
                self.clear_timers();
                self.transition(State::Fault);
            }
            (true, State::Backup) => {
                self.clear_timers();
                self.transition(State::Fault);
            }
            (false, State::Fault) => {
                if self.priority == 255 {
                    self.become_master(now);
                } else {
                    self.become_backup(now);
                }
            }
            _ => {}
        }
    }

    /// `vrrp_sync_group`: another member became MASTER, so this one follows.
    pub fn force_master(&mut self, now: Instant) {
        if self.state == State::Backup && self.handover.is_none() {
            self.become_master(now);
        }
    }

    /// `vrrp_sync_group`: another member left MASTER, so this one follows.
    pub fn force_backup(&mut self, now: Instant) {
        if self.state == State::Master && self.handover.is_none() {
            self.send_advert(0);
            self.leave_master_to_backup(now);
        }
    }

    fn become_master(&mut self, now: Instant) {
        self.preempt_at = None;
        self.remove_at = None;
        self.send_advert(self.priority);
        self.actions.push_back(Action::AddAddresses);
        self.actions.push_back(Action::Announce {
            count: self.cfg.garp.repeat,
        });
        self.timer = Some(now + self.master_adver_interval());
        self.garp_second = (!self.cfg.garp.delay.is_zero()).then(|| now + self.cfg.garp.delay);
        self.garp_refresh = self
            .cfg
            .garp
            .refresh
            .filter(|r| !r.is_zero())
            .map(|r| now + r);
        self.counters.became_master += 1;
        self.transition(State::Master);
    }

    fn become_backup(&mut self, now: Instant) {
        self.timer = Some(now + self.master_down_interval());
        self.transition(State::Backup);
    }

    fn leave_master_to_backup(&mut self, now: Instant) {
        self.actions.push_back(Action::RemoveAddresses);
        self.garp_second = None;
        self.garp_refresh = None;
        self.become_backup(now);
    }

    fn clear_timers(&mut self) {
        if self.remove_at.take().is_some() {
            self.actions.push_back(Action::RemoveAddresses);
        }
        self.timer = None;
        self.preempt_at = None;
        self.garp_second = None;
        self.garp_refresh = None;
    }

    fn send_advert(&mut self, priority: u8) {
        self.counters.sent += 1;
        self.actions.push_back(Action::SendAdvert(Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            interval_cs: self.wire_interval_cs(),
            auth: if self.cfg.version == 2 {
                self.cfg.auth
            } else {
                Auth::None
            },
            addresses: self.cfg.addresses.clone(),
        }));
    }

    fn transition(&mut self, to: State) {
        let from = self.state;
        self.state = to;
        self.actions.push_back(Action::StateChanged { from, to });
    }
}

#[path = "machine_receive.rs"]
mod receive;

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
