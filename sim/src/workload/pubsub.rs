//! PUB/SUB (RFC 29): a publisher on a few topics, subscribers with prefix subscriptions (one
//! joins late, some unsubscribe). A subscriber never sees a topic it is not subscribed to;
//! after healing, every subscriber gets every probe on a topic it wants.

use oxmq_core::{Instant, SocketOption, SocketType};
use rand::Rng;

use super::{
    add_apps, bind_ports, churn, deadline, ep, frames, open, peer_ep, probing, rebind, reconnect,
    sending,
};
use crate::msg::Payload;
use crate::oracle::{FailureKind, Scope};
use crate::profile::Profile;
use crate::rng::chance;
use crate::world::{App, Cx, Phase, Sim};

const PUB: usize = 0;
const PORT: u16 = 5556;
const TOPICS: [&str; 4] = ["A", "AB", "B", "C"];
const PREFIXES: [&str; 5] = ["A", "AB", "B", "C", ""];

pub(super) fn build(sim: &mut Sim, p: &Profile) {
    // With inproc, the first subscriber runs beside the publisher.
    let mut publisher: Vec<Box<dyn App>> = vec![Box::new(Publisher {
        p: p.clone(),
        sock: None,
        seq: 0,
    })];
    let mut subs = p.peers;
    if p.features.inproc {
        publisher.push(Box::new(Subscriber::new(p)));
        subs -= 1;
    }
    add_apps(sim, publisher);
    for _ in 0..subs {
        sim.add_host(Box::new(Subscriber::new(p)), Instant::ZERO);
    }
    // The late joiner: it boots at a time its own stream draws, during the fault phase.
    let h = sim.host_count();
    let mut r = crate::rng::stream(sim.seed, &format!("late-joiner/{h}"));
    let at = Instant::ZERO + p.fault_phase.mul_f64(r.random_range(0.1..1.0));
    sim.add_host(Box::new(Subscriber::new(p)), at);
}

struct Publisher {
    p: Profile,
    sock: Option<u64>,
    seq: u64,
}

impl App for Publisher {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let s = open(cx, &self.p, SocketType::Pub, &[]);
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
            if m.probe {
                let d = deadline(cx, &self.p, 2);
                let subs: Vec<u64> = cx
                    .oracle()
                    .subscribers
                    .iter()
                    .filter(|(_, pre)| pre.iter().any(|x| topic.starts_with(x.as_str())))
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
            // PUB never blocks: at a subscriber's HWM the message is dropped for it.
            let _ = cx.send(s, m.encode());
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, _cx: &mut Cx<'_>) {}

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
        let s = open(cx, &self.p, SocketType::Sub, &subs);
        let e = peer_ep(cx, PUB, PORT);
        cx.connect(s, &e);
        self.sock = Some(s);
        cx.oracle().subscribers.insert(s, self.prefixes.clone());
        cx.wake_in(self.p.interval * 10);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(s) = self.sock.filter(|_| churn(cx, &self.p)) {
            let e = peer_ep(cx, PUB, PORT);
            reconnect(cx, s, &e);
        }
        let Some(s) = self.sock else {
            return;
        };
        // Now and then, during the faults, drop one subscription.
        if cx.phase() == Phase::Faults && self.prefixes.len() > 1 && chance(cx.rng(), 0.1) {
            let i = cx.rng().random_range(0..self.prefixes.len());
            let t = self.prefixes.remove(i);
            cx.log(format_args!("s{s} unsubscribe {t:?}"));
            cx.set_option(s, SocketOption::Unsubscribe(t.into()));
            cx.oracle().subscribers.insert(s, self.prefixes.clone());
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
            if !self.prefixes.iter().any(|x| head.starts_with(x.as_bytes())) {
                let what = format!(
                    "s{s} got topic {:?} ({}:{}) but is subscribed to {:?} only",
                    p.topic, p.sender, p.seq, self.prefixes
                );
                cx.oracle().fail(FailureKind::Safety, now, what);
                return;
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
