//! REQ/REP (RFC 28): clients connected to every server, one request at a time. A REQ only
//! ever gets the reply to its outstanding request. On a timeout a client recovers either by
//! closing and reopening its socket (Lazy Pirate) or, with REQ_RELAXED + REQ_CORRELATE, by
//! simply asking again.

use std::collections::BTreeSet;

use oxmq_core::{Instant, Message, SendErrorKind, SocketOption, SocketType};

use super::{
    add_apps, bind_ports, churn, deadline, ep, frames, open, peer_ep, probing, rebind, reconnect,
    sending, LingerBurst,
};
use rand::Rng;

use crate::msg::Payload;
use crate::oracle::{FailureKind, Scope};
use crate::profile::Profile;
use crate::world::{App, Cx, Phase, Sim};

const PORT: u16 = 5560;

pub(super) fn build(sim: &mut Sim, p: &Profile) {
    // With inproc, the first client runs beside the first server.
    let colocated = usize::from(p.features.inproc);
    for h in 0..p.peers {
        let mut apps: Vec<Box<dyn App>> = vec![Box::new(Server {
            p: p.clone(),
            sock: None,
        })];
        if h == 0 && colocated == 1 {
            apps.push(Box::new(Client::new(p)));
        }
        add_apps(sim, apps);
    }
    for _ in colocated..p.clients {
        sim.add_host(Box::new(Client::new(p)), Instant::ZERO);
    }
}

struct Server {
    p: Profile,
    sock: Option<u64>,
}

/// How often (one in so many) a REQ that has just sent its request, or a REP that has just
/// sent its reply, tries to send again out of turn. Just after its own send, so that the
/// socket's state is known whatever the simulator did with the messages since (an injected
/// bug may lose a reply or a request before the application sees it).
const OUT_OF_TURN: u32 = 8;

/// Sends on `s` out of its REQ/REP turn (`what` says which): libzmq refuses with EFSM and
/// sends nothing; anything else fails the run.
fn out_of_turn(cx: &mut Cx<'_>, s: u64, what: &str) {
    if !cx.is_open(s) {
        return;
    }
    let r = cx.send_refused(s, Message::from("out of turn"));
    cx.oracle().coverage.out_of_turn += 1;
    if r != Err(SendErrorKind::BadState) {
        let now = cx.now();
        let what = format!("s{s} {what}: a send out of turn gave {r:?}, not EFSM");
        cx.oracle().fail(FailureKind::Safety, now, what);
    }
}

impl App for Server {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let s = open(cx, &self.p, SocketType::Rep, &[]);
        bind_ports(cx, s, PORT);
        self.sock = Some(s);
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(s) = self.sock.filter(|_| churn(cx, &self.p)) {
            let e = ep(cx, cx.host(), PORT);
            rebind(cx, s, &e);
        }
        // Slow readers read on ticks (the simulator calls `readable` after each).
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        let Some(s) = self.sock else {
            return;
        };
        while let Some((m, pipe)) = cx.recv(s) {
            let now = cx.now();
            let Some(mut req) = cx.oracle().decode(now, "rep", m.frames()) else {
                return;
            };
            cx.oracle().received(now, s, pipe, &req, Scope::One);
            req.extra = format!("srv{}", cx.host());
            match cx.send(s, req.encode()) {
                Ok(()) if cx.rng().random_ratio(1, OUT_OF_TURN) => {
                    out_of_turn(cx, s, "REP that has just replied");
                }
                Ok(()) => {}
                Err(e) => cx.log(format_args!("s{s} reply not sent: {e:?}")),
            }
        }
    }

    fn crashed(&mut self) {
        self.sock = None;
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        if phase == Phase::Shutdown {
            if let Some(s) = self.sock {
                cx.close(s);
            }
        }
    }
}

struct Client {
    p: Profile,
    sock: Option<u64>,
    seq: u64,
    /// The request made but not sent yet (WouldBlock), and when it was made.
    pending: Option<(Payload, Instant)>,
    /// The last request sent: the only one whose reply the REQ may deliver.
    awaiting: Option<((u64, u64), Instant)>,
    /// Requests whose reply was handed up (a reply is taken once).
    answered: BTreeSet<u64>,
    /// The linger phase's fresh REQ.
    burst: Option<LingerBurst>,
}

impl Client {
    fn new(p: &Profile) -> Self {
        Client {
            p: p.clone(),
            sock: None,
            seq: 0,
            pending: None,
            awaiting: None,
            answered: BTreeSet::new(),
            burst: None,
        }
    }

    fn open(&mut self, cx: &mut Cx<'_>) {
        let relaxed = self.p.sock.req_relaxed;
        let opts = [
            SocketOption::ReqRelaxed(relaxed),
            SocketOption::ReqCorrelate(relaxed && self.p.sock.req_correlate),
        ];
        let s = open(cx, &self.p, SocketType::Req, &opts);
        for h in 0..self.p.peers {
            let e = peer_ep(cx, h, PORT);
            cx.connect(s, &e);
        }
        self.sock = Some(s);
        self.seq = 0;
        self.pending = None;
        self.awaiting = None;
        self.answered.clear();
    }

    /// Whether each reply answers exactly the last request: always, unless REQ_RELAXED
    /// without REQ_CORRELATE (then a late reply from the peer of the last request may).
    fn correlated(&self) -> bool {
        !self.p.sock.req_relaxed || self.p.sock.req_correlate
    }

