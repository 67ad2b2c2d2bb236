//! The blocking front-end (`oxmq-mio`) end to end over tcp, ipc and inproc: every stable
//! pattern, connect-before-bind, reconnect after the peer restarts, linger on close, context
//! termination, and a libzmq peer on the other side.

use std::time::Duration;

use oxmq_core::monitor::MonitorEventKind;
use oxmq_core::{Message, SocketOption, SocketOptionName, SocketType};
use oxmq_mio::{Context, Error, Socket, POLLIN};

/// A failure bound for waits, never a timing assertion.
const WAIT: Duration = Duration::from_secs(20);
/// [`WAIT`] as SNDTIMEO / RCVTIMEO take it.
const WAIT_MS: i32 = 20_000;

fn transports(tag: &str) -> Vec<String> {
    let dir = std::env::temp_dir();
    vec![
        "tcp://127.0.0.1:*".to_owned(),
        format!(
            "ipc://{}/oxmq-test-{}-{tag}.ipc",
            dir.display(),
            std::process::id()
        ),
        format!("inproc://{tag}"),
    ]
}

fn sock(ctx: &Context, kind: SocketType) -> Socket {
    let s = ctx.socket(kind).unwrap();
    s.set(SocketOption::RcvTimeo(WAIT_MS)).unwrap();
    s.set(SocketOption::SndTimeo(WAIT_MS)).unwrap();
    s
}

/// ZMQ_EVENTS as (readable, writable).
fn events(s: &Socket) -> (bool, bool) {
    match s.get(SocketOptionName::Events).unwrap() {
        SocketOption::Events(e) => (e & POLLIN != 0, e & oxmq_mio::POLLOUT != 0),
        other => panic!("EVENTS answered {other:?}"),
    }
}

/// ZMQ_RCVMORE.
fn rcvmore(s: &Socket) -> bool {
    s.get(SocketOptionName::RcvMore).unwrap() == SocketOption::RcvMore(true)
}

