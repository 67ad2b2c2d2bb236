//! `proxy` and `proxy_steerable` on both runtimes: the three devices carry messages, the
//! steerable one pauses, resumes, reports and terminates, and obeys TERMINATE while its
//! backend cannot take a message (as libzmq: the frontend is then left unread).

#[macro_use]
mod common;

on_both_runtimes!(
    queue_forwarder_and_streamer_carry_messages,
    steerable_proxy_pauses_resumes_reports_and_terminates,
    steerable_proxy_terminates_while_its_backend_blocks,
);

use std::time::Duration;

use common::{await_subscription, sock, text, unique, within};
use oxmq_tokio::{
    proxy, proxy_steerable, Context, Message, SocketOption, SocketOptionName, SocketType,
};

async fn queue_forwarder_and_streamer_carry_messages() {
    let ctx = Context::new().unwrap();
    let name = |what: &str| format!("inproc://{}", unique(what));

    // QUEUE: REQ → ROUTER | DEALER → REP.
    let (router, dealer) = (
        sock(&ctx, SocketType::Router),
        sock(&ctx, SocketType::Dealer),
    );
    let (qf, qb) = (name("qf"), name("qb"));
    router.bind(&qf).await.unwrap();
    dealer.bind(&qb).await.unwrap();
    let queue = tokio::spawn(async move { proxy(&router, &dealer, None).await });
    let (req, rep) = (sock(&ctx, SocketType::Req), sock(&ctx, SocketType::Rep));
    req.connect(&qf).await.unwrap();
    rep.connect(&qb).await.unwrap();
    for i in 0..3 {
        req.send(format!("q{i}")).await.unwrap();
        let m = within("worker", rep.recv()).await.unwrap();
        assert_eq!(text(&m), [format!("q{i}")]);
        rep.send(format!("a{i}")).await.unwrap();
        let m = within("client", req.recv()).await.unwrap();
        assert_eq!(text(&m), [format!("a{i}")]);
    }
    queue.abort();

    // FORWARDER: PUB → XSUB | XPUB → SUB, subscriptions travelling upstream.
    let (xsub, xpub) = (sock(&ctx, SocketType::XSub), sock(&ctx, SocketType::XPub));
    let (ff, fb) = (name("ff"), name("fb"));
    xsub.bind(&ff).await.unwrap();
    xpub.bind(&fb).await.unwrap();
    let forwarder = tokio::spawn(async move { proxy(&xsub, &xpub, None).await });
    let (publisher, sub) = (sock(&ctx, SocketType::Pub), sock(&ctx, SocketType::Sub));
    publisher.connect(&ff).await.unwrap();
    sub.subscribe(b"news").unwrap();
    sub.connect(&fb).await.unwrap();
    await_subscription(&publisher, &sub, "news").await;
    publisher.send("news: devices work").await.unwrap();
    let m = common::recv_past_probes(&sub).await;
    assert_eq!(text(&m), ["news: devices work"]);
    forwarder.abort();

    // STREAMER: PUSH → PULL | PUSH → PULL, with a capture socket seeing each message.
    let (pull, push) = (sock(&ctx, SocketType::Pull), sock(&ctx, SocketType::Push));
    let (sf, sb, sc) = (name("sf"), name("sb"), name("sc"));
    pull.bind(&sf).await.unwrap();
    push.bind(&sb).await.unwrap();
    let capture = sock(&ctx, SocketType::Push);
    capture.bind(&sc).await.unwrap();
    let captured = sock(&ctx, SocketType::Pull);
    captured.connect(&sc).await.unwrap();
    let streamer = tokio::spawn(async move { proxy(&pull, &push, Some(&capture)).await });
    let (ventilator, worker) = (sock(&ctx, SocketType::Push), sock(&ctx, SocketType::Pull));
    ventilator.connect(&sf).await.unwrap();
    worker.connect(&sb).await.unwrap();
    ventilator.send("task").await.unwrap();
    assert_eq!(
        within("worker", worker.recv()).await.unwrap(),
        Message::from("task")
    );
    assert_eq!(
        within("capture", captured.recv()).await.unwrap(),
        Message::from("task")
    );
    streamer.abort();
}

