//! One conformance suite, written once against the front-end trait (`oxmq_tests::front`) and
//! run on oxmq-mio and on oxmq-tokio: each case below is a function of a front-end, and
//! the `suite!` at the end makes a `mio::case` and a `tokio::case` test of it.
//!
//! What it pins, per RFC 28/29/30/31 and as libzmq behaves: every pattern's routing
//! (round-robin, fair-queueing, REQ/REP's lock-step, ROUTER's identities, MANDATORY and
//! HANDOVER, PUB/SUB filtering, XPUB/XSUB subscription messages), multipart and
//! frame-by-frame, the high-water mark per socket type (block vs drop), CONFLATE, IMMEDIATE,
//! LINGER, reconnect after a peer restarts, connect-before-bind, monitor events, heartbeats
//! timing out a silent peer, and bad input (a wrong greeting, a frame over MAXMSGSIZE, a
//! mismatched socket type) costing only the connection that sent it. The differences from
//! libzmq found when oxmq was tried as a new user would (issue 12's list) are cases too;
//! the steerable proxy's lives with the blocking front-end (`libzmq_differences.rs`), the
//! only one with a proxy.
//!
//! Every wait is bounded by `WAIT` (a failure bound); where a case must show that something
//! does *not* arrive, it waits a short, fixed while ([`ABSENT`]) after a later message that
//! must arrive has arrived, so the absence is not a race.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use oxmq_core::monitor::{MonitorEvent, MonitorEventKind};
use oxmq_core::{Message, SocketOption, SocketOptionName, SocketType};
use oxmq_tests::front::{Errno, Front, Mon, Sock, WAIT};

/// How long a case waits to see that something does not arrive.
const ABSENT: Duration = Duration::from_millis(200);

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A name no other case in this process uses.
fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// An endpoint to bind on each transport: tcp and ipc ask for a free one, inproc gets a
/// name of its own.
fn transports(tag: &str) -> Vec<String> {
    vec![
        "tcp://127.0.0.1:*".to_owned(),
        format!("ipc:///tmp/oxmq-conf-{}.ipc", unique(tag)),
        format!("inproc://{}", unique(tag)),
    ]
}

/// An ipc endpoint nobody listens on yet.
fn fresh_ipc(tag: &str) -> String {
    format!("ipc:///tmp/oxmq-conf-{}.ipc", unique(tag))
}

fn msg(text: &str) -> Message {
    Message::from(text.to_owned())
}

fn text(m: &Message) -> String {
    m.frames()
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect::<Vec<_>>()
        .join("|")
}

fn recv_text(s: &dyn Sock) -> String {
    text(&s.recv().expect("a message within the wait bound"))
}

/// Waits for the first event of `kind`, and returns it.
fn await_event(mon: &dyn Mon, kind: MonitorEventKind) -> MonitorEvent {
    let mut seen = Vec::new();
    loop {
        match mon.next(WAIT) {
            Some(ev) if ev.kind == kind => return ev,
            Some(ev) => seen.push(ev.kind),
            None => panic!("no {kind:?} within {WAIT:?}; saw {seen:?}"),
        }
    }
}

/// Waits for the first event of any of `kinds`.
fn await_any(mon: &dyn Mon, kinds: &[MonitorEventKind]) -> MonitorEvent {
    let mut seen = Vec::new();
    loop {
        match mon.next(WAIT) {
            Some(ev) if kinds.contains(&ev.kind) => return ev,
            Some(ev) => seen.push(ev.kind),
            None => panic!("none of {kinds:?} within {WAIT:?}; saw {seen:?}"),
        }
    }
}

/// Sends `probe` from a PUB-like socket until the subscriber sees it: the subscription has
/// then reached the publisher (the slow-joiner handshake every PUB/SUB user writes).
fn sync_subscription(publisher: &dyn Sock, subscriber: &dyn Sock, probe: &str) {
    for _ in 0..1000 {
        publisher.send(msg(probe)).unwrap();
        if let Some(m) = subscriber.recv_within(Duration::from_millis(20)).unwrap() {
            assert_eq!(text(&m), probe);
            // Drain the probes still in flight.
            while let Some(m) = subscriber.recv_within(Duration::from_millis(20)).unwrap() {
                assert_eq!(text(&m), probe);
            }
            return;
        }
    }
    panic!("the subscription never reached the publisher");
}

/// A raw TCP listener on a free port, with its endpoint.
fn raw_listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", l.local_addr().unwrap());
    (l, ep)
}

fn tcp_addr(endpoint: &str) -> String {
    endpoint.trim_start_matches("tcp://").to_owned()
}

/// Plays a ZMTP 3.1 NULL handshake as `socket_type` on a raw stream: our greeting and READY
/// out, the peer's greeting and READY read and checked.
fn raw_handshake(conn: &mut TcpStream, socket_type: &str) {
    let mut greeting = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1];
    greeting.extend_from_slice(b"NULL");
    greeting.resize(64, 0);
    conn.write_all(&greeting).unwrap();
    let mut theirs = [0u8; 64];
    conn.read_exact(&mut theirs).unwrap();
    assert_eq!(theirs[0], 0xff);
    assert_eq!(&theirs[12..16], b"NULL");
    let mut body = b"\x05READY".to_vec();
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    let mut ready = vec![0x04, body.len() as u8];
    ready.extend_from_slice(&body);
    conn.write_all(&ready).unwrap();
    // The peer's READY: a short command frame.
    let mut head = [0u8; 2];
    conn.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0x04, "a short command");
    let mut cmd = vec![0u8; head[1] as usize];
    conn.read_exact(&mut cmd).unwrap();
    assert!(cmd.starts_with(b"\x05READY"), "{cmd:?}");
}

// ---------------------------------------------------------------------------------------
// Patterns

