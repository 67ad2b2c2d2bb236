//! Workloads, one per ZeroMQ pattern: applications that send numbered messages, receive and
//! check them, and owe probes once the network has healed. Side workloads run beside the
//! pattern's on hosts of their own: protocol-breaking intruders, impostors (with security),
//! and STREAM peers exchanging raw byte streams.

mod impostor;
mod intruder;
mod pair;
mod pipeline;
mod pubsub;
mod reqrep;
mod router;
mod stream;

use std::time::Duration;

use oxmq_core::tree::Linger;
use oxmq_core::{Instant, SocketOption, SocketType};
use rand::Rng;

use crate::msg::Payload;
use crate::profile::{Pattern, Profile};
use crate::world::{App, Cx, Sim};

/// Adds the hosts of `profile`'s workload to `sim`.
pub fn build(sim: &mut Sim, profile: &Profile) {
    match profile.pattern {
        Pattern::Pipeline => pipeline::build(sim, profile),
        Pattern::PubSub => pubsub::build(sim, profile),
        Pattern::ReqRep => reqrep::build(sim, profile),
        Pattern::DealerRouter => router::build(sim, profile),
        Pattern::Pair => pair::build(sim, profile),
    }
    if profile.features.intruders {
        intruder::build(sim, profile);
    }
    if profile.features.stream {
        stream::build(sim, profile);
    }
    if profile.security.impostors {
        impostor::build(sim, profile);
    }
}

/// Opens a socket with the profile's HWMs and lifecycle options, plus `extra`.
fn open(cx: &mut Cx<'_>, p: &Profile, kind: SocketType, extra: &[SocketOption]) -> u64 {
    let mut opts = vec![
        SocketOption::SndHwm(p.sock.sndhwm),
        SocketOption::RcvHwm(p.sock.rcvhwm),
    ];
    opts.extend_from_slice(extra);
    let mut config = p.sock.base.clone();
    config.max_msg_size = p.max_msg_size();
    let s = cx.open(kind, config, &opts);
    // A socket type without options of its own refuses another type's (EINVAL), and keeps
    // what it had: ROUTER_MANDATORY, say, on a PUSH.
    if matches!(
        kind,
        SocketType::Push
            | SocketType::Pull
            | SocketType::Pair
            | SocketType::Dealer
            | SocketType::Rep
    ) {
        cx.set_option_refused(s, SocketOption::RouterMandatory(true));
    }
    cx.bind_ephemeral(s);
    s
}

/// Every how many messages received a SUB or PULL also tries to send, and must be refused.
const REFUSED_EVERY: u64 = 8;

/// A receive-only socket (SUB, PULL) that has just received message `seq` tries, one time
/// in [`REFUSED_EVERY`], to send a two-frame message: libzmq refuses any send on them with
/// ENOTSUP at the first frame (their `xsend` is unsupported), so the first-frame look, the
/// POLLOUT look (never POLLOUT) and the send must all say so, and nothing is sent. Chosen by
/// the sequence number, not by a draw, so that seeds keep their traces.
fn try_refused_send(cx: &mut Cx<'_>, s: u64, seq: u64) {
    if seq % REFUSED_EVERY != REFUSED_EVERY - 1 || !cx.is_open(s) {
        return;
    }
    let m = oxmq_core::Message::from_frames([
        bytes::Bytes::from_static(b"refused"),
        bytes::Bytes::from_static(b"send"),
    ]);
    let r = cx.send_refused(s, m);
    cx.oracle().coverage.refused += 1;
    if r != Err(oxmq_core::SendErrorKind::NotSupported) {
        let now = cx.now();
        let what = format!("s{s}: a send on a receive-only socket gave {r:?}, not ENOTSUP");
        cx.oracle()
            .fail(crate::oracle::FailureKind::Safety, now, what);
    }
}

/// How many frames the next message has.
fn frames(cx: &mut Cx<'_>, p: &Profile) -> usize {
    // libzmq's CONFLATE does not support multipart messages: single frames only there.
    if p.conflating() {
        return 1;
    }
    cx.rng().random_range(1..=p.frames_max)
}

/// The tcp endpoint of `port` on host `h`.
fn ep(cx: &Cx<'_>, h: usize, port: u16) -> String {
    format!("tcp://{}:{port}", cx.addr_of(h))
}

