//! Pipes: the bounded double queue of whole messages between a socket and one peer's session.
//!
//! A pipe has an inbound queue (peer → socket, bounded by RCVHWM) and an outbound queue
//! (socket → peer, bounded by SNDHWM); an HWM of 0 means unlimited. Subscription changes travel
//! outbound on a side queue that is never bounded or dropped, because losing one would leave a
//! publisher filtering wrongly for the life of the connection.
//!
//! Flow control follows libzmq: once a queue refuses a message, the refused side stays blocked
//! until the other side has drained the queue to the low-water mark, and the call that crosses
//! it reports the reactivation so the owner can put the pipe back in its scheduler.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::message::Message;

/// Identifies one pipe (one peer connection) within a socket. Chosen by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PipeId(pub u64);

impl std::fmt::Display for PipeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pipe#{}", self.0)
    }
}

/// One item travelling through a pipe: a whole message or a subscription change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipeItem {
    /// A whole (multipart) message.
    Message(Message),
    /// Subscribe to a topic prefix (ZMTP 3.1 `SUBSCRIBE`, or a 3.0 `\x01topic` message).
    Subscribe(Bytes),
    /// Cancel one subscription to a topic prefix (ZMTP 3.1 `CANCEL`, or 3.0 `\x00topic`).
    Cancel(Bytes),
}

/// How many messages a reader must take from a full queue before the writer may write again.
///
/// Mirrors libzmq's `compute_lwm`: half the HWM, but never more than 1024 below it, so large
/// HWMs do not wait for a huge drain.
fn lwm_delta(hwm: usize) -> usize {
    const MAX_WM_DELTA: usize = 1024;
    if hwm > 2 * MAX_WM_DELTA {
        hwm - MAX_WM_DELTA
    } else {
        hwm.div_ceil(2)
    }
}

/// The queue length at or below which a blocked writer is reactivated.
pub fn low_water_mark(hwm: usize) -> usize {
    hwm - lwm_delta(hwm)
}

/// One direction of a pipe: a queue with an HWM, conflation, and a blocked-writer flag.
#[derive(Clone, Debug)]
struct Queue {
    items: VecDeque<Message>,
    hwm: usize,
    conflate: bool,
    writer_blocked: bool,
}

impl Queue {
    fn new(hwm: usize, conflate: bool) -> Self {
        Queue {
            items: VecDeque::new(),
            hwm,
            conflate,
            writer_blocked: false,
        }
    }

    fn has_room(&self) -> bool {
        self.conflate || self.hwm == 0 || self.items.len() < self.hwm
    }

    /// Queues `msg`, or hands it back and marks the writer blocked.
    fn push(&mut self, msg: Message) -> Result<(), Message> {
        if self.conflate {
            // CONFLATE: a queue of one, the latest message wins.
            self.items.clear();
            self.items.push_back(msg);
            return Ok(());
        }
        if !self.has_room() {
            self.writer_blocked = true;
            return Err(msg);
        }
        self.items.push_back(msg);
        Ok(())
    }

    /// Unblocks a blocked writer if the queue has room; true if it did.
    fn release_if_room(&mut self) -> bool {
        let release = self.writer_blocked && self.has_room();
        if release {
            self.writer_blocked = false;
        }
        release
    }

    /// Takes the oldest message; the flag says whether a blocked writer was just released.
    fn pop(&mut self) -> Option<(Message, bool)> {
        let msg = self.items.pop_front()?;
        let released = self.writer_blocked && self.items.len() <= low_water_mark(self.hwm);
        if released {
            self.writer_blocked = false;
        }
        Some((msg, released))
    }
}

/// The double queue between a socket and one peer's session.
#[derive(Clone, Debug)]
pub struct Pipe {
    inbound: Queue,
    outbound: Queue,
    commands: VecDeque<PipeItem>,
}

