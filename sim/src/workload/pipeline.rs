//! PUSH/PULL pipeline (RFC 30): a ventilator PUSHes tasks to workers, which PUSH results to
//! a sink. Tasks reach exactly one worker, in order per pipe; results carry their task.

use std::collections::VecDeque;

use oxmq_core::{Instant, SocketOption, SocketType};

use super::{
    add_apps, bind_ports, churn, deadline, ep, frames, open, peer_ep, probing, rebind, reconnect,
    sending, try_refused_send, LingerBurst,
};
use crate::msg::Payload;
use crate::oracle::Scope;
use crate::profile::Profile;
use crate::rng::chance;
use crate::world::{App, Cx, Phase, Sim};

const VENT: usize = 0;
const SINK: usize = 1;
const TASKS: u16 = 5557;
const RESULTS: u16 = 5558;
/// Tasks a flooding ventilator keeps ready to send each tick.
const FLOOD_BATCH: usize = 64;

pub(super) fn build(sim: &mut Sim, p: &Profile) {
    // With inproc, the first worker runs beside the ventilator and takes tasks over inproc.
    let mut vent: Vec<Box<dyn App>> = vec![Box::new(Ventilator::new(p))];
    let mut workers = p.peers;
    if p.features.inproc {
        vent.push(Box::new(Worker::new(p)));
        workers -= 1;
    }
    add_apps(sim, vent);
    sim.add_host(
        Box::new(Sink {
            p: p.clone(),
            sock: None,
        }),
        Instant::ZERO,
    );
    for _ in 0..workers {
        sim.add_host(Box::new(Worker::new(p)), Instant::ZERO);
    }
}

/// Sends queued messages until the socket would block.
fn flush(cx: &mut Cx<'_>, sock: u64, outbox: &mut VecDeque<Payload>) {
    while let Some(m) = outbox.front() {
        if cx.send(sock, m.encode()).is_err() {
            return;
        }
        outbox.pop_front();
    }
}

struct Ventilator {
    p: Profile,
    sock: Option<u64>,
    seq: u64,
    outbox: VecDeque<Payload>,
    /// The linger phase's fresh PUSH to the sink.
    burst: Option<LingerBurst>,
}

impl Ventilator {
    fn new(p: &Profile) -> Self {
        Ventilator {
            p: p.clone(),
            sock: None,
            seq: 0,
            outbox: VecDeque::new(),
            burst: None,
        }
    }
}

impl App for Ventilator {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let s = open(cx, &self.p, SocketType::Push, &[]);
        bind_ports(cx, s, TASKS);
        self.sock = Some(s);
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(b) = self.burst.as_mut() {
            b.tick(cx, &self.p);
        }
        if let Some(s) = self.sock.filter(|_| churn(cx, &self.p)) {
            let e = ep(cx, VENT, TASKS);
            rebind(cx, s, &e);
        }
        let Some(s) = self.sock.filter(|s| cx.is_open(*s)) else {
            return;
        };
        if sending(cx) && self.outbox.len() < 8 {
            let n = frames(cx, &self.p);
            let mut task = Payload::new(s, self.seq, n, probing(cx));
            task.pad = self.p.pad;
            self.seq += 1;
            // With a conflating sink, only each worker's newest result must arrive.
            if task.probe && !self.p.conflating() {
                let d = deadline(cx, &self.p, 3);
                cx.oracle()
                    .expect(format!("task {s}:{} reaches the sink", task.seq), d);
            }
            self.outbox.push_back(task);
        }
        // Flooding: tasks as fast as the socket takes them, so its pipes reach their HWMs.
        if self.p.active_features().flood && cx.phase() == Phase::Faults {
            while self.outbox.len() < FLOOD_BATCH {
                let n = frames(cx, &self.p);
                self.outbox.push_back(Payload::new(s, self.seq, n, false));
                self.seq += 1;
            }
        }
        flush(cx, s, &mut self.outbox);
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, _cx: &mut Cx<'_>) {}