fn frames(m: &Message) -> Vec<String> {
    m.frames()
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// Binds `a` and connects `b` over `endpoint`; returns the endpoint as bound.
fn join(a: &Socket, b: &Socket, endpoint: &str) -> String {
    let bound = a.bind(endpoint).unwrap();
    b.connect(&bound).unwrap();
    bound
}

#[test]
fn push_pull_over_every_transport() {
    for ep in transports("pushpull") {
        let ctx = Context::new().unwrap();
        let pull = sock(&ctx, SocketType::Pull);
        let push = sock(&ctx, SocketType::Push);
        join(&pull, &push, &ep);
        for i in 0..100u32 {
            push.send(Message::single(i.to_be_bytes().to_vec()))
                .unwrap();
        }
        for i in 0..100u32 {
            assert_eq!(
                pull.recv().unwrap(),
                Message::single(i.to_be_bytes().to_vec()),
                "{ep}"
            );
        }
    }
}

/// Frames far larger than one read (the I/O thread reads a large frame's body in pieces of
/// at most 4 MiB, into a buffer reserved for it), between small ones, in a multipart message.
#[test]
fn large_frames_arrive_whole_over_every_transport() {
    for ep in transports("largeframes") {
        let ctx = Context::new().unwrap();
        let pull = sock(&ctx, SocketType::Pull);
        let push = sock(&ctx, SocketType::Push);
        join(&pull, &push, &ep);
        let body = |n: usize, seed: u32| -> Vec<u8> {
            (0..n)
                .map(|i| (i as u32).wrapping_mul(seed) as u8)
                .collect()
        };
        let sent = [
            Message::single(body((9 << 20) + 7, 31)),
            Message::single(b"small".to_vec()),
            Message::from_frames([body(3, 5), body((5 << 20) + 1, 7), body(70_000, 11)]),
            Message::single(body(65_536 + 9, 13)),
        ];
        for m in &sent {
            push.send(m.clone()).unwrap();
        }
        for m in &sent {
            assert!(pull.recv().unwrap() == *m, "{ep}");
        }
    }
}

/// Two streams at once through one context's one I/O thread, so that both ends of each
/// connection take turns there: runs of large frames (each one's header read alone, its body
/// into a pooled buffer of its size) broken by small ones and multi-frame messages, more
/// bytes than a turn moves. Every message arrives whole and in order.
#[test]
fn mixed_large_and_small_streams_share_an_io_thread_intact() {
    for ep in transports("mixedstreams").into_iter().take(2) {
        let ctx = Context::new().unwrap();
        let pairs: Vec<(Socket, Socket)> = (0..2)
            .map(|_| {
                let pull = sock(&ctx, SocketType::Pull);
                let push = sock(&ctx, SocketType::Push);
                // A stalled stream fails the test at its timeouts, not in a lingering close.
                push.set(SocketOption::Linger(0)).unwrap();
                let ep = if ep.starts_with("ipc") {
                    format!("{ep}.{}", pairs_tag())
                } else {
                    ep.clone()
                };
                join(&pull, &push, &ep);
                (push, pull)
            })
            .collect();
        let message = oxmq_tests::front::mixed_message;
        const COUNT: usize = 120;
        let ep = &ep;
        std::thread::scope(|scope| {
            for (stream, (push, pull)) in pairs.into_iter().enumerate() {
                // The sender keeps its socket open until the receiver is done (or failed).
                let (done, wait_done) = std::sync::mpsc::channel::<()>();
                scope.spawn(move || {
                    for i in 0..COUNT {
                        push.send(message(stream, i)).unwrap();
                    }
                    let _ = wait_done.recv();
                });
                scope.spawn(move || {
                    let _done = done;
                    for i in 0..COUNT {
                        let got = pull.recv().unwrap();
                        assert!(
                            got == message(stream, i),
                            "{ep}: stream {stream}, message {i}"
                        );
                    }
                });
            }
        });
    }
}

/// A name part that keeps two ipc binds of one test apart.
fn pairs_tag() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn req_rep_over_every_transport() {
    for ep in transports("reqrep") {
        let ctx = Context::new().unwrap();
        let rep = sock(&ctx, SocketType::Rep);
        let req = sock(&ctx, SocketType::Req);
        join(&rep, &req, &ep);
        for i in 0..10 {
            req.send(Message::from_frames([
                format!("q{i}").into_bytes(),
                b"x".to_vec(),
            ]))
            .unwrap();
            assert_eq!(frames(&rep.recv().unwrap()), [format!("q{i}"), "x".into()]);
            assert!(
                matches!(rep.recv_dontwait(), Err(Error::BadState)),
                "REP owes a reply"
            );
            rep.send(Message::single(format!("a{i}").into_bytes()))
                .unwrap();
            assert_eq!(frames(&req.recv().unwrap()), [format!("a{i}")], "{ep}");
        }
    }
}

#[test]
fn dealer_router_over_every_transport() {
    for ep in transports("dealerrouter") {
        let ctx = Context::new().unwrap();
        let router = sock(&ctx, SocketType::Router);
        let dealer = sock(&ctx, SocketType::Dealer);
        dealer
            .set(SocketOption::RoutingId(bytes::Bytes::from_static(b"D1")))
            .unwrap();
        join(&router, &dealer, &ep);
        dealer.send(Message::from_frames(["", "hi"])).unwrap();
        assert_eq!(frames(&router.recv().unwrap()), ["D1", "", "hi"], "{ep}");
        router.send(Message::from_frames(["D1", "", "yo"])).unwrap();
        assert_eq!(frames(&dealer.recv().unwrap()), ["", "yo"]);
    }
}

#[test]
fn pair_over_every_transport() {
    for ep in transports("pair") {
        let ctx = Context::new().unwrap();
        let a = sock(&ctx, SocketType::Pair);
        let b = sock(&ctx, SocketType::Pair);
        join(&a, &b, &ep);
        b.send("ping").unwrap();
        assert_eq!(a.recv().unwrap(), Message::from("ping"));
        a.send("pong").unwrap();
        assert_eq!(b.recv().unwrap(), Message::from("pong"), "{ep}");
    }
}

#[test]
fn pub_sub_filters_by_topic_over_every_transport() {
    for ep in transports("pubsub") {
        let ctx = Context::new().unwrap();
        let publisher = sock(&ctx, SocketType::Pub);
        let sub = sock(&ctx, SocketType::Sub);
        sub.subscribe(b"weather").unwrap();
        join(&publisher, &sub, &ep);
        // PUB drops until the subscription has reached it; publish until one arrives.
        let mut got = None;
        for _ in 0..2000 {
            publisher.send("sports 1-0").unwrap();
            publisher.send("weather rain").unwrap();
            if let Ok(m) = sub.recv_timeout(Duration::from_millis(5)) {
                got = Some(m);
                break;
            }
        }
        assert_eq!(got, Some(Message::from("weather rain")), "{ep}");
        while let Ok(m) = sub.recv_dontwait() {
            assert_eq!(
                m,
                Message::from("weather rain"),
                "only the subscribed topic"
            );
        }
    }
}

#[test]
fn connect_before_bind_over_every_transport() {
    for (i, ep) in transports("cbb").into_iter().enumerate() {
        // A fixed endpoint is needed to connect before anyone binds.
        let ep = if ep.starts_with("tcp") {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = probe.local_addr().unwrap().port();
            drop(probe);
            format!("tcp://127.0.0.1:{port}")
        } else {
            ep
        };
        let ctx = Context::new().unwrap();
        let push = sock(&ctx, SocketType::Push);
        push.connect(&ep).unwrap();
        push.send(format!("early {i}").into_bytes()).unwrap();
        let pull = sock(&ctx, SocketType::Pull);
        pull.bind(&ep).unwrap();
        assert_eq!(
            pull.recv().unwrap(),
            Message::single(format!("early {i}").into_bytes())
        );
    }
}

/// Waits for the monitor event `kind` on `s`.
fn await_event(s: &Socket, kind: MonitorEventKind) {
    while let Some(ev) = s.recv_monitor_event(WAIT) {
        if ev.kind == kind {
            return;
        }
    }
    panic!("no {kind:?} event");
}

#[test]
fn reconnects_after_the_peer_restarts() {
    for ep in transports("restart").into_iter().take(2) {
        let ctx = Context::new().unwrap();
        let pull = sock(&ctx, SocketType::Pull);
        let bound = pull.bind(&ep).unwrap();
        let push = sock(&ctx, SocketType::Push);
        push.monitor();
        push.connect(&bound).unwrap();
        push.send("first").unwrap();
        assert_eq!(pull.recv().unwrap(), Message::from("first"));
        drop(pull);
        // A message sent before the sender notices the loss may be lost with the connection,
        // as in libzmq; wait for the sender to see it.
        await_event(&push, MonitorEventKind::Disconnected);
        let pull = sock(&ctx, SocketType::Pull);
        // The same address again: the old listener closed when its socket was dropped.
        pull.bind(&bound).unwrap();
        push.send("after restart").unwrap();
        assert_eq!(pull.recv().unwrap(), Message::from("after restart"), "{ep}");
        await_event(&push, MonitorEventKind::HandshakeSucceeded);
    }
}

#[test]
fn close_lingers_until_queued_messages_are_delivered() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", probe.local_addr().unwrap());
    drop(probe);
    let ctx = Context::new().unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    for i in 0..5 {
        push.send(format!("m{i}").into_bytes()).unwrap();
    }
    drop(push); // default LINGER: forever; the messages still go out.
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).unwrap();
    for i in 0..5 {
        assert_eq!(
            pull.recv().unwrap(),
            Message::single(format!("m{i}").into_bytes())
        );
    }
}

