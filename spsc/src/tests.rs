use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;

/// Counts its drops into a shared counter.
#[derive(Debug)]
struct Counted(u32, Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn nothing_is_visible_before_a_flush() {
    let (mut tx, mut rx) = channel::<u32, 4>();
    tx.write(7);
    assert_eq!(rx.try_read(), None);
    assert_eq!(rx.read(), None);
    assert!(tx.flush());
    assert_eq!(rx.read(), Some(7));
}

#[test]
fn each_sleep_is_reported_once() {
    let (mut tx, mut rx) = channel::<u32, 4>();
    assert!(!tx.flush(), "nothing to publish, nothing to report");
    tx.write(1);
    assert!(tx.flush(), "the reader starts asleep");
    tx.write(2);
    assert!(!tx.flush(), "reported already");
    assert_eq!(rx.read(), Some(1));
    assert_eq!(rx.read(), Some(2));
    assert_eq!(rx.read(), None);
    assert_eq!(rx.read(), None, "still the same sleep");
    assert!(!tx.flush(), "an empty flush defers the report");
    tx.write(3);
    assert!(tx.flush());
    assert_eq!(rx.read(), Some(3));
}

#[test]
fn try_read_does_not_sleep() {
    let (mut tx, mut rx) = channel::<u32, 4>();
    tx.write(1);
    assert!(tx.flush());
    assert_eq!(rx.try_read(), Some(1));
    assert_eq!(rx.try_read(), None);
    tx.write(2);
    assert!(!tx.flush(), "the reader only looked");
    assert!(rx.check_read());
    assert_eq!(rx.try_read(), Some(2));
    assert!(!rx.check_read(), "a check that finds nothing sleeps");
    tx.write(3);
    assert!(tx.flush());
}

#[test]
fn items_cross_many_chunks_in_order() {
    let (mut tx, mut rx) = channel::<u32, 3>();
    for round in 0..50u32 {
        for i in 0..round % 7 {
            tx.write(round * 10 + i);
        }
        let _ = tx.flush();
        let got: Vec<u32> = std::iter::from_fn(|| rx.read()).collect();
        let want: Vec<u32> = (0..round % 7).map(|i| round * 10 + i).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn ordered_across_chunk_sizes() {
    fn run<const N: usize>() {
        let (mut tx, mut rx) = channel::<usize, N>();
        let mut expect = 0;
        for i in 0..1000 {
            tx.write(i);
            if i % 5 == 4 {
                let _ = tx.flush();
                // Read a little less than was written, so the head trails across chunks.
                for _ in 0..4 {
                    assert_eq!(rx.read(), Some(expect));
                    expect += 1;
                }
            }
        }
        let _ = tx.flush();
        while let Some(v) = rx.read() {
            assert_eq!(v, expect);
            expect += 1;
        }
        assert_eq!(expect, 1000);
    }
    run::<1>();
    run::<2>();
    run::<7>();
    run::<256>();
}

#[test]
fn unread_items_are_dropped_once_whoever_goes_last() {
    for reader_last in [false, true] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = channel::<Counted, 2>();
        for i in 0..9 {
            tx.write(Counted(i, Arc::clone(&drops)));
            if i == 5 {
                let _ = tx.flush();
            }
        }
        // Three read and dropped, three published unread, three unpublished.
        for i in 0..3 {
            assert_eq!(rx.read().map(|c| c.0), Some(i));
        }
        assert_eq!(drops.load(Ordering::Relaxed), 3);
        if reader_last {
            drop(tx);
            assert_eq!(
                drops.load(Ordering::Relaxed),
                3,
                "the reader may still read"
            );
            assert_eq!(rx.read().map(|c| c.0), Some(3));
            drop(rx);
        } else {
            drop(rx);
            drop(tx);
        }
        assert_eq!(drops.load(Ordering::Relaxed), 9);
    }
}

#[test]
fn zero_sized_items() {
    let (mut tx, mut rx) = channel::<(), 2>();
    for _ in 0..5 {
        tx.write(());
    }
    assert!(tx.flush());
    assert_eq!(std::iter::from_fn(|| rx.read()).count(), 5);
}

fn spares<T, const N: usize>(tx: &Writer<T, N>) -> usize {
    let spares = &tx.shared.spares;
    spares
        .iter()
        .filter(|s| !s.load(Ordering::Relaxed).is_null())
        .count()
}

#[test]
fn the_spare_chunk_is_reused() {
    let (mut tx, mut rx) = channel::<u32, 2>();
    // Chunks: [0] (the small first one), [1, 2], [3, ...].
    for i in 0..4 {
        tx.write(i);
    }
    let _ = tx.flush();
    for i in 0..4 {
        assert_eq!(rx.read(), Some(i)); // reading 3 leaves [1, 2] as a spare
    }
    assert_eq!(spares(&tx), 1);
    tx.write(4);
    tx.write(5); // a new chunk: the spare
    assert_eq!(spares(&tx), 0);
    let _ = tx.flush();
    assert_eq!(rx.read(), Some(4));
    assert_eq!(rx.read(), Some(5));
}

#[test]
fn the_first_chunk_is_small_and_not_kept() {
    assert_eq!(first_chunk(32), 4);
    assert_eq!(first_chunk(2), 1);
    assert_eq!(first_chunk(1), 1);
    assert!(Chunk::<[u8; 48], 32>::layout(4).size() < Chunk::<[u8; 48], 32>::layout(32).size() / 4);
    let (mut tx, mut rx) = channel::<u32, 32>();
    tx.write(0);
    // SAFETY: the writer is not in a call; its state is only read.
    let cap = |tx: &Writer<u32, 32>| unsafe { (*tx.shared.writer.0.get()).cap };
    assert_eq!(cap(&tx), 4, "one item costs a small chunk");
    for i in 1..6 {
        tx.write(i);
    }
    assert_eq!(cap(&tx), 32, "the next one is whole");
    let _ = tx.flush();
    for i in 0..6 {
        assert_eq!(rx.read(), Some(i));
    }
    assert_eq!(spares(&tx), 0, "the small chunk was freed, not kept");
}

#[test]
fn emptied_chunks_are_kept_up_to_the_spare_slots() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = channel::<Counted, 1>();
    // One-item chunks: reading item k + 1 empties chunk k.
    let n = SPARES + 3;
    for i in 0..n {
        tx.write(Counted(i as u32, Arc::clone(&drops)));
    }
    let _ = tx.flush();
    for i in 0..n {
        assert_eq!(rx.read().map(|c| c.0), Some(i as u32));
    }
    assert_eq!(spares(&tx), SPARES, "the rest were freed");
    // A writer released after the reader emptied many chunks finds them all again.
    let before: Vec<_> = tx
        .shared
        .spares
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .collect();
    let mut reused = Vec::new();
    for i in 0..SPARES {
        tx.write(Counted((n + i) as u32, Arc::clone(&drops)));
        // SAFETY: the writer is not in a call; its chunk pointer is only read.
        reused.push(unsafe { (*tx.shared.writer.0.get()).chunk });
    }
    assert_eq!(spares(&tx), 0);
    assert!(reused.iter().all(|c| before.contains(c)));
    let _ = tx.flush();
    for i in 0..SPARES {
        assert_eq!(rx.read().map(|c| c.0), Some((n + i) as u32));
    }
    drop((tx, rx));
    assert_eq!(drops.load(Ordering::Relaxed), n + SPARES);
}

#[test]
fn no_chunk_before_the_first_write() {
    let (mut tx, mut rx) = channel::<u32, 4>();
    assert_eq!(rx.read(), None);
    assert!(!tx.flush());
    // SAFETY: the writer is not in a call, and nothing else writes the link.
    let first = |tx: &Writer<u32, 4>| tx.shared.first.with(|link| unsafe { *link });
    assert!(first(&tx).is_null());
    tx.write(1);
    assert!(!first(&tx).is_null());
    assert!(tx.flush());
    assert_eq!(rx.read(), Some(1));
}

#[test]
fn dropped_unread_before_any_read() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, rx) = channel::<Counted, 2>();
    for i in 0..5 {
        tx.write(Counted(i, Arc::clone(&drops)));
    }
    drop(rx);
    drop(tx);
    assert_eq!(drops.load(Ordering::Relaxed), 5);
    // And a queue that never carried anything.
    drop(channel::<Counted, 2>());
}

#[test]
fn the_shared_part_is_three_lines() {
    // The published position, the handle count, the spare slots and the first link on one
    // 128-byte line; each end's private state on one of its own.
    assert_eq!(std::mem::size_of::<Shared<[u8; 48], 32>>(), 384);
}
