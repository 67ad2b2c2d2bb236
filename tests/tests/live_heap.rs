//! Peers that come and go leave nothing behind on the heap: a counting global allocator
//! measures the bytes a front-end holds while SUB and PUSH peers connect, talk and close,
//! on each front-end. Live bytes must not grow from one batch of peer lifetimes to the
//! next — what tells a leak from the allocator's own fragmentation, which the soaks' RSS
//! figures cannot. `OXMQ_LIVE_HEAP_ROUNDS=N` runs longer.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use oxmq_core::{Message, SocketType};
use oxmq_tests::front::{Front, Mio, Tokio, WAIT};

struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call goes to the system allocator unchanged; only a count of live bytes is
// kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as i64 - l.size() as i64, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// One batch: `n` SUBs that each hear a publication and close, and `n` PUSHes that each
/// deliver a message and close.
fn batch(
    front: &dyn Front,
    publisher: &dyn oxmq_tests::front::Sock,
    pub_ep: &str,
    pull: &dyn oxmq_tests::front::Sock,
    pull_ep: &str,
    n: usize,
) {
    for _ in 0..n {
        let sub = front.socket(SocketType::Sub);
        sub.subscribe(b"A").unwrap();
        sub.connect(pub_ep).unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            publisher.send(Message::from("A")).unwrap();
            if sub.recv_within(Duration::from_millis(2)).unwrap().is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "the subscriber never heard");
        }
        drop(sub);
        let push = front.socket(SocketType::Push);
        push.connect(pull_ep).unwrap();
        push.send(Message::from("x")).unwrap();
        pull.recv().unwrap();
    }
}

/// Live bytes once the closed peers' sessions are gone: the least seen over a settling
/// while (closing finishes in the background; the count only falls as it does).
fn settled() -> i64 {
    let mut least = LIVE.load(Ordering::Relaxed);
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(10));
        least = least.min(LIVE.load(Ordering::Relaxed));
    }
    least
}

fn no_growth(front: &dyn Front) {
    let rounds: usize = std::env::var("OXMQ_LIVE_HEAP_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let publisher = front.socket(SocketType::Pub);
    let pub_ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let pull = front.socket(SocketType::Pull);
    let pull_ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    // Warm-up: buffers, tables and the allocator's own structures reach their steady size.
    batch(front, &*publisher, &pub_ep, &*pull, &pull_ep, 200);
    let base = settled();
    let mut seen = Vec::new();
    for _ in 0..rounds {
        batch(front, &*publisher, &pub_ep, &*pull, &pull_ep, 200);
        seen.push(settled());
    }
    // 400 peer lifetimes a round: a leak of even 16 bytes each would show as 6 KiB.
    let last = *seen.last().unwrap();
    assert!(
        last - base < 4096,
        "{}: live heap grew from {base} to {seen:?} bytes over {} peer lifetimes",
        front.name(),
        rounds * 400
    );
}

#[test]
fn peers_that_come_and_go_leave_nothing_on_the_heap() {
    no_growth(&Mio::new());
    no_growth(&Tokio::new());
}