/// RFC 30: PUSH round-robins over its peers, one message each in turn, and PULL
/// fair-queues from its peers, keeping each peer's order.
fn push_pull_round_robin_and_fair_queue(front: &dyn Front) {
    for ep in transports("pushpull") {
        let (a, b) = (
            front.socket(SocketType::Pull),
            front.socket(SocketType::Pull),
        );
        let ea = a.bind(&ep).unwrap();
        let eb = b
            .bind(
                &ep.replace(".ipc", "-b.ipc")
                    .replace("inproc://", "inproc://b-"),
            )
            .unwrap();
        let push = front.socket(SocketType::Push);
        // Connecting makes the pipe at once, so both peers are in the rotation from the
        // first message, whatever the connections' timing.
        push.connect(&ea).unwrap();
        push.connect(&eb).unwrap();
        for i in 0..10 {
            push.send(msg(&format!("m{i}"))).unwrap();
        }
        let got_a: Vec<String> = (0..5).map(|_| recv_text(&*a)).collect();
        let got_b: Vec<String> = (0..5).map(|_| recv_text(&*b)).collect();
        assert_eq!(got_a, ["m0", "m2", "m4", "m6", "m8"], "{ep}");
        assert_eq!(got_b, ["m1", "m3", "m5", "m7", "m9"], "{ep}");

        // Fair-queueing: two senders into one PULL; each sender's order holds.
        let pull = front.socket(SocketType::Pull);
        let (p1, p2) = (
            front.socket(SocketType::Push),
            front.socket(SocketType::Push),
        );
        let e1 = p1
            .bind(
                &ep.replace(".ipc", "-1.ipc")
                    .replace("inproc://", "inproc://1-"),
            )
            .unwrap();
        let e2 = p2
            .bind(
                &ep.replace(".ipc", "-2.ipc")
                    .replace("inproc://", "inproc://2-"),
            )
            .unwrap();
        pull.connect(&e1).unwrap();
        pull.connect(&e2).unwrap();
        for i in 0..20 {
            p1.send(msg(&format!("x{i}"))).unwrap();
            p2.send(msg(&format!("y{i}"))).unwrap();
        }
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for _ in 0..40 {
            let t = recv_text(&*pull);
            if t.starts_with('x') {
                xs.push(t);
            } else {
                ys.push(t);
            }
        }
        let want = |p: char| (0..20).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
        assert_eq!(xs, want('x'), "{ep}");
        assert_eq!(ys, want('y'), "{ep}");
    }
}

/// RFC 28: REQ and REP in lock-step — REQ cannot send twice nor REP reply unasked (EFSM);
/// REQ round-robins its requests over its REPs; the reply comes back to the asker.
fn req_rep_lock_step_and_round_robin(front: &dyn Front) {
    for ep in transports("reqrep") {
        let (r1, r2) = (front.socket(SocketType::Rep), front.socket(SocketType::Rep));
        let e1 = r1.bind(&ep).unwrap();
        let e2 = r2
            .bind(
                &ep.replace(".ipc", "-2.ipc")
                    .replace("inproc://", "inproc://2-"),
            )
            .unwrap();
        let req = front.socket(SocketType::Req);
        req.connect(&e1).unwrap();
        req.connect(&e2).unwrap();

        assert_eq!(r1.try_send(msg("unasked")), Err(Errno::Fsm), "{ep}");
        assert_eq!(req.try_recv().err(), Some(Errno::Fsm), "{ep}");
        for round in 0..4 {
            let (rep, other) = if round % 2 == 0 {
                (&r1, &r2)
            } else {
                (&r2, &r1)
            };
            req.send(Message::from_frames([
                Bytes::from(format!("q{round}")),
                Bytes::from_static(b"part2"),
            ]))
            .unwrap();
            assert_eq!(req.try_send(msg("again")), Err(Errno::Fsm), "{ep}");
            let q = rep.recv().unwrap();
            assert_eq!(text(&q), format!("q{round}|part2"), "{ep}");
            assert!(other.try_recv().is_err(), "{ep}: round-robin skipped a REP");
            rep.send(msg(&format!("a{round}"))).unwrap();
            assert_eq!(recv_text(&*req), format!("a{round}"), "{ep}");
        }
    }
}

/// RFC 28: DEALER round-robins to its ROUTERs; a ROUTER prefixes what it receives with the
/// peer's routing id (the one the peer chose, or one it made up: five bytes, the first 0,
/// as libzmq) and routes a reply by the id it is given.
fn dealer_router_identities_and_routing(front: &dyn Front) {
    for ep in transports("dealerrouter") {
        let router = front.socket(SocketType::Router);
        let e = router.bind(&ep).unwrap();
        let named = front.socket(SocketType::Dealer);
        named
            .set(SocketOption::RoutingId(Bytes::from_static(b"alice")))
            .unwrap();
        named.connect(&e).unwrap();
        let anon = front.socket(SocketType::Dealer);
        anon.connect(&e).unwrap();

        named.send(msg("from alice")).unwrap();
        let m = router.recv().unwrap();
        assert_eq!(text(&m), "alice|from alice", "{ep}");
        anon.send(msg("from anon")).unwrap();
        let m = router.recv().unwrap();
        let id = m.frames()[0].clone();
        assert_eq!(id.len(), 5, "{ep}: a made-up id is five bytes");
        assert_eq!(id[0], 0, "{ep}: a made-up id starts with 0");
        assert_eq!(&m.frames()[1][..], b"from anon");

        router
            .send(Message::from_frames([
                id.clone(),
                oxmq_core::Frame::from(b"to anon"),
            ]))
            .unwrap();
        router
            .send(Message::from_frames([
                Bytes::from_static(b"alice"),
                Bytes::from_static(b"to alice"),
            ]))
            .unwrap();
        assert_eq!(recv_text(&*anon), "to anon", "{ep}");
        assert_eq!(recv_text(&*named), "to alice", "{ep}");

        // A DEALER with two ROUTERs takes turns.
        let r2 = front.socket(SocketType::Router);
        let e2 = r2
            .bind(
                &ep.replace(".ipc", "-2.ipc")
                    .replace("inproc://", "inproc://2-"),
            )
            .unwrap();
        let d = front.socket(SocketType::Dealer);
        let r1 = front.socket(SocketType::Router);
        let e1 = r1
            .bind(
                &ep.replace(".ipc", "-1.ipc")
                    .replace("inproc://", "inproc://1-"),
            )
            .unwrap();
        d.connect(&e1).unwrap();
        d.connect(&e2).unwrap();
        for i in 0..4 {
            d.send(msg(&format!("d{i}"))).unwrap();
        }
        let tail = |m: Message| String::from_utf8_lossy(&m.frames()[1]).into_owned();
        assert_eq!(tail(r1.recv().unwrap()), "d0", "{ep}");
        assert_eq!(tail(r2.recv().unwrap()), "d1", "{ep}");
        assert_eq!(tail(r1.recv().unwrap()), "d2", "{ep}");
        assert_eq!(tail(r2.recv().unwrap()), "d3", "{ep}");
    }
}

