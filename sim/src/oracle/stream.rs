//! What a STREAM socket promises its application (libzmq's `stream_t` and `raw_engine_t`):
//!
//! - Every message it hands up is `[routing id, bytes]`. With STREAM_NOTIFY (the default),
//!   an empty body announces a connection (`raw_engine_t::plug_internal` pushes it before
//!   any data) and, once that connection's bytes are all read, its end (`raw_engine_t::error`
//!   pushes it last). So under one routing id the application sees a connect notice, then
//!   bytes, then perhaps a disconnect notice, and after that nothing: an id names one pipe
//!   (`stream_t::identify_peer` makes a fresh one for each), so where each connection has a
//!   pipe of its own (every accepted one; a connect with ZMQ_IMMEDIATE) it is announced
//!   once and never comes back. (A connect without IMMEDIATE keeps its pipe, and its id,
//!   across connections; the workload does not draw it, see `sim/tests/stream.rs`.) With
//!   STREAM_NOTIFY off no empty body ever comes.
//! - ZMQ_ROUTING_ID reads back the id made up for the newest peer (`identify_peer` copies it
//!   into the socket's options; libzmq's own tests learn a peer's id that way), so when a
//!   connection is announced it reads back that id or a newer one, never an older one.
//!
//! [`Tracker`] checks those per socket. The ledger (in the [`Oracle`]) holds the byte
//! streams' liveness once the network has healed: a writer owes its reader each byte by a
//! deadline, and a connection closed on purpose owes its peer the sight of its end.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use oxmq_core::{Instant, Message};

use super::Oracle;

/// One connection of the STREAM workload: the client socket that made it, and its number
/// among that socket's connections.
pub type ConnKey = (u64, u32);

/// Which way bytes go on a STREAM connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

impl std::fmt::Display for Dir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dir::Up => "up",
            Dir::Down => "down",
        })
    }
}

/// What one received message was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A connect notice: a fresh id.
    Connected(Bytes),
    /// A disconnect notice: the id is gone for good.
    Disconnected(Bytes),
    /// Bytes under a live id; `at` is how many came under it before them.
    Data {
        /// The routing id.
        rid: Bytes,
        /// The offset of the first of them in the connection's stream.
        at: u64,
        /// The bytes.
        body: Bytes,
    },
}

/// What a STREAM socket's application was told, per routing id (one per socket, forgotten
/// with it).
#[derive(Clone, Debug)]
pub struct Tracker {
    sock: u64,
    notify: bool,
    /// Live ids and how many bytes came under each.
    live: BTreeMap<Bytes, u64>,
    /// Ids whose end the application learnt (a disconnect notice, or with STREAM_NOTIFY off
    /// a send refused as unreachable).
    gone: BTreeSet<Bytes>,
    /// Every id announced, with the order it was announced in.
    order: BTreeMap<Bytes, u64>,
}

impl Tracker {
    /// The tracker of STREAM socket `sock`, with STREAM_NOTIFY `notify`.
    pub fn new(sock: u64, notify: bool) -> Tracker {
        Tracker {
            sock,
            notify,
            live: BTreeMap::new(),
            gone: BTreeSet::new(),
            order: BTreeMap::new(),
        }
    }

    /// Classifies a received message, or says which promise it broke.
    pub fn seen(&mut self, m: &Message) -> Result<Seen, String> {
        let s = self.sock;
        let [rid, body] = m.frames() else {
            return Err(format!(
                "STREAM s{s} handed up a message of {} frames: libzmq's stream_t hands up \
                 [routing id, bytes]",
                m.len()
            ));
        };
        let (rid, body) = (rid.to_bytes(), body.to_bytes());
        if rid.is_empty() {
            return Err(format!(
                "STREAM s{s} handed up bytes under an empty routing id"
            ));
        }
        if body.is_empty() {
            if !self.notify {
                return Err(format!(
                    "STREAM s{s} handed up a notice for {rid:?} with STREAM_NOTIFY off"
                ));
            }
            if self.live.remove(&rid).is_some() {
                self.gone.insert(rid.clone());
                return Ok(Seen::Disconnected(rid));
            }
            if self.gone.contains(&rid) {
                return Err(format!(
                    "STREAM s{s} announced {rid:?} again after its disconnect notice: each \
                     connection gets a fresh routing id"
                ));
            }
            self.announce(&rid, 0);
            return Ok(Seen::Connected(rid));
        }
        let len = body.len() as u64;
        if let Some(read) = self.live.get_mut(&rid) {
            let at = *read;
            *read += len;
            return Ok(Seen::Data { rid, at, body });
        }
        if self.gone.contains(&rid) {
            return Err(format!(
                "STREAM s{s} handed up {len} bytes under {rid:?} after that connection's end \
                 was known (disconnect notice, or host-unreachable with STREAM_NOTIFY off)"
            ));
        }
        if self.notify {
            return Err(format!(
                "STREAM s{s} handed up {len} bytes under {rid:?} before its connect notice"
            ));
        }
        // Without notices, a connection shows with its first bytes.
        self.announce(&rid, len);
        Ok(Seen::Data { rid, at: 0, body })
    }

