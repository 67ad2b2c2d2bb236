//! STREAM (libzmq's `ZMQ_STREAM`: raw TCP peers addressed like ROUTER's), beside the seed's
//! pattern on hosts of its own: a STREAM server binds, one or two STREAM clients connect to
//! it, and each connection carries a byte stream each way under the seed's faults.
//!
//! A client opens each connection with a header naming itself and the connection's number,
//! then writes bytes whose values are a function of the connection and their offset; once
//! the header has come, the server writes its own such stream back. The network cuts writes
//! at random, so message boundaries mean nothing and only each connection's byte order is
//! promised (TCP's, which `raw_engine_t` passes through): every chunk a side reads must be
//! the peer's bytes at exactly the offset it has read up to under that routing id. A gap, a
//! repeat, a reordering, or two connections mixed under one id shows as a wrong byte. The
//! notices, ZMQ_ROUTING_ID and the send errors are held to [`crate::oracle::stream`].
//!
//! The server sets STREAM_NOTIFY on, or (drawn, where crashes are loud) off: then it learns
//! of a connection from its first bytes and of its end from a send refused as unreachable,
//! and must never see an empty body.
//!
//! The server now and then closes a connection by sending it an empty body (libzmq's
//! `stream_t::xsend` terminates the pipe, and with it the connection): its client must see
//! the connection end, and redials (a connection lost is one any connect session redials);
//! a fresh connection is a fresh routing id on both sides. Both sides send, now and then,
//! to a routing id they never had and to one that is gone: `stream_t::xsend` fails with
//! EHOSTUNREACH and nothing is written. Once the network has healed, bytes either side
//! writes reach the other within the probe bound, and a client whose connection was closed
//! is announced a new one.
//!
//! Clients connect with ZMQ_IMMEDIATE, so each connection has a pipe (and a routing id) of
//! its own. Without it a connect session keeps its pipe across connections, and libzmq puts
//! a disconnect notice and then a connect notice in that pipe between the two connections'
//! bytes (`raw_engine_t::error`, `plug_internal`), which is what would let a reader tell
//! them apart; the core queues its notices apart from the pipe's bytes and sends none when a
//! kept pipe's connection breaks, so a reader cannot, and that case is not drawn here (see
//! `sim/tests/stream.rs`).

use std::collections::BTreeMap;

use bytes::Bytes;
use oxmq_core::socket::SendErrorKind;
use oxmq_core::{Instant, Message, SocketOption, SocketType};
use rand::Rng;

use super::{deadline, ep, probing, sending};
use crate::oracle::stream::{ConnKey, Dir, Seen, Tracker};
use crate::oracle::FailureKind;
use crate::profile::Profile;
use crate::rng::{chance, stream};
use crate::world::{App, Cx, Phase, Sim};

const PORT: u16 = 5590;
/// A routing id no connection has (the ids STREAM makes up are a zero byte and four more).
const GHOST: &[u8] = b"ghost";
/// What a client's stream begins with.
const MAGIC: &[u8; 8] = b"oxmq-raw";
/// The header: the magic, the client socket, the connection's number.
const HEADER_LEN: u64 = 20;
/// The most bytes one write carries.
const CHUNK_MAX: u64 = 64;

/// Adds the STREAM server's host and its clients' (drawn from the workload's own stream, so
/// the seed's other draws stay as they were).
pub(super) fn build(sim: &mut Sim, p: &Profile) {
    let mut r = stream(sim.seed, "stream");
    let clients = r.random_range(1..=2);
    // Without notices a server learns of a connection only from its first bytes; a client
    // that crashed silently before sending any would leave a session it can never find
    // (no heartbeats on raw TCP), so the server goes without them only where crashes are
    // loud.
    let notify = p.silent_crashes || chance(&mut r, 0.7);
    let server = sim.add_host(
        Box::new(Server {
            p: p.clone(),
            notify,
            sock: None,
            tracker: Tracker::new(0, notify),
            peers: BTreeMap::new(),
            clients: BTreeMap::new(),
            probe_from: None,
        }),
        Instant::ZERO,
    );
    for _ in 0..clients {
        sim.add_host(Box::new(Client::new(p, server)), Instant::ZERO);
    }
}

