//! Every pattern's basic semantics over tcp, ipc and inproc, on both runtimes.

#[macro_use]
mod common;

on_both_runtimes!(
    push_pull_carries_multipart_messages_in_order_over_every_transport,
    req_rep_alternate_over_every_transport,
    router_routes_by_the_dealers_routing_ids_over_every_transport,
    pub_sub_filters_by_topic_and_follows_unsubscribe_over_every_transport,
    xpub_sees_subscriptions_and_xsub_sends_them_over_every_transport,
    pair_talks_both_ways_over_every_transport,
    connect_before_bind_delivers_what_was_sent_meanwhile,
    every_socket_type_can_be_made_and_reports_its_type,
    stream_talks_raw_tcp_with_a_plain_stream,
);

use bytes::Bytes;
use common::{await_subscription, join, recv_past_probes, sock, text, transports, within};
use oxmq_tokio::{Context, Error, Message, SocketOption, SocketType};

async fn push_pull_carries_multipart_messages_in_order_over_every_transport() {
    let ctx = Context::new().unwrap();
    for ep in transports("pushpull") {
        let pull = sock(&ctx, SocketType::Pull);
        let push = sock(&ctx, SocketType::Push);
        join(&pull, &push, &ep).await;
        for i in 0..50 {
            push.send(Message::from_frames([
                format!("m{i}"),
                "tail".into(),
                String::new(),
            ]))
            .await
            .unwrap();
        }
        for i in 0..50 {
            let m = within("recv", pull.recv()).await.unwrap();
            assert_eq!(
                text(&m),
                [format!("m{i}"), "tail".into(), String::new()],
                "{ep}"
            );
        }
        // PULL cannot send, PUSH cannot receive.
        assert!(matches!(pull.try_send("x"), Err((Error::NotSupported, _))));
        assert!(matches!(push.try_recv(), Err(Error::NotSupported)));
    }
}

async fn req_rep_alternate_over_every_transport() {
    let ctx = Context::new().unwrap();
    for ep in transports("reqrep") {
        let rep = sock(&ctx, SocketType::Rep);
        let req = sock(&ctx, SocketType::Req);
        join(&rep, &req, &ep).await;
        for i in 0..5 {
            req.send(Bytes::from(format!("q{i}"))).await.unwrap();
            // REQ must wait for the reply before asking again.
            assert!(matches!(req.try_send("again"), Err((Error::BadState, _))));
            let q = within("request", rep.recv()).await.unwrap();
            assert_eq!(text(&q), [format!("q{i}")]);
            rep.send(Bytes::from(format!("a{i}"))).await.unwrap();
            let a = within("reply", req.recv()).await.unwrap();
            assert_eq!(text(&a), [format!("a{i}")], "{ep}");
        }
        // REP must receive before it may reply.
        assert!(matches!(rep.try_send("unasked"), Err((Error::BadState, _))));
    }
}

async fn router_routes_by_the_dealers_routing_ids_over_every_transport() {
    let ctx = Context::new().unwrap();
    for ep in transports("router") {
        let router = sock(&ctx, SocketType::Router);
        let ep = router.bind(&ep).await.unwrap();
        let a = sock(&ctx, SocketType::Dealer);
        let b = sock(&ctx, SocketType::Dealer);
        a.set(SocketOption::RoutingId(Bytes::from_static(b"alice")))
            .unwrap();
        b.set(SocketOption::RoutingId(Bytes::from_static(b"bob")))
            .unwrap();
        a.connect(&ep).await.unwrap();
        b.connect(&ep).await.unwrap();
        a.send("from a").await.unwrap();
        b.send("from b").await.unwrap();
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(text(&within("router recv", router.recv()).await.unwrap()));
        }
        got.sort();
        assert_eq!(
            got,
            [
                vec!["alice".to_owned(), "from a".into()],
                vec!["bob".to_owned(), "from b".into()]
            ],
            "{ep}"
        );
        // Replies go to the peer named in the first frame, and only to it.
        router
            .send(Message::from_frames(["bob", "for bob"]))
            .await
            .unwrap();
        router
            .send(Message::from_frames(["alice", "for alice"]))
            .await
            .unwrap();
        assert_eq!(text(&within("b", b.recv()).await.unwrap()), ["for bob"]);
        assert_eq!(text(&within("a", a.recv()).await.unwrap()), ["for alice"]);
        // An unknown id is dropped, or refused with ROUTER_MANDATORY.
        router
            .send(Message::from_frames(["nobody", "x"]))
            .await
            .unwrap();
        router.set(SocketOption::RouterMandatory(true)).unwrap();
        assert!(matches!(
            router.send(Message::from_frames(["nobody", "x"])).await,
            Err(Error::HostUnreachable)
        ));
        assert!(matches!(
            router.send_frame("nobody", true).await,
            Err(Error::HostUnreachable)
        ));
    }
}

