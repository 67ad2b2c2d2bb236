//! The calls a driver or the application makes on a socket, as `arbitrary` reads them from the
//! fuzzer's bytes.
//!
//! Arguments come from small ranges on purpose: four pipe slots, three routing ids, frames of
//! at most three bytes over a four-letter alphabet, HWMs below five. Collisions (a reused
//! slot, two peers claiming one routing id, a topic that prefixes another, a queue at its HWM)
//! are where the bugs are, and a fuzzer reaches them far more often in a small space.

use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;
use oxmq_core::{SocketOption, SocketType};

/// Pipe slots the ops address; a terminated or detached pipe frees its slot for a new pipe.
pub(super) const SLOTS: usize = 4;

/// One call a driver or the application makes.
#[derive(Arbitrary, Debug)]
pub(super) enum SocketOp {
    /// A new pipe in an empty slot: attached at once, or pending until `PeerReady`.
    Attach {
        #[arbitrary(with = slot)]
        slot: usize,
        pending: bool,
        /// The routing id the peer announces: none (0) or [`fuzz_routing_id`] 1–3.
        #[arbitrary(with = routing_id_number)]
        identity: u8,
        /// Whether the driver takes the socket's CONNECT_ROUTING_ID for this pipe.
        connect_id: bool,
        peer: PeerPick,
    },
    /// A handshake on a pending pipe completed (again).
    PeerReady {
        #[arbitrary(with = slot)]
        slot: usize,
        #[arbitrary(with = routing_id_number)]
        identity: u8,
        peer: PeerPick,
    },
    /// The driver drops a pipe's connection and all the pipe holds.
    Detach(#[arbitrary(with = slot)] usize),
    /// The session ends: the pipe closes once the application has read what it holds.
    Terminate(#[arbitrary(with = slot)] usize),
    /// A message from the peer; `echo` puts the envelope of the last message sent on that pipe
    /// in front, as a replying peer would.
    Inbound {
        #[arbitrary(with = slot)]
        slot: usize,
        echo: bool,
        #[arbitrary(with = small_frames)]
        frames: Vec<Bytes>,
    },
    /// A subscription or a cancel from the peer.
    Subscription {
        #[arbitrary(with = slot)]
        slot: usize,
        subscribe: bool,
        #[arbitrary(with = small_frame)]
        topic: Bytes,
    },
    /// Up to `max` items the session transmits.
    Drain {
        #[arbitrary(with = slot)]
        slot: usize,
        #[arbitrary(with = drain_max)]
        max: usize,
    },
    /// `to` picks a routing id to put in front (ROUTER, STREAM): 0 none, 1–3 a
    /// [`fuzz_routing_id`], 4–7 the id seen on a slot's pipe, or else a generated one; `bare`
    /// sends the routing id alone (ROUTER) or with an empty body (STREAM's close), untagged.
    Send {
        #[arbitrary(with = address)]
        to: u8,
        bare: bool,
        #[arbitrary(with = small_frames)]
        frames: Vec<Bytes>,
    },
    Recv,
    /// `can_send` and `can_recv`, as a poller asks them.
    Poll,
    SetOption(#[arbitrary(with = socket_option)] SocketOption),
}

/// The peer's socket type for a handshake: with `any` whatever `index` names, else one of the
/// types our socket accepts (see [`PeerPick::resolve`]).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub(super) struct PeerPick {
    any: bool,
    index: u8,
}

impl PeerPick {
    /// The peer type for a socket of type `kind`.
    pub(super) fn resolve(self, kind: SocketType) -> SocketType {
        let ok: Vec<SocketType> = SocketType::ALL
            .into_iter()
            .filter(|t| kind.is_compatible_with(*t))
            .collect();
        let index = usize::from(self.index);
        if self.any || ok.is_empty() {
            SocketType::ALL[index % SocketType::ALL.len()]
        } else {
            ok[index % ok.len()]
        }
    }
}

fn slot(u: &mut Unstructured) -> Result<usize> {
    u.choose_index(SLOTS)
}

fn routing_id_number(u: &mut Unstructured) -> Result<u8> {
    u.int_in_range(0..=3)
}

fn address(u: &mut Unstructured) -> Result<u8> {
    u.int_in_range(0..=7)
}

/// Everything, or 1–8 items.
fn drain_max(u: &mut Unstructured) -> Result<usize> {
    if u.arbitrary()? {
        Ok(usize::MAX)
    } else {
        u.int_in_range(1..=8)
    }
}

/// 0–3 frames of [`small_frame`].
fn small_frames(u: &mut Unstructured) -> Result<Vec<Bytes>> {
    let n = u.int_in_range(0..=3)?;
    (0..n).map(|_| small_frame(u)).collect()
}

/// A frame of 0–3 bytes, each 0–3, from one byte: short frames over a tiny alphabet make
/// empty delimiters, shared topic prefixes and `\x00`/`\x01` subscription frames common.
fn small_frame(u: &mut Unstructured) -> Result<Bytes> {
    Ok(small_frame_of(u.arbitrary()?))
}

fn small_frame_of(b: u8) -> Bytes {
    let len = usize::from(b & 3);
    (0..len)
        .map(|j| (b >> (2 + 2 * j)) & 3)
        .collect::<Vec<u8>>()
        .into()
}

/// Routing id number `k` (1–3), shared by peers' identities and CONNECT_ROUTING_ID so they clash.
pub(super) fn fuzz_routing_id(k: u8) -> Bytes {
    Bytes::from(vec![b'r', b'0' + k])
}

/// One of the options the socket patterns read, with a value from a small range.
fn socket_option(u: &mut Unstructured) -> Result<SocketOption> {
    use SocketOption::*;
    let option = u.choose_index(19)?;
    let v: u8 = u.arbitrary()?;
    let on = v & 1 != 0;
    Ok(match option {
        0 => SndHwm(usize::from(v % 5)),
        1 => RcvHwm(usize::from(v % 5)),
        2 => RouterMandatory(on),
        3 => RouterHandover(on),
        4 => ReqRelaxed(on),
        5 => ReqCorrelate(on),
        6 => XpubVerbose(on),
        7 => XpubVerboser(on),
        8 => XpubManual(on),
        9 => XpubNodrop(on),
        10 => XpubWelcomeMsg(on.then(|| Bytes::from(vec![b'W', (v >> 1) & 3]))),
        11 => Conflate(on),
        12 => InvertMatching(on),
        13 => Subscribe(small_frame_of(v)),
        14 => Unsubscribe(small_frame_of(v)),
        15 => ProbeRouter(on),
        16 => ConnectRoutingId(fuzz_routing_id(1 + v % 3)),
        17 => StreamNotify(on),
        _ => RoutingId(fuzz_routing_id(1 + v % 3)),
    })
}
