//! The same workloads as [`crate::blocking`], written once for every async implementation:
//! senders and receivers are tasks on the implementation's own runtime.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::child;
use crate::spec::{self, Kind, Metric, Transport, Workload, DATA, END, WARMUP};

/// An async implementation: its runtime, and a way to make sockets on it.
pub trait Async: Send + Sync + Sized + 'static {
    type Socket: Socket;
    const TRANSPORTS: &'static [Transport];
    /// A fresh runtime (or context).
    fn new() -> Self;
    /// Runs `f` to completion on the implementation's runtime, as its own docs recommend.
    fn block_on<F, T>(&self, f: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static;
    /// A socket of `kind`; `hwm` raises both high-water marks where the library has them.
    /// Called on the runtime.
    fn socket(&self, kind: Kind, hwm: Option<usize>) -> impl Future<Output = Self::Socket> + Send;
    /// Whether its sockets do CURVE ([`Socket::curve`]).
    const CURVE: bool = false;
}

/// An async socket; as in [`crate::blocking::Socket`], failures panic.
pub trait Socket: Send + 'static {
    type Msg: Send + Sync + 'static;
    fn bind(&mut self, endpoint: &str) -> impl Future<Output = String> + Send;
    fn connect(&mut self, endpoint: &str) -> impl Future<Output = ()> + Send;
    fn subscribe_all(&mut self) -> impl Future<Output = ()> + Send;
    fn message(payload: &[u8]) -> Self::Msg;
    fn send(&mut self, msg: &Self::Msg) -> impl Future<Output = ()> + Send;
    /// Receives one whole message: the last frame's length and first byte.
    fn recv(&mut self) -> impl Future<Output = (usize, u8)> + Send;
    /// As [`crate::blocking::Socket::curve`].
    fn curve(&mut self, server: bool) {
        let _ = server;
        unreachable!("this implementation has no CURVE");
    }
}

/// Runs one cell on a fresh `A` (the harness entry's `run`, in the child).
pub fn run<A: Async>(w: Workload, count: usize, tag: &str) -> Vec<(Metric, f64)> {
    let a = Arc::new(A::new());
    let tag = tag.to_string();
    let runner = Arc::clone(&a);
    runner.block_on(async move {
        match w {
            Workload::PushPull { transport, size } => vec![(
                Metric::Rate,
                stream(a, Kind::Push, Kind::Pull, transport, size, count, tag).await,
            )],
            Workload::DealerRouter { transport, size } => vec![(
                Metric::Rate,
                stream(a, Kind::Dealer, Kind::Router, transport, size, count, tag).await,
            )],
            Workload::PubSub { subs, size } => {
                let (rate, lost) = fanout(a, subs, size, count, tag).await;
                vec![(Metric::Rate, rate), (Metric::Lost, lost)]
            }
            Workload::ReqRep { transport, size } => {
                let (p50, p99) = round_trips(a, transport, size, count, tag).await;
                vec![(Metric::P50, p50), (Metric::P99, p99)]
            }
            Workload::Accept => accept(a, count).await,
            Workload::CurvePushPull { size } => {
                let mut rx = a.socket(Kind::Pull, None).await;
                rx.curve(true);
                let mut tx = a.socket(Kind::Push, None).await;
                tx.curve(false);
                vec![(
                    Metric::Rate,
                    timed_stream::<A>(rx, tx, Transport::Tcp, size, count, tag).await,
                )]
            }
        }
    })
}

async fn stream<A: Async>(
    a: Arc<A>,
    tx_kind: Kind,
    rx_kind: Kind,
    transport: Transport,
    size: usize,
    count: usize,
    tag: String,
) -> f64 {
    let rx = a.socket(rx_kind, None).await;
    let tx = a.socket(tx_kind, None).await;
    timed_stream::<A>(rx, tx, transport, size, count, tag).await
}