/// Where to connect to `port` on host `h`: over inproc if it is this host and the seed
/// uses inproc, else over tcp.
fn peer_ep(cx: &Cx<'_>, h: usize, port: u16) -> String {
    if cx.inproc() && h == cx.host() {
        format!("inproc://{port}")
    } else {
        ep(cx, h, port)
    }
}

/// Binds `s` to `port` on this host over tcp, and over inproc too if the seed uses it.
fn bind_ports(cx: &mut Cx<'_>, s: u64, port: u16) {
    let e = ep(cx, cx.host(), port);
    cx.bind(s, &e);
    if cx.inproc() {
        cx.bind(s, &format!("inproc://{port}"));
    }
}

/// Several applications on one host (one process), each with its own sockets, ticks and
/// state; peers among them connect over inproc.
pub(crate) struct Colocated(pub(crate) Vec<Box<dyn App>>);

impl Colocated {
    fn each(&mut self, cx: &mut Cx<'_>, mut f: impl FnMut(&mut Box<dyn App>, &mut Cx<'_>)) {
        for (i, app) in self.0.iter_mut().enumerate() {
            cx.set_slot(i);
            f(app, cx);
        }
    }
}

impl App for Colocated {
    fn start(&mut self, cx: &mut Cx<'_>) {
        self.each(cx, |a, cx| a.start(cx));
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        let i = cx.slot();
        if let Some(app) = self.0.get_mut(i) {
            app.tick(cx);
        }
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        self.each(cx, |a, cx| a.readable(cx));
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: crate::world::Phase) {
        self.each(cx, |a, cx| a.phase(cx, phase));
    }

    fn crashed(&mut self) {
        for app in &mut self.0 {
            app.crashed();
        }
    }

    fn check(&mut self, cx: &mut Cx<'_>, phase: crate::world::Phase) {
        self.each(cx, |a, cx| a.check(cx, phase));
    }
}

/// Adds a host running `apps`: just the one, or all of them on one host.
fn add_apps(sim: &mut Sim, mut apps: Vec<Box<dyn App>>) {
    if apps.len() == 1 {
        let app = apps.pop().expect("one app");
        sim.add_host(app, Instant::ZERO);
    } else {
        sim.add_host(Box::new(Colocated(apps)), Instant::ZERO);
    }
}

/// Whether applications send in this phase.
fn sending(cx: &Cx<'_>) -> bool {
    use crate::world::Phase::*;
    matches!(cx.phase(), Faults | Settle | Probe)
}

/// Whether what is sent now is a probe.
fn probing(cx: &Cx<'_>) -> bool {
    cx.phase() == crate::world::Phase::Probe
}

/// The deadline of a probe sent now.
fn deadline(cx: &Cx<'_>, p: &Profile, hops: u32) -> Instant {
    cx.now() + p.probe_bound() * hops
}

/// Whether to churn an endpoint now (see [`Profile::churn`]): rarely, during the faults.
fn churn(cx: &mut Cx<'_>, p: &Profile) -> bool {
    p.churn && cx.phase() == crate::world::Phase::Faults && crate::rng::chance(cx.rng(), 0.03)
}

/// Disconnects `s` from `ep` and connects it again at once (a new session, a new queue).
fn reconnect(cx: &mut Cx<'_>, s: u64, ep: &str) {
    cx.disconnect(s, ep);
    cx.connect(s, ep);
}

/// Unbinds `s` from `ep` and binds it again at once.
fn rebind(cx: &mut Cx<'_>, s: u64, ep: &str) {
    cx.unbind(s, ep);
    cx.bind(s, ep);
}

/// ZMQ_LINGER as `zmq_setsockopt` takes it.
fn linger_option(linger: Linger) -> SocketOption {
    SocketOption::Linger(match linger {
        Linger::Forever => -1,
        Linger::For(d) => i32::try_from(d.as_millis()).unwrap_or(i32::MAX),
    })
}

/// A PUSH that queues a message for an inproc name nothing binds, then closes with LINGER
/// forever: its close can only finish once its host's context terminates at the shutdown,
/// which ends connects still waiting for a bind (`Sim::terminate_context`), as libzmq's
/// `zmq_ctx_term` does; the world's last check requires every close to have finished.
fn ghost(cx: &mut Cx<'_>, p: &Profile) {
    let s = open(cx, p, SocketType::Push, &[]);
    cx.connect(s, &format!("inproc://nobody-binds-{s}"));
    // The connect's queue exists at once (libzmq's inproc connect makes the pipe): taken.
    let r = cx.send(s, Payload::new(s, 0, 1, false).encode());
    cx.log(format_args!(
        "s{s} queued for a bind that never comes: {r:?}"
    ));
    cx.set_option(s, linger_option(Linger::Forever));
    cx.close(s);
}