    fn crashed(&mut self) {
        self.sock = None;
        self.outbox.clear();
        self.burst = None;
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        match phase {
            Phase::Linger => {
                let e = ep(cx, SINK, RESULTS);
                self.burst = Some(LingerBurst::start(cx, &self.p, SocketType::Push, &[e], 6));
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

struct Worker {
    p: Profile,
    pull: Option<u64>,
    push: Option<u64>,
    seq: u64,
    outbox: VecDeque<Payload>,
}

impl Worker {
    fn new(p: &Profile) -> Self {
        Worker {
            p: p.clone(),
            pull: None,
            push: None,
            seq: 0,
            outbox: VecDeque::new(),
        }
    }
}

impl App for Worker {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let pull = open(cx, &self.p, SocketType::Pull, &[]);
        let e = peer_ep(cx, VENT, TASKS);
        cx.connect(pull, &e);
        if cx.inproc() && chance(cx.rng(), 0.5) {
            // A connect made before anything binds its name, as libzmq allows over inproc:
            // it waits with its queue for a ventilator that never comes (tasks still arrive
            // over the other connect).
            cx.connect(pull, &format!("inproc://{TASKS}-next"));
        }
        let push = open(cx, &self.p, SocketType::Push, &[]);
        let e = ep(cx, SINK, RESULTS);
        cx.connect(push, &e);
        self.pull = Some(pull);
        self.push = Some(push);
        self.seq = 0;
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(pull) = self.pull.filter(|_| churn(cx, &self.p)) {
            let e = peer_ep(cx, VENT, TASKS);
            reconnect(cx, pull, &e);
        }
        if let Some(push) = self.push.filter(|_| churn(cx, &self.p)) {
            let e = ep(cx, SINK, RESULTS);
            reconnect(cx, push, &e);
        }
        if let Some(push) = self.push.filter(|s| cx.is_open(*s)) {
            flush(cx, push, &mut self.outbox);
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        let (Some(pull), Some(push)) = (self.pull, self.push) else {
            return;
        };
        // Back-pressure: stop taking tasks while results cannot leave. While they leave,
        // keep taking (a flood leaves thousands waiting, and no new wake-up comes for a
        // pipe that was never emptied).
        loop {
            let took = self.take_tasks(cx, pull, push);
            if !cx.is_open(push) {
                return;
            }
            flush(cx, push, &mut self.outbox);
            if !took || self.outbox.len() >= 4 {
                return;
            }
        }
    }

    fn crashed(&mut self) {
        self.pull = None;
        self.push = None;
        self.outbox.clear();
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        if phase == Phase::Shutdown {
            for s in [self.pull, self.push].into_iter().flatten() {
                cx.close(s);
            }
        }
    }
}

impl Worker {
    /// Takes tasks until four results wait to leave; whether it took any.
    fn take_tasks(&mut self, cx: &mut Cx<'_>, pull: u64, push: u64) -> bool {
        let mut took = false;
        while self.outbox.len() < 4 {
            let Some((m, pipe)) = cx.recv(pull) else {
                break;
            };
            took = true;
            let now = cx.now();
            let Some(task) = cx.oracle().decode(now, "worker", m.frames()) else {
                return false;
            };
            cx.oracle().received(now, pull, pipe, &task, Scope::One);
            try_refused_send(cx, pull, task.seq);
            let mut result = Payload::new(push, self.seq, task.frames, task.probe);
            result.pad = self.p.pad;
            self.seq += 1;
            result.extra = format!("{}:{}", task.sender, task.seq);
            if result.probe && self.p.conflating() {
                let d = deadline(cx, &self.p, 2);
                cx.oracle()
                    .expect_newest("the sink", push, result.seq, d, true);
            }
            self.outbox.push_back(result);
        }
        took
    }
}

struct Sink {
    p: Profile,
    sock: Option<u64>,
}

impl App for Sink {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let conflate = [SocketOption::Conflate(true)];
        let extra: &[SocketOption] = if self.p.conflating() { &conflate } else { &[] };
        let s = open(cx, &self.p, SocketType::Pull, extra);
        bind_ports(cx, s, RESULTS);
        self.sock = Some(s);
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(s) = self.sock.filter(|_| churn(cx, &self.p)) {
            let e = ep(cx, SINK, RESULTS);
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
            let Some(r) = cx.oracle().decode(now, "sink", m.frames()) else {
                return;
            };
            cx.oracle().received(now, s, pipe, &r, Scope::One);
            try_refused_send(cx, s, r.seq);
            if self.p.conflating() {
                cx.oracle().conflated(now, "the sink", r.sender, r.seq);
            }
            if r.probe {
                cx.oracle()
                    .fulfil(&format!("task {} reaches the sink", r.extra), now);
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