    fn announce(&mut self, rid: &Bytes, read: u64) {
        let n = self.order.len() as u64;
        self.order.insert(rid.clone(), n);
        self.live.insert(rid.clone(), read);
    }

    /// Checks ZMQ_ROUTING_ID (`option`) as read just after `rid` was announced: the id made
    /// up for the newest peer, so `rid` or one announced later, never an older one. (Without
    /// notices the order connections show in is their first bytes', not their arrivals':
    /// only that some id reads back is checked then.)
    pub fn check_routing_id(&self, rid: &Bytes, option: &Bytes) -> Result<(), String> {
        let s = self.sock;
        let older = match (self.order.get(option), self.order.get(rid)) {
            (Some(o), Some(r)) => self.notify && o < r,
            _ => false,
        };
        if option.is_empty() || older {
            return Err(format!(
                "STREAM s{s}: ZMQ_ROUTING_ID reads {option:?} once {rid:?} was announced: \
                 libzmq's stream_t sets it to the id made up for the newest peer"
            ));
        }
        Ok(())
    }

    /// A send to `rid` was refused as unreachable. With STREAM_NOTIFY on its disconnect
    /// notice is on its way (the pipe went, the notice with it); with it off, this is how the
    /// application learns the connection ended.
    pub fn unreachable(&mut self, rid: &Bytes) {
        if !self.notify && self.live.remove(rid).is_some() {
            self.gone.insert(rid.clone());
        }
    }

    /// Whether `rid` is live (announced, not known gone).
    pub fn is_live(&self, rid: &[u8]) -> bool {
        self.live.contains_key(rid)
    }

    /// An id known gone, if any (the latest, when ids count up).
    pub fn a_gone_id(&self) -> Option<&Bytes> {
        self.gone.iter().next_back()
    }
}

/// The STREAM byte streams' obligations.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// Per connection and direction: the end offset of each chunk owed → its obligation.
    owed: BTreeMap<(ConnKey, Dir), BTreeMap<u64, String>>,
    /// Connections closed on purpose: what was in flight may be lost with them.
    ended: BTreeSet<ConnKey>,
    /// Connections whose client saw their disconnect notice.
    closes_seen: BTreeSet<ConnKey>,
}

/// The obligations about connection `c` start with this.
fn prefix(c: ConnKey) -> String {
    format!("STREAM s{}#{} ", c.0, c.1)
}

fn close_name(c: ConnKey) -> String {
    format!("{}closed by its server: the client sees it end", prefix(c))
}

impl Oracle {
    /// The first `end` bytes `dir` of connection `c` must reach their reader by `deadline`
    /// (unless the connection was closed on purpose).
    pub fn stream_owes(&mut self, c: ConnKey, dir: Dir, end: u64, deadline: Instant) {
        if self.streams.ended.contains(&c) {
            return;
        }
        let name = format!("{}carries its {dir} byte {}", prefix(c), end - 1);
        self.expect(name.clone(), deadline);
        self.streams
            .owed
            .entry((c, dir))
            .or_default()
            .insert(end, name);
    }

    /// The reader of connection `c` has read `n` bytes `dir`: each chunk ending there or
    /// before arrived.
    pub fn stream_read(&mut self, c: ConnKey, dir: Dir, n: u64, at: Instant) {
        let Some(marks) = self.streams.owed.get_mut(&(c, dir)) else {
            return;
        };
        let later = marks.split_off(&(n + 1));
        let met = std::mem::replace(marks, later);
        for name in met.into_values() {
            self.fulfil(&name, at);
        }
    }

    /// The server closed connection `c` with an empty body: what either side still owed on
    /// it may be lost (libzmq drops what waits in the pipe), and, if the client's socket
    /// lives, it must see the connection end by `deadline`.
    pub fn stream_closed(&mut self, c: ConnKey, deadline: Option<Instant>, at: Instant) {
        self.streams.ended.insert(c);
        for dir in [Dir::Up, Dir::Down] {
            for name in self
                .streams
                .owed
                .remove(&(c, dir))
                .unwrap_or_default()
                .into_values()
            {
                self.excuse(&name, at);
            }
        }
        if let Some(d) = deadline.filter(|_| !self.streams.closes_seen.contains(&c)) {
            self.expect(close_name(c), d);
        }
    }

