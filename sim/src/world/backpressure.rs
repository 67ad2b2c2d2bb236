//! Back-pressure and HWMs: live SNDHWM/RCVHWM changes, the HWM bounds on every pipe, and
//! what a socket whose application stopped receiving may read from the network.

use std::time::Duration;

use oxmq_core::base::ConnId;
use oxmq_core::{Instant, SocketOption};
use rand::Rng;

use super::{Ev, Mutation, Sim};
use crate::oracle::FailureKind;
use crate::rng::chance;

/// Bytes one connection of a stalled host took from the network.
#[derive(Debug, Default)]
pub(super) struct StallRead {
    bytes: usize,
    /// The largest segment handed over.
    largest: usize,
    /// The largest RCVHWM the socket had meanwhile.
    rcvhwm: usize,
}

/// Bytes a stalled connection may read besides messages: greetings, handshakes, heartbeats,
/// subscriptions.
const CONTROL_SLACK: usize = 16 * 1024;

impl Sim {
    /// Host `h`'s application stops receiving at `at` for `len` (only during the faults).
    pub fn stall_at(&mut self, h: usize, at: Instant, len: Duration) {
        self.schedule(
            at,
            Ev::Stall {
                host: h,
                until: at + len,
            },
        );
    }

    /// Now and then, host `h`'s application changes SNDHWM or RCVHWM on one of its live
    /// sockets (libzmq applies it to the pipes that exist, `zmq_setsockopt`).
    pub(super) fn change_hwm(&mut self, h: usize) {
        let now = self.now;
        let rng = &mut self.hosts[h].rng;
        if !chance(rng, 0.05) {
            return;
        }
        let pick = rng.random_range(0..self.hwm_choices.len());
        let hwm = self.hwm_choices[pick];
        let send_side = rng.random_bool(0.5);
        let live: Vec<usize> = self.hosts[h]
            .socks
            .iter()
            .copied()
            .filter(|&s| self.socks[s].base.is_some() && self.socks[s].close.is_none())
            .collect();
        if live.is_empty() {
            return;
        }
        let s = live[self.hosts[h].rng.random_range(0..live.len())];
        let opt = if send_side {
            SocketOption::SndHwm(hwm)
        } else {
            SocketOption::RcvHwm(hwm)
        };
        self.log(format_args!("s{s} set {opt:?}"));
        self.oracle.coverage.hwm_changes += 1;
        let set = self.hwm_set.entry(s).or_insert((0, 0));
        match opt {
            SocketOption::SndHwm(v) => set.0 = v,
            SocketOption::RcvHwm(v) => set.1 = v,
            _ => {}
        }
        if self.mutation == Mutation::HwmChangeLost {
            self.log(format_args!("s{s} MUTATION: the change is lost"));
            return;
        }
        if let SocketOption::RcvHwm(v) = opt {
            for (_, e) in self
                .stall_reads
                .range_mut((s, ConnId(0))..=(s, ConnId(u64::MAX)))
            {
                e.rcvhwm = e.rcvhwm.max(v);
            }
        }
        if let Some(b) = self.socks[s].base.as_mut() {
            if let Err(e) = b.set_option(opt.clone(), now) {
                panic!("s{s} refused {opt:?}: {e}");
            }
            let got = b.socket().get_option(opt.name());
            self.check_read_back(s as u64, &opt, got);
        }
        self.settle(s);
        self.notify(h);
    }