/// ROUTER_MANDATORY: a message to an unknown routing id fails with EHOSTUNREACH, already on
/// its first frame; without it such messages are dropped silently.
fn router_mandatory_reports_unknown_peers(front: &dyn Front) {
    let router = front.socket(SocketType::Router);
    let e = router.bind("tcp://127.0.0.1:*").unwrap();
    let dealer = front.socket(SocketType::Dealer);
    dealer
        .set(SocketOption::RoutingId(Bytes::from_static(b"known")))
        .unwrap();
    dealer.connect(&e).unwrap();
    dealer.send(msg("hello")).unwrap();
    assert_eq!(recv_text(&*router), "known|hello");

    // Not mandatory: dropped, and the known peer still gets what is meant for it.
    router
        .send(Message::from_frames([
            Bytes::from_static(b"nobody"),
            Bytes::from_static(b"lost"),
        ]))
        .unwrap();
    router.set(SocketOption::RouterMandatory(true)).unwrap();
    assert_eq!(
        router.send_frame(oxmq_core::Frame::from(b"nobody"), true),
        Err(Errno::HostUnreach),
        "the first frame already fails"
    );
    assert_eq!(
        router.try_send(Message::from_frames([
            Bytes::from_static(b"nobody"),
            Bytes::from_static(b"x"),
        ])),
        Err(Errno::HostUnreach)
    );
    router
        .send(Message::from_frames([
            Bytes::from_static(b"known"),
            Bytes::from_static(b"kept"),
        ]))
        .unwrap();
    assert_eq!(recv_text(&*dealer), "kept");
}

/// ROUTER_HANDOVER: a second peer with a routing id in use takes the id over; replies go to
/// the newcomer.
fn router_handover_gives_the_id_to_the_newcomer(front: &dyn Front) {
    let router = front.socket(SocketType::Router);
    router.set(SocketOption::RouterHandover(true)).unwrap();
    let e = router.bind("tcp://127.0.0.1:*").unwrap();
    let first = front.socket(SocketType::Dealer);
    first
        .set(SocketOption::RoutingId(Bytes::from_static(b"twin")))
        .unwrap();
    first.connect(&e).unwrap();
    first.send(msg("first")).unwrap();
    assert_eq!(recv_text(&*router), "twin|first");

    let second = front.socket(SocketType::Dealer);
    second
        .set(SocketOption::RoutingId(Bytes::from_static(b"twin")))
        .unwrap();
    second.connect(&e).unwrap();
    second.send(msg("second")).unwrap();
    assert_eq!(recv_text(&*router), "twin|second");
    router
        .send(Message::from_frames([
            Bytes::from_static(b"twin"),
            Bytes::from_static(b"to the newcomer"),
        ]))
        .unwrap();
    assert_eq!(recv_text(&*second), "to the newcomer");
    assert!(first.recv_within(ABSENT).unwrap().is_none());
}

/// RFC 29: SUB receives only what matches its subscriptions (prefix match), and after an
/// unsubscribe nothing more of that topic — not even what was already on its way.
fn pub_sub_filters_and_unsubscribes(front: &dyn Front) {
    for ep in transports("pubsub") {
        let publisher = front.socket(SocketType::Pub);
        let e = publisher.bind(&ep).unwrap();
        let sub = front.socket(SocketType::Sub);
        sub.subscribe(b"weather").unwrap();
        sub.subscribe(b"sync").unwrap();
        sub.connect(&e).unwrap();
        sync_subscription(&*publisher, &*sub, "sync");

        for t in [
            "weather.rome",
            "traffic.rome",
            "weather.oslo",
            "weatherless",
        ] {
            publisher.send(msg(t)).unwrap();
        }
        publisher.send(msg("sync")).unwrap();
        let got: Vec<String> = (0..4).map(|_| recv_text(&*sub)).collect();
        assert_eq!(
            got,
            ["weather.rome", "weather.oslo", "weatherless", "sync"],
            "{ep}"
        );

        // Queue some weather, unsubscribe before reading it: none of it is delivered.
        publisher.send(msg("weather.late")).unwrap();
        publisher.send(msg("sync")).unwrap();
        sub.unsubscribe(b"weather").unwrap();
        publisher.send(msg("weather.after")).unwrap();
        publisher.send(msg("sync")).unwrap();
        assert_eq!(recv_text(&*sub), "sync", "{ep}");
        assert_eq!(recv_text(&*sub), "sync", "{ep}");

        // Multipart: the topic is the first frame; the rest travels with it.
        sub.subscribe(b"multi").unwrap();
        sync_subscription(&*publisher, &*sub, "multi-sync");
        publisher
            .send(Message::from_frames([
                Bytes::from_static(b"multi"),
                Bytes::new(),
                Bytes::from_static(b"tail"),
            ]))
            .unwrap();
        assert_eq!(recv_text(&*sub), "multi||tail", "{ep}");
    }
}