    /// The client of connection `c` saw its disconnect notice.
    pub fn stream_close_seen(&mut self, c: ConnKey, at: Instant) {
        self.streams.closes_seen.insert(c);
        let name = close_name(c);
        if self.is_expected(&name) {
            self.coverage.stream_closes += 1;
            self.fulfil(&name, at);
        }
    }

    /// Client socket `s` is gone with its host: nothing is owed to it or by it any more.
    pub fn stream_client_lost(&mut self, s: u64, at: Instant) {
        let keys: Vec<(ConnKey, Dir)> = self
            .streams
            .owed
            .range(((s, 0), Dir::Up)..=((s, u32::MAX), Dir::Down))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            self.streams.owed.remove(&k);
            self.streams.ended.insert(k.0);
        }
        self.excuse_matching(&format!("STREAM s{s}#"), "", at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rid: &str, body: &str) -> Message {
        Message::from_frames([
            Bytes::copy_from_slice(rid.as_bytes()),
            Bytes::copy_from_slice(body.as_bytes()),
        ])
    }

    #[test]
    fn notices_frame_each_connection() {
        let mut t = Tracker::new(1, true);
        assert_eq!(t.seen(&m("a", "")), Ok(Seen::Connected("a".into())));
        assert!(matches!(
            t.seen(&m("a", "xy")),
            Ok(Seen::Data { at: 0, .. })
        ));
        assert!(matches!(t.seen(&m("a", "z")), Ok(Seen::Data { at: 2, .. })));
        assert_eq!(t.seen(&m("a", "")), Ok(Seen::Disconnected("a".into())));
        assert!(t.seen(&m("a", "late")).unwrap_err().contains("after"));
        assert!(t.seen(&m("a", "")).unwrap_err().contains("again"));
        assert!(t.seen(&m("b", "early")).unwrap_err().contains("before"));
        let one = Message::from_frames([Bytes::from_static(b"raw")]);
        assert!(t.seen(&one).unwrap_err().contains("1 frames"));
    }

    #[test]
    fn without_notify_a_connection_shows_with_its_bytes() {
        let mut t = Tracker::new(1, false);
        assert!(t
            .seen(&m("a", ""))
            .unwrap_err()
            .contains("STREAM_NOTIFY off"));
        assert!(matches!(
            t.seen(&m("a", "xy")),
            Ok(Seen::Data { at: 0, .. })
        ));
        assert!(matches!(t.seen(&m("a", "z")), Ok(Seen::Data { at: 2, .. })));
        t.unreachable(&"a".into());
        assert!(t.seen(&m("a", "late")).is_err());
    }

    #[test]
    fn routing_id_reads_back_the_newest() {
        let mut t = Tracker::new(1, true);
        t.seen(&m("a", "")).unwrap();
        t.seen(&m("b", "")).unwrap();
        let (a, b) = (Bytes::from("a"), Bytes::from("b"));
        assert!(t.check_routing_id(&b, &b).is_ok());
        assert!(
            t.check_routing_id(&a, &b).is_ok(),
            "a newer one may be waiting"
        );
        assert!(t.check_routing_id(&b, &a).is_err(), "never an older one");
        assert!(t.check_routing_id(&b, &Bytes::new()).is_err());
    }

    #[test]
    fn the_ledger_owes_bytes_until_read_or_closed() {
        let mut o = Oracle::default();
        let c = (3, 0);
        o.stream_owes(c, Dir::Up, 10, Instant::from_nanos(100));
        o.stream_owes(c, Dir::Up, 20, Instant::from_nanos(100));
        o.stream_read(c, Dir::Up, 15, Instant::from_nanos(50));
        assert_eq!(o.pending(), 1);
        o.check_deadlines(Instant::from_nanos(200));
        assert!(o.failure().is_some(), "the second chunk never arrived");

        let mut o = Oracle::default();
        o.stream_owes(c, Dir::Down, 10, Instant::from_nanos(100));
        o.stream_closed(c, Some(Instant::from_nanos(100)), Instant::from_nanos(1));
        o.stream_owes(c, Dir::Down, 20, Instant::from_nanos(100));
        assert_eq!(o.pending(), 1, "only the close is owed");
        o.stream_close_seen(c, Instant::from_nanos(2));
        assert_eq!(o.pending(), 0);
        assert_eq!(o.coverage.stream_closes, 1);
        o.stream_closed(
            (3, 1),
            Some(Instant::from_nanos(100)),
            Instant::from_nanos(3),
        );
        o.stream_client_lost(3, Instant::from_nanos(4));
        assert_eq!(o.pending(), 0);
        assert!(o.failure().is_none());
    }
}
