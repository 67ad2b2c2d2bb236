//! # oxmq-spsc
//!
//! An unbounded queue from one writer thread to one reader thread, in the discipline of
//! ZeroMQ's `ypipe`: the writer [`write`](Writer::write)s items privately and
//! [`flush`](Writer::flush)es them as a batch with one atomic operation, which also tells it
//! whether the reader had gone to sleep on an empty queue (and so must be woken by some other
//! means, a mailbox command in oxmq). The reader takes items from the batch it already knows
//! about with no atomic operation at all, and touches the shared word only when it runs dry.
//! Neither side locks or calls the system on the per-item path; memory comes in chunks of `N`
//! items (the first, allocated at the first write, holds only [`first_chunk`]`(N)`, so a queue
//! that carries a message or two stays small), and up to [`SPARES`] chunks the reader emptied
//! are kept for the writer to reuse.
//!
//! ```
//! let (mut tx, mut rx) = oxmq_spsc::channel::<u32, 8>();
//! tx.write(1);
//! tx.write(2);
//! assert_eq!(rx.read(), None, "nothing is visible before a flush");
//! assert!(tx.flush(), "the reader starts asleep: wake it");
//! assert_eq!(rx.read(), Some(1));
//! assert_eq!(rx.read(), Some(2));
//! assert_eq!(rx.read(), None, "dry: the reader goes to sleep");
//! tx.write(3);
//! assert!(tx.flush(), "so this flush owes it a wake-up");
//! tx.write(4);
//! assert!(!tx.flush(), "but not this one: it has not slept since");
//! ```
//!
//! ## How it works
//!
//! Items live in a linked list of chunks. Positions count items, in steps of two, so that the
//! low bit of the one shared word, `state`, is free to say "the reader sleeps":
//!
//! - the writer alone moves its tail (`written`) and the chunk links; `flushed` is where its
//!   last flush left `state`;
//! - the reader alone moves its head (`read`); `ready` is the last published position it has
//!   seen, so items in `read..ready` are its to take without looking at `state`;
//! - `state` is the published position, with [`ASLEEP`] set by the reader when it found
//!   nothing past `read` and stopped.
//!
//! A **flush** (if anything was written since the last) swaps `written` into `state` with
//! `Release`, and reports the reader asleep if the old value had `ASLEEP`. A **read** that has
//! run through `ready` loads `state` with `Acquire`; if it shows a new position, that becomes
//! `ready`; if not, the reader compare-exchanges `read` for `read | ASLEEP` and, should that
//! fail because a flush got there first, takes the new position instead.
//!
//! **No item is read before it is published.** The writer stores an item (and, for the first
//! item of a chunk, the link to that chunk) before the `Release` swap that publishes a
//! position past it; the reader only reads items below a position it got from an `Acquire`
//! load or a failed `Acquire` compare-exchange of `state`, which read that swap's value (or a
//! later one, from a later swap of the same writer). So the store happens before the read.
//!
//! **No wake-up is lost.** Both the reader's going to sleep and the writer's publishing are
//! read-modify-write operations on the one word `state`, so they fall in one total order
//! (its modification order), and each reads the value the other left if it came first. If
//! the reader's compare-exchange comes first, the writer's swap reads `ASLEEP` and reports the
//! sleeper. If the swap comes first, the compare-exchange finds a position other than `read`
//! and fails: the reader does not sleep and takes the items. A reader can therefore never sleep
//! with published items it did not see, nor stay asleep past a flush that did not report it.
//! Each sleep is reported exactly once: the swap that reports it also clears the bit. A flush
//! with nothing new returns at once and reports nothing, so a sleep is reported by the first
//! flush that gives the reader something to read. Nothing here needs `SeqCst`: unlike a flag
//! beside a separate queue, there is only one location to agree on.
//!
//! **Chunks.** The writer links a new chunk (a spare, or a fresh allocation, its link reset)
//! when it writes the first item past a full one, or into `first` for the very first item (a
//! queue that never carries anything costs no chunk); the reader steps to the next chunk (or to
//! `first`) only when it reads such an item, which was published after the link was written.
//! A chunk's capacity is in its header, written with its link before the publishing swap, so
//! the reader learns it as it learns the link. The first chunk is small; every later one holds
//! `N`, and only those go to the spare slots (a small one is freed once read).
//! The chunk it leaves goes into the first empty one of [`SPARES`] slots by a `Release`
//! compare-exchange from null, after the reader's last read of it; the writer empties a full
//! slot with an `Acquire` swap, so its writes into a recycled chunk come after those reads.
//! Only the reader stores a chunk into a slot and only the writer takes one out, so a slot the
//! writer sees full stays full until its swap, and a chunk the reader finds no empty slot for
//! is one nobody else can reach: it frees it. That is one atomic operation per chunk on each
//! side in the common case, none per item. One spare (as `ypipe` keeps) is not enough for
//! small chunks: a writer blocked at its high-water mark and released after the reader
//! emptied several chunks would allocate all but one of them afresh, and an allocation of a
//! chunk's size costs far more than the items it carries (glibc consolidates its fast bins for
//! it).
//!
//! **Drop.** Each end's private positions live beside `state` in the shared allocation, with
//! a count of the handles left (two at first) in the first line; the last handle to go (its
//! `Release` decrement and an `Acquire` fence order it after the other, as in `Arc`) drops the
//! items from the reader's head up to the writer's tail, published or not, then frees the
//! chunks and the spare. Items written after the reader is gone are kept until the writer goes
//! too, as in `ypipe`: a pipe stops its writer by its own handshake, not through the storage.
//!
//! ## Checked
//!
//! Under loom (`RUSTFLAGS="--cfg loom" cargo test -p oxmq-spsc --release`) with one- and
//! two-item chunks: every item arrives once and in order across chunk boundaries (the
//! two-item queue's first chunk holds one, so a change of capacity is crossed too) and spare
//! recycling (with two spare slots), every sleep is reported exactly once (a lost wake-up
//! shows as a deadlock), and unread items are dropped once whichever end goes last. Plus a property test against a
//! plain-queue model and a two-thread stress test.

