//! PUB/SUB (RFC 29): a publisher on a few topics, subscribers with prefix subscriptions (one
//! joins late, some unsubscribe). A subscriber never sees a topic it is not subscribed to;
//! after healing, every subscriber gets every probe on a topic it wants.
//!
//! With the proxy feature, an XSUB/XPUB proxy (libzmq's `zmq_proxy`) sits between them: its
//! XSUB connects to the publisher, the subscribers connect to its XPUB; it forwards messages
//! down and subscriptions up. Its XSUB, which filters nothing itself, must receive only
//! topics a subscription it sent upstream covers; order per publisher holds end to end.
//! With the upstream feature the publisher is an XPUB and the proxy's XSUB also sends
//! messages of its own upstream, which the XPUB must hand up in order, once each.

use oxmq_core::{Instant, SocketOption, SocketType};
use rand::Rng;

use super::{
    add_apps, bind_ports, churn, deadline, ep, frames, open, peer_ep, probing, rebind, reconnect,
    sending, try_refused_send,
};
use crate::msg::Payload;
use crate::oracle::{FailureKind, Scope};
use crate::profile::Profile;
use crate::rng::chance;
use crate::world::{App, Cx, Phase, Sim};

const PUB: usize = 0;
const PORT: u16 = 5556;
/// The proxy's host, when there is one.
const PROXY: usize = 1;
/// Where the proxy's XPUB listens.
const PROXY_PORT: u16 = 5559;
const TOPICS: [&str; 4] = ["A", "AB", "B", "C"];
const PREFIXES: [&str; 5] = ["A", "AB", "B", "C", ""];

/// Whether a subscriber with `prefixes` wants a message whose first frame is `head`: a
/// prefix matches it, or with ZMQ_INVERT_MATCHING none does.
fn wants(prefixes: &[String], head: &[u8], inverted: bool) -> bool {
    prefixes.iter().any(|x| head.starts_with(x.as_bytes())) != inverted
}

pub(super) fn build(sim: &mut Sim, p: &Profile) {
    let publisher: Box<dyn App> = Box::new(Publisher {
        p: p.clone(),
        sock: None,
        seq: 0,
    });
    // With inproc, the first subscriber runs beside the host it subscribes at.
    let mut first: Vec<Box<dyn App>> = vec![publisher];
    if p.features.proxy {
        add_apps(sim, first);
        first = vec![Box::new(Proxy::new(p))];
    }
    let mut subs = p.peers;
    if p.features.inproc {
        first.push(Box::new(Subscriber::new(p)));
        subs -= 1;
    }
    add_apps(sim, first);
    for _ in 0..subs {
        sim.add_host(Box::new(Subscriber::new(p)), Instant::ZERO);
    }
    // The late joiner: it boots at a time its own stream draws, during the fault phase.
    let h = sim.host_count();
    let mut r = crate::rng::stream(sim.seed, &format!("late-joiner/{h}"));
    let at = Instant::ZERO + p.fault_phase.mul_f64(r.random_range(0.1..1.0));
    sim.add_host(Box::new(Subscriber::new(p)), at);
}

/// Where subscribers connect: the proxy's XPUB, or the publisher.
fn upstream(cx: &Cx<'_>, p: &Profile) -> String {
    if p.features.proxy {
        peer_ep(cx, PROXY, PROXY_PORT)
    } else {
        peer_ep(cx, PUB, PORT)
    }
}

struct Publisher {
    p: Profile,
    sock: Option<u64>,
    seq: u64,
}