/// Terminates `term` on a thread of its own and reports whether it returned within [`WAIT`]
/// (a failure bound).
fn terminates<F: FnOnce() + Send + 'static>(term: F) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        term();
        let _ = tx.send(());
    });
    rx.recv_timeout(WAIT).is_ok()
}

/// A fuzzer's find (the C API's `zmq_ctx_term` hung): a socket with a message queued for an
/// inproc name nobody bound, LINGER as good as forever, closed (and in one case disconnected
/// first). Closing it keeps the message for a bind that may still come (the test above), but
/// termination cannot wait for a bind that can no longer happen. libzmq, run the same way
/// beside it, returns from `zmq_ctx_term` at once; so must we.
#[test]
fn context_termination_does_not_wait_for_an_inproc_bind_that_cannot_come() {
    const FOREVER_MS: i32 = 2_000_000_000;
    for disconnect in [false, true] {
        let theirs = zmq::Context::new();
        let s = theirs.socket(zmq::XSUB).unwrap();
        s.connect("inproc://never-bound").unwrap();
        s.send(&b"m"[..], zmq::DONTWAIT).unwrap();
        s.set_linger(FOREVER_MS).unwrap();
        if disconnect {
            s.disconnect("inproc://never-bound").unwrap();
        }
        drop(s);
        assert!(
            terminates(move || drop(theirs)),
            "libzmq, disconnect {disconnect}"
        );

        let ctx = Context::new().unwrap();
        for kind in [SocketType::XSub, SocketType::Push, SocketType::Dealer] {
            let s = ctx.socket(kind).unwrap();
            s.connect("inproc://never-bound").unwrap();
            s.send_dontwait(Message::from_slice(b"m")).unwrap();
            s.set(SocketOption::Linger(FOREVER_MS)).unwrap();
            if disconnect {
                s.disconnect("inproc://never-bound").unwrap();
            }
        }
        assert!(
            terminates(move || ctx.term()),
            "oxmq, disconnect {disconnect}"
        );
    }
}

/// What was sent before `disconnect` stays for the peer as LINGER allows, even when the
/// peer binds only afterwards (a fuzzer's find: the bind dropped it, and the linger held the
/// context's termination up). libzmq, run the same way beside it, delivers it.
#[test]
fn a_connect_disconnected_before_its_bind_still_delivers_what_it_sent() {
    const FOREVER_MS: i32 = 2_000_000_000;
    let theirs = zmq::Context::new();
    let a = theirs.socket(zmq::PUSH).unwrap();
    a.connect("inproc://late-bind").unwrap();
    a.send(&b"before"[..], zmq::DONTWAIT).unwrap();
    a.set_linger(FOREVER_MS).unwrap();
    a.disconnect("inproc://late-bind").unwrap();
    let b = theirs.socket(zmq::PULL).unwrap();
    b.set_linger(0).unwrap();
    b.set_rcvtimeo(WAIT_MS).unwrap();
    b.bind("inproc://late-bind").unwrap();
    assert_eq!(b.recv_bytes(0).unwrap(), b"before", "libzmq");
    drop((a, b));
    assert!(terminates(move || drop(theirs)), "libzmq");

    let ctx = Context::new().unwrap();
    let a = ctx.socket(SocketType::Push).unwrap();
    a.connect("inproc://late-bind").unwrap();
    a.send_dontwait(Message::from_slice(b"before")).unwrap();
    a.set(SocketOption::Linger(FOREVER_MS)).unwrap();
    a.disconnect("inproc://late-bind").unwrap();
    let b = sock(&ctx, SocketType::Pull);
    b.bind("inproc://late-bind").unwrap();
    assert_eq!(b.recv().unwrap(), Message::from_slice(b"before"));
    drop((a, b));
    assert!(terminates(move || ctx.term()), "oxmq");
}

#[test]
fn context_termination_unblocks_a_blocked_recv_with_terminated() {
    let ctx = Context::new().unwrap();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("inproc://nobody").unwrap();
    let waiter = std::thread::spawn(move || pull.recv());
    // Terminating while the other thread waits; it must come back with ETERM.
    ctx.term();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Terminated)));
    assert!(matches!(
        ctx.socket(SocketType::Push),
        Err(Error::Terminated)
    ));
}

#[test]
fn bad_endpoints_and_address_in_use_are_clear_errors() {
    let ctx = Context::new().unwrap();
    let a = sock(&ctx, SocketType::Pull);
    assert!(matches!(a.bind("tcp://127.0.0.1"), Err(Error::Endpoint(_))));
    assert!(matches!(a.connect("udp://x:1"), Err(Error::Endpoint(_))));
    let bound = a.bind("tcp://127.0.0.1:*").unwrap();
    let b = sock(&ctx, SocketType::Pull);
    match b.bind(&bound) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse),
        other => panic!("expected address in use, got {other:?}"),
    }
    a.bind("inproc://taken").unwrap();
    match b.bind("inproc://taken") {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse),
        other => panic!("expected inproc name in use, got {other:?}"),
    }
}

