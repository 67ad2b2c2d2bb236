//! Pipes: the only way whole messages cross between a socket half and a session half.
//!
//! A pipe is two [`PipeEnd`]s, one held by each side (libzmq's `pipe_t` pair). Each end writes
//! into one direction's storage and reads from the other's. The storage belongs to the driver
//! ([`Tx`] / [`Rx`]; [`queue`] is a ready-made one that works across threads), while the
//! semantics stay here:
//!
//! - **Whole messages.** An item is a whole multipart message or a subscription change.
//! - **HWM as credits** (libzmq's `check_hwm` / `activate_write`). The writer counts the
//!   messages it wrote; the reader counts the messages it read and reports the count to the
//!   writer every low-water-mark reads ([`PipeCommand::ActivateWrite`]). The writer may write
//!   while `written − peer's reported reads < HWM`; an HWM of 0 is unlimited. Subscription
//!   changes are never bounded, because losing one would leave a publisher filtering wrongly
//!   for the life of the connection.
//! - **Wake-ups only for sleepers** (libzmq's ypipe `flush` / `check_read`). A reader that
//!   finds its storage empty goes to sleep; the writer's next [`PipeEnd::flush`] notices and
//!   sends the reader one [`PipeCommand::ActivateRead`]. A busy pipe costs no command per
//!   message.
//! - **CONFLATE** keeps only the newest message: the writer never blocks, and the storage
//!   ([`conflate_queue`]) replaces an unread message with the next.
//! - **Exact credits** for a pipe whose two ends one owner drives in one thread (a socket
//!   that hosts its session's end): every read is reported, so the writer always knows the
//!   exact queue length, as a single queue would.
//!
//! Commands an end produces come out of [`PipeEnd::poll_command`], addressed to the other end;
//! the driver delivers them, in order, to [`PipeEnd::handle_command`].
//!
//! ```
//! use oxmq_core::pipe::{pipe_pair, Activation, PipeItem, Storage};
//! use oxmq_core::Message;
//!
//! // A socket's end, which may run 2 messages ahead of its reader, and a session's end.
//! let (mut socket, mut session) = pipe_pair(2, 0, false, Storage::Threads);
//! socket.write(Message::from("a")).unwrap();
//! socket.write(Message::from("b")).unwrap();
//! assert!(!socket.check_write(), "at HWM");
//! socket.flush();
//! // The session's end started asleep, so the flush owes it one wake-up.
//! let wake = socket.poll_command().unwrap();
//! assert_eq!(session.handle_command(wake), Activation::Read);
//! assert_eq!(session.read(), Some(PipeItem::Message(Message::from("a"))));
//! // The reader reports its reads every low-water mark (here, each read)…
//! let report = session.poll_command().unwrap();
//! // …and the report frees the writer.
//! assert_eq!(socket.handle_command(report), Activation::Write);
//! assert!(socket.check_write());
//! ```

mod queue;

pub use queue::{
    conflate_queue, local_queue, queue, ConflateRx, ConflateTx, LocalRx, LocalTx, QueueRx, QueueTx,
};

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

/// The writing side of one direction's storage, supplied by the driver.
pub trait Tx: Send + std::fmt::Debug {
    /// Appends an item. It may become visible to the reader at once or only at the next
    /// [`flush`](Tx::flush); it must be visible after it. Returns `true` if a conflating
    /// storage discarded an unread message to make way for this one.
    fn push(&mut self, item: PipeItem) -> bool;
    /// Makes everything pushed visible. Returns `false` if the reader had gone to sleep on an
    /// empty storage: the writer must then wake it (exactly one `false` per sleep). A flush
    /// that publishes nothing new may leave the report to the next one that does.
    fn flush(&mut self) -> bool;
}