/// What [`Pipe::pop_outbound`] returns: the item and whether the socket may write again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Popped {
    /// The next item to transmit.
    pub item: PipeItem,
    /// The outbound queue drained to its low-water mark after refusing the socket a write.
    pub writable_again: bool,
}

impl Pipe {
    /// A pipe with the given outbound (SNDHWM) and inbound (RCVHWM) limits; 0 = unlimited.
    pub fn new(sndhwm: usize, rcvhwm: usize, conflate: bool) -> Self {
        Pipe {
            inbound: Queue::new(rcvhwm, conflate),
            outbound: Queue::new(sndhwm, conflate),
            commands: VecDeque::new(),
        }
    }

    /// Changes both limits on a live pipe (libzmq applies SNDHWM/RCVHWM to attached pipes).
    /// Returns (the socket may write again, the session may push again) when a raised limit
    /// released a blocked side.
    pub fn set_hwms(&mut self, sndhwm: usize, rcvhwm: usize) -> (bool, bool) {
        self.outbound.hwm = sndhwm;
        self.inbound.hwm = rcvhwm;
        (
            self.outbound.release_if_room(),
            self.inbound.release_if_room(),
        )
    }

    // ---- socket side ----

    /// Whether the socket may write a message now. A `false` marks the writer blocked.
    pub fn check_write(&mut self) -> bool {
        let ok = self.outbound.has_room();
        if !ok {
            self.outbound.writer_blocked = true;
        }
        ok
    }

    /// Queues a message to transmit. `Ok(true)` means the pipe had nothing to transmit before,
    /// so the session should be woken. At HWM the message comes back.
    pub fn write(&mut self, msg: Message) -> Result<bool, Message> {
        let was_idle = self.outbound_is_empty();
        self.outbound.push(msg)?;
        Ok(was_idle)
    }

    /// Queues a subscription change to transmit (never bounded). `true` = the pipe was idle.
    pub fn write_command(&mut self, item: PipeItem) -> bool {
        let was_idle = self.outbound_is_empty();
        self.commands.push_back(item);
        was_idle
    }

    /// Whether a received message is waiting.
    pub fn check_read(&self) -> bool {
        !self.inbound.items.is_empty()
    }

    /// Takes the oldest received message. The flag is true when the session, refused earlier at
    /// RCVHWM, may now push again.
    pub fn read(&mut self) -> Option<(Message, bool)> {
        self.inbound.pop()
    }

    // ---- session side ----

    /// Queues a message received from the peer. `Ok(true)` means the pipe just became readable.
    /// At RCVHWM the message comes back and the session must hold it until the pipe resumes.
    pub fn push_inbound(&mut self, msg: Message) -> Result<bool, Message> {
        let was_empty = self.inbound.items.is_empty();
        self.inbound.push(msg)?;
        Ok(was_empty)
    }

    /// Whether the session may push a message now without being refused.
    pub fn inbound_has_room(&self) -> bool {
        self.inbound.has_room()
    }

    /// Whether the session is waiting for room in the inbound queue.
    pub fn inbound_blocked(&self) -> bool {
        self.inbound.writer_blocked
    }

    /// Takes the next item to transmit: subscription changes first, then messages in order.
    pub fn pop_outbound(&mut self) -> Option<Popped> {
        if let Some(item) = self.commands.pop_front() {
            return Some(Popped {
                item,
                writable_again: false,
            });
        }
        let (msg, writable_again) = self.outbound.pop()?;
        Some(Popped {
            item: PipeItem::Message(msg),
            writable_again,
        })
    }

    /// Whether nothing waits to be transmitted.
    pub fn outbound_is_empty(&self) -> bool {
        self.commands.is_empty() && self.outbound.items.is_empty()
    }

    /// Messages (not commands) waiting to be transmitted.
    pub fn outbound_len(&self) -> usize {
        self.outbound.items.len()
    }

    /// Messages waiting to be read by the socket.
    pub fn inbound_len(&self) -> usize {
        self.inbound.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &'static str) -> Message {
        Message::from(s)
    }

