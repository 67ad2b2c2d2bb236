//! A ready-made pipe storage that works within one thread and across two: an unbounded
//! channel from the standard library (its lock-free list flavour) plus one flag saying the
//! reader sleeps.
//!
//! Why the wake-up is never lost: the reader, finding the channel empty, sets `asleep` and
//! then looks again; the writer pushes and then swaps `asleep` back to false. With a
//! sequentially consistent fence between each side's two steps, at least one of them sees the
//! other's first step: either the reader's second look finds the item (it takes it and clears
//! the flag; a writer that saw the flag anyway sends a harmless extra activation), or the
//! writer's swap finds the flag set and reports the sleeper. So an item never sits unseen in a
//! pipe whose reader sleeps without its writer having been told to wake it.

use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::message::Message;

use super::{PipeItem, Rx, Tx};

/// The writing side of [`queue`].
#[derive(Debug)]
pub struct QueueTx {
    items: mpsc::Sender<PipeItem>,
    asleep: Arc<AtomicBool>,
}

/// The reading side of [`queue`].
#[derive(Debug)]
pub struct QueueRx {
    items: mpsc::Receiver<PipeItem>,
    asleep: Arc<AtomicBool>,
}

/// One direction of pipe storage; its reader starts asleep.
pub fn queue() -> (QueueTx, QueueRx) {
    let (tx, rx) = mpsc::channel();
    let asleep = Arc::new(AtomicBool::new(true));
    (
        QueueTx {
            items: tx,
            asleep: Arc::clone(&asleep),
        },
        QueueRx { items: rx, asleep },
    )
}

impl Tx for QueueTx {
    fn push(&mut self, item: PipeItem) -> bool {
        // A reader that is gone takes nothing more: the item is dropped, as a terminated
        // pipe's unread messages are.
        let _ = self.items.send(item);
        false
    }

    fn flush(&mut self) -> bool {
        fence(Ordering::SeqCst);
        !self.asleep.swap(false, Ordering::SeqCst)
    }
}

impl Rx for QueueRx {
    fn pop(&mut self) -> Option<PipeItem> {
        if let Ok(item) = self.items.try_recv() {
            return Some(item);
        }
        self.asleep.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let item = self.items.try_recv().ok()?;
        // A write raced our sleep: we are awake after all.
        self.asleep.store(false, Ordering::SeqCst);
        Some(item)
    }

    fn try_pop(&mut self) -> Option<PipeItem> {
        self.items.try_recv().ok()
    }
}

/// Storage for a pipe whose two ends are driven under one lock or in one thread (a socket
/// that runs its sessions itself): a plain queue behind an uncontended mutex, cheaper per
/// item than [`queue`]'s channel and fences when nothing runs in parallel. Correct across
/// threads too, only not lock-free.
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
        assert!(!tx.flush());
    }
}