async fn steerable_proxy_pauses_resumes_reports_and_terminates() {
    let ctx = Context::new().unwrap();
    let (sf, sb, sc) = (
        format!("inproc://{}", unique("sf")),
        format!("inproc://{}", unique("sb")),
        format!("inproc://{}", unique("sc")),
    );
    let front = sock(&ctx, SocketType::Pull);
    let back = sock(&ctx, SocketType::Push);
    let control = sock(&ctx, SocketType::Rep);
    front.bind(&sf).await.unwrap();
    back.bind(&sb).await.unwrap();
    control.bind(&sc).await.unwrap();
    let producer = sock(&ctx, SocketType::Push);
    producer.connect(&sf).await.unwrap();
    let consumer = sock(&ctx, SocketType::Pull);
    consumer.connect(&sb).await.unwrap();
    let boss = sock(&ctx, SocketType::Req);
    boss.connect(&sc).await.unwrap();
    let device = tokio::spawn(async move { proxy_steerable(&front, &back, None, &control).await });
    producer.send("one").await.unwrap();
    assert_eq!(
        within("one", consumer.recv()).await.unwrap(),
        Message::from("one")
    );
    boss.send("PAUSE").await.unwrap();
    within("pause ack", boss.recv()).await.unwrap();
    producer.send("two").await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(50), consumer.recv())
            .await
            .is_err(),
        "a paused proxy forwards nothing"
    );
    boss.send("RESUME").await.unwrap();
    within("resume ack", boss.recv()).await.unwrap();
    assert_eq!(
        within("two", consumer.recv()).await.unwrap(),
        Message::from("two")
    );
    boss.send("STATISTICS").await.unwrap();
    let stats = within("statistics", boss.recv()).await.unwrap();
    let n: Vec<u64> = stats
        .frames()
        .iter()
        .map(|f| u64::from_ne_bytes(f[..].try_into().unwrap()))
        .collect();
    assert_eq!(n, [2, 6, 0, 0, 0, 0, 2, 6]);
    boss.send("TERMINATE").await.unwrap();
    within("terminate ack", boss.recv()).await.unwrap();
    let stats = within("device", device).await.unwrap().unwrap();
    assert_eq!(stats.frontend_in, 2);
}

async fn steerable_proxy_terminates_while_its_backend_blocks() {
    let ctx = Context::new().unwrap();
    let frontend = sock(&ctx, SocketType::Pull);
    let fe = frontend.bind("tcp://127.0.0.1:*").await.unwrap();
    // A PUSH with no peer: nothing can be sent on it.
    let backend = sock(&ctx, SocketType::Push);
    backend.bind("tcp://127.0.0.1:*").await.unwrap();
    let sc = format!("inproc://{}", unique("steer"));
    let control = sock(&ctx, SocketType::Pair);
    control.bind(&sc).await.unwrap();
    let steer = sock(&ctx, SocketType::Pair);
    steer.connect(&sc).await.unwrap();
    let feeder = sock(&ctx, SocketType::Push);
    feeder.connect(&fe).await.unwrap();
    for i in 0..10 {
        feeder.send(format!("m{i}")).await.unwrap();
    }
    // Start the proxy only once the frontend has a message it could read.
    within("a message at the frontend", async {
        // ZMQ_EVENTS' POLLIN bit.
        while !matches!(
            frontend.get(SocketOptionName::Events).unwrap(),
            SocketOption::Events(e) if e & 1 != 0
        ) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let device = tokio::spawn(async move {
        let stats = proxy_steerable(&frontend, &backend, None, &control).await;
        // What the proxy did not read is still in the frontend.
        let left = frontend.try_recv();
        (stats, left)
    });
    steer.send("TERMINATE").await.unwrap();
    let (stats, left) = within("terminate", device).await.unwrap();
    let stats = stats.unwrap();
    assert_eq!(
        stats.backend_out, 0,
        "nothing can have gone to a peerless PUSH"
    );
    assert_eq!(
        stats.frontend_in, 0,
        "the frontend is read only when the backend can take it"
    );
    assert_eq!(left.unwrap(), Message::from("m0"), "left unread, in order");
}
