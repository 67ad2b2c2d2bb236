//! What a socket says about its own endpoints, checked against what the world did:
//!
//! - **Monitor events** (libzmq's `socket_base_t` events to `zmq_socket_monitor`): a
//!   listener that binds reports LISTENING with the endpoint as bound, one that closes (unbind,
//!   close) reports CLOSED with it, and each connection taken on a tcp or ipc listener reports
//!   ACCEPTED with the listener's endpoint. The world notes what each driver input owes; the
//!   socket must have reported it by the time it settles.
//! - **ZMQ_LAST_ENDPOINT**: after a bind, the endpoint as bound (the port chosen for `:*`).
//! - **`zmq_unbind`**: it finds a listener by the endpoint as bound, or as written when that
//!   names one address, never by a wildcard (`tcp://host:*` is ENOENT); it closes that
//!   listener and no other.

use oxmq_core::base::ListenerId;
use oxmq_core::monitor::{MonitorEvent, MonitorEventKind};

use super::Sim;
use crate::oracle::FailureKind;

impl Sim {
    /// Socket `s` owes a `kind` event for `endpoint`.
    pub(super) fn owe_event(&mut self, s: usize, kind: MonitorEventKind, endpoint: &str) {
        self.owed_events
            .entry(s)
            .or_default()
            .push((kind, endpoint.to_owned()));
    }

    /// Socket `s` reported `ev`: it pays what it owed of that kind and endpoint, if anything.
    pub(super) fn event_reported(&mut self, s: usize, ev: &MonitorEvent) {
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

    /// Socket `s` has settled: whatever it still owes, it failed to report.
    pub(super) fn check_events(&mut self, s: usize) {
        let Some(owed) = self.owed_events.remove(&s).filter(|o| !o.is_empty()) else {
            return;
        };
        let now = self.now;
        let what = format!("s{s} never reported monitor events it owed: {owed:?}");
        self.oracle.fail(FailureKind::Safety, now, what);
    }

    /// The endpoint listener `listener` of socket `s` is bound at, as the world knows it.
    pub(super) fn bound_at(&self, s: usize, listener: ListenerId) -> Option<String> {
        let tcp = self
            .listeners
            .iter()
            .find(|(_, v)| **v == (s, listener))
            .map(|(ep, _)| ep.clone());
        tcp.or_else(|| {
            self.inproc_bound
                .iter()
                .find(|(_, v)| **v == (s, listener))
                .map(|((_, name), _)| format!("inproc://{name}"))
        })
    }

    /// The listener socket `s` has bound at `ep` (as bound), if any.
    pub(super) fn listener_at(&self, s: usize, ep: &str) -> Option<ListenerId> {
        let tcp = self.listeners.get(ep).filter(|v| v.0 == s).map(|v| v.1);
        tcp.or_else(|| {
            let name = ep.strip_prefix("inproc://")?;
            let key = (self.socks[s].host, name.to_owned());
            self.inproc_bound
                .get(&key)
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
