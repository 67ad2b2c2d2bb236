//! Back-pressure, linger, reconnection, monitor events, endpoints, options, frames, and the
//! `Stream` / `Sink` faces of a socket, each on both runtimes.

#[macro_use]
mod common;

on_both_runtimes!(
    a_send_at_the_high_water_mark_waits_and_resumes_as_the_receiver_drains,
    a_receive_does_not_take_ahead_past_a_small_rcvhwm,
    tcp_back_pressure_bounds_what_is_queued,
    close_lingers_until_the_queued_messages_are_delivered,
    close_with_zero_linger_finishes_without_a_peer,
    close_gives_up_on_undelivered_messages_once_linger_has_passed,
    a_connect_reconnects_after_the_peer_restarts,
    monitor_events_follow_a_connection_and_end_with_the_socket,
    bind_reports_clear_errors_and_unbind_disconnect_end_endpoints,
    disconnect_drops_what_a_receive_took_ahead_from_that_endpoint,
    unsubscribe_drops_what_a_receive_took_ahead_of_that_topic,
    an_xpub_keeps_what_it_read_across_a_disconnect,
    large_frames_arrive_whole_over_every_transport,
    mixed_large_and_small_streams_arrive_whole_and_in_order,
    frames_go_one_by_one_and_rcvmore_tells_what_follows,
    messages_stream_in_and_sink_out,
    options_read_back_what_was_set_and_refuse_what_libzmq_refuses,
    a_peer_speaking_garbage_costs_only_its_connection,
    a_silent_peer_times_out_the_handshake_and_is_redialled,
    an_ephemeral_ipc_bind_names_its_file_and_unbind_removes_it,
);

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use bytes::Bytes;
use common::{join, next_event, sock, text, transports, within};
use futures_util::{SinkExt, StreamExt};
use oxmq_tokio::{
    Context, Error, Message, MonitorEventKind, SocketOption, SocketOptionName, SocketType,
};

/// Whether `f` is still pending after one poll (it is polled once, then dropped: the
/// cancel-safety of every call makes that harmless).
async fn still_pending<F: Future>(f: F) -> bool {
    let mut f = pin!(f);
    std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx).is_pending())).await
}

fn msg(s: String) -> Message {
    Message::from(Bytes::from(s))
}

async fn a_send_at_the_high_water_mark_waits_and_resumes_as_the_receiver_drains() {
    let ctx = Context::new().unwrap();
    let push = sock(&ctx, SocketType::Push);
    let pull = sock(&ctx, SocketType::Pull);
    push.set(SocketOption::SndHwm(4)).unwrap();
    pull.set(SocketOption::RcvHwm(4)).unwrap();
    join(&pull, &push, "inproc://hwm").await;
    // inproc's pipe holds SNDHWM + RCVHWM messages, then the socket refuses more.
    let mut sent = 0;
    while push.try_send(msg(format!("m{sent}"))).is_ok() {
        sent += 1;
        assert!(sent <= 8, "more than SNDHWM + RCVHWM queued");
    }
    assert_eq!(sent, 8);
    // A send waits while the pipe is full …
    assert!(still_pending(push.send(msg(format!("m{sent}")))).await);
    // … and goes through once the receiver has drained to the low-water mark.
    let mut got = Vec::new();
    let send = async {
        push.send(msg(format!("m{sent}"))).await.unwrap();
    };
    let recv = async {
        for _ in 0..=sent {
            got.push(text(&pull.recv().await.unwrap())[0].clone());
        }
    };
    within("drain", async { tokio::join!(send, recv) }).await;
    let want: Vec<String> = (0..=sent).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want);
}

