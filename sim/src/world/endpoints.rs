//! What a socket says about its own endpoints, checked against what the world did:
//!
//! - **Monitor events** (libzmq's `socket_base_t` events to `zmq_socket_monitor`): a
//!   listener that binds reports LISTENING with the endpoint as bound, one that closes (unbind,
//!   close) reports CLOSED with it, and each connection taken on a tcp or ipc listener reports
//!   ACCEPTED with the listener's endpoint. The world notes what each driver input owes; the
//!   socket must have reported it by the time it settles.
//! - **ZMQ_LAST_ENDPOINT**: after a bind, the endpoint as bound (the port chosen for `:*`);
//!   and what a driver reads back for each listener (`bound_endpoint`) is where it listens.
//! - **`zmq_unbind`**: it finds a listener by the endpoint as bound, or as written when that
//!   names one address, never by a wildcard (`tcp://host:*` is ENOENT); it closes that
//!   listener and no other.
//! - **A closed listener takes nothing**: a dial that reaches an endpoint where a listener
//!   closed (unbound, or its socket closing) is first offered to that listener, as a
//!   connection left in its kernel backlog would be, and must be refused (then it goes to
//!   the listener bound there now, if any).
//! - **Accept failures** (EMFILE, now and then during the faults, from a stream of their
//!   own) are reported as ACCEPT_FAILED with the listener's endpoint, and cost only that
//!   connection. A listener's close that fails at the operating system (EIO, from the same
//!   stream) is reported as CLOSE_FAILED with its endpoint.
//! - **MONITOR_STOPPED** is the last event of a socket that closes, reported once.
//! - **Nothing about inproc**: libzmq's inproc binds, connects and pipes have no engine
//!   and no listener, so its monitor never names an `inproc://` endpoint, not even when a
//!   pattern refuses an inproc peer (a PAIR's second).

use oxmq_core::base::ListenerId;
use oxmq_core::monitor::{MonitorEvent, MonitorEventKind};

use super::Sim;
use crate::oracle::FailureKind;

impl Sim {
    /// Socket `s` owes a `kind` event for `endpoint` (nothing, for an inproc one).
    pub(super) fn owe_event(&mut self, s: usize, kind: MonitorEventKind, endpoint: &str) {
        if endpoint.starts_with("inproc://") {
            return;
        }
        self.owed_events
            .entry(s)
            .or_default()
            .push((kind, endpoint.to_owned()));
    }