/// LINGER's promise, exercised in [`Phase::Linger`](crate::world::Phase::Linger): a fresh
/// socket connects, queues a burst at once (before its connections exist, unless IMMEDIATE
/// makes it wait for one) and closes. With LINGER forever, or long enough to connect, every
/// message it queued reaches a peer and the close then finishes; with any LINGER it writes
/// nothing once the linger ran out (the world checks that).
///
/// With the `linger-disconnect` feature it disconnects its endpoints instead of closing,
/// which owes the same (libzmq's `zmq_disconnect` ends the session with the socket's LINGER
/// as it stands, and the session flushes what was queued as that allows), and closes only
/// at the shutdown ([`LingerBurst::shutdown`]).
pub(crate) struct LingerBurst {
    sock: u64,
    seq: u64,
    /// Messages queued (accepted by `send`).
    queued: Vec<u64>,
    /// At most this many messages.
    count: usize,
    /// Until when to wait for a first message to be accepted (IMMEDIATE).
    until: Instant,
    /// What the first send must do, when it is known: see [`LingerBurst::start`].
    first_accepted: Option<bool>,
    closed: bool,
    /// The endpoints it connected to.
    endpoints: Vec<String>,
    /// It disconnects them rather than closing (`linger-disconnect`).
    disconnects: bool,
    /// The LINGER it ends with.
    linger: Linger,
    /// It closes right after disconnecting, while those sessions still linger: the close
    /// must wait for them.
    closes_at_once: bool,
    /// A PUSH whose peer binds only after it closed (`late-peer`).
    late: Option<LatePeer>,
    /// A PUSH that must not reconnect (`no-reconnect`).
    no_reconnect: Option<NoReconnect>,
}

/// LINGER keeps what was queued for a peer that comes while it lasts (`late-peer`): a PUSH
/// connects to a tcp endpoint nobody binds yet, queues one message and closes with a finite
/// LINGER; a PULL binds the endpoint a probe bound later and must receive the message before
/// the LINGER runs out (libzmq's connect-before-bind, then `zmq_close`). Meanwhile the PUSH's
/// session redials refused connections, so timers fire while the linger runs: none of them
/// may end it early.
struct LatePeer {
    push: u64,
    ep: String,
    bind_at: Instant,
    pull: Option<u64>,
    /// When the PULL stops reading and closes.
    until: Instant,
    /// The PULL has closed.
    done: bool,
}

impl LatePeer {
    fn start(cx: &mut Cx<'_>, p: &Profile) -> LatePeer {
        let now = cx.now();
        let push = open(cx, p, SocketType::Push, &[]);
        let port = 20_000 + u16::try_from(push % 20_000).expect("below 20000");
        let ep = ep(cx, cx.host(), port);
        cx.connect(push, &ep);
        let r = cx.send(push, Payload::new(push, 0, 1, false).encode());
        let wait = p.probe_bound();
        let bound = p.linger_delivery_bound();
        let linger = wait + bound + Duration::from_millis(500);
        cx.set_option(push, linger_option(Linger::For(linger)));
        cx.log(format_args!(
            "s{push} queued for {ep}, bound in {wait:?}: {r:?}, closes with LINGER {linger:?}"
        ));
        cx.close(push);
        // With IMMEDIATE there is no queue before a connection: nothing was taken.
        if r.is_ok() {
            cx.oracle().protect((push, 0), now + wait + bound, false);
            cx.oracle().coverage.late_peers += 1;
        }
        LatePeer {
            push,
            ep,
            bind_at: now + wait,
            pull: None,
            until: now + wait + bound + p.probe_bound(),
            done: false,
        }
    }

