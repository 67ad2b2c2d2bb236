//! Peers that break the protocol: a socket whose greeting the network garbles, a socket of a
//! type its peer does not accept, a socket that sends a frame over its peer's MAXMSGSIZE.
//! ZeroMQ promises that such a peer costs its victim that one connection and nothing else:
//! the victim closes it as soon as it has read the offence, with the monitor event libzmq
//! raises, and its other peers go on (the workload's probes check that). The offender's own
//! connect, once its handshake failed for a protocol reason (the victim's ERROR, a socket
//! type it does not accept), is not redialled: libzmq's `session_base_t::engine_error` ends
//! the session on a protocol error.

use std::time::Duration;

use bytes::Bytes;
use oxmq_core::base::ConnId;
use oxmq_core::monitor::MonitorEventKind;

use super::{Mutation, Sim};
use crate::oracle::FailureKind;

/// How an intruder breaks the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offence {
    /// Its greeting names a security mechanism nobody has ("BOGUS"): the network rewrites
    /// the mechanism field of every connection's greeting.
    BadGreeting,
    /// A socket type the victim does not pair with (a PUB connecting to a PULL, say).
    WrongType,
    /// A message with a frame one byte over the victim's MAXMSGSIZE.
    Oversized,
}

impl Offence {
    /// The monitor event the victim must raise when it drops the offender.
    fn victim_event(self) -> MonitorEventKind {
        match self {
            Offence::BadGreeting | Offence::WrongType => MonitorEventKind::HandshakeFailedProtocol,
            Offence::Oversized => MonitorEventKind::Disconnected,
        }
    }

    /// Bytes the offender has written once the offence is on the wire: the whole greeting
    /// (the mechanism is checked once it is all in), the READY after it, or the frame.
    fn trigger(self, max_msg: u64) -> u64 {
        match self {
            Offence::BadGreeting => 64,
            Offence::WrongType => 64 + 1,
            Offence::Oversized => max_msg,
        }
    }
}

/// One intruding socket.
#[derive(Debug)]
pub(super) struct Intruder {
    offence: Offence,
    /// Its dials so far.
    dials: u64,
    /// Its dials when its own handshake failed for a protocol reason.
    fatal_at: Option<u64>,
}

/// What the victim of one intruder connection has read, and its monitor count of the
/// expected event before the first read.
#[derive(Debug, Default)]
pub(super) struct Victim {
    read: u64,
    events_before: u64,
}

/// The victim's obligation to drop an intruder's connection.
fn drop_obligation(victim: usize, intruder: usize, st: u64) -> String {
    format!("s{victim} drops intruder s{intruder}'s connection (stream {st})")
}

/// Where the mechanism name sits in a ZMTP 3 greeting.
const MECHANISM: std::ops::Range<u64> = 12..32;

impl Sim {
    /// Socket `s` is an intruder committing `offence`.
    pub(super) fn intrude(&mut self, s: usize, offence: Offence) {
        self.log(format_args!("s{s} intrudes: {offence:?}"));
        self.intruders.insert(
            s,
            Intruder {
                offence,
                dials: 0,
                fatal_at: None,
            },
        );
    }