/// A receive takes messages ahead only as far as RCVHWM allows (one at a time below 16): a
/// message taken ahead counts as read, and its writer may send more. Over inproc the two
/// HWMs add up (4 + 4), and the reader reports every half of that.
async fn a_receive_does_not_take_ahead_past_a_small_rcvhwm() {
    let ctx = Context::new().unwrap();
    let push = sock(&ctx, SocketType::Push);
    let pull = sock(&ctx, SocketType::Pull);
    push.set(SocketOption::SndHwm(4)).unwrap();
    pull.set(SocketOption::RcvHwm(4)).unwrap();
    join(&pull, &push, "inproc://small-rcvhwm").await;
    let mut sent = 0;
    while push.try_send(msg(format!("m{sent}"))).is_ok() {
        sent += 1;
        assert!(sent <= 8, "more than SNDHWM + RCVHWM queued");
    }
    assert_eq!(sent, 8);
    // One message read is not yet a report (every 4): the writer stays full. Taking all 8
    // ahead would have reported twice and let 8 more in.
    assert_eq!(text(&within("recv", pull.recv()).await.unwrap()), ["m0"]);
    assert!(matches!(
        push.try_send(msg("over".into())),
        Err((Error::WouldBlock, _))
    ));
    for i in 1..sent {
        assert_eq!(
            text(&within("recv", pull.recv()).await.unwrap()),
            [format!("m{i}")]
        );
    }
}

async fn tcp_back_pressure_bounds_what_is_queued() {
    let ctx = Context::new().unwrap();
    let push = sock(&ctx, SocketType::Push);
    let pull = sock(&ctx, SocketType::Pull);
    for s in [&push, &pull] {
        s.set(SocketOption::SndHwm(10)).unwrap();
        s.set(SocketOption::RcvHwm(10)).unwrap();
        s.set(SocketOption::SndBuf(64 * 1024)).unwrap();
        s.set(SocketOption::RcvBuf(64 * 1024)).unwrap();
    }
    join(&pull, &push, "tcp://127.0.0.1:*").await;
    // The first message waits for the connection; then sends go through until the HWMs
    // and the kernel's buffers are full, and not without bound: the receiver reads nothing,
    // so its session stops reading, the stream fills, and the sender is refused for good.
    push.send(vec![0u8; 1024]).await.unwrap();
    let mut sent = 1usize;
    let mut refusals_in_a_row = 0;
    // Every other task (the sessions) runs between two attempts; a refusal is tried again
    // after a pause, so that a run of refusals means the whole path is full, not that the
    // sessions have not run yet. (Pacing only: what is asserted holds whatever the timing.)
    while refusals_in_a_row < 200 {
        match push.try_send(vec![0u8; 1024]) {
            Ok(()) => {
                sent += 1;
                refusals_in_a_row = 0;
                tokio::task::yield_now().await;
            }
            Err((Error::WouldBlock, _)) => {
                refusals_in_a_row += 1;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            Err((e, _)) => panic!("{e}"),
        }
        assert!(sent < 20_000, "no back-pressure after {sent} messages");
    }
    // A send now waits …
    assert!(still_pending(push.send("last")).await);
    // … and everything taken arrives, then the waiting send goes through.
    let send = async { push.send("last").await.unwrap() };
    let recv = async {
        for _ in 0..sent {
            assert_eq!(pull.recv().await.unwrap().frames()[0].len(), 1024);
        }
        assert_eq!(text(&pull.recv().await.unwrap()), ["last"]);
    };
    within("drain", async { tokio::join!(send, recv) }).await;
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
}

async fn close_lingers_until_the_queued_messages_are_delivered() {
    let ctx = Context::new().unwrap();
    // A free port, then nobody there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let push = ctx.socket(SocketType::Push).unwrap(); // LINGER -1: wait for delivery
    push.set(SocketOption::ReconnectIvl(10)).unwrap();
    push.connect(&ep).await.unwrap();
    for i in 0..5 {
        push.send(msg(format!("kept {i}"))).await.unwrap();
    }
    let mut close = tokio::spawn(push.close());
    // Nobody is there to take them: the close cannot finish.
    assert!(still_pending(&mut close).await);
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).await.unwrap();
    for i in 0..5 {
        assert_eq!(
            text(&within("kept", pull.recv()).await.unwrap()),
            [format!("kept {i}")]
        );
    }
    within("close to finish", close).await.unwrap();
}

async fn close_with_zero_linger_finishes_without_a_peer() {
    let ctx = Context::new().unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.connect("tcp://127.0.0.1:1").await.unwrap();
    push.send("dropped").await.unwrap();
    within("close", push.close()).await;
}