    fn tick(&mut self, cx: &mut Cx<'_>, p: &Profile) {
        let now = cx.now();
        if self.pull.is_none() && now >= self.bind_at && now < self.until {
            let pull = open(cx, p, SocketType::Pull, &[]);
            cx.log(format_args!("s{pull} binds {} for s{}", self.ep, self.push));
            cx.bind(pull, &self.ep);
            self.pull = Some(pull);
        }
        let Some(pull) = self.pull else {
            return;
        };
        if !cx.is_open(pull) {
            return;
        }
        while let Some((m, pipe)) = cx.recv(pull) {
            let now = cx.now();
            if let Some(got) = cx.oracle().decode(now, "late peer", m.frames()) {
                cx.oracle()
                    .received(now, pull, pipe, &got, crate::oracle::Scope::One);
            }
        }
        if now >= self.until {
            cx.close(pull);
            self.done = true;
        }
    }

    fn shutdown(&mut self, cx: &mut Cx<'_>) {
        if let Some(pull) = self.pull.filter(|&s| cx.is_open(s)) {
            cx.close(pull);
        }
    }
}

/// RECONNECT_IVL −1's promise, and 0's (`no-reconnect`): a connect whose connection is lost
/// does not dial again, and its session ends with the connection, taking the pipe along
/// (libzmq's session terminates instead of reconnecting unless the interval is positive), so
/// a PUSH with no other peer has no queue left and a send would block. A PUSH with
/// RECONNECT_IVL −1 or 0 (half each, by the PULL's id) connects to a PULL bound for
/// it and sends one message; once the PULL has it (or a probe bound on) the PULL unbinds
/// the endpoint, which ends the connection, and binds it again at once. A probe bound
/// after the PUSH's connection is seen closed, the PUSH must have dialed once only and a
/// send must be refused.
struct NoReconnect {
    push: u64,
    pull: u64,
    ep: String,
    /// The PULL unbinds and binds again then at the latest.
    rebind_by: Instant,
    rebound: bool,
    /// The PUSH's connection was seen open.
    seen_open: bool,
    /// When the PUSH's connection was seen closed after the rebind.
    lost_at: Option<Instant>,
    /// When to give up waiting for the loss.
    until: Instant,
    done: bool,
}

impl NoReconnect {
    fn start(cx: &mut Cx<'_>, p: &Profile) -> NoReconnect {
        let now = cx.now();
        let pull = open(cx, p, SocketType::Pull, &[]);
        // Clear of the late peers' ports (20000..40000) and the wildcard binds' (from 40000).
        let port = 60_000 + u16::try_from(pull % 5_000).expect("below 5000");
        let ep = ep(cx, cx.host(), port);
        cx.bind(pull, &ep);
        let mut config = p.sock.base.clone();
        config.max_msg_size = p.max_msg_size();
        // −1 or 0, which libzmq takes alike (it reconnects only with a positive interval).
        let zero = pull % 2 == 1;
        config.reconnect_ivl = zero.then_some(Duration::ZERO);
        let hwms = [
            SocketOption::SndHwm(p.sock.sndhwm),
            SocketOption::RcvHwm(p.sock.rcvhwm),
        ];
        let push = cx.open(SocketType::Push, config, &hwms);
        cx.set_option(push, linger_option(Linger::For(Duration::ZERO)));
        cx.connect(push, &ep);
        let r = cx.send(push, Payload::new(push, 0, 1, false).encode());
        cx.log(format_args!(
            "s{push} connects to {ep} with RECONNECT_IVL {} and sends: {r:?}",
            if zero { 0 } else { -1 }
        ));
        NoReconnect {
            push,
            pull,
            ep,
            rebind_by: now + p.probe_bound() + p.linger_delivery_bound(),
            rebound: false,
            seen_open: false,
            lost_at: None,
            until: now + 4 * p.probe_bound() + p.linger_delivery_bound(),
            done: false,
        }
    }

    fn tick(&mut self, cx: &mut Cx<'_>, p: &Profile) {
        if self.done || !cx.is_open(self.push) || !cx.is_open(self.pull) {
            self.done = true;
            return;
        }
        let now = cx.now();
        let open = !cx.open_streams(self.push, &self.ep).is_empty();
        self.seen_open |= open && !self.rebound;
        let mut got = false;
        while let Some((m, pipe)) = cx.recv(self.pull) {
            if let Some(m) = cx.oracle().decode(now, "no reconnect", m.frames()) {
                cx.oracle()
                    .received(now, self.pull, pipe, &m, crate::oracle::Scope::One);
            }
            got = true;
        }
        if !self.rebound && (got || now >= self.rebind_by) {
            cx.log(format_args!(
                "s{} unbinds {} and binds it again",
                self.pull, self.ep
            ));
            rebind(cx, self.pull, &self.ep);
            self.rebound = true;
            return;
        }
        if !self.rebound {
            return;
        }
        if self.lost_at.is_none() && !open {
            self.lost_at = Some(now);
        }
        match self.lost_at {
            Some(at) if now >= at + p.probe_bound() => self.check(cx),
            _ if now >= self.until => {
                cx.log(format_args!(
                    "s{}'s connection outlived the wait",
                    self.push
                ));
                self.finish(cx);
            }
            _ => {}
        }
    }

