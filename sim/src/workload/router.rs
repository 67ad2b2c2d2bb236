//! DEALER/ROUTER (RFC 28): asynchronous clients connected to every server, a few requests in
//! flight each. A ROUTER sees the routing id a peer declared and routes replies by it; a
//! DEALER only ever gets replies to its own requests (or, with a fixed routing id, to an
//! earlier incarnation's). With `router-clients`, every second client is a ROUTER that names
//! its connections with ZMQ_CONNECT_ROUTING_ID and addresses each request to one server.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use oxmq_core::socket::SendErrorKind;
use oxmq_core::{Frame, Instant, Message, SocketOption, SocketType};

use super::{
    add_apps, bind_ports, churn, deadline, ep, frames, open, peer_ep, probing, rebind, reconnect,
    sending, LingerBurst,
};
use rand::Rng;

use crate::msg::Payload;
use crate::oracle::{FailureKind, Scope};
use crate::profile::Profile;
use crate::rng::chance;
use crate::world::{App, Cx, Phase, Sim};

const PORT: u16 = 5570;
/// A routing id no peer declares (generated ids start with a zero byte, DEALERs' with 'd').
const GHOST: &[u8] = b"ghost";
const WINDOW: usize = 4;

pub(super) fn build(sim: &mut Sim, p: &Profile) {
    // With inproc, the first client runs beside the first server.
    let colocated = usize::from(p.features.inproc);
    for h in 0..p.peers {
        let mut apps: Vec<Box<dyn App>> = vec![Box::new(Server {
            p: p.clone(),
            sock: None,
            held: VecDeque::new(),
        })];
        if h == 0 && colocated == 1 {
            apps.push(Box::new(Client::new(p, false)));
        }
        add_apps(sim, apps);
    }
    for i in colocated..p.clients {
        let router = p.router_clients() && i % 2 == 1;
        sim.add_host(Box::new(Client::new(p, router)), Instant::ZERO);
    }
}

/// The name a ROUTER client gives its connection to the server on host `h`
/// (ZMQ_CONNECT_ROUTING_ID).
fn server_name(h: usize) -> Bytes {
    Bytes::from(format!("srv{h}"))
}

struct Server {
    p: Profile,
    sock: Option<u64>,
    /// Replies ROUTER_MANDATORY refused with would-block (the peer's pipe was full), to send
    /// again, in order, as an application does when told EAGAIN.
    held: VecDeque<(Message, Payload)>,
}

impl Server {
    /// Sends a reply (or holds it, behind any held for the same peer, if its pipe is full);
    /// returns it if it must wait.
    fn reply(
        &mut self,
        cx: &mut Cx<'_>,
        s: u64,
        m: Message,
        req: Payload,
    ) -> Option<(Message, Payload)> {
        let (r, sent) = cx.send_seen(s, m.clone());
        match r {
            Ok(()) if sent.queued => None,
            Ok(()) => {
                if req.probe {
                    // RFC 28: without ROUTER_MANDATORY a ROUTER drops what its peer's full
                    // pipe cannot take; that request goes unanswered, as libzmq's would.
                    cx.log(format_args!(
                        "s{s} reply to {}:{} dropped at the peer's HWM",
                        req.sender, req.seq
                    ));
                    let now = cx.now();
                    let what = format!("dealer request {}:{} answered", req.sender, req.seq);
                    cx.oracle().excuse(&what, now);
                }
                None
            }
            Err(SendErrorKind::WouldBlock) => Some((m, req)),
            Err(e) => {
                cx.log(format_args!(
                    "s{s} reply to {}:{} not routed: {e:?}",
                    req.sender, req.seq
                ));
                None
            }
        }
    }

    /// Sends the held replies that can go now, keeping each peer's replies in order.
    fn send_held(&mut self, cx: &mut Cx<'_>, s: u64) {
        let mut blocked: Vec<Frame> = Vec::new();
        for _ in 0..self.held.len() {
            let (m, req) = self.held.pop_front().expect("counted");
            let id = m.frames()[0].clone();
            if blocked.contains(&id) {
                self.held.push_back((m, req));
                continue;
            }
            if let Some(back) = self.reply(cx, s, m, req) {
                blocked.push(id);
                self.held.push_back(back);
            }
        }
    }