async fn close_gives_up_on_undelivered_messages_once_linger_has_passed() {
    let ctx = Context::new().unwrap();
    for ep in ["tcp://127.0.0.1:1", "inproc://nobody-binds-this"] {
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set(SocketOption::Linger(50)).unwrap();
        push.connect(ep).await.unwrap();
        push.send("never delivered").await.unwrap();
        // Nobody will take it: only the linger deadline (a timer) ends the close.
        within("close after LINGER", push.close()).await;
    }
}

async fn a_connect_reconnects_after_the_peer_restarts() {
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::ReconnectIvl(20)).unwrap();
    let mut mon = push.monitor();
    push.connect(&ep).await.unwrap();
    push.send("before").await.unwrap();
    assert_eq!(
        text(&within("before", pull.recv()).await.unwrap()),
        ["before"]
    );
    next_event(&mut mon, MonitorEventKind::HandshakeSucceeded).await;
    within("close", pull.close()).await;
    next_event(&mut mon, MonitorEventKind::Disconnected).await;
    let pull = sock(&ctx, SocketType::Pull);
    assert_eq!(pull.bind(&ep).await.unwrap(), ep);
    next_event(&mut mon, MonitorEventKind::HandshakeSucceeded).await;
    push.send("after").await.unwrap();
    assert_eq!(
        text(&within("after", pull.recv()).await.unwrap()),
        ["after"]
    );
}

async fn monitor_events_follow_a_connection_and_end_with_the_socket() {
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let mut bmon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let listening = next_event(&mut bmon, MonitorEventKind::Listening).await;
    assert_eq!(listening.endpoint, ep);
    let push = sock(&ctx, SocketType::Push);
    let mut cmon = push.monitor();
    push.connect(&ep).await.unwrap();
    let kinds: Vec<MonitorEventKind> = within("connecter events", async {
        let mut v = Vec::new();
        while let Some(ev) = cmon.next().await {
            assert_eq!(ev.endpoint, ep);
            v.push(ev.kind);
            if ev.kind == MonitorEventKind::HandshakeSucceeded {
                return v;
            }
        }
        v
    })
    .await;
    assert_eq!(
        kinds,
        [
            MonitorEventKind::ConnectDelayed,
            MonitorEventKind::Connected,
            MonitorEventKind::HandshakeSucceeded
        ]
    );
    next_event(&mut bmon, MonitorEventKind::Accepted).await;
    next_event(&mut bmon, MonitorEventKind::HandshakeSucceeded).await;
    within("close", pull.close()).await;
    next_event(&mut bmon, MonitorEventKind::Closed).await;
    next_event(&mut bmon, MonitorEventKind::MonitorStopped).await;
    assert!(within("end", bmon.next()).await.is_none());
    next_event(&mut cmon, MonitorEventKind::Disconnected).await;
}

async fn disconnect_drops_what_a_receive_took_ahead_from_that_endpoint() {
    // As libzmq: after `disconnect`, no message from that endpoint is returned, not even one
    // a receive took ahead (RCVHWM 1000: up to 64 at once); another endpoint's stay.
    let ctx = Context::new().unwrap();
    let near = sock(&ctx, SocketType::Push);
    near.bind("inproc://taken-ahead").await.unwrap();
    let far = sock(&ctx, SocketType::Push);
    far.bind("inproc://kept").await.unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    pull.connect("inproc://taken-ahead").await.unwrap();
    for i in 0..10 {
        near.send(msg(format!("m{i}"))).await.unwrap();
    }
    assert_eq!(text(&pull.recv().await.unwrap()), ["m0"]);
    pull.connect("inproc://kept").await.unwrap();
    far.send(msg("other".to_owned())).await.unwrap();
    pull.disconnect("inproc://taken-ahead").await.unwrap();
    assert_eq!(
        text(&within("other", pull.recv()).await.unwrap()),
        ["other"]
    );
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
}