    /// A probe bound after the loss: one dial, and no queue.
    fn check(&mut self, cx: &mut Cx<'_>) {
        let (s, now) = (self.push, cx.now());
        if self.seen_open {
            let dials = cx.dials(s, &self.ep);
            if dials != 1 {
                let what = format!(
                    "s{s} has RECONNECT_IVL -1 or 0, yet it dialed {} {dials} times: a lost \
                     connection must not be dialed again",
                    self.ep
                );
                cx.oracle()
                    .fail(crate::oracle::FailureKind::Safety, now, what);
            }
            let r = cx.send(s, Payload::new(s, 1, 1, false).encode());
            if r.is_ok() {
                let what = format!(
                    "s{s} has RECONNECT_IVL -1 or 0 and lost its only connection, yet a send was \
                     accepted: the session must end with its connection, and its pipe with it"
                );
                cx.oracle()
                    .fail(crate::oracle::FailureKind::Safety, now, what);
            }
            cx.oracle().coverage.no_reconnects += 1;
        }
        self.finish(cx);
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        self.shutdown(cx);
        self.done = true;
    }

    fn shutdown(&mut self, cx: &mut Cx<'_>) {
        for s in [self.push, self.pull] {
            if cx.is_open(s) {
                cx.close(s);
            }
        }
    }
}

impl LingerBurst {
    /// Opens a `kind` socket connected to `endpoints`, queues up to `count` messages, and
    /// closes it as soon as one was accepted.
    pub(crate) fn start(
        cx: &mut Cx<'_>,
        p: &Profile,
        kind: SocketType,
        endpoints: &[String],
        count: usize,
    ) -> LingerBurst {
        let relaxed = p.sock.req_relaxed;
        let extra = match kind {
            SocketType::Req => vec![
                SocketOption::ReqRelaxed(relaxed),
                SocketOption::ReqCorrelate(relaxed && p.sock.req_correlate),
            ],
            SocketType::Dealer if p.features.probe_router => {
                vec![SocketOption::ProbeRouter(true)]
            }
            _ => Vec::new(),
        };
        let sock = open(cx, p, kind, &extra);
        // Half the bursts end with a LINGER that is finite but long enough to deliver, the
        // others with the seed's: the promise must hold on a deadline's arithmetic too, not
        // only for ever.
        let linger = if crate::rng::chance(cx.rng(), 0.5) {
            Linger::For(p.linger_delivery_bound() + Duration::from_millis(500))
        } else {
            p.sock.base.linger
        };
        // LINGER is set again just before the close, as applications do: until then the
        // socket holds another value, so the close's linger is the one set last.
        let other = match linger {
            Linger::For(d) if d.is_zero() => Linger::Forever,
            _ => Linger::For(Duration::ZERO),
        };
        cx.set_option(sock, linger_option(other));
        for e in endpoints {
            cx.connect(sock, e);
        }
        // ZMQ_IMMEDIATE's promise at its plainest. The socket has only connected, over tcp
        // or ipc, and no connection can have completed in no time. Without IMMEDIATE each
        // connect has its queue at once, so the first send is accepted. With IMMEDIATE
        // there is no queue until a handshake completes, so it would block. (Not over
        // inproc, whose pipe exists as soon as the binder does. Not for a PROBE_ROUTER
        // DEALER without IMMEDIATE either: its probe may already fill a queue of SNDHWM 1.)
        let over_network = endpoints.iter().all(|e| !e.starts_with("inproc://"));
        let probes = kind == SocketType::Dealer && p.features.probe_router;
        let immediate = p.sock.base.immediate;
        let first_accepted = (over_network && (immediate || !probes)).then_some(!immediate);
        if p.active_features().inproc {
            ghost(cx, p);
        }
        let late = p
            .active_features()
            .late_peer
            .then(|| LatePeer::start(cx, p));
        let no_reconnect = p
            .active_features()
            .no_reconnect
            .then(|| NoReconnect::start(cx, p));
        let disconnects = p.active_features().linger_disconnect;
        let closes_at_once = disconnects && crate::rng::chance(cx.rng(), 0.5);
        let mut burst = LingerBurst {
            sock,
            seq: 0,
            queued: Vec::new(),
            count,
            until: cx.now() + p.probe_bound(),
            first_accepted,
            closed: false,
            endpoints: endpoints.to_vec(),
            disconnects,
            linger,
            closes_at_once,
            late,
            no_reconnect,
        };
        burst.tick(cx, p);
        burst
    }