#[test]
fn oxmq_req_talks_to_libzmq_rep_through_the_socket_api() {
    let zctx = zmq::Context::new();
    let rep = zctx.socket(zmq::REP).unwrap();
    rep.set_linger(0).unwrap();
    rep.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let ctx = Context::new().unwrap();
    let req = sock(&ctx, SocketType::Req);
    req.connect(&ep).unwrap();
    for i in 0..5 {
        req.send(format!("hello {i}").into_bytes()).unwrap();
        let got = rep.recv_bytes(0).unwrap();
        assert_eq!(got, format!("hello {i}").into_bytes());
        rep.send(format!("world {i}").as_bytes(), 0).unwrap();
        assert_eq!(
            req.recv().unwrap(),
            Message::single(format!("world {i}").into_bytes())
        );
    }
}

#[test]
fn libzmq_push_feeds_an_oxmq_pull_bound_on_ipc() {
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let path = std::env::temp_dir().join(format!("oxmq-zmq-{}.ipc", std::process::id()));
    let ep = pull.bind(&format!("ipc://{}", path.display())).unwrap();
    let zctx = zmq::Context::new();
    let push = zctx.socket(zmq::PUSH).unwrap();
    push.set_linger(1000).unwrap();
    push.connect(&ep).unwrap();
    for i in 0..50u32 {
        push.send(&i.to_be_bytes()[..], 0).unwrap();
    }
    for i in 0..50u32 {
        assert_eq!(
            pull.recv().unwrap(),
            Message::single(i.to_be_bytes().to_vec())
        );
    }
}

#[test]
fn frames_can_be_sent_and_read_one_by_one() {
    let ctx = Context::new().unwrap();
    let a = sock(&ctx, SocketType::Pair);
    let b = sock(&ctx, SocketType::Pair);
    join(&a, &b, "inproc://frames");
    b.send_frame(&b"a"[..], true).unwrap();
    b.send_frame(&b"b"[..], true).unwrap();
    assert!(
        matches!(a.recv_dontwait(), Err(Error::WouldBlock)),
        "nothing until the last frame"
    );
    b.send_frame(&b"c"[..], false).unwrap();
    let (f, more) = a.recv_frame().unwrap();
    assert_eq!((&f[..], more), (&b"a"[..], true));
    assert!(rcvmore(&a));
    let (f, more) = a.recv_frame().unwrap();
    assert_eq!((&f[..], more), (&b"b"[..], true));
    let (f, more) = a.recv_frame().unwrap();
    assert_eq!((&f[..], more), (&b"c"[..], false));
    assert!(!rcvmore(&a));
}

#[test]
fn poll_reports_which_sockets_are_ready() {
    use oxmq_mio::{poll, PollItem, POLLIN, POLLOUT};
    let ctx = Context::new().unwrap();
    let (p1, p2) = (sock(&ctx, SocketType::Pull), sock(&ctx, SocketType::Pull));
    let e1 = p1.bind("tcp://127.0.0.1:*").unwrap();
    let e2 = p2.bind("inproc://poll2").unwrap();
    let (s1, s2) = (sock(&ctx, SocketType::Push), sock(&ctx, SocketType::Push));
    s1.connect(&e1).unwrap();
    s2.connect(&e2).unwrap();
    let mut items = [PollItem::new(&p1, POLLIN), PollItem::new(&p2, POLLIN)];
    assert_eq!(poll(&mut items, Some(Duration::ZERO)).unwrap(), 0);
    s2.send("to two").unwrap();
    let mut items = [PollItem::new(&p1, POLLIN), PollItem::new(&p2, POLLIN)];
    assert_eq!(poll(&mut items, Some(WAIT)).unwrap(), 1);
    assert!(!items[0].is_readable() && items[1].is_readable());
    s1.send("to one").unwrap();
    let mut items = [PollItem::new(&p1, POLLIN)];
    assert_eq!(poll(&mut items, Some(WAIT)).unwrap(), 1);
    assert_eq!(p1.recv().unwrap(), Message::from("to one"));
    let mut out = [PollItem::new(&s1, POLLOUT)];
    assert_eq!(
        poll(&mut out, Some(WAIT)).unwrap(),
        1,
        "a connected PUSH can send"
    );
}

#[test]
fn messages_a_receive_took_ahead_still_count_as_readable_and_come_in_order() {
    use oxmq_mio::{poll, PollItem, POLLIN};
    for ep in transports("prefetch") {
        let ctx = Context::new().unwrap();
        let pull = sock(&ctx, SocketType::Pull);
        let push = sock(&ctx, SocketType::Push);
        join(&pull, &push, &ep);
        for i in 0..3u8 {
            push.send(Message::single(vec![i])).unwrap();
        }
        let mut got = vec![pull.recv().unwrap()];
        // The others may already sit in the socket's own buffer, out of the core's queue:
        // they must still make the socket readable, for poll and for ZMQ_EVENTS.
        while got.len() < 3 {
            let mut items = [PollItem::new(&pull, POLLIN)];
            assert_eq!(poll(&mut items, Some(WAIT)).unwrap(), 1, "{ep}");
            assert!(events(&pull).0, "{ep}");
            got.push(pull.recv().unwrap());
        }
        let bodies: Vec<u8> = got.iter().map(|m| m.frames()[0][0]).collect();
        assert_eq!(bodies, [0, 1, 2], "{ep}");
        let mut items = [PollItem::new(&pull, POLLIN)];
        assert_eq!(poll(&mut items, Some(Duration::ZERO)).unwrap(), 0, "{ep}");
    }
}

