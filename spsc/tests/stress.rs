//! One writer thread and one reader thread at full speed, the reader parking whenever a read
//! finds nothing and the writer unparking it whenever a flush says it slept: every item arrives
//! once, in order, and the reader is never left parked with items waiting.
#![cfg(not(loom))]

use std::thread;
use std::time::{Duration, Instant};

fn stream<const N: usize>(total: u64) {
    let (mut tx, mut rx) = oxmq_spsc::channel::<u64, N>();
    let reader = thread::spawn(move || {
        let mut expect = 0;
        let mut sleeps = 0u64;
        while expect < total {
            match rx.read() {
                Some(v) => {
                    assert_eq!(v, expect);
                    expect += 1;
                }
                None => {
                    sleeps += 1;
                    // A park may end spuriously or on a stale unpark: the next read sleeps
                    // again if nothing came, and the writer's next flush reports that. The
                    // writer streams without pause until it is done, so a reader parked for
                    // seconds is one whose wake-up was lost.
                    let parked = Instant::now();
                    thread::park_timeout(Duration::from_secs(10));
                    assert!(
                        parked.elapsed() < Duration::from_secs(10),
                        "lost wake-up at item {expect}"
                    );
                }
            }
        }
        sleeps
    });
    let reader_thread = reader.thread().clone();
    // A fixed LCG draws batch sizes, so a run is repeatable and needs no dependency.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut sent = 0;
    let mut reports = 0u64;
    while sent < total {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let batch = ((seed >> 33) % 64 + 1).min(total - sent);
        for _ in 0..batch {
            tx.write(sent);
            sent += 1;
        }
        if tx.flush() {
            reports += 1;
            reader_thread.unpark();
        }
        if seed >> 60 == 0 {
            thread::yield_now();
        }
    }
    let sleeps = reader.join().unwrap();
    assert!(reports >= 1, "the first flush finds the reader asleep");
    // A spurious park return re-reads and counts the same sleep again: reports never exceed
    // the sleeps (plus the initial one).
    assert!(
        reports <= sleeps + 1,
        "{reports} reports for {sleeps} sleeps"
    );
}

/// Miri runs the same streams, short.
const TOTAL: u64 = if cfg!(miri) { 3_000 } else { 1_000_000 };

#[test]
fn a_long_stream_through_small_chunks() {
    stream::<4>(TOTAL);
}

#[test]
fn a_long_stream_through_large_chunks() {
    stream::<256>(TOTAL);
}
