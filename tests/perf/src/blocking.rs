//! The workloads, written once for every blocking, libzmq-shaped implementation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use crate::child;
use crate::spec::{self, Kind, Metric, Transport, Workload, DATA, END, WARMUP};

/// A blocking implementation: a context that makes sockets.
pub trait Blocking: Sync + 'static {
    type Socket: Socket;
    /// A fresh context.
    fn new() -> Self;
    /// The transports it has.
    const TRANSPORTS: &'static [Transport];
    /// A socket of `kind`; `hwm` raises both high-water marks where given.
    fn socket(&self, kind: Kind, hwm: Option<usize>) -> Self::Socket;
    /// Whether its sockets do CURVE ([`Socket::curve`]).
    const CURVE: bool = false;
}

/// A blocking socket. Failures panic: the cell runs in a child process, and its parent
/// reports the cell as failed.
pub trait Socket: Send + 'static {
    /// A payload ready to send as many times as needed, in the cheapest form the library
    /// offers for that (a refcounted buffer where it has one, plain bytes to copy where not).
    type Msg: Send + Sync + 'static;
    /// Binds and returns the endpoint to connect to.
    fn bind(&mut self, endpoint: &str) -> String;
    fn connect(&mut self, endpoint: &str);
    fn subscribe_all(&mut self);
    fn message(&self, payload: &[u8]) -> Self::Msg;
    fn send(&mut self, msg: &Self::Msg);
    /// Receives one whole message: the last frame's length and first byte.
    fn recv(&mut self) -> (usize, u8);
    /// Makes the socket a CURVE server or client with the keys of [`spec::CURVE_SERVER`] and
    /// [`spec::CURVE_CLIENT`], before it binds or connects.
    fn curve(&mut self, server: bool) {
        let _ = server;
        unreachable!("this implementation has no CURVE");
    }
}

/// Runs one cell on a fresh context of `B` (the harness entry's `run`, in the child).
pub fn run<B: Blocking>(w: Workload, count: usize, tag: &str) -> Vec<(Metric, f64)> {
    let b = B::new();
    match w {
        Workload::PushPull { transport, size } => vec![(
            Metric::Rate,
            stream(&b, Kind::Push, Kind::Pull, transport, size, count, tag),
        )],
        Workload::DealerRouter { transport, size } => vec![(
            Metric::Rate,
            stream(&b, Kind::Dealer, Kind::Router, transport, size, count, tag),
        )],
        Workload::PubSub { subs, size } => {
            let (rate, lost) = fanout(&b, subs, size, count, tag);
            vec![(Metric::Rate, rate), (Metric::Lost, lost)]
        }
        Workload::ReqRep { transport, size } => {
            let (p50, p99) = round_trips(&b, transport, size, count, tag);
            vec![(Metric::P50, p50), (Metric::P99, p99)]
        }
        Workload::Accept => accept(&b, count),
        Workload::CurvePushPull { size } => {
            vec![(Metric::Rate, stream_secured(&b, size, count, tag))]
        }
    }
}

/// Messages sent before the clock starts: connections up, buffers and caches warm.
pub fn warmup_count(count: usize) -> usize {
    (count / 10).clamp(1, 1000)
}

/// One sender, one receiver; the clock runs from the first data message sent to the last
/// received. Returns messages per second.
fn stream<B: Blocking>(
    b: &B,
    tx_kind: Kind,
    rx_kind: Kind,
    transport: Transport,
    size: usize,
    count: usize,
    tag: &str,
) -> f64 {
    let rx = b.socket(rx_kind, None);
    let tx = b.socket(tx_kind, None);
    timed_stream(rx, tx, transport, size, count, tag)
}

/// [`stream`] PUSH → PULL over tcp, the PULL a CURVE server and the PUSH its client.
fn stream_secured<B: Blocking>(b: &B, size: usize, count: usize, tag: &str) -> f64 {
    let mut rx = b.socket(Kind::Pull, None);
    rx.curve(true);
    let mut tx = b.socket(Kind::Push, None);
    tx.curve(false);
    timed_stream(rx, tx, Transport::Tcp, size, count, tag)
}

fn timed_stream<S: Socket>(
    mut rx: S,
    mut tx: S,
    transport: Transport,
    size: usize,
    count: usize,
    tag: &str,
) -> f64 {
    let ep = rx.bind(&spec::endpoint(transport, tag));
    tx.connect(&ep);
    let warm = tx.message(&spec::payload(size, WARMUP));
    let data = tx.message(&spec::payload(size, DATA));
    let warm_n = warmup_count(count);
    let (warmed_tx, warmed) = mpsc::channel();
    let receiver = thread::spawn(move || {
        for _ in 0..warm_n {
            rx.recv();
        }
        warmed_tx.send(()).expect("warm-up signal");
        for _ in 0..count {
            let (len, first) = rx.recv();
            assert_eq!((len, first), (size, DATA), "received a wrong message");
        }
        (Instant::now(), rx)
    });
    for _ in 0..warm_n {
        tx.send(&warm);
    }
    warmed.recv().expect("receiver warmed up");
    let t0 = Instant::now();
    for _ in 0..count {
        tx.send(&data);
    }
    let (t1, _rx) = receiver.join().expect("receiver thread");
    count as f64 / (t1 - t0).as_secs_f64()
}