#[test]
fn a_sender_blocked_at_the_high_water_mark_resumes_as_the_receiver_drains() {
    for ep in transports("hwm") {
        let ctx = Context::new().unwrap();
        let pull = sock(&ctx, SocketType::Pull);
        let push = sock(&ctx, SocketType::Push);
        for s in [&pull, &push] {
            s.set(SocketOption::SndHwm(2)).unwrap();
            s.set(SocketOption::RcvHwm(2)).unwrap();
        }
        join(&pull, &push, &ep);
        // Far more than the queues hold: the sender blocks again and again, and each time
        // must be woken by the receiver making room (a lost wake-up fails the send after
        // the 20 s send timeout).
        let sender = std::thread::spawn(move || {
            for i in 0..2000u32 {
                push.send(Message::single(i.to_be_bytes().to_vec()))
                    .unwrap();
            }
            push
        });
        for i in 0..2000u32 {
            let m = pull.recv().unwrap();
            assert_eq!(m.frames()[0][..], i.to_be_bytes(), "{ep}");
        }
        drop(sender.join().unwrap());
    }
}

#[test]
fn proxy_streams_between_pull_and_push_and_stops_on_termination() {
    let ctx = Context::new().unwrap();
    let front = sock(&ctx, SocketType::Pull);
    let back = sock(&ctx, SocketType::Push);
    let capture = sock(&ctx, SocketType::Push);
    let fe = front.bind("tcp://127.0.0.1:*").unwrap();
    back.bind("inproc://back").unwrap();
    capture.bind("inproc://capture").unwrap();
    let producer = sock(&ctx, SocketType::Push);
    producer.connect(&fe).unwrap();
    let consumer = sock(&ctx, SocketType::Pull);
    consumer.connect("inproc://back").unwrap();
    let tap = sock(&ctx, SocketType::Pull);
    tap.connect("inproc://capture").unwrap();
    let device = std::thread::spawn(move || oxmq_mio::proxy(&front, &back, Some(&capture)));
    for i in 0..20 {
        producer.send(format!("job {i}").into_bytes()).unwrap();
    }
    for i in 0..20 {
        let want = Message::single(format!("job {i}").into_bytes());
        assert_eq!(consumer.recv().unwrap(), want);
        assert_eq!(tap.recv().unwrap(), want);
    }
    ctx.term();
    assert!(matches!(device.join().unwrap(), Err(Error::Terminated)));
}

#[test]
fn steerable_proxy_pauses_resumes_reports_and_terminates() {
    let ctx = Context::new().unwrap();
    let front = sock(&ctx, SocketType::Pull);
    let back = sock(&ctx, SocketType::Push);
    let control = sock(&ctx, SocketType::Rep);
    front.bind("inproc://sfront").unwrap();
    back.bind("inproc://sback").unwrap();
    control.bind("inproc://control").unwrap();
    let producer = sock(&ctx, SocketType::Push);
    producer.connect("inproc://sfront").unwrap();
    let consumer = sock(&ctx, SocketType::Pull);
    consumer.connect("inproc://sback").unwrap();
    let boss = sock(&ctx, SocketType::Req);
    boss.connect("inproc://control").unwrap();
    let device =
        std::thread::spawn(move || oxmq_mio::proxy_steerable(&front, &back, None, &control));
    producer.send("one").unwrap();
    assert_eq!(consumer.recv().unwrap(), Message::from("one"));
    boss.send("PAUSE").unwrap();
    boss.recv().unwrap();
    producer.send("two").unwrap();
    assert!(matches!(
        consumer.recv_timeout(Duration::from_millis(50)),
        Err(Error::WouldBlock)
    ));
    boss.send("RESUME").unwrap();
    boss.recv().unwrap();
    assert_eq!(consumer.recv().unwrap(), Message::from("two"));
    boss.send("STATISTICS").unwrap();
    let stats = boss.recv().unwrap();
    let n: Vec<u64> = stats
        .frames()
        .iter()
        .map(|f| u64::from_ne_bytes(f[..].try_into().unwrap()))
        .collect();
    assert_eq!(n, [2, 6, 0, 0, 0, 0, 2, 6]);
    boss.send("TERMINATE").unwrap();
    boss.recv().unwrap();
    let stats = device.join().unwrap().unwrap();
    assert_eq!(stats.frontend_in, 2);
}

#[test]
fn xpub_xsub_forward_subscriptions_over_every_transport() {
    for ep in transports("xpubxsub") {
        let ctx = Context::new().unwrap();
        let xpub = sock(&ctx, SocketType::XPub);
        let xsub = sock(&ctx, SocketType::XSub);
        join(&xpub, &xsub, &ep);
        // XSUB subscribes by sending `01 topic`; XPUB shows it the same way.
        xsub.send(b"\x01news".to_vec()).unwrap();
        assert_eq!(
            xpub.recv().unwrap(),
            Message::single(&b"\x01news"[..]),
            "{ep}"
        );
        xpub.send("news: up").unwrap();
        xpub.send("other").unwrap();
        assert_eq!(xsub.recv().unwrap(), Message::from("news: up"));
        xsub.send(b"\x00news".to_vec()).unwrap();
        assert_eq!(xpub.recv().unwrap(), Message::single(&b"\x00news"[..]));
    }
}

#[test]
fn stream_talks_raw_tcp_with_a_plain_socket() {
    use std::io::{Read, Write};
    let ctx = Context::new().unwrap();
    let stream = sock(&ctx, SocketType::Stream);
    let ep = stream.bind("tcp://127.0.0.1:*").unwrap();
    let mut plain = std::net::TcpStream::connect(ep.trim_start_matches("tcp://")).unwrap();
    plain.set_read_timeout(Some(WAIT)).unwrap();
    // STREAM_NOTIFY: an empty frame announces the peer.
    let hello = stream.recv().unwrap();
    assert_eq!(hello.len(), 2);
    assert!(hello.frames()[1].is_empty());
    let id = hello.frames()[0].clone();
    plain.write_all(b"GET /").unwrap();
    let got = stream.recv().unwrap();
    assert_eq!(got.frames()[0], id);
    assert_eq!(&got.frames()[1][..], b"GET /");
    stream
        .send(Message::from_frames([
            id.clone(),
            oxmq_core::Frame::from(b"200 OK"),
        ]))
        .unwrap();
    let mut buf = [0u8; 6];
    plain.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"200 OK");
    // An empty body closes that connection.
    stream
        .send(Message::from_frames([id, oxmq_core::Frame::new()]))
        .unwrap();
    assert_eq!(plain.read(&mut buf).unwrap(), 0);
}

