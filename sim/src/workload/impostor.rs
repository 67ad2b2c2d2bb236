//! Impostors (`--security`): peers that come and go during the faults (and again while the
//! probes are out) with credentials the
//! server must refuse — a wrong password, an unknown or deny-listed user, the user the ZAP
//! handler fails on, an unknown or deny-listed CURVE key, the wrong server key. Each aims at
//! one of the workload's bound sockets as a peer of a type it would pair with, sends
//! messages marked [`IMPOSTOR_MARK`] if it can send, and subscribes to everything if it is
//! a SUB. The world checks that none of it gets through either way, with the right monitor
//! events; the workload's probes check that the victim's other peers went on.
//!
//! In PLAIN runs, now and then a decoy takes an impostor's turn instead: a PLAIN server
//! without a ZAP handler, and a client with good credentials that sends to it. libzmq's
//! PLAIN server refuses everyone when nobody answers ZAP; the decoy must receive nothing.

use std::time::Duration;

use bytes::Bytes;
use oxmq_core::tree::Linger;
use oxmq_core::{Instant, Message, SocketOption, SocketType};
use rand::Rng;

use super::ep;
use super::intruder::{peer_types, targets};
use crate::profile::Profile;
use crate::rng::chance;
use crate::security::Mode;
use crate::world::{App, Cx, Phase, Sim, IMPOSTOR_MARK};

/// Adds the impostors' host.
pub(super) fn build(sim: &mut Sim, p: &Profile) {
    sim.add_host(
        Box::new(Impostors {
            p: p.clone(),
            current: None,
            decoys: 0,
        }),
        Instant::ZERO,
    );
}

struct Current {
    sock: u64,
    kind: SocketType,
    sent: u64,
    until: Instant,
    /// A decoy's server.
    server: Option<u64>,
}

struct Impostors {
    p: Profile,
    current: Option<Current>,
    decoys: u16,
}

impl Impostors {
    fn leave(&mut self, cx: &mut Cx<'_>) {
        if let Some(c) = self.current.take() {
            cx.close(c.sock);
            if let Some(s) = c.server {
                cx.close(s);
            }
        }
    }

    /// A PLAIN server without a ZAP handler on this host, and a good client sending to it.
    fn decoy(&mut self, cx: &mut Cx<'_>) {
        let mut config = self.p.sock.base.clone();
        config.linger = Linger::For(Duration::ZERO);
        let server = cx.open(SocketType::Pull, config.clone(), &[]);
        cx.decoy_server(server);
        self.decoys = self.decoys.wrapping_add(1);
        let e = ep(cx, cx.host(), 5600 + self.decoys % 1000);
        cx.bind(server, &e);
        let client = cx.open(SocketType::Push, config, &[]);
        cx.connect(client, &e);
        let stay = Duration::from_millis(cx.rng().random_range(50..400));
        self.current = Some(Current {
            sock: client,
            kind: SocketType::Push,
            sent: 0,
            until: cx.now() + stay,
            server: Some(server),
        });
        self.send(cx);
    }

    fn arrive(&mut self, cx: &mut Cx<'_>) {
        if cx.security().mode == Mode::Plain && chance(cx.rng(), 0.3) {
            self.decoy(cx);
            return;
        }
        let kinds = cx.security().impostor_kinds();
        if kinds.is_empty() {
            return;
        }
        let which = kinds[cx.rng().random_range(0..kinds.len())];
        let ts = targets(&self.p);
        let t = ts[cx.rng().random_range(0..ts.len())];
        let (kind, _) = peer_types(t.kind);
        let mut config = self.p.sock.base.clone();
        config.linger = Linger::For(Duration::ZERO);
        let opts: Vec<SocketOption> = if kind == SocketType::Sub {
            vec![SocketOption::Subscribe(Bytes::new())]
        } else {
            Vec::new()
        };
        let s = cx.open(kind, config, &opts);
        cx.impostor(s, which);
        cx.oracle().coverage.impostors += 1;
        cx.connect(s, &ep(cx, t.host, t.port));
        let stay = Duration::from_millis(cx.rng().random_range(50..400));
        self.current = Some(Current {
            sock: s,
            kind,
            sent: 0,
            until: cx.now() + stay,
            server: None,
        });
        self.send(cx);
    }

    /// Queues a marked message or two (a REQ, one).
    fn send(&mut self, cx: &mut Cx<'_>) {
        let Some(c) = self.current.as_mut() else {
            return;
        };
        let sends = matches!(
            c.kind,
            SocketType::Push | SocketType::Req | SocketType::Dealer | SocketType::Pair
        );
        let most = if c.kind == SocketType::Req { 1 } else { 4 };
        if !sends || c.sent >= most {
            return;
        }
        let mut head = IMPOSTOR_MARK.to_vec();
        head.extend_from_slice(format!("|{}|{}", c.sock, c.sent).as_bytes());
        let (s, n) = (c.sock, c.sent);
        if cx
            .send(s, Message::from_frames(vec![Bytes::from(head)]))
            .is_ok()
        {
            if let Some(c) = self.current.as_mut() {
                c.sent = n + 1;
            }
        }
    }
}

impl App for Impostors {
    fn start(&mut self, cx: &mut Cx<'_>) {
        self.current = None;
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        // Impostors come during the faults and again while the probes are out (so a refused
        // peer is shown to cost nothing within the liveness bounds); they stay away while
        // connections re-form, and after.
        match cx.phase() {
            Phase::Faults | Phase::Probe => {}
            Phase::Settle => {
                cx.wake_in(self.p.interval);
                return;
            }
            _ => {
                self.leave(cx);
                return;
            }
        }
        let now = cx.now();
        match self.current.as_ref().map(|c| c.until) {
            Some(until) if now >= until => self.leave(cx),
            Some(_) => self.send(cx),
            None if chance(cx.rng(), 0.05) => self.arrive(cx),
            None => {}
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        // The world fails the run if anything comes.
        if let Some(c) = self.current.as_ref() {
            let (s, server) = (c.sock, c.server);
            while cx.recv(s).is_some() {}
            if let Some(server) = server {
                while cx.recv(server).is_some() {}
            }
        }
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        if phase != Phase::Probe {
            self.leave(cx);
        }
    }

    fn crashed(&mut self) {
        self.current = None;
    }
}
