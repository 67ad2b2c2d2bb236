//! Helpers shared by the integration tests.
#![allow(dead_code, unused_macros)]

use std::future::Future;

use bytes::Bytes;
use std::time::Duration;

use oxmq_tokio::{
    Context, Message, MonitorEvent, MonitorEventKind, Socket, SocketOption, SocketType,
};

/// Upper bound for any wait: a failure bound, never a timing assertion.
pub const WAIT: Duration = Duration::from_secs(20);

/// Runs `f`, failing the test if it has not finished within [`WAIT`].
pub async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(WAIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done within {WAIT:?}"),
    }
}

/// A name no other test of this process (or another process) uses.
pub fn unique(tag: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("oxmq-tokio-{tag}-{}-{n}", std::process::id())
}

/// One endpoint per transport, each a fresh one.
pub fn transports(tag: &str) -> Vec<String> {
    vec![
        "tcp://127.0.0.1:*".to_owned(),
        format!("ipc://@{}", unique(tag)),
        format!("inproc://{}", unique(tag)),
    ]
}

/// Runs each named `async fn` as a test on a current-thread and on a multi-thread runtime.
macro_rules! on_both_runtimes {
    ($($name:ident),* $(,)?) => {
        mod current_thread {
            $(#[tokio::test]
            async fn $name() {
                super::$name().await
            })*
        }
        mod multi_thread {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name().await
            })*
        }
    };
}

/// A socket with LINGER 0, so a failing test does not hang on close.
pub fn sock(ctx: &Context, kind: SocketType) -> Socket {
    let s = ctx.socket(kind).unwrap();
    s.set(SocketOption::Linger(0)).unwrap();
    s
}

/// Binds `a` at `endpoint`, connects `b` to it; returns the endpoint as bound.
pub async fn join(a: &Socket, b: &Socket, endpoint: &str) -> String {
    let ep = a.bind(endpoint).await.unwrap();
    b.connect(&ep).await.unwrap();
    ep
}

pub fn text(m: &Message) -> Vec<String> {
    m.frames()
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// Waits for the next event of `kind` on a monitor, skipping others; returns it.
pub async fn next_event(mon: &mut oxmq_tokio::Monitor, kind: MonitorEventKind) -> MonitorEvent {
    use futures_util::StreamExt;
    within(&format!("monitor event {kind:?}"), async {
        loop {
            let ev = mon.next().await.expect("monitor ended");
            if ev.kind == kind {
                return ev;
            }
        }
    })
    .await
}

/// A SUB-side socket receives messages of `topic` once the subscription has reached the
/// publisher: publish probes on `topic` until one arrives (an awaited event, not a sleep).
pub async fn await_subscription(publ: &Socket, sub: &Socket, topic: &str) {
    within("subscription to reach the publisher", async {
        loop {
            publ.send(Bytes::from(format!("{topic}-probe")))
                .await
                .unwrap();
            if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(20), sub.recv()).await {
                assert!(text(&m)[0].starts_with(topic), "got {:?}", text(&m));
                return;
            }
        }
    })
    .await;
}

/// The next message that is not a probe of [`await_subscription`] (probes may still be on
/// their way after it returns).
pub async fn recv_past_probes(sub: &Socket) -> Message {
    within("a message past the probes", async {
        loop {
            let m = sub.recv().await.unwrap();
            if !text(&m)[0].ends_with("-probe") {
                return m;
            }
        }
    })
    .await
}