    /// Socket `s` reported `ev`: it pays what it owed of that kind and endpoint, if anything.
    /// An event about an inproc endpoint is never owed: libzmq reports none.
    pub(super) fn event_reported(&mut self, s: usize, ev: &MonitorEvent) {
        self.oracle.coverage.events_checked += 1;
        if ev.endpoint.starts_with("inproc://") {
            let now = self.now;
            let what = format!(
                "s{s}'s monitor reported {:?} for {}: libzmq reports nothing about inproc",
                ev.kind, ev.endpoint
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
        if let Some(owed) = self.owed_events.get_mut(&s) {
            if let Some(i) = owed
                .iter()
                .position(|(k, e)| *k == ev.kind && *e == ev.endpoint)
            {
                owed.remove(i);
                self.oracle.coverage.endpoint_events += 1;
            }
        }
    }

    /// Socket `s` has closed: its monitor reported MONITOR_STOPPED, once (libzmq's last
    /// event when a monitored socket closes; [`Sim::stopped_monitor_then`] checks that
    /// nothing follows it).
    pub(super) fn check_monitor_stopped(&mut self, s: usize) {
        let n = self
            .monitor_counts
            .get(&(s, MonitorEventKind::MonitorStopped))
            .copied()
            .unwrap_or(0);
        self.oracle.coverage.monitors_stopped += 1;
        if n != 1 {
            let now = self.now;
            let what = format!("s{s} closed, and its monitor reported MONITOR_STOPPED {n} times");
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// Socket `s` reports `kind`: nothing comes after its monitor stopped.
    pub(super) fn stopped_monitor_then(&mut self, s: usize, kind: MonitorEventKind) {
        let stopped = self
            .monitor_counts
            .get(&(s, MonitorEventKind::MonitorStopped))
            .is_some_and(|n| *n > 0);
        if stopped {
            let now = self.now;
            let what = format!("s{s}'s monitor reported {kind:?} after MONITOR_STOPPED");
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// Socket `s` has settled: whatever it still owes, it failed to report.
    pub(super) fn check_events(&mut self, s: usize) {
        let Some(owed) = self.owed_events.remove(&s).filter(|o| !o.is_empty()) else {
            return;
        };
        let now = self.now;
        let what = format!("s{s} never reported monitor events it owed: {owed:?}");
        self.oracle.fail(FailureKind::Safety, now, what);
    }

    /// Socket `s`'s bind of `ep` failed with EADDRINUSE: it owes BIND_FAILED there, and
    /// the listener it made for the bind must be gone (no connection taken on it).
    pub(super) fn bind_failed(&mut self, s: usize, listener: ListenerId, ep: &str) {
        let now = self.now;
        let Some(base) = self.socks[s].base.as_mut() else {
            return;
        };
        base.handle_bind_failed(listener, oxmq_core::OsError::AddrInUse, now);
        let kept = base.accepts_on(listener);
        self.log(format_args!("s{s} bind {ep} failed: in use"));
        self.owe_event(s, MonitorEventKind::BindFailed, ep);
        self.oracle.coverage.binds_failed += 1;
        if kept {
            let what = format!("s{s}: its bind of {ep} failed, yet the listener takes connections");
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// Socket `s` was told its listener `listener` listens at `ep`: it owes LISTENING there,
    /// and a driver that asks must be told `ep`.
    pub(super) fn listening(&mut self, s: usize, listener: ListenerId, ep: &str) {
        self.owe_event(s, MonitorEventKind::Listening, ep);
        let told = self.socks[s]
            .base
            .as_ref()
            .and_then(|b| b.bound_endpoint(listener).map(str::to_owned));
        if told.as_deref() != Some(ep) {
            let now = self.now;
            let what = format!(
                "s{s}'s listener {} listens at {ep}, but the socket says {told:?}",
                listener.0
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// A dial reached `ep`: the listener that last closed there, if its socket lives, must
    /// not take it.
    pub(super) fn dial_at_closed(&mut self, ep: &str) {
        let Some(&(ls, lid)) = self.closed_listeners.get(ep) else {
            return;
        };
        let now = self.now;
        let Some(b) = self.socks[ls].base.as_mut() else {
            return;
        };
        self.oracle.coverage.closed_listener_dials += 1;
        if let Some(conn) = b.handle_accepted(lid, now) {
            let what = format!(
                "s{ls} accepted connection c{} on listener {} ({ep}), which had closed",
                conn.0, lid.0
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// Whether the accept of a dial to listener `lid` of socket `ls` at `ep` fails now
    /// (EMFILE): if so, the socket is told and owes ACCEPT_FAILED.
    pub(super) fn accept_fails(&mut self, ls: usize, lid: ListenerId, ep: &str) -> bool {
        let faults = self.phase == super::Phase::Faults;
        if !faults || !crate::rng::chance(&mut self.accept_rng, 0.02) {
            return false;
        }
        let Some(b) = self.socks[ls].base.as_mut() else {
            return false;
        };
        b.handle_accept_failed(lid, oxmq_core::OsError::TooManyFiles);
        self.log(format_args!("s{ls} accept on {ep} failed: EMFILE"));
        self.owe_event(ls, MonitorEventKind::AcceptFailed, ep);
        true
    }

    /// Whether closing socket `s`'s listener at `ep` fails at the operating system now (now
    /// and then during the faults, from the accept failures' stream): if so, the socket is
    /// told and owes CLOSE_FAILED there (libzmq's `event_close_failed`).
    pub(super) fn close_fails(&mut self, s: usize, ep: &str) -> bool {
        let faults = self.phase == super::Phase::Faults;
        if !faults || !crate::rng::chance(&mut self.accept_rng, 0.05) {
            return false;
        }
        let Some(b) = self.socks[s].base.as_mut() else {
            return false;
        };
        b.handle_close_failed(ep, oxmq_core::OsError::Other(5));
        self.log(format_args!("s{s} close of listener {ep} failed: EIO"));
        self.owe_event(s, MonitorEventKind::CloseFailed, ep);
        self.oracle.coverage.close_failures += 1;
        true
    }

    /// The endpoint listener `listener` of socket `s` is bound at, as the world knows it.
    pub(super) fn bound_at(&self, s: usize, listener: ListenerId) -> Option<String> {
        let tcp = self
            .listeners
            .iter()
            .find(|(_, v)| **v == (s, listener))
            .map(|(ep, _)| ep.clone());
        tcp.or_else(|| {
            self.registries
                .get(&self.socks[s].host)?
                .name_of(s, listener)
                .map(|name| format!("inproc://{name}"))
        })
    }

    /// The listener socket `s` has bound at `ep` (as bound), if any.
    pub(super) fn listener_at(&self, s: usize, ep: &str) -> Option<ListenerId> {
        let tcp = self.listeners.get(ep).filter(|v| v.0 == s).map(|v| v.1);
        tcp.or_else(|| {
            let name = ep.strip_prefix("inproc://")?;
            self.registries
                .get(&self.socks[s].host)?
                .listener(name)
                .filter(|v| v.0 == s)
                .map(|v| v.1)
        })
    }

    /// `CloseListener` from socket `s`: a listener closes only when its socket closes or
    /// the application unbound it.
    pub(super) fn check_listener_close(&mut self, s: usize, listener: ListenerId) {
        if self.socks[s].close.is_some() || self.unbound.contains(&(s, listener)) {
            return;
        }
        let now = self.now;
        let ep = self.bound_at(s, listener);
        let what = format!(
            "s{s} closed listener {} ({ep:?}), which the application neither unbound nor closed",
            listener.0
        );
        self.oracle.fail(FailureKind::Safety, now, what);
    }
}

impl super::Cx<'_> {
    /// Checks `zmq_unbind`'s answer for `ep` against what socket `s` has bound there:
    /// `listener` is the world's listener there, if any.
    pub(super) fn check_unbind(
        &mut self,
        s: u64,
        ep: &str,
        listener: Option<ListenerId>,
        ok: bool,
    ) {
        let what = match (listener, ok) {
            (Some(l), false) => format!(
                "s{s} unbind {ep} found nothing, though listener {} is bound there",
                l.0
            ),
            (None, true) => format!("s{s} unbind {ep} succeeded, though nothing is bound there"),
            _ => return,
        };
        let now = self.now();
        self.oracle().fail(FailureKind::Safety, now, what);
    }

    /// Binds socket `s` to a port of the system's choosing on its host and unbinds it again,
    /// as a libzmq user who asks for `tcp://host:*` would: ZMQ_LAST_ENDPOINT names the port
    /// chosen, unbinding the wildcard finds nothing (ENOENT), and unbinding the endpoint as
    /// bound closes that listener.
    pub fn bind_ephemeral(&mut self, s: u64) {
        // Not through `bind`, which would give the socket its security role: no peer comes.
        let wildcard = format!("tcp://{}:*", self.addr());
        let now = self.now();
        self.log(format_args!("s{s} bind {wildcard}"));
        let Some(b) = self.base(s) else {
            return;
        };
        b.bind(&wildcard, now)
            .expect("a wildcard port is a valid endpoint");
        self.sim.settle(s as usize);
        let Some(b) = self.base(s) else {
            return;
        };
        let bound = b.last_endpoint().map(str::to_owned);
        let fail = |cx: &mut Self, what: String| {
            cx.oracle().fail(FailureKind::Safety, now, what);
        };
        let Some(bound) = bound else {
            return fail(self, format!("s{s} bound {wildcard}: no last endpoint"));
        };
        let listener = self.sim.listener_at(s as usize, &bound);
        if listener.is_none() || bound == wildcard {
            return fail(
                self,
                format!("s{s} bound {wildcard}: its last endpoint {bound} is not where it listens"),
            );
        }
        // The address is taken now: a second bind fails (EADDRINUSE, reported as
        // BIND_FAILED; the world checks it leaves no listener) and leaves
        // ZMQ_LAST_ENDPOINT as it was.
        self.log(format_args!("s{s} bind {bound}"));
        let again = self.base(s).map(|b| b.bind(&bound, now).is_ok());
        self.sim.settle(s as usize);
        let last = self
            .base(s)
            .and_then(|b| b.last_endpoint().map(str::to_owned));
        if again != Some(true) || last.as_deref() != Some(&bound) {
            return fail(
                self,
                format!("s{s} bound {bound} again: {again:?}, last endpoint then {last:?}"),
            );
        }
        // The wildcard names no listener in particular.
        let r = self.base(s).map(|b| b.unbind(&wildcard, now).is_ok());
        self.sim.settle(s as usize);
        if r == Some(true) {
            return fail(
                self,
                format!("s{s} unbind {wildcard} succeeded: it must be ENOENT"),
            );
        }
        self.unbind(s, &bound);
        if self.sim.listener_at(s as usize, &bound).is_some() {
            fail(self, format!("s{s} unbind {bound}: it still listens there"));
        }
    }
}