/// The reading side of one direction's storage, supplied by the driver.
pub trait Rx: Send + std::fmt::Debug {
    /// Takes the oldest visible item. `None` also puts the reader to sleep: the writer's next
    /// flush returns `false`. A storage starts with its reader asleep.
    fn pop(&mut self) -> Option<PipeItem>;
    /// Takes the oldest visible item without going to sleep when there is none: a look that
    /// asks for no wake-up.
    fn try_pop(&mut self) -> Option<PipeItem>;
}

/// What one end tells the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeCommand {
    /// The writer flushed into a storage whose reader was asleep (libzmq `activate_read`).
    ActivateRead,
    /// The reader has read this many messages in all (libzmq `activate_write(msgs_read)`).
    ActivateWrite(u64),
    /// Your outbound HWM is now `out`, and the HWM of the writer you read from is `inb`
    /// (libzmq `pipe_hwm`, after an SNDHWM/RCVHWM change or an inproc join).
    Hwm {
        /// The receiver's outbound HWM.
        out: usize,
        /// The HWM of the receiver's writer (the sender's outbound HWM).
        inb: usize,
    },
    /// The sender's socket now has these SNDHWM and RCVHWM (an inproc pipe, whose HWM each
    /// way is its writer's SNDHWM plus its reader's RCVHWM: the receiving socket works out
    /// both directions from these and its own). Handled by the socket, not the end.
    PeerHwms {
        /// The sender's SNDHWM.
        snd: usize,
        /// The sender's RCVHWM.
        rcv: usize,
    },
}

/// What a command delivered to an end means for its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Nothing changed for the owner.
    None,
    /// Items wait to be read (the end had been asleep).
    Read,
    /// A writer refused at HWM may write again.
    Write,
}

/// How many messages a reader takes between reports to the writer, for a writer's HWM.
///
/// libzmq 4.3's `compute_lwm`: half the HWM, rounded up. A writer blocked at HWM can write
/// again once the queue is back to `hwm − lwm_step(hwm)`. (libzmq before 4.0 capped the step
/// at 1024 below a large HWM; with that cap, a reader of 9,999 messages at HWM 11,024 had not
/// reported once, and its writer had room for only 1,025 more: libzmq's `test_reset_hwm`.)
pub fn lwm_step(hwm: usize) -> usize {
    hwm.div_ceil(2)
}

/// One end of a pipe.
#[derive(Debug)]
pub struct PipeEnd {
    tx: Box<dyn Tx>,
    rx: Box<dyn Rx>,
    /// This end's outbound HWM (0 = unlimited).
    out_hwm: usize,
    /// Reads between reports to the writer (from the other end's HWM; 0 = never report).
    in_step: u64,
    /// Report every read ([`PipeEnd::set_exact`]).
    exact: bool,
    conflate: bool,
    msgs_written: u64,
    /// The reads the other end last reported.
    peers_msgs_read: u64,
    msgs_read: u64,
    /// Items (messages and subscription changes) written and read, for inspection.
    items_written: u64,
    items_read: u64,
    /// Unread messages a conflating storage discarded.
    msgs_replaced: u64,
    /// A write was refused at HWM; the next report that frees room activates the writer.
    out_blocked: bool,
    /// An item read ahead by `check_read` (or by CONFLATE looking past a message).
    peeked: Option<PipeItem>,
    commands: VecDeque<PipeCommand>,
}

/// Which storage [`pipe_pair`] joins its ends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// [`queue`]: lock-free (`oxmq-spsc`), for ends on two threads.
    Threads,
    /// [`local_queue`]: for ends driven under one lock or in one thread.
    Local,
}