/// The byte at `offset` of connection `c`'s stream going `dir` (the header first, up).
fn byte_at(c: ConnKey, dir: Dir, offset: u64) -> u8 {
    if dir == Dir::Up && offset < HEADER_LEN {
        return header(c)[offset as usize];
    }
    // splitmix64 over the connection, the direction and the offset.
    let salt = if dir == Dir::Up { 0x55 } else { 0xaa };
    let mut z = c.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (u64::from(c.1) << 40)
        ^ offset.wrapping_mul(0xbf58_476d_1ce4_e5b9)
        ^ salt;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u8
}

fn header(c: ConnKey) -> [u8; HEADER_LEN as usize] {
    let mut h = [0; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(&c.0.to_be_bytes());
    h[16..].copy_from_slice(&c.1.to_be_bytes());
    h
}

/// The connection a header names.
fn parse_header(h: &[u8]) -> Option<ConnKey> {
    if h.len() < HEADER_LEN as usize || &h[..8] != MAGIC {
        return None;
    }
    let c = u64::from_be_bytes(h[8..16].try_into().ok()?);
    let k = u32::from_be_bytes(h[16..20].try_into().ok()?);
    Some((c, k))
}

/// `len` bytes of connection `c`'s stream going `dir`, from `at`.
fn bytes_at(c: ConnKey, dir: Dir, at: u64, len: u64) -> Bytes {
    (at..at + len).map(|i| byte_at(c, dir, i)).collect()
}

/// Checks that `body` is connection `c`'s stream going `dir` at offset `at`; says where not.
fn verify(c: ConnKey, dir: Dir, at: u64, body: &[u8]) -> Result<(), String> {
    match (at..).zip(body).find(|(i, b)| byte_at(c, dir, *i) != **b) {
        None => Ok(()),
        Some((i, b)) => Err(format!(
            "connection s{}#{} {dir}: byte {i} is {b:#04x}, the peer wrote {:#04x} there \
             (read {} bytes from offset {at}): bytes lost, repeated, reordered or mixed with \
             another connection's",
            c.0,
            c.1,
            byte_at(c, dir, i),
            body.len()
        )),
    }
}

/// Sends `[rid, x]` to an id that no pipe has: libzmq's `stream_t::xsend` fails with
/// EHOSTUNREACH at the routing id and writes nothing.
fn send_unroutable(cx: &mut Cx<'_>, s: u64, rid: Bytes, what: &str) {
    let msg = Message::from_frames([rid.clone(), Bytes::from_static(b"x")]);
    let (r, sent) = cx.send_seen(s, msg);
    if r == Err(SendErrorKind::HostUnreachable) && !sent.queued {
        cx.oracle().coverage.stream_unreachable += 1;
        return;
    }
    let now = cx.now();
    let what = format!(
        "STREAM s{s} sent to {what} routing id {rid:?}: {r:?}, written: {} (libzmq: \
         EHOSTUNREACH, nothing written)",
        sent.queued
    );
    cx.oracle().fail(FailureKind::Safety, now, what);
}

/// Reads ZMQ_ROUTING_ID once `rid` was announced on `s`, against what `tracker` knows.
fn check_routing_id(cx: &mut Cx<'_>, s: u64, tracker: &Tracker, rid: &Bytes) {
    let option = cx.routing_id(s).unwrap_or_default();
    if let Err(what) = tracker.check_routing_id(rid, &option) {
        let now = cx.now();
        cx.oracle().fail(FailureKind::Safety, now, what);
    }
}

/// The outcome of a write of bytes to a routing id the application holds live.
enum Wrote {
    Yes,
    /// The pipe is full: try again later.
    Blocked,
    /// The pipe went; its disconnect notice follows (or, without notices, that is the news).
    Gone,
}

/// Sends `body` (or with an empty body, a close) to live `rid`, and judges the result.
fn write(cx: &mut Cx<'_>, s: u64, rid: &Bytes, body: Bytes) -> Wrote {
    let (r, sent) = cx.send_seen(s, Message::from_frames([rid.clone(), body]));
    match r {
        Ok(()) => Wrote::Yes,
        Err(SendErrorKind::WouldBlock) => Wrote::Blocked,
        Err(SendErrorKind::HostUnreachable) if !sent.queued => Wrote::Gone,
        r => {
            let now = cx.now();
            let what = format!(
                "STREAM s{s} sent to live routing id {rid:?}: {r:?} (written: {})",
                sent.queued
            );
            cx.oracle().fail(FailureKind::Safety, now, what);
            Wrote::Blocked
        }
    }
}

/// One connection as the server sees it.
struct Peer {
    /// The client connection, once its header came.
    key: Option<ConnKey>,
    /// What came before the header was whole.
    head: Vec<u8>,
    /// Bytes written to it.
    wrote: u64,
    /// When it was announced (or, without notices, first heard of).
    since: Instant,
    /// The server closed it, or found it gone.
    done: bool,
}

struct Server {
    p: Profile,
    notify: bool,
    sock: Option<u64>,
    tracker: Tracker,
    peers: BTreeMap<Bytes, Peer>,
    /// The routing id each client connection came under.
    clients: BTreeMap<ConnKey, Bytes>,
    /// When the probe phase began.
    probe_from: Option<Instant>,
}

impl Server {
    /// Whether to close a live connection now: rarely, during the faults (its client
    /// redials through them), and once the network has healed, in a middle slice of the
    /// probe window (late enough that each client has heard the server since healing,
    /// early enough that the redial's bounds end within the run).
    fn closes(&self, cx: &mut Cx<'_>, since: Instant) -> bool {
        let now = cx.now();
        let pb = self.p.probe_bound();
        let window = match (cx.phase(), self.probe_from) {
            (Phase::Faults, _) => true,
            (Phase::Probe, Some(t)) => now >= t + pb && now < t + pb * 2 && now >= since + pb,
            _ => false,
        };
        window && chance(cx.rng(), 0.01)
    }

    /// Sends the empty body that closes `rid`'s connection.
    fn close(&mut self, cx: &mut Cx<'_>, s: u64, rid: &Bytes) {
        let Some(peer) = self.peers.get_mut(rid) else {
            return;
        };
        match write(cx, s, rid, Bytes::new()) {
            Wrote::Blocked => return,
            Wrote::Gone => {
                self.gone(rid);
                return;
            }
            Wrote::Yes => {}
        }
        peer.done = true;
        cx.log(format_args!("s{s} closes {rid:?} ({:?})", peer.key));
        let Some(c) = peer.key else {
            return;
        };
        let now = cx.now();
        // Faults may hold the end (a partition) until the network heals.
        let healed = Instant::ZERO + self.p.fault_phase;
        let by = if cx.phase() == Phase::Faults {
            now.max(healed) + self.p.settle_bound() + self.p.probe_bound()
        } else {
            deadline(cx, &self.p, 2)
        };
        // A client lost with its host owes nothing (nor is owed).
        let owed = cx.is_open(c.0).then_some(by);
        cx.oracle().stream_closed(c, owed, now);
    }

    /// `rid` was refused as unreachable.
    fn gone(&mut self, rid: &Bytes) {
        self.tracker.unreachable(rid);
        if let Some(peer) = self.peers.get_mut(rid) {
            peer.done = true;
        }
        if !self.notify {
            self.peers.remove(rid);
        }
    }

    /// Writes the next chunk of `rid`'s stream back to its client.
    fn answer(&mut self, cx: &mut Cx<'_>, s: u64, rid: &Bytes) {
        let n = cx.rng().random_range(1..=CHUNK_MAX);
        let Some(peer) = self.peers.get_mut(rid) else {
            return;
        };
        let Some(c) = peer.key else {
            return;
        };
        let body = bytes_at(c, Dir::Down, peer.wrote, n);
        match write(cx, s, rid, body) {
            Wrote::Yes => {
                peer.wrote += n;
                if probing(cx) {
                    let (end, d) = (peer.wrote, deadline(cx, &self.p, 2));
                    cx.oracle().stream_owes(c, Dir::Down, end, d);
                }
            }
            Wrote::Blocked => {}
            Wrote::Gone => self.gone(rid),
        }
    }

    /// Takes bytes read under `rid`: the header first, then the client's stream.
    fn take(&mut self, cx: &mut Cx<'_>, s: u64, rid: &Bytes, at: u64, body: &Bytes) {
        let now = cx.now();
        let notify = self.notify;
        let peer = self.peers.entry(rid.clone()).or_insert_with(|| Peer {
            key: None,
            head: Vec::new(),
            wrote: 0,
            since: now,
            done: false,
        });
        if !notify && at == 0 {
            check_routing_id(cx, s, &self.tracker, rid);
        }
        let c = match peer.key {
            Some(c) => c,
            None => {
                peer.head.extend_from_slice(body);
                if (peer.head.len() as u64) < HEADER_LEN {
                    return;
                }
                let Some(c) = parse_header(&peer.head) else {
                    let what = format!(
                        "STREAM s{s}: the bytes under {rid:?} do not begin with a client's \
                         header ({:?}): not the start of one connection",
                        String::from_utf8_lossy(&peer.head[..HEADER_LEN as usize])
                    );
                    cx.oracle().fail(FailureKind::Safety, now, what);
                    return;
                };
                if let Some(other) = self.clients.insert(c, rid.clone()) {
                    let what = format!(
                        "STREAM s{s}: client connection s{}#{} came under {rid:?} after \
                         {other:?}: one connection, one routing id",
                        c.0, c.1
                    );
                    cx.oracle().fail(FailureKind::Safety, now, what);
                    return;
                }
                peer.key = Some(c);
                let head = std::mem::take(&mut peer.head);
                if let Err(what) = verify(c, Dir::Up, 0, &head) {
                    cx.oracle().fail(FailureKind::Safety, now, what);
                    return;
                }
                cx.oracle().coverage.stream_bytes += head.len() as u64;
                cx.oracle().stream_read(c, Dir::Up, head.len() as u64, now);
                return;
            }
        };
        if let Err(what) = verify(c, Dir::Up, at, body) {
            cx.oracle()
                .fail(FailureKind::Safety, now, format!("s{s}: {what}"));
            return;
        }
        let end = at + body.len() as u64;
        cx.oracle().coverage.stream_bytes += body.len() as u64;
        cx.oracle().stream_read(c, Dir::Up, end, now);
    }
}

impl App for Server {
    fn start(&mut self, cx: &mut Cx<'_>) {
        let mut config = self.p.sock.base.clone();
        config.max_msg_size = None;
        let opts = [
            SocketOption::SndHwm(self.p.sock.sndhwm),
            SocketOption::RcvHwm(self.p.sock.rcvhwm),
            SocketOption::StreamNotify(self.notify),
        ];
        let s = cx.open(SocketType::Stream, config, &opts);
        let e = ep(cx, cx.host(), PORT);
        cx.bind(s, &e);
        self.sock = Some(s);
        self.tracker = Tracker::new(s, self.notify);
        self.peers.clear();
        self.clients.clear();
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        let Some(s) = self.sock else {
            return;
        };
        if sending(cx) {
            let now = cx.now();
            let live: Vec<Bytes> = self
                .peers
                .iter()
                .filter(|(_, p)| !p.done)
                .map(|(rid, _)| rid.clone())
                .collect();
            for rid in live {
                let (keyed, since) = match self.peers.get(&rid) {
                    Some(p) => (p.key.is_some(), p.since),
                    None => continue,
                };
                // A connection that never sent its header (its client died silently right
                // after connecting: raw TCP has no heartbeat) is dropped in time, as a
                // server waiting for a request would.
                let mute = !keyed
                    && self.notify
                    && now >= since + self.p.probe_bound() * 2
                    && matches!(cx.phase(), Phase::Faults | Phase::Probe);
                if mute || (keyed && self.closes(cx, since)) {
                    self.close(cx, s, &rid);
                } else {
                    self.answer(cx, s, &rid);
                }
            }
            if chance(cx.rng(), 0.1) {
                send_unroutable(cx, s, Bytes::from_static(GHOST), "a never used");
            }
            if let Some(rid) = self.tracker.a_gone_id().cloned() {
                if chance(cx.rng(), 0.1) {
                    send_unroutable(cx, s, rid, "a gone");
                }
            }
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        let Some(s) = self.sock else {
            return;
        };
        while let Some(seen) = next_seen(cx, s, &mut self.tracker) {
            let now = cx.now();
            match seen {
                Seen::Connected(rid) => {
                    let peer = Peer {
                        key: None,
                        head: Vec::new(),
                        wrote: 0,
                        since: now,
                        done: false,
                    };
                    self.peers.insert(rid, peer);
                }
                Seen::Disconnected(rid) => {
                    cx.oracle().coverage.stream_notices += 1;
                    self.peers.remove(&rid);
                    // Its pipe went with the notice: the id is unreachable from now on.
                    send_unroutable(cx, s, rid, "a just disconnected");
                }
                Seen::Data { rid, at, body } => self.take(cx, s, &rid, at, &body),
            }
        }
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        match phase {
            Phase::Probe => self.probe_from = Some(cx.now()),
            Phase::Shutdown => {
                // Closed, it is read and written no more.
                if let Some(s) = self.sock.take() {
                    cx.close(s);
                }
            }
            _ => {}
        }
    }

    fn crashed(&mut self) {
        self.sock = None;
        self.peers.clear();
        self.clients.clear();
    }
}

/// One connection as its client sees it.
struct Conn {
    key: ConnKey,
    /// Bytes written to it.
    wrote: u64,
    /// A send found it gone: its disconnect notice follows.
    gone: bool,
}

struct Client {
    p: Profile,
    server: usize,
    sock: Option<u64>,
    /// The socket its host's crash took: what it was owed is excused when the host boots.
    lost: Option<u64>,
    tracker: Tracker,
    conns: BTreeMap<Bytes, Conn>,
    /// How many connections were announced to this socket.
    next: u32,
    /// After healing: the obligation to hear the server.
    hears: Option<String>,
    /// After healing: connections that ended, each owing a new one.
    awaiting: Vec<String>,
}

impl Client {
    fn new(p: &Profile, server: usize) -> Client {
        Client {
            p: p.clone(),
            server,
            sock: None,
            lost: None,
            tracker: Tracker::new(0, true),
            conns: BTreeMap::new(),
            next: 0,
            hears: None,
            awaiting: Vec::new(),
        }
    }

    /// Writes the next chunk of `rid`'s stream (the header first).
    fn write_next(&mut self, cx: &mut Cx<'_>, s: u64, rid: &Bytes) {
        let n = cx.rng().random_range(1..=CHUNK_MAX);
        let Some(conn) = self.conns.get_mut(rid).filter(|c| !c.gone) else {
            return;
        };
        let body = bytes_at(conn.key, Dir::Up, conn.wrote, n);
        match write(cx, s, rid, body) {
            Wrote::Yes => {
                conn.wrote += n;
                if probing(cx) {
                    let (c, end, d) = (conn.key, conn.wrote, deadline(cx, &self.p, 2));
                    cx.oracle().stream_owes(c, Dir::Up, end, d);
                }
            }
            Wrote::Blocked => {}
            Wrote::Gone => conn.gone = true,
        }
    }
}

/// The next message `s` received, as `tracker` reads it (a notice or bytes under a routing
/// id); a broken notice rule fails the run and ends the reading. A connect notice is
/// counted, and ZMQ_ROUTING_ID read back against it.
fn next_seen(cx: &mut Cx<'_>, s: u64, tracker: &mut Tracker) -> Option<Seen> {
    let (m, _) = cx.recv(s)?;
    match tracker.seen(&m) {
        Ok(seen) => {
            if let Seen::Connected(rid) = &seen {
                cx.oracle().coverage.stream_notices += 1;
                check_routing_id(cx, s, tracker, rid);
            }
            Some(seen)
        }
        Err(what) => {
            let now = cx.now();
            cx.oracle().fail(FailureKind::Safety, now, what);
            None
        }
    }
}

impl App for Client {
    fn start(&mut self, cx: &mut Cx<'_>) {
        if let Some(old) = self.lost.take() {
            let now = cx.now();
            cx.oracle().stream_client_lost(old, now);
        }
        let mut config = self.p.sock.base.clone();
        config.max_msg_size = None;
        // One pipe, one routing id, per connection (see the module's doc).
        config.immediate = true;
        let opts = [
            SocketOption::SndHwm(self.p.sock.sndhwm),
            SocketOption::RcvHwm(self.p.sock.rcvhwm),
            SocketOption::StreamNotify(true),
        ];
        let s = cx.open(SocketType::Stream, config, &opts);
        let e = ep(cx, self.server, PORT);
        cx.connect(s, &e);
        self.sock = Some(s);
        self.tracker = Tracker::new(s, true);
        self.conns.clear();
        self.next = 0;
        cx.wake_in(self.p.interval);
    }

    fn tick(&mut self, cx: &mut Cx<'_>) {
        let Some(s) = self.sock else {
            return;
        };
        if sending(cx) {
            let live: Vec<Bytes> = self.conns.keys().cloned().collect();
            for rid in live {
                self.write_next(cx, s, &rid);
            }
            if chance(cx.rng(), 0.1) {
                send_unroutable(cx, s, Bytes::from_static(GHOST), "a never used");
            }
        }
        cx.wake_in(self.p.interval);
    }

    fn readable(&mut self, cx: &mut Cx<'_>) {
        let Some(s) = self.sock else {
            return;
        };
        while let Some(seen) = next_seen(cx, s, &mut self.tracker) {
            let now = cx.now();
            match seen {
                Seen::Connected(rid) => {
                    let key = (s, self.next);
                    self.next += 1;
                    cx.log(format_args!("s{s} connection #{} is {rid:?}", key.1));
                    for name in std::mem::take(&mut self.awaiting) {
                        cx.oracle().fulfil(&name, now);
                    }
                    self.conns.insert(
                        rid.clone(),
                        Conn {
                            key,
                            wrote: 0,
                            gone: false,
                        },
                    );
                    // The header goes at once.
                    self.write_next(cx, s, &rid);
                }
                Seen::Disconnected(rid) => {
                    cx.oracle().coverage.stream_notices += 1;
                    let Some(conn) = self.conns.remove(&rid) else {
                        continue;
                    };
                    let c = conn.key;
                    cx.oracle().stream_close_seen(c, now);
                    send_unroutable(cx, s, rid, "a just disconnected");
                    // After healing, a connection that ends is followed by a new one (unless
                    // a newer one was announced already).
                    let newer = self.conns.values().any(|x| x.key.1 > c.1);
                    if probing(cx) && !newer {
                        let name = format!(
                            "STREAM client s{s} is announced a connection after #{} ended",
                            c.1
                        );
                        let by = now + self.p.redial_bound() + self.p.probe_bound();
                        cx.oracle().expect(name.clone(), by);
                        self.awaiting.push(name);
                    }
                }
                Seen::Data { rid, at, body } => {
                    let Some(conn) = self.conns.get(&rid) else {
                        continue;
                    };
                    let c = conn.key;
                    if let Err(what) = verify(c, Dir::Down, at, &body) {
                        cx.oracle()
                            .fail(FailureKind::Safety, now, format!("s{s}: {what}"));
                        return;
                    }
                    let end = at + body.len() as u64;
                    cx.oracle().coverage.stream_bytes += body.len() as u64;
                    cx.oracle().stream_read(c, Dir::Down, end, now);
                    if let Some(name) = self.hears.take() {
                        cx.oracle().fulfil(&name, now);
                    }
                }
            }
        }
    }

    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        match phase {
            Phase::Probe => {
                if let Some(s) = self.sock {
                    let name = format!("STREAM client s{s} hears its server after healing");
                    let d = deadline(cx, &self.p, 3);
                    cx.oracle().expect(name.clone(), d);
                    self.hears = Some(name);
                }
            }
            Phase::Shutdown => {
                // Closed, it is read and written no more.
                if let Some(s) = self.sock.take() {
                    cx.close(s);
                }
            }
            _ => {}
        }
    }

    fn crashed(&mut self) {
        self.lost = self.sock.take();
        self.conns.clear();
        self.hears = None;
        self.awaiting.clear();
    }
}