/// RFC 29: XPUB hears subscriptions as messages (1 + topic, 0 + topic), and XSUB sends them
/// as messages.
fn xpub_xsub_subscriptions_are_messages(front: &dyn Front) {
    for ep in transports("xpubxsub") {
        let xpub = front.socket(SocketType::XPub);
        let e = xpub.bind(&ep).unwrap();
        let sub = front.socket(SocketType::Sub);
        sub.connect(&e).unwrap();
        sub.subscribe(b"news").unwrap();
        assert_eq!(&xpub.recv().unwrap().frames()[0][..], b"\x01news", "{ep}");
        xpub.send(msg("news: hello")).unwrap();
        assert_eq!(recv_text(&*sub), "news: hello", "{ep}");
        sub.unsubscribe(b"news").unwrap();
        assert_eq!(&xpub.recv().unwrap().frames()[0][..], b"\x00news", "{ep}");

        let xsub = front.socket(SocketType::XSub);
        xsub.connect(&e).unwrap();
        xsub.send(msg("\u{1}sport")).unwrap();
        assert_eq!(&xpub.recv().unwrap().frames()[0][..], b"\x01sport", "{ep}");
        xpub.send(msg("sport: goal")).unwrap();
        assert_eq!(recv_text(&*xsub), "sport: goal", "{ep}");
    }
}

/// RFC 31: PAIR talks both ways with its one peer.
fn pair_talks_both_ways(front: &dyn Front) {
    for ep in transports("pair") {
        let a = front.socket(SocketType::Pair);
        let e = a.bind(&ep).unwrap();
        let b = front.socket(SocketType::Pair);
        b.connect(&e).unwrap();
        for i in 0..3 {
            a.send(msg(&format!("a{i}"))).unwrap();
            b.send(msg(&format!("b{i}"))).unwrap();
        }
        for i in 0..3 {
            assert_eq!(recv_text(&*b), format!("a{i}"), "{ep}");
            assert_eq!(recv_text(&*a), format!("b{i}"), "{ep}");
        }
    }
}

/// Over inproc libzmq checks no socket types: a PAIR connected before the PULL binds feeds
/// it (libzmq's `test_inproc_connect`, `test_multiple_threads`), on either side of the bind.
fn inproc_does_not_check_socket_types(front: &dyn Front) {
    let ep = format!("inproc://{}", unique("untyped"));
    let early = front.socket(SocketType::Pair);
    early.connect(&ep).unwrap();
    early.send(msg("before the bind")).unwrap();
    let pull = front.socket(SocketType::Pull);
    pull.bind(&ep).unwrap();
    let late = front.socket(SocketType::Pair);
    late.connect(&ep).unwrap();
    late.send(msg("after the bind")).unwrap();
    let mut got = vec![recv_text(&*pull), recv_text(&*pull)];
    got.sort();
    assert_eq!(got, ["after the bind", "before the bind"]);
}

/// Multipart messages arrive whole (empty frames, a frame over 255 bytes, one over 64 KiB),
/// and frame by frame with the more flag and RCVMORE.
fn multipart_whole_and_frame_by_frame(front: &dyn Front) {
    for ep in transports("multipart") {
        let pull = front.socket(SocketType::Pull);
        let e = pull.bind(&ep).unwrap();
        let push = front.socket(SocketType::Push);
        push.connect(&e).unwrap();
        let frames = [
            Bytes::from_static(b"head"),
            Bytes::new(),
            Bytes::from(vec![7u8; 300]),
            Bytes::from(vec![9u8; 70_000]),
        ];
        push.send(Message::from_frames(frames.clone())).unwrap();
        assert_eq!(pull.recv().unwrap().frames(), &frames[..], "{ep}");

        push.send_frame(oxmq_core::Frame::from(b"one"), true)
            .unwrap();
        push.send_frame(oxmq_core::Frame::new(), true).unwrap();
        push.send_frame(oxmq_core::Frame::from(b"three"), false)
            .unwrap();
        let (f, more) = pull.recv_frame().unwrap();
        assert_eq!((&f[..], more), (&b"one"[..], true), "{ep}");
        assert_eq!(
            pull.get(SocketOptionName::RcvMore).unwrap(),
            SocketOption::RcvMore(true)
        );
        let (f, more) = pull.recv_frame().unwrap();
        assert_eq!((f.len(), more), (0, true), "{ep}");
        let (f, more) = pull.recv_frame().unwrap();
        assert_eq!((&f[..], more), (&b"three"[..], false), "{ep}");
        assert_eq!(
            pull.get(SocketOptionName::RcvMore).unwrap(),
            SocketOption::RcvMore(false)
        );
    }
}

// ---------------------------------------------------------------------------------------
// High-water marks, CONFLATE, IMMEDIATE, LINGER