async fn an_xpub_keeps_what_it_read_across_a_disconnect() {
    // libzmq's XPUB reads every message as it arrives and keeps what it read after the pipe
    // ends: a receive after `disconnect` still returns it, and then the unsubscription the
    // disconnect caused (unlike a PULL's, whose unread messages go with the pipe).
    let ctx = Context::new().unwrap();
    let xsub = sock(&ctx, SocketType::XSub);
    xsub.bind("inproc://xpub-taken-ahead").await.unwrap();
    xsub.send(Message::from(vec![1u8, b'x'])).await.unwrap();
    let xpub = sock(&ctx, SocketType::XPub);
    xpub.connect("inproc://xpub-taken-ahead").await.unwrap();
    let sub = within("the subscription", xpub.recv()).await.unwrap();
    assert_eq!(sub.frames()[0], b"\x01x"[..]);
    for i in 0..10 {
        xsub.send(msg(format!("m{i}"))).await.unwrap();
    }
    assert_eq!(text(&within("m0", xpub.recv()).await.unwrap()), ["m0"]);
    xpub.disconnect("inproc://xpub-taken-ahead").await.unwrap();
    for i in 1..10 {
        let m = within("the rest", xpub.recv()).await.unwrap();
        assert_eq!(text(&m), [format!("m{i}")]);
    }
    let unsub = within("the unsubscription", xpub.recv()).await.unwrap();
    assert_eq!(unsub.frames()[0], b"\x00x"[..]);
    assert!(matches!(xpub.try_recv(), Err(Error::WouldBlock)));
}

