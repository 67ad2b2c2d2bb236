//! Interop over tcp: oxmq-tokio sockets against real libzmq 4.3 (the `zmq` crate, built from
//! source) and against oxmq-mio sockets in the same process, in both roles of PUSH/PULL,
//! REQ/REP, DEALER/ROUTER and PUB/SUB.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::{sock, text, within, WAIT};
use oxmq_tokio::{Context, Message, SocketOption, SocketType};

const MS: i32 = WAIT.as_millis() as i32;

fn lz_socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(MS).unwrap();
    s.set_sndtimeo(MS).unwrap();
    s
}

fn lz_bind(s: &zmq::Socket) -> String {
    s.bind("tcp://127.0.0.1:*").unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

fn strings(frames: Vec<Vec<u8>>) -> Vec<String> {
    frames
        .into_iter()
        .map(|f| String::from_utf8(f).unwrap())
        .collect()
}

fn msg(frames: &[String]) -> Message {
    Message::from_frames(frames.iter().map(|f| Bytes::from(f.clone())))
}

/// Runs the libzmq side on a blocking thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    within("the libzmq side", tokio::task::spawn_blocking(f))
        .await
        .unwrap()
}

const N: usize = 100;

fn numbered(i: usize) -> Vec<String> {
    vec![format!("m{i}"), "second frame".into(), String::new()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_with_libzmq_in_both_roles() {
    let ctx = Context::new().unwrap();
    let lz = zmq::Context::new();
    // oxmq PUSH binds, libzmq PULL connects.
    let push = sock(&ctx, SocketType::Push);
    let ep = push.bind("tcp://127.0.0.1:*").await.unwrap();
    let pull = lz_socket(&lz, zmq::PULL);
    pull.connect(&ep).unwrap();
    for i in 0..N {
        push.send(msg(&numbered(i))).await.unwrap();
    }
    blocking(move || {
        for i in 0..N {
            assert_eq!(strings(pull.recv_multipart(0).unwrap()), numbered(i));
        }
    })
    .await;
    // libzmq PUSH binds, oxmq PULL connects.
    let lpush = lz_socket(&lz, zmq::PUSH);
    let ep = lz_bind(&lpush);
    let pull = sock(&ctx, SocketType::Pull);
    pull.connect(&ep).await.unwrap();
    let sender = tokio::task::spawn_blocking(move || {
        for i in 0..N {
            lpush.send_multipart(&numbered(i), 0).unwrap();
        }
        lpush
    });
    for i in 0..N {
        assert_eq!(
            text(&within("pull", pull.recv()).await.unwrap()),
            numbered(i)
        );
    }
    sender.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn req_rep_with_libzmq_in_both_roles() {
    let ctx = Context::new().unwrap();
    let lz = zmq::Context::new();
    // oxmq REQ asks a libzmq REP.
    let rep = lz_socket(&lz, zmq::REP);
    let ep = lz_bind(&rep);
    let server = tokio::task::spawn_blocking(move || {
        for _ in 0..5 {
            let mut q = strings(rep.recv_multipart(0).unwrap());
            q.push("answered".into());
            rep.send_multipart(&q, 0).unwrap();
        }
    });
    let req = sock(&ctx, SocketType::Req);
    req.connect(&ep).await.unwrap();
    for i in 0..5 {
        req.send(Bytes::from(format!("q{i}"))).await.unwrap();
        let a = within("reply", req.recv()).await.unwrap();
        assert_eq!(text(&a), [format!("q{i}"), "answered".into()]);
    }
    server.await.unwrap();
    // A libzmq REQ asks an oxmq REP.
    let rep = sock(&ctx, SocketType::Rep);
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let req = lz_socket(&lz, zmq::REQ);
    req.connect(&ep).unwrap();
    let client = tokio::task::spawn_blocking(move || {
        for i in 0..5 {
            req.send(format!("q{i}").as_str(), 0).unwrap();
            let a = strings(req.recv_multipart(0).unwrap());
            assert_eq!(a, [format!("a{i}")]);
        }
    });
    for i in 0..5 {
        let q = within("request", rep.recv()).await.unwrap();
        assert_eq!(text(&q), [format!("q{i}")]);
        rep.send(Bytes::from(format!("a{i}"))).await.unwrap();
    }
    within("client", client).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dealer_router_with_libzmq_in_both_roles() {
    let ctx = Context::new().unwrap();
    let lz = zmq::Context::new();
    // An oxmq DEALER with a routing id talks to a libzmq ROUTER.
    let router = lz_socket(&lz, zmq::ROUTER);
    let ep = lz_bind(&router);
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer
        .set(SocketOption::RoutingId(Bytes::from_static(b"tokio")))
        .unwrap();
    dealer.connect(&ep).await.unwrap();
    dealer
        .send(Message::from_frames(["hello", "there"]))
        .await
        .unwrap();
    blocking(move || {
        let got = strings(router.recv_multipart(0).unwrap());
        assert_eq!(got, ["tokio", "hello", "there"]);
        router.send_multipart(["tokio", "back"], 0).unwrap();
    })
    .await;
    assert_eq!(
        text(&within("reply", dealer.recv()).await.unwrap()),
        ["back"]
    );
    // A libzmq DEALER with an identity talks to an oxmq ROUTER.
    let router = sock(&ctx, SocketType::Router);
    let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let ldealer = lz_socket(&lz, zmq::DEALER);
    ldealer.set_identity(b"libzmq").unwrap();
    ldealer.connect(&ep).unwrap();
    ldealer.send_multipart(["hi", "again"], 0).unwrap();
    let got = within("router", router.recv()).await.unwrap();
    assert_eq!(text(&got), ["libzmq", "hi", "again"]);
    router
        .send(Message::from_frames(["libzmq", "answer"]))
        .await
        .unwrap();
    blocking(move || {
        assert_eq!(strings(ldealer.recv_multipart(0).unwrap()), ["answer"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_sub_with_libzmq_in_both_roles() {
    let ctx = Context::new().unwrap();
    let lz = zmq::Context::new();
    // oxmq PUB, libzmq SUB: probes until the subscription is in place, then a filtered feed.
    let publ = sock(&ctx, SocketType::Pub);
    let ep = publ.bind("tcp://127.0.0.1:*").await.unwrap();
    let sub = lz_socket(&lz, zmq::SUB);
    sub.set_subscribe(b"t").unwrap();
    sub.connect(&ep).unwrap();
    let seen = Arc::new(AtomicBool::new(false));
    let seen2 = Arc::clone(&seen);
    let reader = tokio::task::spawn_blocking(move || {
        let mut got = Vec::new();
        loop {
            let m = strings(sub.recv_multipart(0).unwrap());
            if m[0] == "t-probe" {
                seen2.store(true, Ordering::Release);
                continue;
            }
            got.push(m[0].clone());
            if m[0] == "t-end" {
                return got;
            }
        }
    });
    within("libzmq's subscription", async {
        while !seen.load(Ordering::Acquire) {
            publ.send("t-probe").await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    for m in ["u-1", "t-1", "u-2", "t-2", "t-end"] {
        publ.send(m).await.unwrap();
    }
    assert_eq!(
        within("libzmq SUB", reader).await.unwrap(),
        ["t-1", "t-2", "t-end"]
    );
    // libzmq PUB, oxmq SUB.
    let lpub = lz_socket(&lz, zmq::PUB);
    let ep = lz_bind(&lpub);
    let sub = sock(&ctx, SocketType::Sub);
    sub.subscribe("t").unwrap();
    sub.connect(&ep).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let publisher = tokio::task::spawn_blocking(move || {
        while !stop2.load(Ordering::Acquire) {
            lpub.send("t-probe", 0).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        for m in ["u-1", "t-1", "u-2", "t-2", "t-end"] {
            lpub.send(m, 0).unwrap();
        }
        lpub
    });
    assert_eq!(
        text(&within("probe", sub.recv()).await.unwrap()),
        ["t-probe"]
    );
    stop.store(true, Ordering::Release);
    let mut got = Vec::new();
    within("feed", async {
        loop {
            let m = text(&sub.recv().await.unwrap())[0].clone();
            if m == "t-probe" {
                continue;
            }
            got.push(m.clone());
            if m == "t-end" {
                break;
            }
        }
    })
    .await;
    assert_eq!(got, ["t-1", "t-2", "t-end"]);
    publisher.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxmq_mio_and_oxmq_tokio_sockets_talk_in_one_process() {
    let ctx = Context::new().unwrap();
    let mctx = oxmq_mio::Context::new().unwrap();
    // tokio PUSH → mio PULL.
    let mpull = mctx.socket(SocketType::Pull).unwrap();
    mpull.set(SocketOption::RcvTimeo(MS)).unwrap();
    let ep = mpull.bind("tcp://127.0.0.1:*").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).await.unwrap();
    for i in 0..N {
        push.send(msg(&numbered(i))).await.unwrap();
    }
    blocking(move || {
        for i in 0..N {
            assert_eq!(common::text(&mpull.recv().unwrap()), numbered(i));
        }
    })
    .await;
    // mio REQ → tokio REP.
    let rep = sock(&ctx, SocketType::Rep);
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let mreq = mctx.socket(SocketType::Req).unwrap();
    mreq.set(SocketOption::RcvTimeo(MS)).unwrap();
    mreq.connect(&ep).unwrap();
    let client = tokio::task::spawn_blocking(move || {
        for i in 0..5 {
            mreq.send(Bytes::from(format!("q{i}"))).unwrap();
            assert_eq!(common::text(&mreq.recv().unwrap()), [format!("a{i}")]);
        }
    });
    for i in 0..5 {
        assert_eq!(
            text(&within("q", rep.recv()).await.unwrap()),
            [format!("q{i}")]
        );
        rep.send(Bytes::from(format!("a{i}"))).await.unwrap();
    }
    within("mio client", client).await.unwrap();
    // mio DEALER ↔ tokio ROUTER.
    let router = sock(&ctx, SocketType::Router);
    let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let mdealer = mctx.socket(SocketType::Dealer).unwrap();
    mdealer
        .set(SocketOption::RoutingId(Bytes::from_static(b"mio")))
        .unwrap();
    mdealer.set(SocketOption::RcvTimeo(MS)).unwrap();
    mdealer.connect(&ep).unwrap();
    mdealer.send("from mio").unwrap();
    assert_eq!(
        text(&within("router", router.recv()).await.unwrap()),
        ["mio", "from mio"]
    );
    router
        .send(Message::from_frames(["mio", "to mio"]))
        .await
        .unwrap();
    blocking(move || assert_eq!(common::text(&mdealer.recv().unwrap()), ["to mio"])).await;
}