    #[test]
    fn low_water_mark_follows_libzmq() {
        assert_eq!(low_water_mark(1), 0);
        assert_eq!(low_water_mark(2), 1);
        assert_eq!(low_water_mark(1000), 500);
        assert_eq!(low_water_mark(2048), 1024);
        assert_eq!(low_water_mark(100_000), 1024);
        assert_eq!(low_water_mark(0), 0);
    }

    #[test]
    fn outbound_refuses_at_hwm_and_reactivates_at_lwm() {
        let mut p = Pipe::new(4, 0, false);
        assert_eq!(p.write(m("a")), Ok(true), "first write wakes the session");
        for _ in 0..3 {
            assert_eq!(p.write(m("b")), Ok(false));
        }
        assert_eq!(p.write(m("c")), Err(m("c")));
        assert!(!p.check_write());
        // HWM 4: low-water mark 2. Two pops reach 2.
        assert!(!p.pop_outbound().unwrap().writable_again);
        assert!(p.pop_outbound().unwrap().writable_again);
        assert!(p.check_write());
        assert!(!p.pop_outbound().unwrap().writable_again, "reported once");
    }

    #[test]
    fn raising_hwms_releases_blocked_sides() {
        let mut p = Pipe::new(1, 1, false);
        p.write(m("a")).unwrap();
        p.push_inbound(m("b")).unwrap();
        assert!(p.write(m("x")).is_err());
        assert!(p.push_inbound(m("y")).is_err());
        assert_eq!(p.set_hwms(1, 1), (false, false));
        assert_eq!(p.set_hwms(2, 0), (true, true));
        p.write(m("x")).unwrap();
        p.push_inbound(m("y")).unwrap();
    }

    #[test]
    fn zero_hwm_is_unlimited() {
        let mut p = Pipe::new(0, 0, false);
        for _ in 0..10_000 {
            p.write(m("x")).unwrap();
            p.push_inbound(m("y")).unwrap();
        }
        assert_eq!(p.outbound_len(), 10_000);
        assert_eq!(p.inbound_len(), 10_000);
    }

    #[test]
    fn inbound_refuses_session_at_rcvhwm_then_resumes() {
        let mut p = Pipe::new(0, 2, false);
        assert_eq!(p.push_inbound(m("1")), Ok(true), "became readable");
        assert_eq!(p.push_inbound(m("2")), Ok(false));
        assert_eq!(p.push_inbound(m("3")), Err(m("3")));
        assert!(p.inbound_blocked());
        let (msg, resumed) = p.read().unwrap();
        assert_eq!(msg, m("1"));
        assert!(resumed, "HWM 2: low-water mark 1");
        assert!(!p.inbound_blocked());
    }

    #[test]
    fn conflate_keeps_only_the_latest_message() {
        let mut p = Pipe::new(1, 1, true);
        p.write(m("old")).unwrap();
        p.write(m("new")).unwrap();
        assert_eq!(p.outbound_len(), 1);
        assert_eq!(p.pop_outbound().unwrap().item, PipeItem::Message(m("new")));
        p.push_inbound(m("a")).unwrap();
        p.push_inbound(m("b")).unwrap();
        assert_eq!(p.read().unwrap().0, m("b"));
        assert!(p.read().is_none());
    }

    #[test]
    fn subscriptions_bypass_hwm_and_go_first() {
        let mut p = Pipe::new(1, 0, false);
        p.write(m("data")).unwrap();
        assert!(!p.write_command(PipeItem::Subscribe(Bytes::from_static(b"t"))));
        assert_eq!(
            p.pop_outbound().unwrap().item,
            PipeItem::Subscribe(Bytes::from_static(b"t"))
        );
        assert_eq!(p.pop_outbound().unwrap().item, PipeItem::Message(m("data")));
        assert!(p.pop_outbound().is_none());
        assert!(p.outbound_is_empty());
    }
}