    /// Sends to a routing id no peer ever has. ROUTER_MANDATORY promises host-unreachable
    /// for it; without it, ROUTER silently drops what it cannot route (and never fails).
    fn send_to_nobody(&mut self, cx: &mut Cx<'_>, s: u64) {
        let mut m = Payload::new(s, 0, 1, false);
        m.pad = self.p.pad;
        m.extra = "ghost".into();
        let mut frames = vec![Frame::from(GHOST)];
        frames.extend(m.encode().frames().iter().cloned());
        let got = cx.send(s, Message::from_frames(frames));
        cx.oracle().coverage.unroutable += 1;
        let mandatory = self.p.sock.router_mandatory;
        let kept = if mandatory {
            got == Err(SendErrorKind::HostUnreachable)
        } else {
            got.is_ok()
        };
        if !kept {
            let now = cx.now();
            let what = format!(
                "ROUTER s{s} (mandatory={mandatory}) sent to unknown routing id {:?}: {got:?}",
                String::from_utf8_lossy(GHOST)
            );
            cx.oracle().fail(FailureKind::Safety, now, what);
        }
    }
}

impl App for Server {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let opts = [
            SocketOption::RouterMandatory(self.p.sock.router_mandatory),
            SocketOption::RouterHandover(self.p.sock.router_handover),
        ];
        let s = open(cx, &self.p, SocketType::Router, &opts);
        // A routing id is 1 to 255 bytes (zmq_setsockopt): an empty one or a longer one is
        // refused with EINVAL, for the socket's own id and for the next connection's.
        cx.set_option_refused(s, SocketOption::RoutingId(Bytes::new()));
        cx.set_option_refused(s, SocketOption::ConnectRoutingId(Bytes::from(vec![7; 256])));
        bind_ports(cx, s, PORT);
        self.sock = Some(s);
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(s) = self.sock.filter(|_| churn(cx, &self.p)) {
            let e = ep(cx, cx.host(), PORT);
            rebind(cx, s, &e);
        }
        if let Some(s) = self.sock.filter(|_| sending(cx) && chance(cx.rng(), 0.2)) {
            self.send_to_nobody(cx, s);
        }
        if let Some(s) = self.sock {
            self.send_held(cx, s);
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
            let frames = m.frames();
            if self.p.features.probe_router && frames.len() == 2 && frames[1].is_empty() {
                cx.oracle().router_probe(now, s, pipe);
                continue;
            }
            let probe_first = self.p.features.probe_router && self.p.sock.base.immediate;
            cx.oracle().router_message(now, s, pipe, probe_first);
            let Some(req) = cx
                .oracle()
                .decode(now, "router", &frames[1.min(frames.len())..])
            else {
                return;
            };
            let id = frames[0].clone();
            // With ROUTER_HANDOVER a displaced connection's last messages carry libzmq's
            // temporary id (0x00 + four bytes); otherwise the id is the one declared.
            let temporary = self.p.sock.router_handover && id.len() == 5 && id[0] == 0;
            if !req.extra.is_empty() && id.as_ref() != req.extra.as_bytes() && !temporary {
                let what = format!(
                    "ROUTER s{s} saw routing id {:?} for a peer that declared {:?}",
                    String::from_utf8_lossy(&id),
                    req.extra
                );
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
            }
            cx.oracle().received(now, s, pipe, &req, Scope::One);
            let mut reply: Vec<Frame> = vec![id.clone()];
            reply.extend(req.encode().frames().iter().cloned());
            let m = Message::from_frames(reply);
            if self.held.iter().any(|(h, _)| h.frames()[0] == id) {
                // Behind a held reply to the same peer: in order.
                self.held.push_back((m, req));
            } else if let Some(back) = self.reply(cx, s, m, req) {
                cx.log(format_args!("s{s} reply held: would block"));
                cx.oracle().coverage.held_replies += 1;
                self.held.push_back(back);
            }
        }
        self.send_held(cx, s);
    }

    fn crashed(&mut self) {
        self.sock = None;
        self.held.clear();
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
    id: String,
    seq: u64,
    /// Requests sent and not answered, with when they were sent.
    in_flight: BTreeMap<u64, Instant>,
    pending: Option<Payload>,
    /// The linger phase's fresh DEALER.
    burst: Option<LingerBurst>,
    /// When the last reply to one of its own requests came.
    last_reply: Option<Instant>,
    /// A second DEALER claiming this client's routing id, for a while.
    twin: Option<Twin>,
    twinned: bool,
    /// A ROUTER rather than a DEALER (see `Features::router_clients`).
    router: bool,
    /// A ROUTER client's next server, in turn, and the server of each request in flight.
    next_server: usize,
    sent_to: BTreeMap<u64, usize>,
    pending_to: usize,
}

