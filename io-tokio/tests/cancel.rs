//! Cancel safety: sends and receives dropped at seeded random points — after a seeded number
//! of polls, or when a short timer fires first — lose no message and duplicate none, on the
//! current-thread and the multi-thread runtime, over tcp and inproc. And a receive under
//! `tokio::time::timeout` never stalls the socket (zmq.rs issue #248).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::{sock, text, WAIT};
use oxmq_tokio::{Context, Message, SocketOption, SocketType};

/// SplitMix64: the test's own seeded stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Ready after it has been polled `n` times (waking itself in between).
struct Polls(u64);

impl Future for Polls {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The canceller for one attempt: a seeded count of polls, or a short timer.
fn canceller(rng: &mut Rng) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    match rng.below(3) {
        0 => Box::pin(Polls(rng.below(4))),
        1 => Box::pin(tokio::time::sleep(Duration::from_micros(rng.below(300)))),
        _ => Box::pin(tokio::task::yield_now()),
    }
}

const N: u64 = 3000;

fn message(i: u64) -> Message {
    Message::from_frames([Bytes::from(i.to_string()), Bytes::from_static(b"body")])
}

/// PUSH to PULL with every send and receive raced against a canceller; returns how many
/// attempts were cancelled on each side.
async fn exchange(endpoint: &str, seed: u64) -> (u64, u64) {
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let push = sock(&ctx, SocketType::Push);
    // Small HWMs, so that sends wait often and get cancelled while waiting.
    for s in [&push, &pull] {
        s.set(SocketOption::SndHwm(8)).unwrap();
        s.set(SocketOption::RcvHwm(8)).unwrap();
    }
    let ep = pull.bind(endpoint).await.unwrap();
    push.connect(&ep).await.unwrap();
    let sender = tokio::spawn(async move {
        let mut rng = Rng(seed);
        let mut cancelled = 0;
        for i in 0..N {
            loop {
                let sent = tokio::select! {
                    biased;
                    r = push.send(message(i)) => { r.unwrap(); true }
                    () = canceller(&mut rng) => false,
                };
                if sent {
                    break;
                }
                cancelled += 1;
            }
        }
        (cancelled, push)
    });
    let receiver = tokio::spawn(async move {
        let mut rng = Rng(seed ^ 0xABCD);
        let mut cancelled = 0;
        let mut next = 0;
        while next < N {
            let got = tokio::select! {
                biased;
                () = canceller(&mut rng) => None,
                r = pull.recv() => Some(r.unwrap()),
            };
            match got {
                None => cancelled += 1,
                Some(m) => {
                    assert_eq!(text(&m), [next.to_string(), "body".into()], "seed {seed}");
                    next += 1;
                }
            }
        }
        // Nothing more: no duplicate followed.
        assert!(
            pull.try_recv().is_err(),
            "seed {seed}: a message beyond the last"
        );
        cancelled
    });
    let (sent, recvd) = tokio::time::timeout(WAIT * 3, async {
        let (s, r) = tokio::join!(sender, receiver);
        (s.unwrap(), r.unwrap())
    })
    .await
    .unwrap_or_else(|_| panic!("seed {seed} over {endpoint}: stalled"));
    let (sent_cancelled, push) = sent;
    drop(push);
    (sent_cancelled, recvd)
}

