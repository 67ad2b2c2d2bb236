//! Protocol-breaking peers ([`Offence`]) that come and go during the faults, each aimed at
//! one of the workload's bound sockets: a garbled greeting, a socket type the victim does not
//! pair with, a frame over the victim's MAXMSGSIZE. The world checks that the victim drops
//! each offender's connection, with its monitor event, and that an offender whose handshake
//! failed for a protocol reason does not redial; the workload's probes check that the
//! victim's other peers went on.

use std::time::Duration;

use bytes::Bytes;
use oxmq_core::tree::Linger;
use oxmq_core::{Instant, Message, SocketType};
use rand::Rng;

use super::ep;
use crate::profile::{Pattern, Profile};
use crate::rng::chance;
use crate::world::{App, Cx, Offence, Phase, Sim};

/// A bound socket of the workload: its host, port and type.
#[derive(Clone, Copy, Debug)]
pub(super) struct Target {
    pub(super) host: usize,
    pub(super) port: u16,
    pub(super) kind: SocketType,
}

/// The workload's bound sockets intruders aim at.
pub(super) fn targets(p: &Profile) -> Vec<Target> {
    use SocketType::*;
    let t = |host, port, kind| Target { host, port, kind };
    match p.pattern {
        Pattern::Pipeline => vec![t(0, 5557, Push), t(1, 5558, Pull)],
        Pattern::PubSub if p.features.proxy => vec![t(0, 5556, Pub), t(1, 5559, XPub)],
        Pattern::PubSub => vec![t(0, 5556, Pub)],
        Pattern::ReqRep => vec![t(0, 5560, Rep)],
        Pattern::DealerRouter => vec![t(0, 5570, Router)],
        Pattern::Pair => vec![t(0, 5580, Pair)],
    }
}

/// A type that `victim` pairs with, and one it refuses.
pub(super) fn peer_types(victim: SocketType) -> (SocketType, SocketType) {
    use SocketType::*;
    match victim {
        Push => (Pull, Pub),
        Pull => (Push, Pub),
        Pub | XPub => (Sub, Pull),
        Rep => (Req, Pub),
        Router => (Dealer, Pull),
        _ => (Pair, Push),
    }
}

/// Adds the intruders' host.
pub(super) fn build(sim: &mut Sim, p: &Profile) {
    sim.add_host(
        Box::new(Intruders {
            p: p.clone(),
            current: None,
        }),
        Instant::ZERO,
    );
}

struct Intruders {
    p: Profile,
    /// The intruding socket, its offence, and when it leaves.
    current: Option<(u64, Offence, Instant)>,
}

impl Intruders {
    fn leave(&mut self, cx: &mut Cx<'_>) {
        if let Some((s, _, _)) = self.current.take() {
            cx.close(s);
        }
    }

    fn arrive(&mut self, cx: &mut Cx<'_>) {
        let ts = targets(&self.p);
        let t = ts[cx.rng().random_range(0..ts.len())];
        let (good, bad) = peer_types(t.kind);
        // Only victims that receive from a peer that sends get oversized frames (a PAIR
        // would pair with the intruder and shut out its real peer).
        let can_oversize = matches!(
            t.kind,
            SocketType::Pull | SocketType::Rep | SocketType::Router
        );
        let offence = match cx.rng().random_range(0..3) {
            0 => Offence::BadGreeting,
            1 if can_oversize => Offence::Oversized,
            _ => Offence::WrongType,
        };
        let kind = if offence == Offence::WrongType {
            bad
        } else {
            good
        };
        let mut config = self.p.sock.base.clone();
        config.linger = Linger::For(Duration::ZERO);
        let s = cx.open(kind, config, &[]);
        cx.intrude(s, offence);
        cx.connect(s, &ep(cx, t.host, t.port));
        if offence == Offence::Oversized {
            let limit = cx.max_msg_size().expect("intruders set MAXMSGSIZE");
            let big = Bytes::from(vec![0x5a; limit as usize + 1]);
            // Queued until connected (or refused at once with IMMEDIATE: then no offence).
            let _ = cx.send(s, Message::from_frames(vec![big]));
        }
        let stay = Duration::from_millis(cx.rng().random_range(50..400));
        self.current = Some((s, offence, cx.now() + stay));
    }
}

impl App for Intruders {
    fn start(&mut self, cx: &mut Cx<'_>) {
        self.current = None;
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        if cx.phase() != Phase::Faults {
            self.leave(cx);
            return;
        }
        let now = cx.now();
        match self.current {
            Some((_, _, until)) if now >= until => self.leave(cx),
            None if chance(cx.rng(), 0.05) => self.arrive(cx),
            _ => {}
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        // Whatever comes is drained and ignored.
        if let Some((s, _, _)) = self.current {
            while cx.recv(s).is_some() {}
        }
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        if phase != Phase::Faults {
            self.leave(cx);
        }
    }

    fn crashed(&mut self) {
        self.current = None;
    }
}