#![warn(missing_docs)]

mod sync;

use std::fmt;
use std::mem::MaybeUninit;
use std::ptr;

use std::ptr::NonNull;

use sync::{fence, AtomicPtr, AtomicUsize, Ordering, UnsafeCell};

/// The low bit of `state`: the reader found nothing past its head and sleeps.
const ASLEEP: usize = 1;
/// Positions advance by this much an item, leaving [`ASLEEP`] free.
const STEP: usize = 2;
/// How many emptied chunks a queue keeps for reuse (fewer under loom, to keep its search
/// small). Twelve is the most that fits the shared part's first 128-byte line beside the
/// published position, the handle count and the first link, so the queue's own allocation
/// stays three lines (384 bytes);
/// twelve of oxmq's pipe chunks (32 items of 48 bytes) are about 18 KiB, about what libzmq's
/// `ypipe` keeps for a pipe that carried anything (a chunk of 256 messages and a spare).
#[cfg(not(loom))]
pub const SPARES: usize = 12;
/// How many emptied chunks a queue keeps for reuse (fewer under loom, to keep its search
/// small).
#[cfg(loom)]
pub const SPARES: usize = 2;

/// How many items the first chunk of a queue with `N`-item chunks holds: four at most, so a
/// queue that carries a message or two (an idle connection's) costs a fraction of a chunk.
/// Under two items a chunk it is the whole chunk; a two-item queue (loom's) starts with one.
pub const fn first_chunk(n: usize) -> usize {
    if n >= 8 {
        4
    } else if n >= 2 {
        n / 2
    } else {
        n
    }
}