async fn pub_sub_filters_by_topic_and_follows_unsubscribe_over_every_transport() {
    let ctx = Context::new().unwrap();
    for ep in transports("pubsub") {
        let publ = sock(&ctx, SocketType::Pub);
        let sub = sock(&ctx, SocketType::Sub);
        join(&publ, &sub, &ep).await;
        sub.subscribe("a").unwrap();
        await_subscription(&publ, &sub, "a").await;
        publ.send("b-1").await.unwrap();
        publ.send("a-1").await.unwrap();
        assert_eq!(text(&recv_past_probes(&sub).await), ["a-1"], "{ep}");
        // Unsubscribing from a and subscribing to c travel in order on one connection: once
        // c arrives, a is filtered out.
        sub.unsubscribe("a").unwrap();
        sub.subscribe("c").unwrap();
        await_subscription(&publ, &sub, "c").await;
        publ.send("a-2").await.unwrap();
        publ.send("c-2").await.unwrap();
        assert_eq!(text(&recv_past_probes(&sub).await), ["c-2"], "{ep}");
        // SUB cannot send.
        assert!(matches!(sub.try_send("x"), Err((Error::NotSupported, _))));
    }
}

async fn xpub_sees_subscriptions_and_xsub_sends_them_over_every_transport() {
    let ctx = Context::new().unwrap();
    for ep in transports("xpubxsub") {
        let xpub = sock(&ctx, SocketType::XPub);
        let xsub = sock(&ctx, SocketType::XSub);
        join(&xpub, &xsub, &ep).await;
        xsub.send(Bytes::from_static(b"\x01news")).await.unwrap();
        let s = within("subscription", xpub.recv()).await.unwrap();
        assert_eq!(s.frames()[0], Bytes::from_static(b"\x01news"), "{ep}");
        xpub.send("sports").await.unwrap();
        xpub.send("news-1").await.unwrap();
        assert_eq!(
            text(&within("news", xsub.recv()).await.unwrap()),
            ["news-1"]
        );
        xsub.send(Bytes::from_static(b"\x00news")).await.unwrap();
        let u = within("unsubscription", xpub.recv()).await.unwrap();
        assert_eq!(u.frames()[0], Bytes::from_static(b"\x00news"), "{ep}");
    }
}

async fn pair_talks_both_ways_over_every_transport() {
    let ctx = Context::new().unwrap();
    for ep in transports("pair") {
        let a = sock(&ctx, SocketType::Pair);
        let b = sock(&ctx, SocketType::Pair);
        join(&a, &b, &ep).await;
        for i in 0..10 {
            a.send(Bytes::from(format!("ping {i}"))).await.unwrap();
            assert_eq!(
                text(&within("ping", b.recv()).await.unwrap()),
                [format!("ping {i}")]
            );
            b.send(Bytes::from(format!("pong {i}"))).await.unwrap();
            assert_eq!(
                text(&within("pong", a.recv()).await.unwrap()),
                [format!("pong {i}")]
            );
        }
    }
}

async fn connect_before_bind_delivers_what_was_sent_meanwhile() {
    let ctx = Context::new().unwrap();
    let dir = std::env::temp_dir();
    for ep in [
        format!("ipc://{}/{}.ipc", dir.display(), common::unique("cbb")),
        format!("inproc://{}", common::unique("cbb")),
    ] {
        let push = sock(&ctx, SocketType::Push);
        push.connect(&ep).await.unwrap();
        for i in 0..3 {
            push.send(Bytes::from(format!("early {i}"))).await.unwrap();
        }
        let pull = sock(&ctx, SocketType::Pull);
        pull.bind(&ep).await.unwrap();
        for i in 0..3 {
            assert_eq!(
                text(&within("early", pull.recv()).await.unwrap()),
                [format!("early {i}")]
            );
        }
    }
}

async fn every_socket_type_can_be_made_and_reports_its_type() {
    let ctx = Context::new().unwrap();
    for kind in [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
        SocketType::Stream,
    ] {
        let s = ctx.socket(kind).unwrap();
        assert_eq!(s.socket_type(), kind);
        assert_eq!(
            s.get(oxmq_tokio::SocketOptionName::Type).unwrap(),
            SocketOption::Type(kind)
        );
    }
}

async fn stream_talks_raw_tcp_with_a_plain_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ctx = Context::new().unwrap();
    let stream = sock(&ctx, SocketType::Stream);
    let ep = stream.bind("tcp://127.0.0.1:*").await.unwrap();
    let mut plain = tokio::net::TcpStream::connect(ep.trim_start_matches("tcp://"))
        .await
        .unwrap();
    // STREAM_NOTIFY: an empty frame announces the peer.
    let hello = within("notify", stream.recv()).await.unwrap();
    assert_eq!(hello.len(), 2);
    assert!(hello.frames()[1].is_empty());
    let id = hello.frames()[0].clone();
    plain.write_all(b"GET /").await.unwrap();
    let got = within("request", stream.recv()).await.unwrap();
    assert_eq!(got.frames()[0], id);
    assert_eq!(&got.frames()[1][..], b"GET /");
    stream
        .send(Message::from_frames([
            id.clone(),
            oxmq_core::Frame::from(b"200 OK"),
        ]))
        .await
        .unwrap();
    let mut buf = [0u8; 6];
    within("reply", plain.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"200 OK");
    // An empty body closes that connection.
    stream
        .send(Message::from_frames([id, oxmq_core::Frame::new()]))
        .await
        .unwrap();
    assert_eq!(within("close", plain.read(&mut buf)).await.unwrap(), 0);
}