impl App for Publisher {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let invert = [SocketOption::InvertMatching(true)];
        let opts: &[SocketOption] = if self.p.inverted() { &invert } else { &[] };
        let kind = if self.p.active_features().upstream {
            SocketType::XPub
        } else {
            SocketType::Pub
        };
        let s = open(cx, &self.p, kind, opts);
        bind_ports(cx, s, PORT);
        self.sock = Some(s);
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(s) = self.sock.filter(|_| churn(cx, &self.p)) {
            let e = ep(cx, PUB, PORT);
            rebind(cx, s, &e);
        }
        let Some(s) = self.sock.filter(|s| cx.is_open(*s)) else {
            return;
        };
        if sending(cx) {
            let topic = TOPICS[cx.rng().random_range(0..TOPICS.len())];
            let n = frames(cx, &self.p);
            let mut m = Payload::new(s, self.seq, n, probing(cx));
            m.pad = self.p.pad;
            m.topic = topic.to_owned();
            self.seq += 1;
            let now = cx.now();
            cx.oracle().published(m.id(), now);
            if m.probe {
                let hops = if self.p.features.proxy { 3 } else { 2 };
                let d = deadline(cx, &self.p, hops);
                let subs: Vec<u64> = cx
                    .oracle()
                    .subscribers
                    .iter()
                    .filter(|(_, pre)| wants(pre, topic.as_bytes(), self.p.inverted()))
                    .map(|(s, _)| *s)
                    .collect();
                for sub in subs
                    .into_iter()
                    .filter(|x| cx.is_open(*x))
                    .collect::<Vec<_>>()
                {
                    if self.p.conflating() {
                        // A conflating SUB keeps the newest: it must end with this one.
                        let who = format!("sub s{sub}");
                        cx.oracle().expect_newest(&who, s, m.seq, d, true);
                    } else {
                        cx.oracle()
                            .expect(format!("{s}:{} reaches sub s{sub}", m.seq), d);
                    }
                }
            }
            // PUB never blocks: at a subscriber's HWM the message is dropped for it (RFC
            // 29), and that subscriber (or every one behind a proxy) is not owed it.
            let (_, sent) = cx.send_seen(s, m.encode());
            if m.probe {
                let now = cx.now();
                for r in sent.dropped_for {
                    if cx.oracle().subscribers.contains_key(&r) {
                        let what = format!("{s}:{} reaches sub s{r}", m.seq);
                        cx.oracle().excuse(&what, now);
                        let who = format!("sub s{r}");
                        cx.oracle().newest_dropped(Some(&who), s, m.seq, now);
                    } else {
                        let prefix = format!("{s}:{} reaches sub s", m.seq);
                        cx.oracle().excuse_matching(&prefix, "", now);
                        cx.oracle().newest_dropped(None, s, m.seq, now);
                    }
                }
            }
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        // An XPUB publisher (upstream) hands up its subscribers' subscription changes, and
        // what the proxy's XSUB sent upstream.
        let Some(s) = self.sock else {
            return;
        };
        while let Some((m, pipe)) = cx.recv(s) {
            let head = &m.frames()[0];
            if m.len() == 1 && matches!(head.first(), Some(0 | 1)) {
                continue;
            }
            let now = cx.now();
            let Some(p) = cx.oracle().decode(now, "publisher", m.frames()) else {
                return;
            };
            cx.oracle().coverage.upstream += 1;
            cx.oracle().received(now, s, pipe, &p, Scope::Each);
            if p.probe {
                cx.oracle().fulfil(
                    &format!("{}:{} reaches the publisher", p.sender, p.seq),
                    now,
                );
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

struct Subscriber {
    p: Profile,
    sock: Option<u64>,
    prefixes: Vec<String>,
}

impl Subscriber {
    fn new(p: &Profile) -> Self {
        Subscriber {
            p: p.clone(),
            sock: None,
            prefixes: Vec::new(),
        }
    }
}

impl Subscriber {
    /// Drops one subscription. The oracle learns the new prefixes first: what the socket
    /// keeps of the messages it took ahead is checked against them.
    fn unsubscribe_one(&mut self, cx: &mut Cx<'_>, s: u64) {
        let i = cx.rng().random_range(0..self.prefixes.len());
        let t = self.prefixes.remove(i);
        cx.log(format_args!("s{s} unsubscribe {t:?}"));
        cx.oracle().subscribers.insert(s, self.prefixes.clone());
        cx.set_option(s, SocketOption::Unsubscribe(t.into()));
    }
}

impl App for Subscriber {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let n = cx.rng().random_range(1..=2);
        self.prefixes = (0..n)
            .map(|_| PREFIXES[cx.rng().random_range(0..PREFIXES.len())].to_owned())
            .collect();
        let mut subs: Vec<SocketOption> = self
            .prefixes
            .iter()
            .map(|t| SocketOption::Subscribe(t.clone().into()))
            .collect();
        if self.p.conflating() {
            subs.push(SocketOption::Conflate(true));
        }
        if self.p.inverted() {
            subs.push(SocketOption::InvertMatching(true));
        }
        let s = open(cx, &self.p, SocketType::Sub, &subs);
        let e = upstream(cx, &self.p);
        cx.connect(s, &e);
        self.sock = Some(s);
        cx.oracle().subscribers.insert(s, self.prefixes.clone());
        cx.oracle().inverted = self.p.inverted();
        cx.wake_in(self.p.interval * 10);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(s) = self.sock.filter(|_| churn(cx, &self.p)) {
            let e = upstream(cx, &self.p);
            reconnect(cx, s, &e);
        }
        let Some(s) = self.sock else {
            return;
        };
        // Now and then, during the faults, drop one subscription.
        if cx.phase() == Phase::Faults && self.prefixes.len() > 1 && chance(cx.rng(), 0.1) {
            self.unsubscribe_one(cx, s);
        }
        cx.wake_in(self.p.interval * 10);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        let Some(s) = self.sock else {
            return;
        };
        while let Some((m, pipe)) = cx.recv(s) {
            let now = cx.now();
            let Some(p) = cx.oracle().decode(now, "sub", m.frames()) else {
                return;
            };
            // A prefix may also match a longer topic ("A" matches "AB"): check frame 0.
            let head = &m.frames()[0];
            let inverted = self.p.inverted();
            if !wants(&self.prefixes, head, inverted) {
                let what = if inverted {
                    format!(
                        "s{s} got topic {:?} ({}:{}) but inverts {:?}, which match it",
                        p.topic, p.sender, p.seq, self.prefixes
                    )
                } else {
                    format!(
                        "s{s} got topic {:?} ({}:{}) but is subscribed to {:?} only",
                        p.topic, p.sender, p.seq, self.prefixes
                    )
                };
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
            }
            if inverted {
                cx.oracle().coverage.inverted += 1;
            }
            cx.oracle().received(now, s, pipe, &p, Scope::Each);
            if self.p.conflating() {
                cx.oracle()
                    .conflated(now, &format!("sub s{s}"), p.sender, p.seq);
            }
            if p.probe {
                cx.oracle()
                    .fulfil(&format!("{}:{} reaches sub s{s}", p.sender, p.seq), now);
            }
            try_refused_send(cx, s, p.seq);
            // Now and then during the faults a subscription goes between two receives while
            // the socket holds messages it took ahead (`batch-recv`).
            if cx.holds_ahead(s) && cx.phase() == Phase::Faults && chance(cx.rng(), 0.5) {
                if self.prefixes.len() > 1 {
                    self.unsubscribe_one(cx, s);
                } else {
                    let t = PREFIXES[cx.rng().random_range(0..PREFIXES.len())].to_owned();
                    cx.log(format_args!("s{s} subscribe {t:?}"));
                    self.prefixes.push(t.clone());
                    cx.oracle().subscribers.insert(s, self.prefixes.clone());
                    cx.set_option(s, SocketOption::Subscribe(t.into()));
                }
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

/// An XSUB/XPUB proxy: what its XSUB receives goes out of its XPUB; the subscriptions its
/// XPUB hands up go upstream through its XSUB.
struct Proxy {
    p: Profile,
    xsub: Option<u64>,
    xpub: Option<u64>,
    /// The injected bug (`ProxyWidensSubscriptions`) has played.
    widened: bool,
    /// With XPUB_NODROP: the message the XPUB refused at a subscriber's HWM, and what it
    /// carries. The proxy reads nothing more until it went, as libzmq's proxy blocks.
    held: Option<(oxmq_core::Message, Payload)>,
    /// The next message the XSUB sends upstream (upstream).
    up_seq: u64,
}

impl Proxy {
    fn new(p: &Profile) -> Self {
        Proxy {
            p: p.clone(),
            xsub: None,
            xpub: None,
            widened: false,
            held: None,
            up_seq: 0,
        }
    }

    /// Forwards `m` (carrying `p`) out of the XPUB; returns false if XPUB_NODROP refused it
    /// at a full pipe, in which case it is held for the next try.
    fn forward(&mut self, cx: &mut Cx<'_>, xpub: u64, m: oxmq_core::Message, p: Payload) -> bool {
        let now = cx.now();
        let nodrop = self.p.active_features().xpub_nodrop;
        let (r, sent) = cx.send_seen(xpub, m.clone());
        if nodrop && r == Err(oxmq_core::socket::SendErrorKind::WouldBlock) {
            cx.oracle().coverage.nodrop_held += 1;
            self.held = Some((m, p));
            return false;
        }
        // Without XPUB_NODROP, at a subscriber's HWM XPUB drops, as PUB does, and the
        // subscribers behind the full pipes are not owed it. With it nothing is dropped and
        // nothing excused: a probe the XPUB lost stays owed.
        if p.probe && !nodrop {
            for r in sent.dropped_for {
                let what = format!("{}:{} reaches sub s{r}", p.sender, p.seq);
                cx.oracle().excuse(&what, now);
                let who = format!("sub s{r}");
                cx.oracle().newest_dropped(Some(&who), p.sender, p.seq, now);
            }
        }
        true
    }
}

impl Proxy {
    /// Sends a message of the XSUB's own upstream: every publisher it is connected to owes
    /// it, but one whose pipe is full (XSUB drops there, as PUB does).
    fn send_upstream(&mut self, cx: &mut Cx<'_>, xsub: u64) {
        let n = frames(cx, &self.p);
        let mut m = Payload::new(xsub, self.up_seq, n, probing(cx));
        m.topic = "up".to_owned();
        self.up_seq += 1;
        let now = cx.now();
        cx.oracle().published(m.id(), now);
        let what = format!("{xsub}:{} reaches the publisher", m.seq);
        if m.probe {
            let d = deadline(cx, &self.p, 1);
            cx.oracle().expect(what.clone(), d);
        }
        let (r, sent) = cx.send_seen(xsub, m.encode());
        if let Err(e) = r {
            let what = format!("proxy XSUB s{xsub} refused a message upstream: {e:?}");
            cx.oracle().fail(FailureKind::Safety, now, what);
            return;
        }
        if m.probe && !sent.dropped_for.is_empty() {
            cx.oracle().excuse(&what, now);
        }
    }
}

impl App for Proxy {
    fn start(&mut self, cx: &mut Cx<'_>) {
        // libzmq's default HWMs: a proxy forwards what it read in one go, and with the
        // seed's small HWMs its XPUB would drop a burst (as PUB may) that the liveness
        // check expects every subscriber to get.
        let hwms = [SocketOption::SndHwm(1000), SocketOption::RcvHwm(1000)];
        let xsub = open(cx, &self.p, SocketType::XSub, &hwms);
        // XSUB subscribes by the messages it sends; libzmq 4.3's XSUB has no ZMQ_SUBSCRIBE
        // option (EINVAL), nor ZMQ_UNSUBSCRIBE.
        cx.set_option_refused(xsub, SocketOption::Subscribe("A".into()));
        cx.set_option_refused(xsub, SocketOption::Unsubscribe("A".into()));
        let e = peer_ep(cx, PUB, PORT);
        cx.connect(xsub, &e);
        if self.p.active_features().xpub_manual {
            // An XPUB_MANUAL proxy takes everything from upstream and filters per subscriber
            // downstream, by what it grants: relaying each change would be wrong, as the
            // changes it receives are per subscriber (a cancel a subscriber queued before it
            // reconnected comes after the XPUB already cancelled for its old pipe).
            let now = cx.now();
            cx.oracle().proxy_subscription(now, xsub, true, b"");
            if let Err(e) = cx.send(xsub, oxmq_core::Message::from(vec![1u8])) {
                let what = format!("proxy XSUB s{xsub} refused to subscribe to everything: {e:?}");
                cx.oracle().fail(FailureKind::Safety, now, what);
            }
        }
        // With XPUB_NODROP nothing is dropped, so its XPUB takes the smallest SNDHWM, and
        // its full pipes push back on the proxy.
        let nodrop = self.p.active_features().xpub_nodrop;
        let xpub_hwms = if nodrop {
            [SocketOption::SndHwm(1), SocketOption::RcvHwm(1000)]
        } else {
            hwms.clone()
        };
        let xpub = open(cx, &self.p, SocketType::XPub, &xpub_hwms);
        // The proxy's XPUB states libzmq's defaults but the drawn XPUB_NODROP and
        // XPUB_MANUAL (each must read back as set), and without XPUB_MANUAL it must refuse
        // ZMQ_SUBSCRIBE and ZMQ_UNSUBSCRIBE (EINVAL): subscriptions come from its
        // subscribers.
        let manual = self.p.active_features().xpub_manual;
        for opt in [
            SocketOption::XpubVerbose(false),
            SocketOption::XpubVerboser(false),
            SocketOption::XpubManual(manual),
            SocketOption::XpubNodrop(nodrop),
            SocketOption::XpubWelcomeMsg(None),
        ] {
            cx.set_option(xpub, opt);
        }
        if !manual {
            cx.set_option_refused(xpub, SocketOption::Subscribe("A".into()));
            cx.set_option_refused(xpub, SocketOption::Unsubscribe("A".into()));
        }
        bind_ports(cx, xpub, PROXY_PORT);
        self.xsub = Some(xsub);
        self.xpub = Some(xpub);
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(x) = self.xsub.filter(|_| churn(cx, &self.p)) {
            let e = peer_ep(cx, PUB, PORT);
            reconnect(cx, x, &e);
        }
        if let Some(x) = self
            .xsub
            .filter(|x| self.p.active_features().upstream && cx.is_open(*x) && sending(cx))
        {
            self.send_upstream(cx, x);
        }
        // Slow readers read on ticks (the simulator calls `readable` after each).
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        let (Some(xsub), Some(xpub)) = (self.xsub, self.xpub) else {
            return;
        };
        let mut flowing = match self.held.take() {
            Some((m, p)) => self.forward(cx, xpub, m, p),
            None => true,
        };
        while flowing {
            let Some((m, pipe)) = cx.recv(xsub) else {
                break;
            };
            let now = cx.now();
            let Some(p) = cx.oracle().decode(now, "proxy", m.frames()) else {
                return;
            };
            cx.oracle().proxy_received(now, xsub, &p, pipe);
            flowing = self.forward(cx, xpub, m, p);
        }
        while let Some((m, _)) = cx.recv(xpub) {
            let now = cx.now();
            let head = m.frames()[0].clone();
            let Some((&kind, topic)) = head.split_first() else {
                let what = format!("proxy XPUB s{xpub} handed up an empty message");
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
            };
            if kind > 1 || m.len() != 1 {
                let what = format!(
                    "proxy XPUB s{xpub} handed up {:?}, not a subscription change",
                    m.frames()
                );
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
            }
            let subscribe = kind == 1;
            if self.p.active_features().xpub_manual {
                // XPUB_MANUAL hands up every change, and the application decides: here it
                // grants each to the subscriber that sent it (the last one received from).
                let t = bytes::Bytes::copy_from_slice(topic);
                let opt = if subscribe {
                    SocketOption::Subscribe(t)
                } else {
                    SocketOption::Unsubscribe(t)
                };
                cx.set_option(xpub, opt);
                cx.oracle().coverage.manual_grants += 1;
                continue;
            }
            cx.oracle().xpub_handed_up(now, xpub, subscribe, topic);
            cx.log(format_args!(
                "proxy s{xsub} {} {:?} upstream",
                if subscribe { "subscribes" } else { "cancels" },
                String::from_utf8_lossy(topic)
            ));
            cx.oracle().proxy_subscription(now, xsub, subscribe, topic);
            let widen = subscribe
                && !self.widened
                && cx.mutation() == crate::world::Mutation::ProxyWidensSubscriptions;
            if !subscribe && cx.mutation() == crate::world::Mutation::ProxyDropsCancels {
                cx.log(format_args!("proxy s{xsub} MUTATION: cancel not relayed"));
                continue;
            }
            let up = if widen {
                self.widened = true;
                cx.log(format_args!(
                    "proxy s{xsub} MUTATION: subscribes to everything"
                ));
                oxmq_core::Message::from(vec![1u8])
            } else {
                m
            };
            // A proxy whose XSUB is closed (at shutdown, the two close one after the other)
            // has nowhere to relay to: it stops, as libzmq's proxy ends.
            if !cx.is_open(xsub) {
                return;
            }
            if let Err(e) = cx.send(xsub, up) {
                if e == oxmq_core::socket::SendErrorKind::Terminated {
                    return;
                }
                let what = format!("proxy XSUB s{xsub} refused a subscription change: {e:?}");
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
            }
        }
    }

    fn crashed(&mut self) {
        self.xsub = None;
        self.xpub = None;
        self.held = None;
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        if phase == Phase::Shutdown {
            for s in [self.xsub, self.xpub].into_iter().flatten() {
                cx.close(s);
            }
        }
    }
}