/// A second DEALER with a client's routing id (ZMQ_ROUTER_HANDOVER's case): with handover
/// the ROUTER must give it the id and disconnect the client's connection; without, reject
/// it while the client's connection lives.
struct Twin {
    sock: u64,
    /// The client's connection the twin would displace.
    displaced: u64,
    /// Its request, until it could be sent.
    pending: Option<Payload>,
    answered: bool,
    leave: Instant,
}

impl Client {
    fn new(p: &Profile, router: bool) -> Self {
        Client {
            p: p.clone(),
            sock: None,
            id: String::new(),
            seq: 0,
            in_flight: BTreeMap::new(),
            pending: None,
            burst: None,
            last_reply: None,
            twin: None,
            twinned: false,
            router,
            next_server: 0,
            sent_to: BTreeMap::new(),
            pending_to: 0,
        }
    }

    /// The socket options every DEALER of this client sets.
    fn options(&self) -> Vec<SocketOption> {
        let mut opts = Vec::new();
        if self.router {
            // Told host-unreachable rather than dropping silently: a request to a server
            // whose connection the client named must always find it.
            opts.push(SocketOption::RouterMandatory(true));
        }
        if self.p.features.probe_router {
            opts.push(SocketOption::ProbeRouter(true));
        }
        if self.p.conflating() {
            opts.push(SocketOption::Conflate(true));
        }
        opts
    }

    /// Now and then during the faults (once per client), a twin claims the client's fixed
    /// routing id at the one server while the client's connection there is established
    /// (it got a reply since); it leaves after a while.
    fn twin_tick(&mut self, cx: &mut Cx<'_>) {
        let now = cx.now();
        if let Some(t) = self.twin.as_mut() {
            if now >= t.leave || cx.phase() != Phase::Faults {
                cx.close(t.sock);
                self.twin = None;
            } else if let Some(req) = t.pending.take() {
                if cx.send(t.sock, req.encode()).is_err() {
                    t.pending = Some(req);
                }
            }
            return;
        }
        let Some(s) = self.sock else {
            return;
        };
        if self.twinned
            || self.router
            || self.id.is_empty()
            || self.p.peers != 1
            || cx.phase() != Phase::Faults
            || !chance(cx.rng(), 0.05)
        {
            return;
        }
        let e = peer_ep(cx, 0, PORT);
        let streams = cx.open_streams(s, &e);
        let [(displaced, opened)] = streams[..] else {
            return;
        };
        if self.last_reply.is_none_or(|r| r <= opened) {
            return;
        }
        self.twinned = true;
        let mut opts = self.options();
        opts.push(SocketOption::RoutingId(self.id.clone().into()));
        let t = open(cx, &self.p, SocketType::Dealer, &opts);
        cx.log(format_args!(
            "s{t} twin of s{s} claims routing id {:?} (s{s}'s stream {displaced})",
            self.id
        ));
        cx.connect(t, &e);
        let mut req = Payload::new(t, 0, 1, false);
        req.pad = self.p.pad;
        req.extra = self.id.clone();
        let pending = cx.send(t, req.encode()).is_err().then_some(req);
        let stay = std::time::Duration::from_millis(cx.rng().random_range(100..400));
        self.twin = Some(Twin {
            sock: t,
            displaced,
            pending,
            answered: false,
            leave: now + stay,
        });
    }

