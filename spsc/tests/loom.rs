//! Model checks of the queue under loom: every interleaving of one writer thread and one
//! reader thread, within loom's preemption bound (3 unless `LOOM_MAX_PREEMPTIONS` says
//! otherwise). Run with `RUSTFLAGS="--cfg loom" cargo test -p oxmq-spsc --release`.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Notify};
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&runs);
    builder.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    let runs = runs.load(std::sync::atomic::Ordering::Relaxed);
    println!("{}: {runs} interleavings", thread_name());
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_owned()
}

/// A wake-up call: a count of wake-ups sent, and a [`Notify`] to wait on (which may return
/// spuriously, so the count says whether a wake-up really came).
#[derive(Default)]
struct Wake {
    sent: AtomicUsize,
    notify: Notify,
}

impl Wake {
    fn send(&self) {
        self.sent.fetch_add(1, Ordering::Release);
        self.notify.notify();
    }

    /// Waits for wake-up number `taken + 1`.
    fn wait(&self, taken: &mut usize) {
        while self.sent.load(Ordering::Acquire) == *taken {
            self.notify.wait();
        }
        *taken += 1;
        assert_eq!(
            self.sent.load(Ordering::Acquire),
            *taken,
            "one wake-up a sleep"
        );
    }
}

/// The writer sends `0..total` in `batches`, flushing after each and waking the reader whenever
/// the flush reports it asleep. The reader waits for its first wake-up (it starts asleep), then
/// reads, waiting again each time a read finds nothing. A wake-up the writer failed to owe
/// leaves the reader waiting for good: loom reports a deadlock.
fn stream<const N: usize>(batches: &'static [usize]) {
    model(move || {
        let total: usize = batches.iter().sum();
        let (mut tx, mut rx) = oxmq_spsc::channel::<usize, N>();
        let wake = Arc::new(Wake::default());
        let writer = {
            let wake = Arc::clone(&wake);
            thread::spawn(move || {
                let mut next = 0;
                let mut reports = 0;
                for &batch in batches {
                    for _ in 0..batch {
                        tx.write(next);
                        next += 1;
                    }
                    if tx.flush() {
                        reports += 1;
                        wake.send();
                    }
                }
                reports
            })
        };
        let mut woken = 0;
        wake.wait(&mut woken);
        let mut sleeps = 0;
        let mut expect = 0;
        while expect < total {
            match rx.read() {
                Some(v) => {
                    assert_eq!(v, expect, "once, in order");
                    expect += 1;
                }
                None => {
                    sleeps += 1;
                    wake.wait(&mut woken);
                }
            }
        }
        let reports = writer.join().unwrap();
        // The first report is for the sleep the reader starts in.
        assert_eq!(reports, sleeps + 1, "one report a sleep");
        assert_eq!(rx.try_read(), None);
    });
}

#[test]
fn a_stream_across_one_item_chunks() {
    stream::<1>(&[2, 1, 1]);
}

#[test]
fn a_stream_across_two_item_chunks() {
    stream::<2>(&[1, 2, 2]);
}

#[test]
fn a_stream_of_single_flushes() {
    stream::<2>(&[1, 1, 1, 1]);
}

/// `try_read` never sleeps, so only the reader's initial sleep is ever reported, whatever the
/// interleaving; and what it sees is a prefix of what was written, in order.
#[test]
fn looking_does_not_sleep() {
    model(|| {
        let (mut tx, mut rx) = oxmq_spsc::channel::<usize, 1>();
        let writer = thread::spawn(move || {
            let mut reports = 0;
            for v in 0..3 {
                tx.write(v);
                reports += usize::from(tx.flush());
            }
            (tx, reports)
        });
        let mut expect = 0;
        for _ in 0..3 {
            if let Some(v) = rx.try_read() {
                assert_eq!(v, expect);
                expect += 1;
            }
        }
        let (tx, reports) = writer.join().unwrap();
        assert_eq!(reports, 1);
        drop(tx);
        while let Some(v) = rx.read() {
            assert_eq!(v, expect);
            expect += 1;
        }
        assert_eq!(expect, 3);
    });
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Each end goes on its own thread while items are in flight, published or not: each item is
/// dropped exactly once, by the reader or by whichever end goes last.
#[test]
fn unread_items_are_dropped_once() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = oxmq_spsc::channel::<Counted, 1>();
        let writer = {
            let drops = Arc::clone(&drops);
            thread::spawn(move || {
                tx.write(Counted(Arc::clone(&drops)));
                tx.write(Counted(Arc::clone(&drops)));
                let _ = tx.flush();
                tx.write(Counted(drops));
            })
        };
        let reader = thread::spawn(move || {
            drop(rx.read());
        });
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    });
}