#[test]
fn readiness_fd_wakes_a_users_own_poll_loop() {
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token};
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("inproc://fd").unwrap();
    let fd = pull.readiness_fd().unwrap();
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(7), Interest::READABLE)
        .unwrap();
    assert_eq!(events(&pull), (false, false));
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("wake up").unwrap();
    let mut fired = Events::with_capacity(4);
    let mut woke = false;
    while !woke {
        poll.poll(&mut fired, Some(WAIT)).unwrap();
        assert!(!fired.is_empty(), "the fd never became readable");
        woke = fired.iter().any(|e| e.token() == Token(7));
    }
    assert_eq!(
        events(&pull),
        (true, false),
        "readable, and PULL never sends"
    );
    assert_eq!(pull.recv_dontwait().unwrap(), Message::from("wake up"));
    assert_eq!(events(&pull), (false, false));
}

#[test]
fn several_io_threads_share_the_connections() {
    let ctx = Context::with_io_threads(3).unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let pushers: Vec<Socket> = (0..8)
        .map(|_| {
            let s = sock(&ctx, SocketType::Push);
            s.connect(&ep).unwrap();
            s
        })
        .collect();
    for (i, p) in pushers.iter().enumerate() {
        for j in 0..50 {
            p.send(format!("{i}-{j}").into_bytes()).unwrap();
        }
    }
    let mut got = std::collections::BTreeMap::<usize, Vec<usize>>::new();
    for _ in 0..8 * 50 {
        let m = pull.recv().unwrap();
        let text = String::from_utf8_lossy(&m.frames()[0]).into_owned();
        let (i, j) = text.split_once('-').unwrap();
        got.entry(i.parse().unwrap())
            .or_default()
            .push(j.parse().unwrap());
    }
    for (i, js) in got {
        assert_eq!(
            js,
            (0..50).collect::<Vec<_>>(),
            "sender {i}: in order, none lost"
        );
    }
}

#[test]
fn unbind_and_disconnect_end_those_endpoints_only() {
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let a = pull.bind("tcp://127.0.0.1:*").unwrap();
    let b = pull.bind("inproc://second").unwrap();
    assert_eq!(
        pull.get(SocketOptionName::LastEndpoint).unwrap(),
        SocketOption::LastEndpoint(b.clone())
    );
    pull.unbind(&a).unwrap();
    assert!(
        matches!(pull.unbind(&a), Err(Error::Endpoint(_))),
        "already unbound"
    );
    let push = sock(&ctx, SocketType::Push);
    push.connect(&b).unwrap();
    push.send("still bound").unwrap();
    assert_eq!(pull.recv().unwrap(), Message::from("still bound"));
    push.disconnect(&b).unwrap();
    assert!(matches!(push.disconnect(&b), Err(Error::Endpoint(_))));
    assert!(matches!(
        push.send_dontwait("nowhere"),
        Err(Error::WouldBlock)
    ));
}

#[test]
fn disconnect_drops_what_a_receive_took_ahead_from_that_endpoint() {
    // libzmq never returns a message from an endpoint after `zmq_disconnect`. A PULL takes
    // messages ahead of `recv` (RCVHWM 1000: up to 125 at once); those from the pipe the
    // disconnect let go of must go with it, and another endpoint's must stay.
    let ctx = Context::new().unwrap();
    let near = sock(&ctx, SocketType::Push);
    near.bind("inproc://taken-ahead").unwrap();
    let far = sock(&ctx, SocketType::Push);
    far.bind("inproc://kept").unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    pull.connect("inproc://taken-ahead").unwrap();
    for i in 0..10 {
        near.send(format!("m{i}")).unwrap();
    }
    // Over inproc each message is in the pipe once `send` returns: the first receive takes
    // all ten.
    assert_eq!(pull.recv().unwrap(), Message::from("m0"));
    pull.connect("inproc://kept").unwrap();
    far.send("other").unwrap();
    pull.disconnect("inproc://taken-ahead").unwrap();
    assert_eq!(pull.recv().unwrap(), Message::from("other"));
    assert!(matches!(pull.recv_dontwait(), Err(Error::WouldBlock)));
}

#[test]
fn an_xpub_keeps_what_it_read_across_a_disconnect() {
    // libzmq's XPUB reads every message as it arrives (subscriptions must take effect
    // whether or not the application reads) and keeps what it read after the pipe ends, so
    // a receive after `zmq_disconnect` still returns it, and then the unsubscription the
    // disconnect caused (unlike a PULL's, whose unread messages go with the pipe).
    let ctx = Context::new().unwrap();
    let xsub = sock(&ctx, SocketType::XSub);
    xsub.bind("inproc://xpub-taken-ahead").unwrap();
    // Kept by the XSUB and sent to each pipe as it attaches.
    xsub.send(vec![1u8, b'x']).unwrap();
    let xpub = sock(&ctx, SocketType::XPub);
    xpub.connect("inproc://xpub-taken-ahead").unwrap();
    // The subscription came through the pipe: the XSUB has it now.
    assert_eq!(xpub.recv().unwrap(), Message::from(vec![1u8, b'x']));
    for i in 0..10 {
        xsub.send(format!("m{i}")).unwrap();
    }
    // Over inproc each message is in the pipe once `send` returns: the XPUB reads all ten.
    assert_eq!(xpub.recv().unwrap(), Message::from("m0"));
    xpub.disconnect("inproc://xpub-taken-ahead").unwrap();
    for i in 1..10 {
        assert_eq!(xpub.recv().unwrap(), Message::from(format!("m{i}")));
    }
    assert_eq!(xpub.recv().unwrap(), Message::from(vec![0u8, b'x']));
    assert!(matches!(xpub.recv_dontwait(), Err(Error::WouldBlock)));
}