    /// The twin's replies: the first one says the ROUTER gave it the routing id.
    fn twin_readable(&mut self, cx: &mut Cx<'_>) {
        let Some(t) = self.twin.as_mut() else {
            return;
        };
        while let Some((m, _)) = cx.recv(t.sock) {
            let now = cx.now();
            let Some(rep) = cx.oracle().decode(now, "twin dealer", m.frames()) else {
                return;
            };
            if rep.sender != t.sock || t.answered {
                // Replies to the displaced client's requests may follow the id here.
                continue;
            }
            t.answered = true;
            if self.p.sock.router_handover {
                cx.oracle().coverage.handovers += 1;
            }
            if !cx.stream_open(t.displaced) {
                continue;
            }
            if self.p.sock.router_handover {
                let what = format!(
                    "ROUTER_HANDOVER disconnects the connection that held routing id {:?} \
                     (stream {})",
                    self.id, t.displaced
                );
                let d = now + self.p.probe_bound();
                cx.expect_close(t.displaced, what, d);
            } else {
                let what = format!(
                    "a ROUTER without ROUTER_HANDOVER answered DEALER s{} with routing id \
                     {:?}, though the connection that holds that id (stream {}) is open: it \
                     must reject the newcomer",
                    t.sock, self.id, t.displaced
                );
                cx.oracle().fail(FailureKind::Safety, now, what);
            }
        }
    }

    /// A ROUTER client names its next connect, to the server on host `h`.
    fn name_next_connect(&self, cx: &mut Cx<'_>, s: u64, h: usize) {
        if self.router {
            cx.set_option(s, SocketOption::ConnectRoutingId(server_name(h)));
        }
    }

    fn round_trip(&self, cx: &Cx<'_>) -> String {
        format!("dealer h{} completes a round trip", cx.host())
    }
}