/// Creates a pipe whose ends are joined by `storage` (or [`conflate_queue`] with
/// `conflate`): `(a, b)` where `a` writes with HWM `a_hwm` and `b` with `b_hwm`.
pub fn pipe_pair(
    a_hwm: usize,
    b_hwm: usize,
    conflate: bool,
    storage: Storage,
) -> (PipeEnd, PipeEnd) {
    let make = || -> (Box<dyn Tx>, Box<dyn Rx>) {
        if conflate {
            let (tx, rx) = conflate_queue();
            return (Box::new(tx), Box::new(rx));
        }
        match storage {
            Storage::Threads => {
                let (tx, rx) = queue();
                (Box::new(tx), Box::new(rx))
            }
            Storage::Local => {
                let (tx, rx) = local_queue();
                (Box::new(tx), Box::new(rx))
            }
        }
    };
    let (a_tx, b_rx) = make();
    let (b_tx, a_rx) = make();
    (
        PipeEnd::new(a_tx, a_rx, a_hwm, b_hwm, conflate),
        PipeEnd::new(b_tx, b_rx, b_hwm, a_hwm, conflate),
    )
}

impl PipeEnd {
    /// An end writing into `tx` with HWM `out_hwm` and reading from `rx`, whose writer has
    /// HWM `in_hwm`.
    pub fn new(
        tx: Box<dyn Tx>,
        rx: Box<dyn Rx>,
        out_hwm: usize,
        in_hwm: usize,
        conflate: bool,
    ) -> PipeEnd {
        PipeEnd {
            tx,
            rx,
            out_hwm,
            in_step: lwm_step(in_hwm) as u64,
            exact: false,
            conflate,
            msgs_written: 0,
            peers_msgs_read: 0,
            msgs_read: 0,
            items_written: 0,
            items_read: 0,
            msgs_replaced: 0,
            out_blocked: false,
            peeked: None,
            commands: VecDeque::new(),
        }
    }

    fn has_room(&self) -> bool {
        self.conflate
            || self.out_hwm == 0
            || self.msgs_written - self.peers_msgs_read < self.out_hwm as u64
    }

    /// Whether a message may be written now. A `false` marks the writer blocked until the
    /// reader's next report frees room ([`Activation::Write`]).
    pub fn check_write(&mut self) -> bool {
        let ok = self.has_room();
        if !ok {
            self.out_blocked = true;
        }
        ok
    }

    /// Writes a message (visible to the reader at the next [`flush`](Self::flush)), or hands
    /// it back at HWM.
    pub fn write(&mut self, msg: Message) -> Result<(), Message> {
        if !self.check_write() {
            return Err(msg);
        }
        self.msgs_written += 1;
        self.items_written += 1;
        if self.tx.push(PipeItem::Message(msg)) {
            self.msgs_replaced += 1;
        }
        Ok(())
    }

    /// Writes any item; subscription changes are never refused.
    pub fn write_item(&mut self, item: PipeItem) -> Result<(), PipeItem> {
        match item {
            PipeItem::Message(m) => self.write(m).map_err(PipeItem::Message),
            other => {
                self.items_written += 1;
                self.tx.push(other);
                Ok(())
            }
        }
    }

    /// Publishes what was written, waking the reader if it slept.
    pub fn flush(&mut self) {
        if !self.tx.flush() {
            self.commands.push_back(PipeCommand::ActivateRead);
        }
    }

    fn pop(&mut self) -> Option<PipeItem> {
        self.peeked.take().or_else(|| self.rx.pop())
    }

    /// Takes the next item. `None` means the reader now sleeps until an
    /// [`Activation::Read`]. Every low-water-mark reads, a report goes to the writer.
    pub fn read(&mut self) -> Option<PipeItem> {
        let item = self.pop()?;
        self.count_read(&item);
        Some(item)
    }

    /// Takes the next item without putting the reader to sleep when there is none, so the
    /// writer owes no wake-up for the look. A reader that uses it must still end with a
    /// [`read`](Self::read) (or [`check_read`](Self::check_read)) that finds nothing before
    /// it waits for an [`Activation::Read`].
    pub fn try_read(&mut self) -> Option<PipeItem> {
        let item = self.peeked.take().or_else(|| self.rx.try_pop())?;
        self.count_read(&item);
        Some(item)
    }

