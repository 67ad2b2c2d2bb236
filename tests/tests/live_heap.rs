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

/// The count is the whole process's: the tests here take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

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
    let _turn = one_at_a_time();
    no_growth(&Mio::new());
    no_growth(&Tokio::new());
}

/// A ZMTP 3.0 NULL client's opening as a DEALER, then one one-byte message: what a raw
/// client writes, so that the peers cost this process no heap of their own.
fn dealer_hello() -> Vec<u8> {
    let mut b = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0];
    b.extend_from_slice(b"NULL");
    b.resize(b.len() + 16, 0); // the mechanism name, padded to 20
    b.push(0); // as-server
    b.resize(64, 0); // filler
    let ready = [
        &[5u8][..],
        b"READY",
        &[11],
        b"Socket-Type",
        &[0, 0, 0, 6],
        b"DEALER",
    ]
    .concat();
    b.extend_from_slice(&[0x04, ready.len() as u8]);
    b.extend_from_slice(&ready);
    b.extend_from_slice(&[0x00, 1, b'x']);
    b
}

/// Heap bytes a ROUTER holds for each of `n` accepted connections that said hello, sent
/// one message and stay open, idle.
fn per_idle_connection(front: &dyn Front, n: usize) -> i64 {
    use std::io::Write;
    let router = front.socket(SocketType::Router);
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let addr = ep.strip_prefix("tcp://").unwrap().to_owned();
    let hello = dealer_hello();
    let mut peers = Vec::with_capacity(n);
    // Warm-up: the tables that grow with the count reach a size of their own first.
    let mut warm = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(&hello).unwrap();
        warm.push(s);
        router.recv().unwrap();
    }
    drop(warm);
    let before = settled();
    for _ in 0..n {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(&hello).unwrap();
        peers.push(s);
        router.recv().unwrap();
    }
    let after = settled();
    drop(peers);
    (after - before) / n as i64
}

/// What an idle connection costs is a budget (the perf harness compares it with libzmq's
/// RSS): the session, the pipe's two queue headers and a small first chunk, the peer's
/// properties. Measured 2026-12-02: 4.5 KB on mio (8.7 KB the day before), 11.3 KB on
/// tokio (13.1 KB).
#[test]
fn an_idle_connection_costs_a_bounded_heap() {
    let _turn = one_at_a_time();
    let mio = per_idle_connection(&Mio::new(), 300);
    let tokio = per_idle_connection(&Tokio::new(), 300);
    eprintln!("heap per idle connection: mio {mio} B, tokio {tokio} B");
    assert!(mio < 5 * 1024, "mio: {mio} B per idle connection");
    assert!(tokio < 12 * 1024, "tokio: {tokio} B per idle connection");
}