    /// Back-pressure reaches the network: while its application receives nothing, a socket
    /// takes from a connection only what its queue can hold. Every byte read since the stall
    /// began is a message in the pipe (at most RCVHWM of them enter while nobody reads: a
    /// write needs a credit, and no read returns one), the one message the session holds
    /// back at RCVHWM, a message cut in two, the last segment (read while there was room,
    /// not decoded yet), or control traffic. A conflating socket is exempt: it keeps only
    /// the newest message and so reads on, as libzmq's does.
    pub(super) fn check_stalled_read(&mut self, s: usize, conn: ConnId, len: usize) {
        let h = self.socks[s].host;
        let Some(until) = self.stalled_hosts.get(&h).copied() else {
            return;
        };
        let Some(base) = self.socks[s].base.as_ref() else {
            return;
        };
        let o = base.socket().options();
        let set = self.hwm_set.get(&s).map_or(o.rcvhwm, |h| h.1);
        let allowed = self.hwm_allow.get(&s).map_or(set, |a| a.1);
        if o.conflate || set == 0 || allowed == 0 {
            return;
        }
        let rcvhwm = set.max(allowed);
        self.oracle.coverage.stalled_reads += 1;
        let e = self.stall_reads.entry((s, conn)).or_default();
        e.bytes += len;
        e.largest = e.largest.max(len);
        e.rcvhwm = e.rcvhwm.max(rcvhwm);
        let bound = (e.rcvhwm + 2) * self.max_msg_wire + e.largest + CONTROL_SLACK;
        if e.bytes > bound {
            let what = format!(
                "s{s} ({}) c{} read {} bytes from the network while its application received \
                 nothing (stalled until {:.3}s), over the {bound} bytes that RCVHWM {} allows \
                 ({} per message, largest segment {}): back-pressure does not reach the network",
                self.socks[s].kind,
                conn.0,
                e.bytes,
                until.as_nanos() as f64 / 1e9,
                e.rcvhwm,
                self.max_msg_wire,
                e.largest
            );
            let now = self.now;
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// HWM bounds memory: no pipe queues more messages than its SNDHWM / RCVHWM. What a
    /// receiver holds unread from one sender is then bounded as libzmq bounds it: the
    /// sender's pipe (SNDHWM, checked at the sender), what sits in its engine's batch and in
    /// the network (a window's worth, when the seed has one), and the receiver's pipe (RCVHWM,
    /// checked here) with the one message its session holds back; the network part is
    /// bounded from the receiving side too, by [`Sim::check_stalled_read`]. inproc has no
    /// network: its pipe is held to SNDHWM + RCVHWM as a whole ([`Sim::check_inproc_hwm`]).
    /// After an
    /// HWM was lowered on a live socket, a pipe may still hold what the higher one let in;
    /// it is held to the higher one until every pipe has drained to the new one (a write
    /// needs the queue below the new HWM, so it never climbs above it again).
    pub(super) fn check_hwm(&mut self, s: usize) {
        let Some(base) = self.socks[s].base.as_ref() else {
            return;
        };
        let sock = base.socket();
        let set = (sock.options().sndhwm, sock.options().rcvhwm);
        let (now_snd, now_rcv) = self.hwm_set.get(&s).copied().unwrap_or(set);
        let allow = self
            .hwm_allow
            .get(&s)
            .copied()
            .unwrap_or((now_snd, now_rcv));
        let unlimited_or_max = |a: usize, b: usize| if a == 0 || b == 0 { 0 } else { a.max(b) };
        let (mut snd, mut rcv) = (
            unlimited_or_max(allow.0, now_snd),
            unlimited_or_max(allow.1, now_rcv),
        );
        // A conflating pipe has no HWM (libzmq makes it unlimited): it holds the newest
        // message, and the one its reader has taken out but not finished with.
        let conflate = sock.options().conflate;
        if conflate {
            (snd, rcv) = (2, 2);
        }
        let (mut snd_drained, mut rcv_drained) = (true, true);
        for id in sock.pipe_ids() {
            // (A closing pipe whose session has gone has no session end to count against.)
            let Some(p) = base.pipe(id) else {
                continue;
            };
            let (out, inb) = (p.outbound_len(), p.inbound_len());
            snd_drained &= now_snd == 0 || out <= now_snd;
            rcv_drained &= now_rcv == 0 || inb <= now_rcv;
            if (snd > 0 && out > snd) || (rcv > 0 && inb > rcv) {
                let what = format!(
                    "s{s} pipe {} holds {out} out / {inb} in, over SNDHWM {snd} / RCVHWM {rcv}",
                    id.0
                );
                let now = self.now;
                self.oracle.fail(FailureKind::Safety, now, what);
                return;
            }
        }
        let next = (
            if snd_drained { now_snd } else { snd },
            if rcv_drained { now_rcv } else { rcv },
        );
        self.hwm_allow.insert(s, next);
        self.check_inproc_hwm(s);
    }
}