type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// A header — the link to the next chunk and the capacity — followed in the same allocation
/// by `cap` item slots (reached through [`Chunk::slot`], never through a reference to the
/// zero-length array, which only places and aligns them).
#[repr(C)]
struct Chunk<T, const N: usize> {
    next: UnsafeCell<*mut Chunk<T, N>>,
    cap: usize,
    slots: [Slot<T>; 0],
}

impl<T, const N: usize> Chunk<T, N> {
    fn layout(cap: usize) -> std::alloc::Layout {
        let slots = std::alloc::Layout::array::<Slot<T>>(cap).expect("chunk size overflows");
        let (layout, at) = std::alloc::Layout::new::<Chunk<T, N>>()
            .extend(slots)
            .expect("chunk size overflows");
        debug_assert_eq!(at, std::mem::offset_of!(Chunk<T, N>, slots));
        layout.pad_to_align()
    }

    fn alloc(cap: usize) -> *mut Chunk<T, N> {
        let layout = Self::layout(cap);
        // SAFETY: the layout is not zero-sized (the header is not).
        let chunk = unsafe { std::alloc::alloc(layout) }.cast::<Chunk<T, N>>();
        if chunk.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: `chunk` is a fresh allocation for the header and `cap` slots; each field and
        // slot is written once before any use.
        unsafe {
            ptr::addr_of_mut!((*chunk).next).write(UnsafeCell::new(ptr::null_mut()));
            ptr::addr_of_mut!((*chunk).cap).write(cap);
            for i in 0..cap {
                Self::slot(chunk, i).write(UnsafeCell::new(MaybeUninit::uninit()));
            }
        }
        chunk
    }

    /// Slot `i` of `chunk`.
    ///
    /// # Safety
    /// `chunk` is live and `i` is below its capacity.
    unsafe fn slot(chunk: *mut Chunk<T, N>, i: usize) -> *mut Slot<T> {
        ptr::addr_of_mut!((*chunk).slots).cast::<Slot<T>>().add(i)
    }

    /// Frees a chunk without dropping what its slots hold.
    ///
    /// # Safety
    /// `chunk` came from [`Chunk::alloc`], and nothing uses it after.
    unsafe fn free(chunk: *mut Chunk<T, N>) {
        let cap = (*chunk).cap;
        // The cells only (a `MaybeUninit` drops nothing): loom tracks each one.
        for i in 0..cap {
            ptr::drop_in_place(Self::slot(chunk, i));
        }
        ptr::drop_in_place(ptr::addr_of_mut!((*chunk).next));
        std::alloc::dealloc(chunk.cast(), Self::layout(cap));
    }
}

/// The writer's private positions.
struct WriterEnd<T, const N: usize> {
    /// The chunk being filled (null before the first write), the next free slot in it and
    /// its capacity (`pos == cap` when full, or when there is no chunk yet).
    chunk: *mut Chunk<T, N>,
    pos: usize,
    cap: usize,
    /// Position after the last item written.
    written: usize,
    /// `written` at the last flush: the published position.
    flushed: usize,
}

/// The reader's private positions.
struct ReaderEnd<T, const N: usize> {
    /// The chunk being read (null before the first item), the next slot to read in it and its
    /// capacity (`pos == cap` when done with it, or when there is no chunk yet).
    chunk: *mut Chunk<T, N>,
    pos: usize,
    cap: usize,
    /// Position after the last item read.
    read: usize,
    /// The furthest published position this reader has seen.
    ready: usize,
}

/// One side's private state, on cache lines of its own so the two sides do not share one.
#[repr(align(128))]
struct Private<E>(std::cell::UnsafeCell<E>);