    fn round_trip(&self, cx: &Cx<'_>) -> String {
        format!("client h{} completes a round trip", cx.host())
    }

    fn request(&mut self, cx: &mut Cx<'_>, s: u64) {
        let n = frames(cx, &self.p);
        let mut req = Payload::new(s, self.seq, n, probing(cx));
        req.pad = self.p.pad;
        self.seq += 1;
        if req.probe {
            let d = deadline(cx, &self.p, 2);
            cx.oracle()
                .expect(format!("request {s}:{} answered", req.seq), d);
        }
        self.pending = Some((req, cx.now()));
    }
}

impl App for Client {
    fn start(&mut self, cx: &mut Cx<'_>) {
        self.open(cx);
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(b) = self.burst.as_mut() {
            b.tick(cx, &self.p);
        }
        if let Some(s) = self.sock.filter(|_| churn(cx, &self.p)) {
            let h = cx.rng().random_range(0..self.p.peers);
            let e = peer_ep(cx, h, PORT);
            reconnect(cx, s, &e);
        }
        let Some(mut s) = self.sock else {
            return;
        };
        let now = cx.now();
        let since = self
            .awaiting
            .map(|a| a.1)
            .or(self.pending.as_ref().map(|p| p.1));
        if since.is_some_and(|t| now - t > self.p.request_timeout()) {
            cx.log(format_args!("s{s} request timed out"));
            if self.p.sock.req_relaxed {
                // REQ_RELAXED: ask again on the same socket; until the new request is
                // sent, the old one's reply may still come.
                if self.pending.is_none() && sending(cx) {
                    self.request(cx, s);
                }
                if let Some(a) = self.awaiting.as_mut() {
                    a.1 = now;
                }
            } else {
                // Lazy Pirate: abandon the socket, open a fresh one.
                cx.close(s);
                self.open(cx);
                s = self.sock.expect("just opened");
            }
        }
        if self.awaiting.is_none() && self.pending.is_none() && sending(cx) {
            self.request(cx, s);
        }
        let may_send = self.awaiting.is_none() || self.p.sock.req_relaxed;
        if let Some((req, _)) = self.pending.as_ref().filter(|_| may_send) {
            match cx.send(s, req.encode()) {
                Ok(()) => {
                    self.awaiting = Some((req.id(), now));
                    self.pending = None;
                    if !self.p.sock.req_relaxed && cx.rng().random_ratio(1, OUT_OF_TURN) {
                        out_of_turn(cx, s, "REQ that has just sent its request");
                    }
                }
                Err(e) => cx.log(format_args!("s{s} request not sent: {e:?}")),
            }
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        let Some(s) = self.sock else {
            return;
        };
        while let Some((m, _pipe)) = cx.recv(s) {
            let now = cx.now();
            let Some(rep) = cx.oracle().decode(now, "req", m.frames()) else {
                return;
            };
            let Some(last) = self.awaiting.map(|a| a.0) else {
                let what = format!(
                    "REQ s{s} got the reply to {}:{} while it had no request out",
                    rep.sender, rep.seq
                );
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
            };
            // RFC 28: the reply answers the last request; without REQ_CORRELATE, libzmq
            // warns that an earlier request's late reply may stand in for it, but only one
            // from the peer the last request went to.
            let answers = if self.correlated() {
                rep.id() == last
            } else {
                rep.sender == s && rep.seq <= last.1
            };
            if !answers || !self.answered.insert(rep.seq) {
                let what = format!(
                    "REQ s{s} got the reply to {}:{} while waiting for {}:{}{}",
                    rep.sender,
                    rep.seq,
                    last.0,
                    last.1,
                    if answers { " (a second time)" } else { "" }
                );
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
            }
            let replier = rep.extra.strip_prefix("srv").and_then(|h| h.parse().ok());
            if let Some(h) = replier.filter(|_| rep.id() != last) {
                let what = format!(
                    "REQ s{s} took h{h}'s reply to request {} as the answer to request {}",
                    rep.seq, last.1
                );
                cx.oracle().reply_from_peer_of(now, last, h, what);
            }
            self.awaiting = None;
            let asked = format!("request {s}:{} answered", last.1);
            if rep.probe || cx.oracle().is_expected(&asked) {
                cx.oracle().fulfil(&asked, now);
                let rt = self.round_trip(cx);
                cx.oracle().fulfil(&rt, now);
            }
        }
    }

    fn crashed(&mut self) {
        self.sock = None;
        self.pending = None;
        self.awaiting = None;
        self.burst = None;
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        match phase {
            Phase::Linger => {
                let eps: Vec<String> = (0..self.p.peers).map(|h| peer_ep(cx, h, PORT)).collect();
                let b = LingerBurst::start(cx, &self.p, SocketType::Req, &eps, 3);
                self.burst = Some(b);
            }
            Phase::Probe => {
                let d = cx.now() + self.p.request_timeout() + self.p.probe_bound() * 4;
                let rt = self.round_trip(cx);
                cx.oracle().expect(rt, d);
            }
            Phase::Shutdown => {
                if let Some(s) = self.sock {
                    cx.close(s);
                }
                if let Some(b) = self.burst.as_mut() {
                    b.shutdown(cx);
                }
            }
            _ => {}
        }
    }
}