impl App for Client {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let mut opts = self.options();
        if self.p.sock.explicit_ids {
            // Fixed across restarts: a restarted client claims its old identity.
            self.id = format!("d{}", cx.host());
            opts.push(SocketOption::RoutingId(self.id.clone().into()));
        }
        let kind = if self.router {
            SocketType::Router
        } else {
            SocketType::Dealer
        };
        let s = open(cx, &self.p, kind, &opts);
        for h in 0..self.p.peers {
            let e = peer_ep(cx, h, PORT);
            self.name_next_connect(cx, s, h);
            cx.connect(s, &e);
        }
        self.sock = Some(s);
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(b) = self.burst.as_mut() {
            b.tick(cx, &self.p);
        }
        self.twin_tick(cx);
        if let Some(s) = self.sock.filter(|_| churn(cx, &self.p)) {
            let h = cx.rng().random_range(0..self.p.peers);
            let e = peer_ep(cx, h, PORT);
            self.name_next_connect(cx, s, h);
            reconnect(cx, s, &e);
        }
        let Some(s) = self.sock else {
            return;
        };
        let now = cx.now();
        let recent = self
            .in_flight
            .values()
            .filter(|at| now - **at < self.p.request_timeout())
            .count();
        if self.pending.is_none() && recent < WINDOW && sending(cx) {
            let n = frames(cx, &self.p);
            let mut req = Payload::new(s, self.seq, n, probing(cx));
            req.pad = self.p.pad;
            req.extra = self.id.clone();
            self.seq += 1;
            if req.probe && self.p.conflating() {
                // Replies conflate per server: only the newest request's reply must come
                // (another server's older reply may be read after it).
                let d = deadline(cx, &self.p, 3);
                let who = format!("dealer s{s}");
                cx.oracle().expect_newest(&who, s, req.seq, d, false);
            } else if req.probe {
                let d = deadline(cx, &self.p, 3);
                cx.oracle()
                    .expect(format!("dealer request {s}:{} answered", req.seq), d);
            }
            self.pending = Some(req);
            self.pending_to = self.next_server % self.p.peers;
            self.next_server += 1;
        }
        if let Some(req) = self.pending.take() {
            let to = self.pending_to;
            let m = if self.router {
                let mut frames = vec![Frame::from(server_name(to))];
                frames.extend(req.encode().frames().iter().cloned());
                Message::from_frames(frames)
            } else {
                req.encode()
            };
            match cx.send(s, m) {
                Ok(()) => {
                    self.in_flight.insert(req.seq, now);
                    self.sent_to.insert(req.seq, to);
                }
                Err(SendErrorKind::HostUnreachable) if self.router => {
                    // Without IMMEDIATE, a connect's pipe exists from the connect on, named
                    // by its CONNECT_ROUTING_ID, and stays across reconnections.
                    let what = format!(
                        "ROUTER s{s} could not route to {:?}, the CONNECT_ROUTING_ID of its \
                         connect to the server on h{to}",
                        String::from_utf8_lossy(&server_name(to))
                    );
                    cx.oracle().fail(FailureKind::Safety, now, what);
                }
                Err(_) => self.pending = Some(req),
            }
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        self.twin_readable(cx);
        let Some(s) = self.sock else {
            return;
        };
        while let Some((m, _pipe)) = cx.recv(s) {
            let now = cx.now();
            let frames = if self.router {
                &m.frames()[1.min(m.frames().len())..]
            } else {
                m.frames()
            };
            let Some(rep) = cx.oracle().decode(now, "dealer", frames) else {
                return;
            };
            let mine = rep.sender == s;
            let earlier_me = !self.id.is_empty() && rep.extra == self.id;
            if mine && self.in_flight.remove(&rep.seq).is_none() {
                let what = format!("DEALER s{s} got a second reply to request {}", rep.seq);
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
            }
            if self.router && mine {
                // The reply comes back under the name the client gave the connection its
                // request went out on.
                let to = self.sent_to.remove(&rep.seq);
                let name = to.map(server_name);
                if name.as_deref() != m.frames().first().map(|f| &f[..]) {
                    let what = format!(
                        "ROUTER s{s} got the reply to request {} under routing id {:?}, \
                         though it sent the request to {:?}",
                        rep.seq,
                        m.frames().first().map(|f| String::from_utf8_lossy(f)),
                        name.map(|n| String::from_utf8_lossy(&n).into_owned())
                    );
                    cx.oracle().fail(FailureKind::Safety, now, what);
                    return;
                }
                cx.oracle().coverage.named_replies += 1;
            }
            if !mine && !earlier_me {
                let what = format!(
                    "DEALER s{s} (id {:?}) got the reply meant for {}:{} (id {:?})",
                    self.id, rep.sender, rep.seq, rep.extra
                );
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
            }
            if mine {
                self.last_reply = Some(now);
            }
            if mine && self.p.conflating() {
                cx.oracle()
                    .conflated(now, &format!("dealer s{s}"), rep.sender, rep.seq);
            }
            if mine && rep.probe {
                cx.oracle()
                    .fulfil(&format!("dealer request {s}:{} answered", rep.seq), now);
                let rt = self.round_trip(cx);
                cx.oracle().fulfil(&rt, now);
            }
        }
    }

    fn crashed(&mut self) {
        self.sock = None;
        self.in_flight.clear();
        self.sent_to.clear();
        self.pending = None;
        self.burst = None;
        self.twin = None;
        self.last_reply = None;
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        match phase {
            Phase::Linger => {
                let eps: Vec<String> = (0..self.p.peers).map(|h| peer_ep(cx, h, PORT)).collect();
                let b = LingerBurst::start(cx, &self.p, SocketType::Dealer, &eps, 6);
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