/// What the two handles share.
struct Shared<T, const N: usize> {
    /// The published position, `| ASLEEP` while the reader sleeps.
    state: AtomicUsize,
    /// Handles left: the last frees the whole. Counted here rather than by an `Arc`, whose
    /// two counts would take a line of their own (the allocation would be 512 bytes, not
    /// 384).
    handles: AtomicUsize,
    /// Chunks the reader emptied, for the writer to reuse; null where none.
    spares: [AtomicPtr<Chunk<T, N>>; SPARES],
    /// The first chunk, linked by the first write as a chunk's `next` is by later ones.
    first: UnsafeCell<*mut Chunk<T, N>>,
    /// Touched only through the [`Writer`] (and by `drop`, when both handles are gone).
    writer: Private<WriterEnd<T, N>>,
    /// Touched only through the [`Reader`] (and by `drop`).
    reader: Private<ReaderEnd<T, N>>,
}

/// One of the two counted references to a [`Shared`].
struct Handle<T, const N: usize>(NonNull<Shared<T, N>>);

impl<T, const N: usize> std::ops::Deref for Handle<T, N> {
    type Target = Shared<T, N>;

    fn deref(&self) -> &Shared<T, N> {
        // SAFETY: the shared part lives until the last handle is dropped.
        unsafe { self.0.as_ref() }
    }
}