    /// Reports every read to the writer (`exact`), or every low-water mark as libzmq does:
    /// exact credits are for a pipe whose two ends one owner drives, where a report costs a
    /// function call and keeps the HWM exact. Takes `in_hwm`, the writer's HWM.
    pub fn set_exact(&mut self, exact: bool, in_hwm: usize) {
        self.exact = exact;
        self.in_step = if exact { 1 } else { lwm_step(in_hwm) as u64 };
    }

    fn count_read(&mut self, item: &PipeItem) {
        self.items_read += 1;
        if matches!(item, PipeItem::Message(_)) {
            self.msgs_read += 1;
            if self.in_step > 0 && self.msgs_read.is_multiple_of(self.in_step) {
                self.report_reads();
            }
        }
    }

    /// Tells the writer how many messages were read in all.
    fn report_reads(&mut self) {
        // Counts are cumulative: a report still queued is superseded by this one.
        if let Some(PipeCommand::ActivateWrite(n)) = self.commands.back_mut() {
            *n = self.msgs_read;
        } else {
            self.commands
                .push_back(PipeCommand::ActivateWrite(self.msgs_read));
        }
    }

    /// Whether an item waits to be read; `false` puts the reader to sleep, as
    /// [`read`](Self::read) does.
    pub fn check_read(&mut self) -> bool {
        self.peek().is_some()
    }

    /// The item the next [`read`](Self::read) returns (before CONFLATE skips ahead); `None`
    /// puts the reader to sleep.
    pub fn peek(&mut self) -> Option<&PipeItem> {
        if self.peeked.is_none() {
            self.peeked = self.rx.pop();
        }
        self.peeked.as_ref()
    }

    /// Whether an item waits to be read, without putting the reader to sleep when none does
    /// (so the writer owes no wake-up for the look).
    pub fn has_unread(&mut self) -> bool {
        if self.peeked.is_none() {
            self.peeked = self.rx.try_pop();
        }
        self.peeked.is_some()
    }

    /// Whether a message may be written now, without marking the writer blocked.
    pub fn has_room_for_message(&self) -> bool {
        self.has_room()
    }

    /// A command from the other end.
    pub fn handle_command(&mut self, cmd: PipeCommand) -> Activation {
        match cmd {
            PipeCommand::ActivateRead => Activation::Read,
            PipeCommand::ActivateWrite(read) => {
                self.peers_msgs_read = read;
                self.release()
            }
            PipeCommand::Hwm { out, inb } => {
                self.out_hwm = out;
                if !self.exact {
                    self.in_step = lwm_step(inb) as u64;
                }
                // The writer counts what was read under the old step and not yet reported as
                // unread; a lowered HWM could leave it blocked on an empty pipe for good.
                self.report_reads();
                self.release()
            }
            // The socket applies it through `set_hwms_here`.
            PipeCommand::PeerHwms { .. } => Activation::None,
        }
    }

    /// Changes both HWMs on this end only, the other end being told otherwise (inproc's
    /// [`PipeCommand::PeerHwms`]); reports the reads made so far, as the report step may
    /// have changed. Returns [`Activation::Write`] if a raise freed this writer.
    pub fn set_hwms_here(&mut self, out_hwm: usize, in_hwm: usize) -> Activation {
        if !self.exact {
            self.in_step = lwm_step(in_hwm) as u64;
        }
        self.report_reads();
        self.out_hwm = out_hwm;
        self.release()
    }

    fn release(&mut self) -> Activation {
        if self.out_blocked && self.has_room() {
            self.out_blocked = false;
            Activation::Write
        } else {
            Activation::None
        }
    }

    /// Changes both HWMs on a live pipe: this end's outbound HWM now, the other end's through
    /// a [`PipeCommand::Hwm`]. Returns [`Activation::Write`] if a raise freed this writer.
    pub fn set_hwms(&mut self, out_hwm: usize, in_hwm: usize) -> Activation {
        self.commands.push_back(PipeCommand::Hwm {
            out: in_hwm,
            inb: out_hwm,
        });
        // The writer may be blocked on reads not yet reported under the old step.
        self.set_hwms_here(out_hwm, in_hwm)
    }