async fn unsubscribe_drops_what_a_receive_took_ahead_of_that_topic() {
    // libzmq's SUB filters as it hands a message up: after an unsubscribe, nothing of that
    // topic is returned, not even what a receive took ahead. The simulator's batched
    // receives found the gap (a SUB handed up a topic it had left).
    let ctx = Context::new().unwrap();
    let publ = sock(&ctx, SocketType::Pub);
    publ.bind("inproc://sub-taken-ahead").await.unwrap();
    let sub = sock(&ctx, SocketType::Sub);
    sub.subscribe("a").unwrap();
    sub.subscribe("b").unwrap();
    sub.connect("inproc://sub-taken-ahead").await.unwrap();
    // A subscription reaches the PUB through its pipe: send until the first arrives.
    let first = within("the first message", async {
        loop {
            publ.send(msg("a0".to_owned())).await.unwrap();
            if let Ok(m) = sub.try_recv() {
                break m;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(text(&first), ["a0"]);
    for i in 1..10 {
        publ.send(msg(format!("a{i}"))).await.unwrap();
    }
    publ.send(msg("b".to_owned())).await.unwrap();
    // This receive takes the rest ahead (RCVHWM 1000: up to 64 at once), "b" among them.
    let next = text(&sub.recv().await.unwrap());
    assert!(next[0].starts_with('a'), "{next:?}");
    sub.unsubscribe("a").unwrap();
    assert_eq!(text(&within("b", sub.recv()).await.unwrap()), ["b"]);
    assert!(matches!(sub.try_recv(), Err(Error::WouldBlock)));
}

async fn bind_reports_clear_errors_and_unbind_disconnect_end_endpoints() {
    let ctx = Context::new().unwrap();
    let a = sock(&ctx, SocketType::Pull);
    let ep = a.bind("tcp://127.0.0.1:*").await.unwrap();
    assert!(ep.starts_with("tcp://127.0.0.1:") && !ep.ends_with(":*"));
    assert_eq!(
        a.get(SocketOptionName::LastEndpoint).unwrap(),
        SocketOption::LastEndpoint(ep.clone())
    );
    let b = sock(&ctx, SocketType::Pull);
    assert!(matches!(b.bind(&ep).await, Err(Error::Io(_))));
    assert!(matches!(b.bind("bogus://x").await, Err(Error::Endpoint(_))));
    b.bind("inproc://taken").await.unwrap();
    assert!(matches!(a.bind("inproc://taken").await, Err(Error::Io(_))));
    assert!(matches!(
        a.unbind("tcp://127.0.0.1:1").await,
        Err(Error::Endpoint(_))
    ));
    a.unbind(&ep).await.unwrap();
    // The address is free again at once.
    assert_eq!(b.bind(&ep).await.unwrap(), ep);
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).await.unwrap();
    assert_eq!(push.session_count(), 1);
    push.disconnect(&ep).await.unwrap();
    assert!(matches!(
        push.disconnect(&ep).await,
        Err(Error::Endpoint(_))
    ));
}

async fn frames_go_one_by_one_and_rcvmore_tells_what_follows() {
    let ctx = Context::new().unwrap();
    for ep in transports("frames") {
        let a = sock(&ctx, SocketType::Dealer);
        let b = sock(&ctx, SocketType::Dealer);
        join(&a, &b, &ep).await;
        a.send_frame("one", true).await.unwrap();
        a.send_frame("two", true).await.unwrap();
        a.send_frame("three", false).await.unwrap();
        let (f, more) = within("frame", b.recv_frame()).await.unwrap();
        assert_eq!((&f[..], more), (&b"one"[..], true));
        assert_eq!(
            b.get(SocketOptionName::RcvMore).unwrap(),
            SocketOption::RcvMore(true)
        );
        // What is left of a message partly read comes as a message of its own.
        a.send("next").await.unwrap();
        let (f, more) = b.recv_frame().await.unwrap();
        assert_eq!((&f[..], more), (&b"two"[..], true));
        assert_eq!(text(&b.recv().await.unwrap()), ["three"]);
        assert_eq!(
            b.get(SocketOptionName::RcvMore).unwrap(),
            SocketOption::RcvMore(false)
        );
        assert_eq!(
            text(&within("next", b.recv()).await.unwrap()),
            ["next"],
            "{ep}"
        );
    }
}

/// `n` bytes that differ with `seed` and position, so a misplaced piece shows.
fn body(n: usize, seed: u32) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(seed) as u8)
        .collect()
}

async fn large_frames_arrive_whole_over_every_transport() {
    // Frames far larger than one read (a large frame's body is read in pieces of at most
    // 4 MiB, into a buffer reserved for it; its header alone first while large frames keep
    // coming), between small ones, in a multipart message.
    for ep in transports("largeframes") {
        let ctx = Context::new().unwrap();
        let pull = sock(&ctx, SocketType::Pull);
        let push = sock(&ctx, SocketType::Push);
        join(&pull, &push, &ep).await;
        let sent = [
            Message::single(body((9 << 20) + 7, 31)),
            Message::single(b"small".to_vec()),
            Message::from_frames([body(3, 5), body((5 << 20) + 1, 7), body(70_000, 11)]),
            Message::single(body(65_536 + 9, 13)),
            Message::single(body(65_536 + 9, 17)),
            Message::single(body(8, 19)),
        ];
        for m in &sent {
            push.send(m.clone()).await.unwrap();
        }
        for m in &sent {
            let got = within("a large message", pull.recv()).await.unwrap();
            assert!(got == *m, "{ep}");
        }
    }
}

async fn mixed_large_and_small_streams_arrive_whole_and_in_order() {
    // Two streams at once, sender and receiver running side by side: runs of large frames
    // broken by small ones and two-frame messages, far more bytes than a session task reads
    // in one turn.
    let message = oxmq_tests::front::mixed_message;
    const COUNT: usize = 120;
    for ep in transports("mixedstreams").into_iter().take(2) {
        let ctx = Context::new().unwrap();
        let mut pairs = Vec::new();
        for k in 0..2 {
            let pull = sock(&ctx, SocketType::Pull);
            let push = sock(&ctx, SocketType::Push);
            let ep = if ep.starts_with("ipc") {
                format!("{ep}.{k}")
            } else {
                ep.clone()
            };
            join(&pull, &push, &ep).await;
            pairs.push((push, pull));
        }
        let ep = &ep;
        let runs = pairs
            .iter()
            .enumerate()
            .map(|(stream, (push, pull))| async move {
                let send = async {
                    for i in 0..COUNT {
                        push.send(message(stream, i)).await.unwrap();
                    }
                };
                let recv = async {
                    for i in 0..COUNT {
                        let got = within("the next message", pull.recv()).await.unwrap();
                        assert!(
                            got == message(stream, i),
                            "{ep}: stream {stream}, message {i}"
                        );
                    }
                };
                tokio::join!(send, recv);
            });
        futures_util::future::join_all(runs).await;
    }
}

async fn messages_stream_in_and_sink_out() {
    let ctx = Context::new().unwrap();
    for ep in transports("streamsink") {
        let mut push = sock(&ctx, SocketType::Push);
        let mut pull = sock(&ctx, SocketType::Pull);
        push.set(SocketOption::SndHwm(5)).unwrap();
        join(&pull, &push, &ep).await;
        let n = 500;
        let send = async move {
            let mut items =
                futures_util::stream::iter((0..n).map(|i| Ok::<_, Error>(msg(format!("s{i}")))));
            push.send_all(&mut items).await.unwrap();
            push.close().await;
        };
        let recv = async {
            let got: Vec<String> = (&mut pull)
                .take(n)
                .map(|m| text(&m.unwrap())[0].clone())
                .collect()
                .await;
            got
        };
        let ((), got) = within("stream", async { tokio::join!(send, recv) }).await;
        let want: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        assert_eq!(got, want, "{ep}");
    }
}

async fn options_read_back_what_was_set_and_refuse_what_libzmq_refuses() {
    let ctx = Context::new().unwrap();
    let s = ctx.socket(SocketType::Dealer).unwrap();
    assert_eq!(
        s.get(SocketOptionName::Linger).unwrap(),
        SocketOption::Linger(-1)
    );
    for opt in [
        SocketOption::Linger(0),
        SocketOption::SndHwm(7),
        SocketOption::RcvHwm(9),
        SocketOption::RoutingId(Bytes::from_static(b"me")),
        SocketOption::ReconnectIvl(250),
        SocketOption::RcvTimeo(50),
    ] {
        s.set(opt.clone()).unwrap();
        assert_eq!(s.get(opt.name()).unwrap(), opt);
    }
    assert!(matches!(
        s.set(SocketOption::Linger(-2)),
        Err(Error::Option(_))
    ));
    assert!(matches!(
        s.set(SocketOption::Type(SocketType::Pub)),
        Err(Error::Option(_))
    ));
    // RCVTIMEO bounds a receive: it gives up with WouldBlock.
    assert!(matches!(
        within("timeout", s.recv()).await,
        Err(Error::WouldBlock)
    ));
    assert_eq!(
        s.get(SocketOptionName::Events).unwrap(),
        SocketOption::Events(0)
    );
}

async fn a_peer_speaking_garbage_costs_only_its_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let mut mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let mut bad = tokio::net::TcpStream::connect(ep.trim_start_matches("tcp://"))
        .await
        .unwrap();
    bad.write_all(&[0x42; 64]).await.unwrap();
    next_event(&mut mon, MonitorEventKind::HandshakeFailedProtocol).await;
    // The bad peer is cut off …
    let mut sink = Vec::new();
    within("the bad peer cut off", bad.read_to_end(&mut sink))
        .await
        .unwrap_or_default();
    // … and the socket goes on serving good ones.
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).await.unwrap();
    push.send("still here").await.unwrap();
    assert_eq!(
        text(&within("good peer", pull.recv()).await.unwrap()),
        ["still here"]
    );
}

