//! Ready-made pipe storages: [`queue`] for ends on two threads, [`local_queue`] for ends
//! driven under one lock, [`conflate_queue`] for CONFLATE.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::message::Message;

use super::{PipeItem, Rx, Tx};

/// Items a chunk of [`queue`] storage holds (about 1 KiB of them): a direction allocates its
/// first chunk at its first write, so a pipe that carries a message or two costs one chunk,
/// and its reader hands each chunk it empties back to its writer for reuse. Stepping to a
/// new chunk costs one atomic operation on each side, so 32 items make it rare.
const CHUNK: usize = 32;

/// The writing side of [`queue`].
#[derive(Debug)]
pub struct QueueTx(oxmq_spsc::Writer<PipeItem, CHUNK>);

/// The reading side of [`queue`].
#[derive(Debug)]
pub struct QueueRx(oxmq_spsc::Reader<PipeItem, CHUNK>);

/// One direction of storage whose ends may run on two threads: `oxmq-spsc`'s lock-free
/// queue (libzmq's ypipe), where a push is a private store, a flush publishes with one atomic
/// operation and learns whether the reader sleeps, and a read touches shared memory only
/// when it runs dry. Its reader starts asleep.
pub fn queue() -> (QueueTx, QueueRx) {
    let (tx, rx) = oxmq_spsc::channel();
    (QueueTx(tx), QueueRx(rx))
}

impl Tx for QueueTx {
    fn push(&mut self, item: PipeItem) -> bool {
        // Items written after the reader is gone wait, unread, until the writer goes too; a
        // pipe's termination handshake stops its writer first.
        self.0.write(item);
        false
    }

    fn flush(&mut self) -> bool {
        !self.0.flush()
    }
}

impl Rx for QueueRx {
    fn pop(&mut self) -> Option<PipeItem> {
        self.0.read()
    }

    fn try_pop(&mut self) -> Option<PipeItem> {
        self.0.try_read()
    }
}

/// Storage for a pipe whose two ends are driven under one lock or in one thread (a socket
/// that runs its sessions itself): a plain queue behind an uncontended mutex, which makes
/// each item visible at its push and needs no chunks up front. Correct across threads too,
/// only not lock-free.
#[derive(Debug, Default)]
struct Local {
    items: VecDeque<PipeItem>,
    asleep: bool,
}

/// The writing side of [`local_queue`].
#[derive(Debug)]
pub struct LocalTx {
    q: Arc<Mutex<Local>>,
    /// A push since the last flush found the reader asleep (and woke it): the flush owes the
    /// wake-up, without taking the lock again.
    woke: bool,
}

/// The reading side of [`local_queue`].
#[derive(Debug)]
pub struct LocalRx(Arc<Mutex<Local>>);

/// One direction of single-owner storage; its reader starts asleep.
pub fn local_queue() -> (LocalTx, LocalRx) {
    let q = Arc::new(Mutex::new(Local {
        items: VecDeque::new(),
        asleep: true,
    }));
    (
        LocalTx {
            q: Arc::clone(&q),
            woke: false,
        },
        LocalRx(q),
    )
}

fn lock_local(q: &Mutex<Local>) -> MutexGuard<'_, Local> {
    // The queue holds plain data that no panic can leave half-written.
    q.lock().unwrap_or_else(|e| e.into_inner())
}

impl Tx for LocalTx {
    fn push(&mut self, item: PipeItem) -> bool {
        let mut q = lock_local(&self.q);
        q.items.push_back(item);
        // Items are visible at once, so the sleeper is found now rather than at the flush.
        if std::mem::replace(&mut q.asleep, false) {
            self.woke = true;
        }
        false
    }

    fn flush(&mut self) -> bool {
        !std::mem::replace(&mut self.woke, false)
    }
}

impl Rx for LocalRx {
    fn pop(&mut self) -> Option<PipeItem> {
        let mut q = lock_local(&self.0);
        let item = q.items.pop_front();
        if item.is_none() {
            q.asleep = true;
        }
        item
    }

    fn try_pop(&mut self) -> Option<PipeItem> {
        lock_local(&self.0).items.pop_front()
    }
}

/// CONFLATE storage (libzmq's `ypipe_conflate`): at most one unread message, the newest;
/// subscription changes queue in order ahead of it. A mutex guards the slot, as libzmq's
/// double buffer does: a conflating pipe trades speed for bounded memory.
#[derive(Debug, Default)]
struct Slot {
    latest: Option<Message>,
    others: VecDeque<PipeItem>,
    asleep: bool,
}

/// The writing side of [`conflate_queue`].
#[derive(Debug)]
pub struct ConflateTx(Arc<Mutex<Slot>>);

/// The reading side of [`conflate_queue`].
#[derive(Debug)]
pub struct ConflateRx(Arc<Mutex<Slot>>);

/// One direction of CONFLATE storage; its reader starts asleep.
pub fn conflate_queue() -> (ConflateTx, ConflateRx) {
    let slot = Arc::new(Mutex::new(Slot {
        asleep: true,
        ..Slot::default()
    }));
    (ConflateTx(Arc::clone(&slot)), ConflateRx(slot))
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    // The slot holds plain data that no panic can leave half-written.
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

impl Tx for ConflateTx {
    fn push(&mut self, item: PipeItem) -> bool {
        let mut slot = lock(&self.0);
        match item {
            PipeItem::Message(m) => slot.latest.replace(m).is_some(),
            other => {
                slot.others.push_back(other);
                false
            }
        }
    }

    fn flush(&mut self) -> bool {
        !std::mem::replace(&mut lock(&self.0).asleep, false)
    }
}

impl Rx for ConflateRx {
    fn pop(&mut self) -> Option<PipeItem> {
        let mut slot = lock(&self.0);
        let item = slot
            .others
            .pop_front()
            .or_else(|| slot.latest.take().map(PipeItem::Message));
        if item.is_none() {
            slot.asleep = true;
        }
        item
    }

    fn try_pop(&mut self) -> Option<PipeItem> {
        let mut slot = lock(&self.0);
        slot.others
            .pop_front()
            .or_else(|| slot.latest.take().map(PipeItem::Message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn a_flush_reports_the_sleeper_once() {
        let (mut tx, mut rx) = queue();
        tx.push(PipeItem::Message(Message::from("a")));
        assert!(!tx.flush(), "the reader starts asleep");
        assert!(tx.flush(), "and was woken");
        assert!(rx.pop().is_some());
        assert!(rx.pop().is_none());
        assert!(tx.flush(), "nothing to read: the report waits");
        tx.push(PipeItem::Message(Message::from("b")));
        assert!(
            !tx.flush(),
            "for the flush that gives the sleeper something"
        );
        assert!(tx.flush());
    }
}