    /// Queues what it can, and closes once something was queued (or it waited long enough).
    pub(crate) fn tick(&mut self, cx: &mut Cx<'_>, p: &Profile) {
        if let Some(late) = self.late.as_mut() {
            late.tick(cx, p);
        }
        if let Some(n) = self.no_reconnect.as_mut() {
            n.tick(cx, p);
        }
        if self.closed {
            return;
        }
        while self.queued.len() < self.count {
            let n = frames(cx, p);
            let mut m = Payload::new(self.sock, self.seq, n, false);
            m.pad = p.pad;
            let r = cx.send(self.sock, m.encode());
            if let Some(accept) = self.first_accepted.take() {
                if r.is_ok() != accept {
                    let (s, now) = (self.sock, cx.now());
                    let what = if accept {
                        format!(
                            "s{s} connected without IMMEDIATE, yet its first send gave {r:?}: \
                             a connect's queue must exist before its connection does"
                        )
                    } else {
                        format!(
                            "s{s} connected with IMMEDIATE and no connection has completed, \
                             yet its first send was accepted: there must be no queue yet"
                        )
                    };
                    cx.oracle()
                        .fail(crate::oracle::FailureKind::Safety, now, what);
                }
            }
            if r.is_err() {
                break;
            }
            self.queued.push(self.seq);
            self.seq += 1;
        }
        if self.queued.is_empty() && cx.now() < self.until {
            return;
        }
        let s = self.sock;
        let how = match (self.disconnects, self.closes_at_once) {
            (false, _) => "closes",
            (true, false) => "disconnects",
            (true, true) => "disconnects and closes",
        };
        cx.log(format_args!(
            "s{s} queued {} messages, {how}",
            self.queued.len()
        ));
        self.closed = true;
        cx.set_option(s, linger_option(self.linger));
        if self.disconnects {
            for e in &self.endpoints {
                cx.disconnect(s, e);
            }
            if self.closes_at_once {
                cx.close(s);
            }
        } else {
            cx.close(s);
        }
        let delivers = match self.linger {
            Linger::Forever => true,
            Linger::For(d) => d >= p.linger_delivery_bound(),
        };
        if delivers {
            let d = cx.now() + p.linger_delivery_bound();
            // The pipeline's conflating sink keeps only the newest of them.
            let newest_only = p.conflating() && p.pattern == crate::profile::Pattern::Pipeline;
            let keep = if newest_only { 1 } else { self.queued.len() };
            for &seq in self.queued.iter().rev().take(keep) {
                cx.oracle().protect((s, seq), d, self.disconnects);
            }
            if cx.is_open(s) && (!self.disconnects || self.closes_at_once) {
                let done = d + p.probe_bound();
                cx.oracle()
                    .expect(crate::world::close_finishes(s as usize), done);
            }
        }
    }

    /// Whether it still needs its application's ticks (a late peer not yet served, a
    /// connect without reconnection not yet checked).
    pub(crate) fn wants_ticks(&self) -> bool {
        self.late.as_ref().is_some_and(|l| !l.done)
            || self.no_reconnect.as_ref().is_some_and(|n| !n.done)
    }

    /// The shutdown: a burst that disconnected closes its socket now (one that closed has
    /// nothing to do).
    pub(crate) fn shutdown(&mut self, cx: &mut Cx<'_>) {
        if cx.is_open(self.sock) {
            cx.close(self.sock);
        }
        if let Some(late) = self.late.as_mut() {
            late.shutdown(cx);
        }
        if let Some(n) = self.no_reconnect.as_mut() {
            n.shutdown(cx);
        }
    }
}