async fn a_silent_peer_times_out_the_handshake_and_is_redialled() {
    // A listener that accepts and never says a word: only the session's timer ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            conns.push(c);
            if conns.len() == 2 {
                return conns;
            }
        }
        conns
    });
    let ctx = Context::new().unwrap();
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer.set(SocketOption::HandshakeIvl(50)).unwrap();
    dealer.set(SocketOption::ReconnectIvl(10)).unwrap();
    let mut mon = dealer.monitor();
    dealer.connect(&format!("tcp://{addr}")).await.unwrap();
    next_event(&mut mon, MonitorEventKind::Connected).await;
    next_event(&mut mon, MonitorEventKind::HandshakeFailedNoDetail).await;
    next_event(&mut mon, MonitorEventKind::ConnectRetried).await;
    // The redial reaches the listener again.
    assert_eq!(within("the redial", held).await.unwrap().len(), 2);
}

async fn an_ephemeral_ipc_bind_names_its_file_and_unbind_removes_it() {
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("ipc://*").await.unwrap();
    let path = ep
        .strip_prefix("ipc://")
        .expect("an ipc endpoint")
        .to_owned();
    assert!(std::path::Path::new(&path).exists(), "{path}");
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).await.unwrap();
    push.send("via a file").await.unwrap();
    assert_eq!(
        text(&within("ipc", pull.recv()).await.unwrap()),
        ["via a file"]
    );
    pull.unbind(&ep).await.unwrap();
    assert!(!std::path::Path::new(&path).exists(), "{path} left behind");
}