async fn timed_stream<A: Async>(
    mut rx: A::Socket,
    mut tx: A::Socket,
    transport: Transport,
    size: usize,
    count: usize,
    tag: String,
) -> f64 {
    let ep = rx.bind(&spec::endpoint(transport, &tag)).await;
    tx.connect(&ep).await;
    let warm = <A::Socket as Socket>::message(&spec::payload(size, WARMUP));
    let data = <A::Socket as Socket>::message(&spec::payload(size, DATA));
    let warm_n = crate::blocking::warmup_count(count);
    let (warmed_tx, warmed) = oneshot::channel();
    let receiver = tokio::spawn(async move {
        for _ in 0..warm_n {
            rx.recv().await;
        }
        warmed_tx.send(()).expect("warm-up signal");
        for _ in 0..count {
            let (len, first) = rx.recv().await;
            assert_eq!((len, first), (size, DATA), "received a wrong message");
        }
        (Instant::now(), rx)
    });
    let sender = tokio::spawn(async move {
        for _ in 0..warm_n {
            tx.send(&warm).await;
        }
        warmed.await.expect("receiver warmed up");
        let t0 = Instant::now();
        for _ in 0..count {
            tx.send(&data).await;
        }
        (t0, tx)
    });
    let (t0, _tx) = sender.await.expect("sender task");
    let (t1, _rx) = receiver.await.expect("receiver task");
    count as f64 / (t1 - t0).as_secs_f64()
}

async fn fanout<A: Async>(
    a: Arc<A>,
    subs: usize,
    size: usize,
    count: usize,
    tag: String,
) -> (f64, f64) {
    let hwm = Some(count + 10_000);
    let mut publisher = a.socket(Kind::Pub, hwm).await;
    let ep = publisher.bind(&spec::endpoint(Transport::Tcp, &tag)).await;
    let ready = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..subs {
        let mut s = a.socket(Kind::Sub, hwm).await;
        s.connect(&ep).await;
        s.subscribe_all().await;
        let (ready, done) = (Arc::clone(&ready), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let mut warmed = false;
            let mut n = 0usize;
            loop {
                match s.recv().await.1 {
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
    let warm = <A::Socket as Socket>::message(&spec::payload(size, WARMUP));
    let data = <A::Socket as Socket>::message(&spec::payload(size, DATA));
    let end = <A::Socket as Socket>::message(&spec::payload(size, END));
    while ready.load(Ordering::SeqCst) < subs {
        publisher.send(&warm).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let t0 = Instant::now();
    for _ in 0..count {
        publisher.send(&data).await;
    }
    while done.load(Ordering::SeqCst) < subs {
        publisher.send(&end).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut last = t0;
    let mut delivered = 0;
    for t in tasks {
        let (t1, n, _s) = t.await.expect("subscriber task");
        last = last.max(t1);
        delivered += n;
    }
    (
        delivered as f64 / (last - t0).as_secs_f64(),
        child::lost_percent(subs * count, delivered),
    )
}

async fn round_trips<A: Async>(
    a: Arc<A>,
    transport: Transport,
    size: usize,
    count: usize,
    tag: String,
) -> (f64, f64) {
    let mut rep = a.socket(Kind::Rep, None).await;
    let ep = rep.bind(&spec::endpoint(transport, &tag)).await;
    let mut req = a.socket(Kind::Req, None).await;
    req.connect(&ep).await;
    let reply = <A::Socket as Socket>::message(&spec::payload(size, DATA));
    let server = tokio::spawn(async move {
        loop {
            let (_, first) = rep.recv().await;
            if first == END {
                return rep;
            }
            rep.send(&reply).await;
        }
    });
    let ask = <A::Socket as Socket>::message(&spec::payload(size, DATA));
    for _ in 0..crate::blocking::warmup_count(count) {
        req.send(&ask).await;
        req.recv().await;
    }
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let t0 = Instant::now();
        req.send(&ask).await;
        let (len, _) = req.recv().await;
        times.push(t0.elapsed());
        assert_eq!(len, size, "reply of a wrong size");
    }
    req.send(&<A::Socket as Socket>::message(&spec::payload(size, END)))
        .await;
    let _rep = server.await.expect("server task");
    child::percentiles(times)
}

async fn accept<A: Async>(a: Arc<A>, count: usize) -> Vec<(Metric, f64)> {
    let mut router = a.socket(Kind::Router, None).await;
    let ep = router.bind(&spec::endpoint(Transport::Tcp, "accept")).await;
    let before = child::rss_bytes();
    let clients = child::spawn_zmtp_clients(&ep, count);
    let t0 = Instant::now();
    for _ in 0..count {
        router.recv().await;
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