#[test]
fn unsubscribe_drops_what_a_receive_took_ahead_of_that_topic() {
    // libzmq's SUB filters as it hands a message up: after an unsubscribe, nothing of that
    // topic is returned, not even what a receive took ahead (the simulator's batched
    // receives found the gap: a SUB handed up a topic it had left).
    let ctx = Context::new().unwrap();
    let publ = sock(&ctx, SocketType::Pub);
    publ.bind("inproc://sub-taken-ahead").unwrap();
    let sub = sock(&ctx, SocketType::Sub);
    sub.subscribe(b"a").unwrap();
    sub.subscribe(b"b").unwrap();
    sub.connect("inproc://sub-taken-ahead").unwrap();
    // A subscription reaches the PUB through its pipe: send until the first arrives.
    let first = loop {
        publ.send("a0").unwrap();
        if let Ok(m) = sub.recv_dontwait() {
            break m;
        }
        std::thread::yield_now();
    };
    assert_eq!(first, Message::from("a0"));
    for i in 1..10 {
        publ.send(format!("a{i}")).unwrap();
    }
    publ.send("b").unwrap();
    // This receive takes the rest ahead (RCVHWM 1000: up to 125 at once), "b" among them.
    let next = sub.recv().unwrap();
    assert!(next.frames()[0].starts_with(b"a"), "{next:?}");
    sub.unsubscribe(b"a").unwrap();
    assert_eq!(sub.recv().unwrap(), Message::from("b"));
    assert!(matches!(sub.recv_dontwait(), Err(Error::WouldBlock)));
}

#[test]
fn unsubscribe_drops_what_a_pollin_look_kept() {
    // A POLLIN look (zmq_poll, ZMQ_EVENTS) makes the SUB keep the first wanted message for
    // the next receive; an unsubscribe after the look filters it as it filters the rest
    // (libzmq's SUB hands it up regardless; the simulator found it once its sends on a SUB
    // looked at ZMQ_EVENTS whole).
    use oxmq_mio::{poll, PollItem};
    let ctx = Context::new().unwrap();
    let publ = sock(&ctx, SocketType::Pub);
    publ.bind("inproc://sub-look-kept").unwrap();
    let sub = sock(&ctx, SocketType::Sub);
    sub.subscribe(b"a").unwrap();
    sub.subscribe(b"b").unwrap();
    sub.connect("inproc://sub-look-kept").unwrap();
    loop {
        publ.send("a0").unwrap();
        if sub.recv_dontwait().is_ok() {
            break;
        }
        std::thread::yield_now();
    }
    while sub.recv_dontwait().is_ok() {}
    publ.send("a1").unwrap();
    publ.send("b1").unwrap();
    let mut items = [PollItem::new(&sub, POLLIN)];
    assert_eq!(poll(&mut items, Some(Duration::from_secs(10))).unwrap(), 1);
    assert!(events(&sub).0, "the look kept a1");
    sub.unsubscribe(b"a").unwrap();
    assert_eq!(sub.recv().unwrap(), Message::from("b1"));
    assert!(matches!(sub.recv_dontwait(), Err(Error::WouldBlock)));
}

#[test]
fn ipc_abstract_and_ephemeral_names() {
    let ctx = Context::new().unwrap();
    for ep in [
        format!("ipc://@oxmq-abstract-{}", std::process::id()),
        "ipc://*".to_owned(),
    ] {
        let pull = sock(&ctx, SocketType::Pull);
        let bound = pull.bind(&ep).unwrap();
        assert!(bound.starts_with("ipc://") && bound != "ipc://*", "{bound}");
        let push = sock(&ctx, SocketType::Push);
        push.connect(&bound).unwrap();
        push.send("over ipc").unwrap();
        assert_eq!(pull.recv().unwrap(), Message::from("over ipc"), "{bound}");
    }
}

