//! PAIR (RFC 31): two peers, one binds, one connects, both send. Order per pipe, nothing
//! twice, every probe arrives.

use oxmq_core::{Message, SendErrorKind, SocketType};

use super::{
    add_apps, churn, deadline, ep, frames, open, peer_ep, probing, rebind, reconnect, sending,
    LingerBurst,
};
use crate::msg::Payload;
use crate::oracle::{FailureKind, Scope};
use crate::profile::Profile;
use crate::world::{App, Cx, Phase, Sim};

const PORT: u16 = 5580;

pub(super) fn build(sim: &mut Sim, p: &Profile) {
    let peers: Vec<Box<dyn App>> = [true, false]
        .into_iter()
        .map(|binds| {
            Box::new(Peer {
                p: p.clone(),
                binds,
                sock: None,
                seq: 0,
                pending: None,
                burst: None,
            }) as Box<dyn App>
        })
        .collect();
    // With inproc, both peers run on one host and pair over inproc, and a third PAIR
    // beside them tries to join the binder once they are paired.
    if p.features.inproc {
        let mut peers = peers;
        peers.push(Box::new(Third {
            p: p.clone(),
            sock: None,
        }));
        add_apps(sim, peers);
    } else {
        for peer in peers {
            add_apps(sim, vec![peer]);
        }
    }
}

struct Peer {
    p: Profile,
    binds: bool,
    sock: Option<u64>,
    seq: u64,
    pending: Option<Payload>,
    /// The connecting peer's fresh PAIR in the linger phase.
    burst: Option<LingerBurst>,
}

impl App for Peer {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let s = open(cx, &self.p, SocketType::Pair, &[]);
        let e = if self.binds {
            ep(cx, 0, PORT)
        } else {
            peer_ep(cx, 0, PORT)
        };
        if self.binds {
            cx.bind(s, &e);
            if cx.inproc() {
                cx.bind(s, &format!("inproc://{PORT}"));
            }
        } else {
            cx.connect(s, &e);
        }
        self.sock = Some(s);
        self.seq = 0;
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if let Some(b) = self.burst.as_mut() {
            b.tick(cx, &self.p);
        }
        // No churn over inproc: libzmq's inproc connect is made once, and a PAIR that still
        // drains its old pipe refuses the new one for good (no redial, as in libzmq).
        let churns = !cx.inproc() && churn(cx, &self.p);
        if let Some(s) = self.sock.filter(|_| churns) {
            let e = if self.binds {
                ep(cx, 0, PORT)
            } else {
                peer_ep(cx, 0, PORT)
            };
            if self.binds {
                rebind(cx, s, &e);
            } else {
                reconnect(cx, s, &e);
            }
        }
        let Some(s) = self.sock else {
            // The connecting PAIR gave its socket up for the linger burst, which may still
            // have a late peer to serve.
            if self.burst.as_ref().is_some_and(LingerBurst::wants_ticks) {
                cx.wake_in(self.p.interval);
            }
            return;
        };
        if self.pending.is_none() && sending(cx) {
            let n = frames(cx, &self.p);
            let mut m = Payload::new(s, self.seq, n, probing(cx));
            m.pad = self.p.pad;
            self.seq += 1;
            if m.probe {
                let d = deadline(cx, &self.p, 2);
                cx.oracle().expect(format!("pair {s}:{} arrives", m.seq), d);
            }
            self.pending = Some(m);
        }
        if let Some(m) = self.pending.take() {
            if cx.send(s, m.encode()).is_err() {
                self.pending = Some(m);
            }
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        let Some(s) = self.sock else {
            return;
        };
        while let Some((m, pipe)) = cx.recv(s) {
            let now = cx.now();
            let Some(p) = cx.oracle().decode(now, "pair", m.frames()) else {
                return;
            };
            cx.oracle().received(now, s, pipe, &p, Scope::Each);
            if p.probe {
                cx.oracle()
                    .fulfil(&format!("pair {}:{} arrives", p.sender, p.seq), now);
            }
        }
    }

    fn crashed(&mut self) {
        self.sock = None;
        self.pending = None;
        self.burst = None;
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        match phase {
            // The connecting peer hands its place to a fresh PAIR that queues a burst and
            // closes; the binding peer stays to receive it.
            Phase::Linger if !self.binds => {
                if let Some(s) = self.sock.take() {
                    cx.close(s);
                }
                self.pending = None;
                let e = peer_ep(cx, 0, PORT);
                self.burst = Some(LingerBurst::start(cx, &self.p, SocketType::Pair, &[e], 6));
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

/// A third PAIR on the peers' host that connects to the binder over inproc once the two are
/// paired (the probe phase: they are joined by then, and no fault comes). The binder's
/// PAIR already has its peer, so it refuses the newcomer and ends the connection, as
/// libzmq's `pair_t` terminates a second pipe. The third then has no pipe at all, and a
/// send must fail with EAGAIN. A binder that kept the connection would leave the third
/// with a pipe to write into, and its messages would wait there for no one.
struct Third {
    p: Profile,
    sock: Option<u64>,
}

impl App for Third {
    fn start(&mut self, _cx: &mut Cx<'_>) {}

    fn tick(&mut self, _cx: &mut Cx<'_>) {}

    fn readable(&mut self, _cx: &mut Cx<'_>) {}

    fn crashed(&mut self) {
        self.sock = None;
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        match phase {
            Phase::Probe => {
                let s = open(cx, &self.p, SocketType::Pair, &[]);
                let e = peer_ep(cx, 0, PORT);
                cx.connect(s, &e);
                self.sock = Some(s);
            }
            Phase::Quiet => {
                let Some(s) = self.sock.filter(|s| cx.is_open(*s)) else {
                    return;
                };
                let r = cx.send_refused(s, Message::from("third"));
                cx.oracle().coverage.thirds_refused += 1;
                if r != Err(SendErrorKind::WouldBlock) {
                    let now = cx.now();
                    let what = format!(
                        "a third PAIR (s{s}) joined a paired PAIR over inproc: its send gave \
                         {r:?}, not EAGAIN"
                    );
                    cx.oracle().fail(FailureKind::Safety, now, what);
                }
            }
            Phase::Shutdown => {
                if let Some(s) = self.sock {
                    cx.close(s);
                }
            }
            _ => {}
        }
    }
}