/// At the high-water mark PUSH, DEALER and PAIR block (a DONTWAIT send says EAGAIN) and
/// nothing is lost; inproc's pipe holds SNDHWM + RCVHWM, as libzmq's.
fn hwm_blocks_push_dealer_and_pair(front: &dyn Front) {
    for (sender, receiver) in [
        (SocketType::Push, SocketType::Pull),
        (SocketType::Dealer, SocketType::Dealer),
        (SocketType::Pair, SocketType::Pair),
    ] {
        let ep = format!("inproc://{}", unique("hwm-block"));
        let rx = front.socket(receiver);
        rx.set(SocketOption::RcvHwm(4)).unwrap();
        rx.bind(&ep).unwrap();
        let tx = front.socket(sender);
        tx.set(SocketOption::SndHwm(4)).unwrap();
        tx.connect(&ep).unwrap();
        let mut sent = 0;
        while tx.try_send(msg(&format!("m{sent}"))) == Ok(()) {
            sent += 1;
            assert!(sent <= 8, "{sender:?}: past SNDHWM + RCVHWM");
        }
        assert_eq!(tx.try_send(msg("more")), Err(Errno::Again), "{sender:?}");
        assert!(sent >= 4, "{sender:?} took only {sent}");
        for i in 0..sent {
            assert_eq!(recv_text(&*rx), format!("m{i}"), "{sender:?}");
        }
        // Room again.
        tx.send(msg("after")).unwrap();
        assert_eq!(recv_text(&*rx), "after", "{sender:?}");
    }

    // Over tcp the kernel's buffers come on top, but the sender still stops in the end.
    let rx = front.socket(SocketType::Pull);
    rx.set(SocketOption::RcvHwm(10)).unwrap();
    let e = rx.bind("tcp://127.0.0.1:*").unwrap();
    let tx = front.socket(SocketType::Push);
    tx.set(SocketOption::SndHwm(10)).unwrap();
    tx.connect(&e).unwrap();
    let big = Bytes::from(vec![1u8; 16 * 1024]);
    let mut stopped = false;
    for _ in 0..20_000 {
        match tx.try_send(Message::from_frames([big.clone()])) {
            Ok(()) => {}
            Err(Errno::Again) => {
                stopped = true;
                break;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(stopped, "a PUSH never reached its high-water mark");
}

/// At the high-water mark PUB and ROUTER drop (a send never blocks), and what gets through
/// is in order; ROUTER_MANDATORY makes ROUTER block instead.
fn hwm_drops_for_pub_and_router(front: &dyn Front) {
    let ep = format!("inproc://{}", unique("hwm-pub"));
    let publisher = front.socket(SocketType::Pub);
    publisher.set(SocketOption::SndHwm(4)).unwrap();
    publisher.bind(&ep).unwrap();
    let sub = front.socket(SocketType::Sub);
    sub.set(SocketOption::RcvHwm(4)).unwrap();
    sub.subscribe(b"").unwrap();
    sub.connect(&ep).unwrap();
    sync_subscription(&*publisher, &*sub, "sync");
    for i in 0..1000 {
        publisher.try_send(msg(&format!("{i:04}"))).unwrap();
    }
    publisher.try_send(msg("last")).unwrap();
    let mut got = Vec::new();
    while let Some(m) = sub.recv_within(ABSENT).unwrap() {
        got.push(text(&m));
    }
    assert!(
        !got.is_empty() && got.len() <= 9,
        "PUB queued {}",
        got.len()
    );
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "what gets through keeps its order");

    let ep = format!("inproc://{}", unique("hwm-router"));
    let router = front.socket(SocketType::Router);
    router.set(SocketOption::SndHwm(4)).unwrap();
    router.bind(&ep).unwrap();
    let dealer = front.socket(SocketType::Dealer);
    dealer.set(SocketOption::RcvHwm(4)).unwrap();
    dealer
        .set(SocketOption::RoutingId(Bytes::from_static(b"d")))
        .unwrap();
    dealer.connect(&ep).unwrap();
    dealer.send(msg("hi")).unwrap();
    assert_eq!(recv_text(&*router), "d|hi");
    let to_d = |t: String| Message::from_frames([Bytes::from_static(b"d"), Bytes::from(t)]);
    for i in 0..100 {
        router.try_send(to_d(format!("{i:03}"))).unwrap();
    }
    let mut n = 0;
    while dealer.recv_within(ABSENT).unwrap().is_some() {
        n += 1;
    }
    assert!((1..=9).contains(&n), "ROUTER queued {n}");
    router.set(SocketOption::RouterMandatory(true)).unwrap();
    let mut sent = 0;
    while router.try_send(to_d(format!("{sent}"))) == Ok(()) {
        sent += 1;
        assert!(sent <= 8);
    }
    assert_eq!(router.try_send(to_d("x".into())), Err(Errno::Again));
}

/// CONFLATE keeps only the newest message. (Over inproc libzmq takes CONFLATE from the
/// connecting socket only, so the conflating PULL connects here.)
fn conflate_keeps_the_newest(front: &dyn Front) {
    for ep in [
        "tcp://127.0.0.1:*".to_owned(),
        format!("inproc://{}", unique("conflate")),
    ] {
        let push = front.socket(SocketType::Push);
        let e = push.bind(&ep).unwrap();
        let pull = front.socket(SocketType::Pull);
        pull.set(SocketOption::Conflate(true)).unwrap();
        pull.connect(&e).unwrap();
        push.send(msg("warm-up")).unwrap();
        assert_eq!(recv_text(&*pull), "warm-up", "{ep}");
        for i in 0..100 {
            push.send(msg(&format!("{i}"))).unwrap();
        }
        let mut got = Vec::new();
        loop {
            let t = recv_text(&*pull);
            got.push(t.clone());
            if t == "99" {
                break;
            }
        }
        assert!(got.len() < 100, "{ep}: conflate kept every message");
        assert!(pull.recv_within(ABSENT).unwrap().is_none(), "{ep}");
    }
}

/// IMMEDIATE: a connect whose peer is not there yet makes no pipe, so a DONTWAIT send says
/// EAGAIN; without it the message queues and goes once the peer binds (connect before bind).
fn immediate_and_connect_before_bind(front: &dyn Front) {
    let ep = fresh_ipc("immediate");
    let eager = front.socket(SocketType::Push);
    eager.set(SocketOption::Immediate(true)).unwrap();
    eager.connect(&ep).unwrap();
    assert_eq!(eager.try_send(msg("nowhere")), Err(Errno::Again));

    let queued = front.socket(SocketType::Push);
    queued.connect(&ep).unwrap();
    queued.try_send(msg("queued before bind")).unwrap();
    let pull = front.socket(SocketType::Pull);
    pull.bind(&ep).unwrap();
    assert_eq!(recv_text(&*pull), "queued before bind");
    // The IMMEDIATE socket gets its pipe once connected.
    eager.send(msg("now connected")).unwrap();
    assert_eq!(recv_text(&*pull), "now connected");

    // inproc too: connect first, bind later.
    let name = format!("inproc://{}", unique("cbb"));
    let push = front.socket(SocketType::Push);
    push.connect(&name).unwrap();
    push.send(msg("early")).unwrap();
    let pull = front.socket(SocketType::Pull);
    pull.bind(&name).unwrap();
    assert_eq!(recv_text(&*pull), "early");
}

/// LINGER: messages queued before close reach a peer that comes within LINGER; with
/// LINGER 0 they are dropped at close.
fn linger_delivers_or_drops_at_close(front: &dyn Front) {
    let ep = fresh_ipc("linger");
    let push = front.socket(SocketType::Push);
    push.set(SocketOption::Linger(20_000)).unwrap();
    push.connect(&ep).unwrap();
    for i in 0..3 {
        push.send(msg(&format!("l{i}"))).unwrap();
    }
    drop(push);
    let pull = front.socket(SocketType::Pull);
    pull.bind(&ep).unwrap();
    for i in 0..3 {
        assert_eq!(recv_text(&*pull), format!("l{i}"));
    }

    let ep = fresh_ipc("linger0");
    let push = front.socket(SocketType::Push);
    push.set(SocketOption::Linger(0)).unwrap();
    push.connect(&ep).unwrap();
    push.send(msg("dropped")).unwrap();
    drop(push);
    let pull = front.socket(SocketType::Pull);
    pull.bind(&ep).unwrap();
    let witness = front.socket(SocketType::Push);
    witness.connect(&ep).unwrap();
    witness.send(msg("witness")).unwrap();
    assert_eq!(recv_text(&*pull), "witness");
    assert!(pull.recv_within(ABSENT).unwrap().is_none());
}

// ---------------------------------------------------------------------------------------
// Connections: reconnect, monitor, heartbeats, bad input

/// A connecting socket reconnects when its peer comes back, and what it sends then
/// arrives.
fn reconnects_after_the_peer_restarts(front: &dyn Front) {
    for ep in ["tcp://127.0.0.1:*".to_owned(), fresh_ipc("restart")] {
        let pull = front.socket(SocketType::Pull);
        let e = pull.bind(&ep).unwrap();
        let push = front.socket(SocketType::Push);
        push.set(SocketOption::ReconnectIvl(10)).unwrap();
        let mon = push.monitor();
        push.connect(&e).unwrap();
        push.send(msg("before")).unwrap();
        assert_eq!(recv_text(&*pull), "before", "{ep}");
        drop(pull);
        await_event(&*mon, MonitorEventKind::Disconnected);
        let pull = front.socket(SocketType::Pull);
        pull.bind(&e).unwrap();
        push.send(msg("after")).unwrap();
        assert_eq!(recv_text(&*pull), "after", "{ep}");
    }
}

/// Monitor events as libzmq sends them: LISTENING on bind; CONNECTED and
/// HANDSHAKE_SUCCEEDED on the connecting side; ACCEPTED and HANDSHAKE_SUCCEEDED on the
/// binding side; DISCONNECTED when the peer goes; CLOSED then MONITOR_STOPPED on close.
fn monitor_events_follow_the_connection(front: &dyn Front) {
    for ep in ["tcp://127.0.0.1:*".to_owned(), fresh_ipc("monitor")] {
        let server = front.socket(SocketType::Rep);
        let smon = server.monitor();
        let e = server.bind(&ep).unwrap();
        let ev = await_event(&*smon, MonitorEventKind::Listening);
        assert_eq!(ev.endpoint, e, "{ep}");

        let client = front.socket(SocketType::Req);
        let cmon = client.monitor();
        client.connect(&e).unwrap();
        let ev = await_event(&*cmon, MonitorEventKind::Connected);
        assert_eq!(ev.endpoint, e, "{ep}");
        await_event(&*cmon, MonitorEventKind::HandshakeSucceeded);
        await_event(&*smon, MonitorEventKind::Accepted);
        await_event(&*smon, MonitorEventKind::HandshakeSucceeded);

        client.send(msg("ping")).unwrap();
        assert_eq!(recv_text(&*server), "ping");
        drop(client);
        await_event(&*smon, MonitorEventKind::Disconnected);
        drop(server);
        let mut closed = Vec::new();
        loop {
            let ev = await_any(
                &*smon,
                &[MonitorEventKind::Closed, MonitorEventKind::MonitorStopped],
            );
            if ev.kind == MonitorEventKind::MonitorStopped {
                break;
            }
            closed.push(ev.endpoint);
        }
        assert!(closed.contains(&e), "{ep}: CLOSED for {closed:?}");
        assert!(smon.next(Duration::from_millis(1)).is_none());
    }
}

/// Heartbeats: a peer that completes the handshake and then falls silent (answers no PING)
/// is dropped after HEARTBEAT_TIMEOUT, with DISCONNECTED.
fn heartbeats_time_out_a_silent_peer(front: &dyn Front) {
    let (listener, ep) = raw_listener();
    let pull = front.socket(SocketType::Pull);
    pull.set(SocketOption::HeartbeatIvl(50)).unwrap();
    pull.set(SocketOption::HeartbeatTimeout(200)).unwrap();
    pull.set(SocketOption::ReconnectIvl(-1)).unwrap();
    let mon = pull.monitor();
    pull.connect(&ep).unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    raw_handshake(&mut conn, "PUSH");
    await_event(&*mon, MonitorEventKind::HandshakeSucceeded);
    // Silent from here on; the socket must give up on us.
    await_event(&*mon, MonitorEventKind::Disconnected);
    // And it closed the connection: reading ends (after the PINGs it sent).
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut sink = Vec::new();
    let _ = conn.read_to_end(&mut sink);
    assert!(!sink.is_empty(), "it sent PINGs before giving up");
}

/// Bad input costs only its own connection: a wrong greeting, a message over MAXMSGSIZE
/// and a peer of a mismatched socket type are each cut off, with a monitor event, while a
/// good peer of the same socket keeps working.
fn bad_input_costs_only_that_connection(front: &dyn Front) {
    let pull = front.socket(SocketType::Pull);
    pull.set(SocketOption::MaxMsgSize(1000)).unwrap();
    let mon = pull.monitor();
    let e = pull.bind("tcp://127.0.0.1:*").unwrap();
    let good = front.socket(SocketType::Push);
    good.connect(&e).unwrap();
    good.send(msg("good 1")).unwrap();
    assert_eq!(recv_text(&*pull), "good 1");

    // A wrong greeting: the connection is closed.
    let mut raw = TcpStream::connect(tcp_addr(&e)).unwrap();
    // The socket may cut us off mid-write; only its reading matters here.
    let _ = raw.write_all(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n");
    let _ = raw.write_all(&[0u8; 64]);
    raw.set_read_timeout(Some(WAIT)).unwrap();
    let mut sink = Vec::new();
    let _ = raw.read_to_end(&mut sink);
    await_any(
        &*mon,
        &[
            MonitorEventKind::HandshakeFailedProtocol,
            MonitorEventKind::HandshakeFailedNoDetail,
        ],
    );
    good.send(msg("good 2")).unwrap();
    assert_eq!(recv_text(&*pull), "good 2");

    // A message over MAXMSGSIZE: that peer's connection goes, the message never arrives.
    let big = front.socket(SocketType::Push);
    big.set(SocketOption::ReconnectIvl(-1)).unwrap();
    let big_mon = big.monitor();
    big.connect(&e).unwrap();
    await_event(&*big_mon, MonitorEventKind::HandshakeSucceeded);
    big.send(Message::from_frames([Bytes::from(vec![0u8; 5000])]))
        .unwrap();
    await_event(&*big_mon, MonitorEventKind::Disconnected);
    good.send(msg("good 3")).unwrap();
    assert_eq!(recv_text(&*pull), "good 3");
    assert!(pull.recv_within(ABSENT).unwrap().is_none());

    // A mismatched socket type (PUSH to PUSH): the handshake fails.
    let pusher = front.socket(SocketType::Push);
    let pe = pusher.bind("tcp://127.0.0.1:*").unwrap();
    let pmon = pusher.monitor();
    let wrong = front.socket(SocketType::Push);
    wrong.connect(&pe).unwrap();
    await_event(&*pmon, MonitorEventKind::HandshakeFailedProtocol);
    let right = front.socket(SocketType::Pull);
    right.connect(&pe).unwrap();
    pusher.send(msg("to the right peer")).unwrap();
    assert_eq!(recv_text(&*right), "to the right peer");
}

/// The TCP options (the keepalive family, buffers, TCP_MAXRT, TOS, backlog) and dual-stack
/// IPv6: a wildcard bind with IPV6 listens on `[::]` and takes IPv6 and IPv4 peers alike.
/// (That each option reaches the operating system's socket is `oxmq-net`'s own test.)
fn tcp_options_and_ipv6_dual_stack(front: &dyn Front) {
    let pull = front.socket(SocketType::Pull);
    let opts = [
        SocketOption::TcpKeepalive(1),
        SocketOption::TcpKeepaliveIdle(30),
        SocketOption::TcpKeepaliveIntvl(5),
        SocketOption::TcpKeepaliveCnt(3),
        SocketOption::SndBuf(256 * 1024),
        SocketOption::RcvBuf(256 * 1024),
        SocketOption::TcpMaxrt(10_000),
        SocketOption::Tos(0x28),
        SocketOption::Backlog(10),
        SocketOption::Ipv6(true),
    ];
    for o in &opts {
        pull.set(o.clone()).unwrap();
    }
    let ep = pull.bind("tcp://*:*").unwrap();
    let port = ep.rsplit(':').next().unwrap().to_owned();
    assert!(ep.starts_with("tcp://[::]:"), "{ep}");
    for peer in [
        format!("tcp://[::1]:{port}"),
        format!("tcp://127.0.0.1:{port}"),
    ] {
        let push = front.socket(SocketType::Push);
        for o in &opts {
            push.set(o.clone()).unwrap();
        }
        push.connect(&peer).unwrap();
        push.send(msg(&peer)).unwrap();
        assert_eq!(recv_text(&*pull), peer);
    }
}

/// A connect with a source address (`tcp://source;destination`) goes out from it.
fn tcp_source_address_is_used(front: &dyn Front) {
    let pull = front.socket(SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = front.socket(SocketType::Push);
    let dst = ep.trim_start_matches("tcp://");
    push.connect(&format!("tcp://127.0.0.1:0;{dst}")).unwrap();
    push.send(msg("via source")).unwrap();
    assert_eq!(recv_text(&*pull), "via source");
}

// ---------------------------------------------------------------------------------------
// The differences from libzmq found when oxmq was tried as a new user would (issue 12)

/// (1) `unbind` takes the endpoint as bound, never the wildcard it was asked for: libzmq
/// answers the wildcard string with ENOENT and keeps listening.
fn unbind_takes_the_resolved_endpoint_not_the_wildcard(front: &dyn Front) {
    for wildcard in ["tcp://127.0.0.1:*", "ipc://*"] {
        let pull = front.socket(SocketType::Pull);
        let bound = pull.bind(wildcard).unwrap();
        assert_ne!(bound, wildcard);
        assert_eq!(pull.unbind(wildcard), Err(Errno::NoEnt), "{wildcard}");
        let push = front.socket(SocketType::Push);
        push.connect(&bound).unwrap();
        push.send(msg("still bound")).unwrap();
        assert_eq!(recv_text(&*pull), "still bound");
        pull.unbind(&bound).unwrap();
        assert_eq!(pull.unbind(&bound), Err(Errno::NoEnt), "{wildcard}");
    }
}

/// (2) With RECONNECT_IVL = -1 a connection that ends takes its pipe with it: a PAIR has no
/// peer left (EAGAIN), and a fresh `connect` elsewhere carries messages.
fn no_reconnect_drops_the_pipe_and_a_new_connect_works(front: &dyn Front) {
    let first = front.socket(SocketType::Pair);
    let ep = first.bind("tcp://127.0.0.1:*").unwrap();
    let pair = front.socket(SocketType::Pair);
    pair.set(SocketOption::ReconnectIvl(-1)).unwrap();
    let mon = pair.monitor();
    pair.connect(&ep).unwrap();
    pair.send(msg("one")).unwrap();
    assert_eq!(recv_text(&*first), "one");
    drop(first);
    await_event(&*mon, MonitorEventKind::Disconnected);
    assert_eq!(pair.try_send(msg("into the void")), Err(Errno::Again));

    let second = front.socket(SocketType::Pair);
    let ep2 = second.bind("tcp://127.0.0.1:*").unwrap();
    pair.connect(&ep2).unwrap();
    pair.send(msg("two")).unwrap();
    assert_eq!(recv_text(&*second), "two");
    second.send(msg("back")).unwrap();
    assert_eq!(recv_text(&*pair), "back");
}

/// (3) A STREAM socket that connected out hears of the server closing: the routing id and
/// an empty frame, as the binding side does.
fn stream_connect_hears_the_server_close(front: &dyn Front) {
    let (server, ep) = raw_listener();
    let stream = front.socket(SocketType::Stream);
    stream.connect(&ep).unwrap();
    let (mut conn, _) = server.accept().unwrap();
    let hello = stream.recv().unwrap();
    assert_eq!(hello.frames().len(), 2);
    assert!(hello.frames()[1].is_empty());
    // As libzmq's `test_stream`: the notice and each chunk name the peer's address.
    let peer = Bytes::from_static(b"127.0.0.1");
    assert_eq!(hello.property("Peer-Address"), Some(&peer), "{hello:?}");
    let id = hello.frames()[0].clone();
    stream
        .send(Message::from_frames([
            id.clone(),
            oxmq_core::Frame::from(b"ping"),
        ]))
        .unwrap();
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    // As libzmq's STREAM (`test_stream_disconnect` sends so): the frame after the routing id
    // ends the message even when sent with MORE.
    stream.send_frame(id.clone(), true).unwrap();
    stream
        .send_frame(oxmq_core::Frame::from(b"more"), true)
        .unwrap();
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"more");
    conn.write_all(b"pong").unwrap();
    let m = stream.recv().unwrap();
    assert_eq!(m.frames()[0], id);
    assert_eq!(&m.frames()[1][..], b"pong");
    assert_eq!(m.property("Peer-Address"), Some(&peer));
    drop(conn);
    let bye = stream.recv().unwrap();
    assert_eq!(bye.frames().len(), 2, "{bye:?}");
    assert_eq!(bye.frames()[0], id);
    assert!(
        bye.frames()[1].is_empty(),
        "expected the disconnect notice, got {bye:?}"
    );
}

/// (5) Monitor events outlive the socket: the last CLOSED and MONITOR_STOPPED are read after
/// close, and nothing follows MONITOR_STOPPED.
fn monitor_events_are_readable_after_close(front: &dyn Front) {
    let pull = front.socket(SocketType::Pull);
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    await_event(&*mon, MonitorEventKind::Listening);
    drop(pull);
    let mut kinds = Vec::new();
    loop {
        let ev = mon
            .next(WAIT)
            .unwrap_or_else(|| panic!("events stopped after {kinds:?}"));
        kinds.push(ev.kind);
        if ev.kind == MonitorEventKind::Closed {
            assert_eq!(ev.endpoint, ep);
        }
        if ev.kind == MonitorEventKind::MonitorStopped {
            break;
        }
    }
    assert!(kinds.contains(&MonitorEventKind::Closed), "{kinds:?}");
    assert!(mon.next(Duration::from_millis(1)).is_none());
}

/// libzmq reports nothing about inproc: an inproc bind is a registered name, not a
/// listener, and its connections are bare pipes without an engine. So no LISTENING at the
/// bind, no CLOSED at the unbind, no DISCONNECTED when a PAIR refuses a second inproc peer:
/// the monitor sees only the tcp endpoint's events.
fn inproc_is_not_reported_to_the_monitor(front: &dyn Front) {
    let pair = front.socket(SocketType::Pair);
    let mon = pair.monitor();
    let name = &format!("inproc://{}", unique("unreported"));
    pair.bind(name).unwrap();
    let first = front.socket(SocketType::Pair);
    first.connect(name).unwrap();
    first.send(msg("paired")).unwrap();
    assert_eq!(recv_text(&*pair), "paired");
    let second = front.socket(SocketType::Pair);
    second.connect(name).unwrap();
    let ep = pair.bind("tcp://127.0.0.1:*").unwrap();
    let ev = mon.next(WAIT).expect("LISTENING for the tcp bind");
    assert_eq!(
        (ev.kind, ev.endpoint.as_str()),
        (MonitorEventKind::Listening, ep.as_str())
    );
    pair.unbind(name).unwrap();
    drop(pair);
    loop {
        let ev = mon.next(WAIT).expect("events until MONITOR_STOPPED");
        assert!(!ev.endpoint.starts_with("inproc://"), "{ev:?}");
        if ev.kind == MonitorEventKind::MonitorStopped {
            break;
        }
    }
}

/// Each case as a test on each front-end.
macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod mio {
            $(
                #[test]
                fn $case() {
                    super::$case(&oxmq_tests::front::Mio::new());
                }
            )*
        }
        mod tokio {
            $(
                #[test]
                fn $case() {
                    super::$case(&oxmq_tests::front::Tokio::new());
                }
            )*
        }
    };
}

suite!(
    push_pull_round_robin_and_fair_queue,
    req_rep_lock_step_and_round_robin,
    dealer_router_identities_and_routing,
    router_mandatory_reports_unknown_peers,
    router_handover_gives_the_id_to_the_newcomer,
    pub_sub_filters_and_unsubscribes,
    xpub_xsub_subscriptions_are_messages,
    pair_talks_both_ways,
    inproc_does_not_check_socket_types,
    multipart_whole_and_frame_by_frame,
    hwm_blocks_push_dealer_and_pair,
    hwm_drops_for_pub_and_router,
    conflate_keeps_the_newest,
    immediate_and_connect_before_bind,
    linger_delivers_or_drops_at_close,
    reconnects_after_the_peer_restarts,
    monitor_events_follow_the_connection,
    heartbeats_time_out_a_silent_peer,
    bad_input_costs_only_that_connection,
    tcp_options_and_ipv6_dual_stack,
    tcp_source_address_is_used,
    unbind_takes_the_resolved_endpoint_not_the_wildcard,
    no_reconnect_drops_the_pipe_and_a_new_connect_works,
    stream_connect_hears_the_server_close,
    monitor_events_are_readable_after_close,
    inproc_is_not_reported_to_the_monitor,
);