/// One PUB, `subs` SUBs subscribed to everything, queues deep enough that nothing drops.
/// Returns deliveries per second, summed over the subscribers.
fn fanout<B: Blocking>(b: &B, subs: usize, size: usize, count: usize, tag: &str) -> (f64, f64) {
    let hwm = Some(count + 10_000);
    let mut publisher = b.socket(Kind::Pub, hwm);
    let ep = publisher.bind(&spec::endpoint(Transport::Tcp, tag));
    let ready = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for _ in 0..subs {
        let mut s = b.socket(Kind::Sub, hwm);
        s.connect(&ep);
        s.subscribe_all();
        let (ready, done) = (Arc::clone(&ready), Arc::clone(&done));
        threads.push(thread::spawn(move || {
            let mut warmed = false;
            let mut n = 0usize;
            loop {
                match s.recv().1 {
                    WARMUP if !warmed => {
                        warmed = true;
                        ready.fetch_add(1, Ordering::SeqCst);
                    }
                    DATA => n += 1,
                    END => break,
                    _ => {}
                }
            }
            let t = Instant::now();
            done.fetch_add(1, Ordering::SeqCst);
            (t, n, s)
        }));
    }
    let warm = publisher.message(&spec::payload(size, WARMUP));
    let data = publisher.message(&spec::payload(size, DATA));
    let end = publisher.message(&spec::payload(size, END));
    // Subscriptions travel to the publisher after connecting: send warm-ups until every
    // subscriber has seen one.
    while ready.load(Ordering::SeqCst) < subs {
        publisher.send(&warm);
        thread::sleep(Duration::from_millis(1));
    }
    let t0 = Instant::now();
    for _ in 0..count {
        publisher.send(&data);
    }
    while done.load(Ordering::SeqCst) < subs {
        publisher.send(&end);
        thread::sleep(Duration::from_millis(1));
    }
    let mut last = t0;
    let mut delivered = 0;
    for t in threads {
        let (t1, n, _s) = t.join().expect("subscriber thread");
        last = last.max(t1);
        delivered += n;
    }
    (
        delivered as f64 / (last - t0).as_secs_f64(),
        child::lost_percent(subs * count, delivered),
    )
}

/// REQ/REP round trips one at a time. Returns (median, p99) in nanoseconds.
fn round_trips<B: Blocking>(
    b: &B,
    transport: Transport,
    size: usize,
    count: usize,
    tag: &str,
) -> (f64, f64) {
    let mut rep = b.socket(Kind::Rep, None);
    let ep = rep.bind(&spec::endpoint(transport, tag));
    let mut req = b.socket(Kind::Req, None);
    req.connect(&ep);
    let reply = rep.message(&spec::payload(size, DATA));
    let server = thread::spawn(move || loop {
        let (_, first) = rep.recv();
        if first == END {
            return rep;
        }
        rep.send(&reply);
    });
    let ask = req.message(&spec::payload(size, DATA));
    for _ in 0..warmup_count(count) {
        req.send(&ask);
        req.recv();
    }
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let t0 = Instant::now();
        req.send(&ask);
        let (len, _) = req.recv();
        times.push(t0.elapsed());
        assert_eq!(len, size, "reply of a wrong size");
    }
    req.send(&req.message(&spec::payload(size, END)));
    let _rep = server.join().expect("server thread");
    child::percentiles(times)
}

/// `count` ZMTP clients, in a separate process, connect to one ROUTER and send one message
/// each.
fn accept<B: Blocking>(b: &B, count: usize) -> Vec<(Metric, f64)> {
    let mut router = b.socket(Kind::Router, None);
    let ep = router.bind(&spec::endpoint(Transport::Tcp, "accept"));
    let before = child::rss_bytes();
    let clients = child::spawn_zmtp_clients(&ep, count);
    let t0 = Instant::now();
    for _ in 0..count {
        router.recv();
    }
    let secs = t0.elapsed().as_secs_f64();
    let after = child::rss_bytes();
    drop(clients);
    vec![
        (Metric::AcceptTime, secs),
        (
            Metric::BytesPerConn,
            (after.saturating_sub(before)) as f64 / count as f64,
        ),
    ]
}