    /// An intruder dials: once its handshake failed for a protocol reason it may not.
    pub(super) fn intruder_dials(&mut self, s: usize) {
        let now = self.now;
        let Some(i) = self.intruders.get_mut(&s) else {
            return;
        };
        i.dials += 1;
        if let Some(at) = i.fatal_at {
            let what = format!(
                "s{s} dialled again (dial {}) after its handshake failed for a protocol reason \
                 at dial {at}: libzmq ends such a session (session_base_t::engine_error)",
                i.dials
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// Counts socket `s`'s monitor event; an intruder notes a fatal handshake failure.
    pub(super) fn monitor_seen(&mut self, s: usize, kind: MonitorEventKind) {
        if kind == MonitorEventKind::HandshakeFailedProtocol
            && self.mutation == Mutation::LoseProtocolFailureEvents
        {
            self.log(format_args!("s{s} MUTATION: {kind:?} lost"));
            return;
        }
        self.stopped_monitor_then(s, kind);
        *self.monitor_counts.entry((s, kind)).or_default() += 1;
        if matches!(
            kind,
            MonitorEventKind::HandshakeFailedProtocol | MonitorEventKind::HandshakeFailedAuth
        ) {
            if let Some(i) = self.intruders.get_mut(&s) {
                i.fatal_at.get_or_insert(i.dials);
            }
        }
    }

    /// Bytes intruder `s` writes on `conn`: a garbled greeting's mechanism is rewritten.
    pub(super) fn intruder_writes(&mut self, s: usize, conn: ConnId, b: Bytes) -> Bytes {
        let Some(i) = self.intruders.get(&s) else {
            return b;
        };
        let offence = i.offence;
        let at = self.intruder_tx.entry((s, conn)).or_default();
        let start = *at;
        *at += b.len() as u64;
        if offence != Offence::BadGreeting || start >= MECHANISM.end {
            return b;
        }
        let mut v = b.to_vec();
        for (k, byte) in v.iter_mut().enumerate() {
            let off = start + k as u64;
            if MECHANISM.contains(&off) {
                let name = b"BOGUS";
                let j = (off - MECHANISM.start) as usize;
                *byte = name.get(j).copied().unwrap_or(0);
            }
        }
        Bytes::from(v)
    }

    /// Whether the other end of socket `s`'s connection `conn` is an intruder.
    pub(super) fn intruder_peer(&self, s: usize, conn: ConnId) -> bool {
        let Some(&(st, side)) = self.ends.get(&(s, conn)) else {
            return false;
        };
        self.streams
            .get(&st)
            .is_some_and(|x| self.intruders.contains_key(&x.ends[1 - side].sock))
    }

    /// Side `side` of stream `st` closed: if it is an intruder's victim, it dropped it.
    pub(super) fn intruder_dropped(&mut self, st: u64, side: usize) {
        let Some(stream) = self.streams.get(&st) else {
            return;
        };
        let (victim, other) = (stream.ends[side].sock, stream.ends[1 - side].sock);
        if !self.intruders.contains_key(&other) {
            return;
        }
        let now = self.now;
        let what = drop_obligation(victim, other, st);
        self.oracle.fulfil(&what, now);
    }

    /// Socket `s` read `len` bytes on `conn` (stream `st`) and settled: if they came from
    /// an intruder and complete its offence, `s` must have dropped the connection, with its
    /// monitor event.
    pub(super) fn check_intruded(&mut self, st: u64, s: usize, conn: ConnId, len: usize) {
        let Some(stream) = self.streams.get(&st) else {
            return;
        };
        let Some(side) = stream
            .ends
            .iter()
            .position(|e| e.sock == s && e.conn == conn)
        else {
            return;
        };
        let other = &stream.ends[1 - side];
        let (intruder, iconn) = (other.sock, other.conn);
        let Some(offence) = self.intruders.get(&intruder).map(|i| i.offence) else {
            return;
        };
        let still_open = stream.ends[side].open;
        let kind = offence.victim_event();
        let count = self.monitor_counts.get(&(s, kind)).copied().unwrap_or(0);
        let v = self.victims.entry(st).or_default();
        if v.read == 0 {
            // The event, if any, came from this very read: count from before it.
            v.events_before = count.saturating_sub(u64::from(!still_open));
        }
        v.read += len as u64;
        let read = v.read;
        let before = v.events_before;
        let written = self
            .intruder_tx
            .get(&(intruder, iconn))
            .copied()
            .unwrap_or(0);
        let limit = self.max_msg_size.unwrap_or(u64::MAX);
        let closing = self.socks[s].close.is_some();
        if closing || written < offence.trigger(limit) {
            return;
        }
        let now = self.now;
        if still_open && read >= written {
            // The offence is all in: the victim drops the connection as soon as it has
            // handled it (at once, or once the simulator's READY delay is over).
            let bound = self.ready_delay + Duration::from_millis(50);
            let what = drop_obligation(s, intruder, st);
            self.oracle.expect(what, now + bound);
        } else if !still_open && count <= before {
            let what = format!(
                "s{s} dropped intruder s{intruder}'s connection c{} ({offence:?}) without a \
                 {kind:?} monitor event",
                conn.0
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        } else if !still_open {
            self.oracle.coverage.intruders_dropped += 1;
        }
    }
}