/// A reader blocked in `recv` with no timeout is woken by every message that finds it
/// asleep, however the sender's wake-up (left as mail while the reader is inside a receive)
/// crosses the reader's own steps: its spin ending, its going to sleep, its return. The sender
/// alternates bursts with pauses of up to about a hundred microseconds (the reader's spin is
/// fifty), so the reader often runs dry and turns to sleep just as a message comes; both ways
/// of a PAIR, so each side's wake-ups race with the other's. A wake-up lost leaves a reader
/// asleep with a message waiting, and the check below times out.
#[test]
fn inproc_readers_racing_to_sleep_lose_no_wake_up() {
    use oxmq_mio::{poll, PollItem};
    use std::sync::mpsc;
    use std::time::Instant;
    const N: u32 = 20_000;
    // Jitter, not synchronisation: where each pause ends decides nothing but timing.
    fn pause(seed: &mut u64) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let burst = *seed % 4;
        if burst == 0 {
            let until = Instant::now() + Duration::from_micros(*seed % 120);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
    }
    // The third reader waits in `poll` and takes with `recv_dontwait`: `poll` reads the
    // socket's state without receiving, so it sees mail only if the receive before it took
    // all that came.
    for (round, (kinds, polls)) in [
        ((SocketType::Push, SocketType::Pull), false),
        ((SocketType::Pair, SocketType::Pair), false),
        ((SocketType::Push, SocketType::Pull), true),
    ]
    .into_iter()
    .enumerate()
    {
        let ctx = Context::new().unwrap();
        let ep = format!("inproc://sleepers-{round}");
        let a = sock(&ctx, kinds.0);
        let b = sock(&ctx, kinds.1);
        b.bind(&ep).unwrap();
        a.connect(&ep).unwrap();
        let both_ways = kinds.0 == SocketType::Pair;
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        let reader = std::thread::spawn(move || {
            let mut seed = 0x9E37_79B9_7F4A_7C15u64;
            for i in 0..N {
                let m = loop {
                    if !polls {
                        break b.recv().unwrap();
                    }
                    match b.recv_dontwait() {
                        Ok(m) => break m,
                        Err(Error::WouldBlock) => {
                            poll(&mut [PollItem::new(&b, POLLIN)], None).unwrap();
                        }
                        Err(e) => panic!("{e}"),
                    }
                };
                assert_eq!(m, Message::from(i.to_be_bytes().to_vec()), "in order");
                if both_ways {
                    b.send(i.to_be_bytes().to_vec()).unwrap();
                    pause(&mut seed);
                }
            }
            tx.send("reader").unwrap();
            b
        });
        let writer = std::thread::spawn(move || {
            let mut seed = 0x2545_F491_4F6C_DD1Du64;
            let mut echoes = 0u32;
            let echo = |m: Message, echoes: &mut u32| {
                assert_eq!(m, Message::from(echoes.to_be_bytes().to_vec()), "in order");
                *echoes += 1;
            };
            for i in 0..N {
                a.send(i.to_be_bytes().to_vec()).unwrap();
                pause(&mut seed);
                if both_ways {
                    loop {
                        match a.recv_dontwait() {
                            Ok(m) => echo(m, &mut echoes),
                            Err(Error::WouldBlock) => break,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            }
            // Blocking receives, whose wake-ups come as the reader's sends.
            while both_ways && echoes < N {
                echo(a.recv().unwrap(), &mut echoes);
            }
            tx2.send("writer").unwrap();
            a
        });
        for _ in 0..2 {
            if rx.recv_timeout(WAIT).is_err() {
                // A side asleep for good keeps its socket, and closing the context would
                // wait for it: leave the context behind and fail.
                std::mem::forget(ctx);
                panic!(
                    "round {round} ({kinds:?}): a side never finished: a wake-up was lost \
                     (unless a side panicked, as printed above)"
                );
            }
        }
        drop((reader.join().unwrap(), writer.join().unwrap()));
    }
}

/// Sends racing inproc connects must wake every reader: a pipe joined while its binder is
/// already sending gets its first wake-up only if the link between the two sockets exists by
/// then (a lost one leaves a worker asleep on a pipe holding messages). Many short rounds, so
/// that the race is met.
#[test]
fn inproc_connects_racing_sends_lose_no_wake_up() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    for round in 0..150 {
        let ctx = Context::new().unwrap();
        let push = sock(&ctx, SocketType::Push);
        let ep = format!("inproc://race-{round}");
        push.bind(&ep).unwrap();
        let (tx, rx) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (ctx, ep, tx, done) = (ctx.clone(), ep.clone(), tx.clone(), done.clone());
                std::thread::spawn(move || {
                    let pull = sock(&ctx, SocketType::Pull);
                    pull.connect(&ep).unwrap();
                    while !done.load(Ordering::Acquire) {
                        if let Ok(m) = pull.recv_timeout(Duration::from_millis(20)) {
                            tx.send(m).unwrap();
                        }
                    }
                })
            })
            .collect();
        for i in 0..30u8 {
            push.send(vec![i]).unwrap();
        }
        // Every message sits in some worker's pipe; a worker whose wake-up was lost never
        // takes it (its pattern does not look at a pipe that was not woken).
        for n in 0..30 {
            assert!(
                rx.recv_timeout(WAIT).is_ok(),
                "round {round}: message {n} never arrived (a wake-up was lost)"
            );
        }
        done.store(true, Ordering::Release);
        for w in workers {
            w.join().unwrap();
        }
    }
}

/// A receive takes messages ahead only as far as RCVHWM allows (an eighth of it, one at a
/// time below 16): a message taken ahead counts as read, and its writer may send more. Over
/// inproc the two HWMs add up (4 + 4), and the reader reports every half of that.
#[test]
fn a_receive_does_not_take_ahead_past_a_small_rcvhwm() {
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let push = sock(&ctx, SocketType::Push);
    for s in [&pull, &push] {
        s.set(SocketOption::SndHwm(4)).unwrap();
        s.set(SocketOption::RcvHwm(4)).unwrap();
    }
    pull.bind("inproc://small-rcvhwm").unwrap();
    push.connect("inproc://small-rcvhwm").unwrap();
    let mut sent = 0u32;
    while push
        .try_send(Message::single(sent.to_be_bytes().to_vec()))
        .is_ok()
    {
        sent += 1;
    }
    assert_eq!(sent, 8, "SNDHWM + RCVHWM over inproc");
    // One message read is not yet a report (every 4): the writer stays full. Taking all 8
    // ahead would have reported twice and let 8 more in.
    assert_eq!(pull.recv().unwrap().frames()[0][..], 0u32.to_be_bytes());
    assert!(matches!(
        push.try_send(Message::from("over")),
        Err((Error::WouldBlock, _))
    ));
    for i in 1..sent {
        assert_eq!(pull.recv().unwrap().frames()[0][..], i.to_be_bytes());
    }
}