fn runtimes() -> Vec<(&'static str, tokio::runtime::Runtime)> {
    vec![
        (
            "current-thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
        (
            "multi-thread",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        ),
    ]
}

/// The seeds to run: `OXMQ_CANCEL_SEEDS=N` sweeps N seeds from `OXMQ_CANCEL_SEED` (default
/// one fixed seed); a failure names the seed that replays it.
fn seeds() -> std::ops::Range<u64> {
    let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let from = var("OXMQ_CANCEL_SEED").unwrap_or(0x5EED_0000);
    from..from + var("OXMQ_CANCEL_SEEDS").unwrap_or(1)
}

#[test]
fn cancelled_sends_and_receives_lose_and_duplicate_nothing() {
    for (name, rt) in runtimes() {
        for seed in seeds() {
            for ep in ["tcp://127.0.0.1:*", "inproc://cancel"] {
                let (s, r) = rt.block_on(exchange(ep, seed));
                eprintln!("{name} {ep} seed {seed}: {s} sends and {r} receives cancelled");
                // The cancellations happened, on both sides (else the test shows nothing).
                assert!(
                    s > 0 && r > 0,
                    "{name} {ep}: cancelled {s} sends, {r} receives"
                );
            }
        }
    }
}

/// Frames: a message built with `send_frame` and read with `recv_frame`, each call raced
/// against a canceller, arrives whole and in order.
async fn frames_exchange(seed: u64) {
    let ctx = Context::new().unwrap();
    let a = sock(&ctx, SocketType::Dealer);
    let b = sock(&ctx, SocketType::Dealer);
    for s in [&a, &b] {
        s.set(SocketOption::SndHwm(4)).unwrap();
        s.set(SocketOption::RcvHwm(4)).unwrap();
    }
    let ep = b.bind("tcp://127.0.0.1:*").await.unwrap();
    a.connect(&ep).await.unwrap();
    const M: u64 = 500;
    let sender = async {
        let mut rng = Rng(seed);
        for i in 0..M {
            let parts = [i.to_string(), "x".into(), "y".into()];
            for (k, p) in parts.iter().enumerate() {
                loop {
                    let done = tokio::select! {
                        biased;
                        r = a.send_frame(Bytes::from(p.clone()), k < 2) => { r.unwrap(); true }
                        () = canceller(&mut rng) => false,
                    };
                    if done {
                        break;
                    }
                }
            }
        }
    };
    let receiver = async {
        let mut rng = Rng(!seed);
        let mut frames = Vec::new();
        let mut i = 0;
        while i < M {
            let got = tokio::select! {
                biased;
                () = canceller(&mut rng) => None,
                r = b.recv_frame() => Some(r.unwrap()),
            };
            if let Some((f, more)) = got {
                frames.push(String::from_utf8(f.to_vec()).unwrap());
                if !more {
                    assert_eq!(
                        frames,
                        [i.to_string(), "x".into(), "y".into()],
                        "seed {seed}"
                    );
                    frames.clear();
                    i += 1;
                }
            }
        }
    };
    tokio::time::timeout(WAIT * 3, async { tokio::join!(sender, receiver) })
        .await
        .unwrap_or_else(|_| panic!("seed {seed}: frames stalled"));
}

#[test]
fn cancelled_frame_calls_keep_messages_whole() {
    for (_, rt) in runtimes() {
        for seed in seeds() {
            rt.block_on(frames_exchange(seed));
        }
    }
}

#[test]
fn receives_under_a_timeout_never_stall_the_socket() {
    for (name, rt) in runtimes() {
        rt.block_on(async {
            let ctx = Context::new().unwrap();
            let pull = sock(&ctx, SocketType::Pull);
            let push = sock(&ctx, SocketType::Push);
            let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
            push.connect(&ep).await.unwrap();
            let sender = tokio::spawn(async move {
                for i in 0..200u64 {
                    push.send(message(i)).await.unwrap();
                    if i % 10 == 0 {
                        // Leave gaps the receiver's timeouts fall into.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                push
            });
            let mut next = 0;
            let mut timeouts = 0;
            tokio::time::timeout(WAIT, async {
                while next < 200 {
                    match tokio::time::timeout(Duration::from_micros(500), pull.recv()).await {
                        Ok(m) => {
                            assert_eq!(text(&m.unwrap())[0], next.to_string(), "{name}");
                            next += 1;
                        }
                        Err(_) => timeouts += 1,
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{name}: stalled at {next} after {timeouts} timeouts"));
            let _push = sender.await.unwrap();
            eprintln!("{name}: {timeouts} receives timed out");
        });
    }
}

/// REQ/REP with every call raced against a canceller: a cancelled receive leaves the reply
/// for the next one, a cancelled send leaves the state machine where it was.
async fn req_rep_exchange(endpoint: &str, seed: u64) {
    let ctx = Context::new().unwrap();
    let rep = sock(&ctx, SocketType::Rep);
    let req = sock(&ctx, SocketType::Req);
    let ep = rep.bind(endpoint).await.unwrap();
    req.connect(&ep).await.unwrap();
    const M: u64 = 300;
    let client = async {
        let mut rng = Rng(seed);
        for i in 0..M {
            loop {
                tokio::select! {
                    biased;
                    r = req.send(Bytes::from(format!("q{i}"))) => { r.unwrap(); break }
                    () = canceller(&mut rng) => {}
                }
            }
            let reply = loop {
                tokio::select! {
                    biased;
                    () = canceller(&mut rng) => {}
                    r = req.recv() => break r.unwrap(),
                }
            };
            assert_eq!(text(&reply), [format!("a{i}")], "seed {seed}");
        }
    };
    let server = async {
        let mut rng = Rng(!seed);
        for i in 0..M {
            let q = loop {
                tokio::select! {
                    biased;
                    () = canceller(&mut rng) => {}
                    r = rep.recv() => break r.unwrap(),
                }
            };
            assert_eq!(text(&q), [format!("q{i}")], "seed {seed}");
            loop {
                tokio::select! {
                    biased;
                    r = rep.send(Bytes::from(format!("a{i}"))) => { r.unwrap(); break }
                    () = canceller(&mut rng) => {}
                }
            }
        }
    };
    tokio::time::timeout(WAIT * 3, async { tokio::join!(client, server) })
        .await
        .unwrap_or_else(|_| panic!("seed {seed} over {endpoint}: REQ/REP stalled"));
}

#[test]
fn cancelled_req_rep_calls_keep_the_conversation_in_step() {
    for (_, rt) in runtimes() {
        for seed in seeds() {
            for ep in ["tcp://127.0.0.1:*", "inproc://cancel-reqrep"] {
                rt.block_on(req_rep_exchange(ep, seed));
            }
        }
    }
}