    /// The next command for the other end.
    pub fn poll_command(&mut self) -> Option<PipeCommand> {
        self.commands.pop_front()
    }

    /// Whether [`poll_command`](Self::poll_command) has something.
    pub fn has_commands(&self) -> bool {
        !self.commands.is_empty()
    }

    /// Messages written so far.
    pub fn msgs_written(&self) -> u64 {
        self.msgs_written
    }

    /// Messages written so far that a conflating storage has not discarded unread.
    pub fn msgs_kept(&self) -> u64 {
        self.msgs_written - self.msgs_replaced
    }

    /// Items written so far that a conflating storage has not discarded unread.
    pub fn items_kept(&self) -> u64 {
        self.items_written - self.msgs_replaced
    }

    /// Messages read so far.
    pub fn msgs_read(&self) -> u64 {
        self.msgs_read
    }

    /// Items read so far.
    pub fn items_read(&self) -> u64 {
        self.items_read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &'static str) -> Message {
        Message::from(s)
    }

    /// Delivers every command `from` has for `to`; the last activation seen.
    fn deliver(from: &mut PipeEnd, to: &mut PipeEnd) -> Vec<Activation> {
        std::iter::from_fn(|| from.poll_command())
            .map(|c| to.handle_command(c))
            .collect()
    }