impl<T, const N: usize> Drop for Handle<T, N> {
    fn drop(&mut self) {
        // Release: this handle's accesses happen before the last handle's drop of the whole.
        if self.handles.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Acquire: the other handle's accesses (before its Release decrement) happen before.
        fence(Ordering::Acquire);
        // SAFETY: `channel` made it from a `Box`, and this was the last handle to it.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// The writing end of a [`channel`].
pub struct Writer<T, const N: usize> {
    shared: Handle<T, N>,
}

/// The reading end of a [`channel`].
pub struct Reader<T, const N: usize> {
    shared: Handle<T, N>,
}

// SAFETY: a handle moves its items and its end's private state to whichever thread holds it;
// everything shared is reached through atomics or under the orderings the crate docs argue.
unsafe impl<T: Send, const N: usize> Send for Writer<T, N> {}
// SAFETY: as for the writer.
unsafe impl<T: Send, const N: usize> Send for Reader<T, N> {}

/// A new queue of `T` in chunks of `N` items; its reader starts asleep, so the first flush
/// that publishes something reports it.
pub fn channel<T, const N: usize>() -> (Writer<T, N>, Reader<T, N>) {
    const { assert!(N > 0, "a chunk holds at least one item") };
    let shared = Box::new(Shared {
        state: AtomicUsize::new(ASLEEP),
        handles: AtomicUsize::new(2),
        spares: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        first: UnsafeCell::new(ptr::null_mut()),
        writer: Private(std::cell::UnsafeCell::new(WriterEnd {
            chunk: ptr::null_mut(),
            pos: 0,
            cap: 0,
            written: 0,
            flushed: 0,
        })),
        reader: Private(std::cell::UnsafeCell::new(ReaderEnd {
            chunk: ptr::null_mut(),
            pos: 0,
            cap: 0,
            read: 0,
            ready: 0,
        })),
    });
    let shared = NonNull::from(Box::leak(shared));
    (
        Writer {
            shared: Handle(shared),
        },
        Reader {
            shared: Handle(shared),
        },
    )
}

impl<T, const N: usize> Writer<T, N> {
    /// Appends an item, invisible to the reader until the next [`flush`](Self::flush).
    pub fn write(&mut self, item: T) {
        // SAFETY: this handle is the only writer, and `&mut self` keeps its state to one call.
        let w = unsafe { &mut *self.shared.writer.0.get() };
        if w.pos == w.cap {
            let next = if w.chunk.is_null() {
                Chunk::alloc(first_chunk(N))
            } else {
                self.take_chunk()
            };
            // SAFETY: the link to a new chunk is the writer's: the reader follows it only
            // after a position past it is published, which happens after this store.
            unsafe {
                self.shared
                    .link_after(w.chunk)
                    .with_mut(|link| *link = next)
            };
            w.chunk = next;
            w.pos = 0;
            // SAFETY: the new chunk is live, and its capacity never changes.
            w.cap = unsafe { (*next).cap };
        }
        // SAFETY: slot `pos` of the tail chunk is past the published position, so the reader
        // does not touch it, and it is empty (never written, or read out before the chunk
        // was recycled).
        unsafe { (*Chunk::slot(w.chunk, w.pos)).with_mut(|slot| (*slot).write(item)) };
        w.pos += 1;
        w.written = w.written.wrapping_add(STEP);
    }

    /// Publishes everything written. Returns `true` if the reader had gone to sleep on an
    /// empty queue and must now be woken, once for each sleep; `false` if it is awake or if
    /// there was nothing new to publish.
    #[must_use = "a sleeping reader must be woken"]
    pub fn flush(&mut self) -> bool {
        // SAFETY: as in `write`.
        let w = unsafe { &mut *self.shared.writer.0.get() };
        if w.written == w.flushed {
            return false;
        }
        w.flushed = w.written;
        // Release: the items and links written so far happen before any read of them.
        let before = self.shared.state.swap(w.written, Ordering::Release);
        before & ASLEEP != 0
    }

    /// A spare chunk, emptied and handed over by the reader, or a fresh one; unlinked, of `N`
    /// items.
    fn take_chunk(&self) -> *mut Chunk<T, N> {
        for slot in &self.shared.spares {
            // A full slot stays full until this writer empties it, so the cheap look decides.
            if slot.load(Ordering::Relaxed).is_null() {
                continue;
            }
            // Acquire: the reader's last reads of the chunk happen before our writes into it.
            let spare = slot.swap(ptr::null_mut(), Ordering::Acquire);
            debug_assert!(!spare.is_null());
            // SAFETY: the spare is ours alone now: the reader put it there after it was done.
            unsafe { (*spare).next.with_mut(|link| *link = ptr::null_mut()) };
            return spare;
        }
        Chunk::alloc(N)
    }
}

impl<T, const N: usize> Reader<T, N> {
    /// Takes the oldest published item. `None` means there is none and the reader is asleep:
    /// the writer's next flush that publishes something reports it.
    pub fn read(&mut self) -> Option<T> {
        if !self.check_read() {
            return None;
        }
        // SAFETY: `check_read` saw an item at the head.
        Some(unsafe { self.take() })
    }

    /// Takes the oldest published item without going to sleep when there is none, so the
    /// writer owes no wake-up for the look.
    pub fn try_read(&mut self) -> Option<T> {
        // SAFETY: as in `check_read`.
        let r = unsafe { &mut *self.shared.reader.0.get() };
        if r.read == r.ready {
            let state = self.shared.state.load(Ordering::Acquire);
            if state & !ASLEEP == r.read {
                return None;
            }
            r.ready = state & !ASLEEP;
        }
        // SAFETY: an item is published past the head.
        Some(unsafe { self.take() })
    }

    /// Whether a published item waits at the head. `false` puts the reader to sleep, as
    /// [`read`](Self::read) does.
    pub fn check_read(&mut self) -> bool {
        // SAFETY: this handle is the only reader, and `&mut self` keeps its state to one call.
        let r = unsafe { &mut *self.shared.reader.0.get() };
        if r.read != r.ready {
            return true;
        }
        // Acquire (here and on the compare-exchange's failure): the writer's stores below the
        // position we read happen before we read them.
        let state = self.shared.state.load(Ordering::Acquire);
        if state & ASLEEP != 0 {
            // Asleep already, and no flush since.
            return false;
        }
        if state != r.read {
            r.ready = state;
            return true;
        }
        // Nothing new: sleep, unless a flush gets to `state` first. Success learns nothing,
        // so it needs no ordering.
        match self.shared.state.compare_exchange(
            r.read,
            r.read | ASLEEP,
            Ordering::Relaxed,
            Ordering::Acquire,
        ) {
            Ok(_) => false,
            Err(published) => {
                // Only the writer changes `state` while the reader is awake.
                debug_assert_eq!(published & ASLEEP, 0);
                r.ready = published;
                true
            }
        }
    }

    /// Takes the item at the head.
    ///
    /// # Safety
    /// An item is published past the head (`read != ready`).
    unsafe fn take(&mut self) -> T {
        let r = &mut *self.shared.reader.0.get();
        debug_assert_ne!(r.read, r.ready);
        if r.pos == r.cap {
            // The item at the head is the first of the next chunk, published after the
            // writer linked that chunk (and wrote its capacity).
            let next = self.shared.link_after(r.chunk).with(|link| *link);
            if !r.chunk.is_null() {
                self.recycle(r.chunk);
            }
            r.chunk = next;
            r.pos = 0;
            r.cap = (*next).cap;
        }
        let item = (*Chunk::slot(r.chunk, r.pos)).with(|slot| (*slot).assume_init_read());
        r.pos += 1;
        r.read = r.read.wrapping_add(STEP);
        item
    }

    /// Hands an emptied chunk to the writer as a spare, or frees it when every slot is full
    /// or it is the small first chunk.
    ///
    /// # Safety
    /// `chunk` is live, emptied, and the reader is done with it.
    unsafe fn recycle(&self, chunk: *mut Chunk<T, N>) {
        if (*chunk).cap != N {
            // SAFETY: only the reader knew this chunk still (the writer has moved past it).
            Chunk::free(chunk);
            return;
        }
        for slot in &self.shared.spares {
            // Release: our reads of the chunk happen before the writer's reuse of it.
            if slot
                .compare_exchange(ptr::null_mut(), chunk, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
        // SAFETY: no slot took the chunk, and only slots lead the writer to an emptied one:
        // nobody else can reach it.
        unsafe { Chunk::free(chunk) };
    }
}

impl<T, const N: usize> Shared<T, N> {
    /// The link to the chunk after `chunk`: its `next`, or `first` for none.
    ///
    /// # Safety
    /// A non-null `chunk` is live.
    unsafe fn link_after(&self, chunk: *mut Chunk<T, N>) -> &UnsafeCell<*mut Chunk<T, N>> {
        if chunk.is_null() {
            &self.first
        } else {
            &(*chunk).next
        }
    }
}

impl<T, const N: usize> Drop for Shared<T, N> {
    fn drop(&mut self) {
        // Both handles are gone, and their count orders their last accesses before this.
        let (tail, written) = {
            let w = self.writer.0.get_mut();
            (w.chunk, w.written)
        };
        let r = self.reader.0.get_mut();
        let (mut chunk, mut pos, mut cap, mut at) = (r.chunk, r.pos, r.cap, r.read);
        while at != written {
            if pos == cap {
                // SAFETY: an item follows, so the writer linked the next chunk; nothing
                // refers to this one any more.
                unsafe {
                    let next = self.link_after(chunk).with(|link| *link);
                    if !chunk.is_null() {
                        Chunk::free(chunk);
                    }
                    chunk = next;
                    cap = (*chunk).cap;
                }
                pos = 0;
            }
            // SAFETY: every slot between the reader's head and the writer's tail holds an item
            // nobody took.
            unsafe { (*Chunk::slot(chunk, pos)).with_mut(|slot| (*slot).assume_init_drop()) };
            pos += 1;
            at = at.wrapping_add(STEP);
        }
        // The writer links a chunk only to write into it, so the tail chunk is the last.
        debug_assert!(chunk == tail);
        if !chunk.is_null() {
            // SAFETY: the tail chunk and the spares are ours, and hold no items now.
            unsafe { Chunk::free(chunk) };
        }
        for slot in &self.spares {
            let spare = slot.swap(ptr::null_mut(), Ordering::Relaxed);
            if !spare.is_null() {
                // SAFETY: as above.
                unsafe { Chunk::free(spare) };
            }
        }
    }
}

impl<T, const N: usize> fmt::Debug for Writer<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl<T, const N: usize> fmt::Debug for Reader<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