    fn read_msg(end: &mut PipeEnd) -> Option<Message> {
        match end.read()? {
            PipeItem::Message(m) => Some(m),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn the_report_step_is_libzmq_4s_half_the_hwm() {
        // The low-water mark a blocked writer is freed at: HWM less the step.
        for (hwm, lwm) in [
            (1, 0),
            (2, 1),
            (1000, 500),
            (2048, 1024),
            (11_024, 5512),
            (100_001, 50_000),
            (0, 0),
        ] {
            assert_eq!(hwm - lwm_step(hwm), lwm, "HWM {hwm}");
        }
    }

    #[test]
    fn a_writer_whose_hwm_is_lowered_learns_the_reads_made_before() {
        // HWM 100: the reader reports every 50 reads. It reads 20, unreported.
        let (mut w, mut r) = pipe_pair(100, 100, false, Storage::Threads);
        for _ in 0..20 {
            w.write(m("x")).unwrap();
        }
        w.flush();
        deliver(&mut w, &mut r);
        for _ in 0..20 {
            assert!(read_msg(&mut r).is_some());
        }
        assert!(!r.has_commands(), "below the low-water step: no report yet");
        // The writer's HWM drops to 1: it counts 20 unread and is blocked.
        let _ = w.set_hwms(1, 100);
        assert!(!w.check_write());
        // The reader, told of the new HWMs, reports what it read; the writer goes on.
        deliver(&mut w, &mut r);
        assert!(
            deliver(&mut r, &mut w).contains(&Activation::Write),
            "the report frees the writer"
        );
        assert!(w.check_write());
    }

    #[test]
    fn a_sleeping_reader_is_woken_once_per_sleep() {
        let (mut a, mut b) = pipe_pair(0, 0, false, Storage::Threads);
        a.write(m("1")).unwrap();
        a.flush();
        assert_eq!(
            deliver(&mut a, &mut b),
            vec![Activation::Read],
            "starts asleep"
        );
        a.write(m("2")).unwrap();
        a.flush();
        assert!(
            deliver(&mut a, &mut b).is_empty(),
            "still awake: no command"
        );
        assert_eq!(read_msg(&mut b), Some(m("1")));
        assert_eq!(read_msg(&mut b), Some(m("2")));
        assert_eq!(read_msg(&mut b), None);
        a.write(m("3")).unwrap();
        a.flush();
        assert_eq!(deliver(&mut a, &mut b), vec![Activation::Read]);
        assert!(b.check_read());
        assert_eq!(read_msg(&mut b), Some(m("3")));
    }

    #[test]
    fn the_writer_blocks_at_hwm_and_resumes_at_lwm() {
        let (mut a, mut b) = pipe_pair(4, 0, false, Storage::Threads);
        for _ in 0..4 {
            a.write(m("x")).unwrap();
        }
        assert_eq!(a.write(m("y")), Err(m("y")));
        assert!(!a.check_write());
        a.flush();
        deliver(&mut a, &mut b);
        // HWM 4: a report every two reads.
        read_msg(&mut b).unwrap();
        assert!(deliver(&mut b, &mut a).is_empty());
        read_msg(&mut b).unwrap();
        assert_eq!(deliver(&mut b, &mut a), vec![Activation::Write]);
        assert!(a.check_write());
        read_msg(&mut b).unwrap();
        read_msg(&mut b).unwrap();
        assert_eq!(
            deliver(&mut b, &mut a),
            vec![Activation::None],
            "reported, but the writer was not blocked"
        );
    }

    #[test]
    fn zero_hwm_is_unlimited() {
        let (mut a, _b) = pipe_pair(0, 0, false, Storage::Threads);
        for _ in 0..10_000 {
            a.write(m("x")).unwrap();
        }
        assert_eq!(a.msgs_written(), 10_000);
    }

    #[test]
    fn raising_the_hwm_frees_a_blocked_writer_and_tells_the_peer() {
        let (mut a, mut b) = pipe_pair(1, 1, false, Storage::Threads);
        a.write(m("a")).unwrap();
        b.write(m("b")).unwrap();
        assert!(a.write(m("x")).is_err());
        assert!(b.write(m("y")).is_err());
        assert_eq!(a.set_hwms(1, 1), Activation::None);
        assert_eq!(a.set_hwms(2, 0), Activation::Write);
        a.write(m("x")).unwrap();
        assert_eq!(
            deliver(&mut a, &mut b),
            // Two HWM changes, each with the reader's latest count; the second frees b.
            vec![
                Activation::None,
                Activation::None,
                Activation::Write,
                Activation::None
            ]
        );
        b.write(m("y")).unwrap();
    }

    #[test]
    fn conflate_keeps_only_the_newest_message() {
        let (mut a, mut b) = pipe_pair(1, 1, true, Storage::Threads);
        a.write(m("old")).unwrap();
        a.write(m("new")).unwrap();
        a.write_item(PipeItem::Subscribe(Bytes::from_static(b"t")))
            .unwrap();
        a.flush();
        assert_eq!(a.msgs_kept(), 1);
        assert_eq!(
            b.read(),
            Some(PipeItem::Subscribe(Bytes::from_static(b"t")))
        );
        assert_eq!(read_msg(&mut b), Some(m("new")));
        assert_eq!(read_msg(&mut b), None);
        a.write(m("newest")).unwrap();
        a.flush();
        assert_eq!(read_msg(&mut b), Some(m("newest")));
    }

    #[test]
    fn exact_credits_free_the_writer_at_each_read() {
        let (mut a, mut b) = pipe_pair(3, 0, false, Storage::Threads);
        b.set_exact(true, 3);
        for _ in 0..3 {
            a.write(m("x")).unwrap();
        }
        assert!(!a.check_write());
        a.flush();
        read_msg(&mut b).unwrap();
        assert_eq!(deliver(&mut b, &mut a), vec![Activation::Write]);
        a.write(m("y")).unwrap();
        assert!(!a.check_write(), "exactly one slot was freed");
    }

    #[test]
    fn subscriptions_bypass_hwm() {
        let (mut a, mut b) = pipe_pair(1, 0, false, Storage::Threads);
        a.write(m("data")).unwrap();
        assert!(!a.check_write());
        a.write_item(PipeItem::Subscribe(Bytes::from_static(b"t")))
            .unwrap();
        a.flush();
        assert_eq!(read_msg(&mut b), Some(m("data")));
        assert_eq!(
            b.read(),
            Some(PipeItem::Subscribe(Bytes::from_static(b"t")))
        );
        assert_eq!(b.read(), None);
    }
}
