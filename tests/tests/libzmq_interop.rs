//! An oxmq engine on the thin mio driver against real libzmq 4.3 (the `zmq` crate builds it
//! from source): NULL handshakes both ways, multipart messages both ways, subscriptions in the
//! 3.1 command form, socket-type refusal, and heartbeats in both directions.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use bytes::Bytes;
use oxmq_core::error::Incompatible;
use oxmq_core::{ConnectionError, EngineConfig, Message, SocketType};
use oxmq_mio::{Connection, DriverError};

/// Upper bound for any wait; a failure bound, never a timing assertion.
const WAIT: Duration = Duration::from_secs(20);

fn bind_libzmq(ctx: &zmq::Context, kind: zmq::SocketType) -> (zmq::Socket, SocketAddr) {
    let s = ctx.socket(kind).unwrap();
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    s.set_sndtimeo(WAIT.as_millis() as i32).unwrap();
    s.bind("tcp://127.0.0.1:*").unwrap();
    let ep = s.get_last_endpoint().unwrap().unwrap();
    let addr = ep.trim_start_matches("tcp://").parse().unwrap();
    (s, addr)
}

fn connect_libzmq(ctx: &zmq::Context, kind: zmq::SocketType, addr: SocketAddr) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    s.set_sndtimeo(WAIT.as_millis() as i32).unwrap();
    s.connect(&format!("tcp://{addr}")).unwrap();
    s
}

fn frames(m: &Message) -> Vec<Vec<u8>> {
    m.frames().iter().map(|f| f.to_vec()).collect()
}

#[test]
fn oxmq_dealer_and_libzmq_router_exchange_multipart_messages_with_heartbeats() {
    let ctx = zmq::Context::new();
    let (router, addr) = {
        let s = ctx.socket(zmq::ROUTER).unwrap();
        // libzmq pings us every 50 ms with a TTL of 10 s.
        s.set_heartbeat_ivl(50).unwrap();
        s.set_heartbeat_ttl(10_000).unwrap();
        s.set_linger(0).unwrap();
        s.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
        s.bind("tcp://127.0.0.1:*").unwrap();
        let ep = s.get_last_endpoint().unwrap().unwrap();
        let addr: SocketAddr = ep.trim_start_matches("tcp://").parse().unwrap();
        (s, addr)
    };

    let mut cfg = EngineConfig::new(SocketType::Dealer);
    cfg.routing_id = Some(Bytes::from_static(b"oxmq-dealer"));
    cfg.heartbeat_ivl = Duration::from_millis(50);
    cfg.heartbeat_ttl = Duration::from_secs(10);
    let mut conn = Connection::connect(addr, cfg).unwrap();
    let peer = conn.wait_ready(WAIT).unwrap().clone();
    assert_eq!(peer.socket_type, Some(SocketType::Router));

    // Short, empty, long (> 255) and large (> inline threshold) frames, several messages.
    let big = vec![0x5Au8; 1 << 20];
    let sent = [
        Message::from_frames([Bytes::new(), Bytes::from_static(b"hello")]),
        Message::from_frames([
            Bytes::from_static(b"a"),
            Bytes::from(vec![1u8; 300]),
            Bytes::from(big.clone()),
        ]),
    ];
    for m in &sent {
        conn.send(m).unwrap();
    }
    for m in &sent {
        let got = router.recv_multipart(0).unwrap();
        assert_eq!(got[0], b"oxmq-dealer", "libzmq routes by our Identity");
        assert_eq!(got[1..], frames(m)[..]);
    }

    router
        .send_multipart([&b"oxmq-dealer"[..], b"", b"world", &big], 0)
        .unwrap();
    let reply = conn.recv(WAIT).unwrap();
    assert_eq!(
        frames(&reply),
        vec![b"".to_vec(), b"world".to_vec(), big.clone()]
    );

    // Heartbeats both ways: libzmq answers our PINGs, and we answer its PINGs — the
    // connection stays up and each side's counters move.
    conn.run_until(WAIT, |c| {
        let s = c.engine().stats();
        s.pongs_received >= 3 && s.pings_received >= 3
    })
    .unwrap();
    assert!(conn.engine().is_ready());

    // Still exchanging after the heartbeats.
    router
        .send_multipart([&b"oxmq-dealer"[..], b"after"], 0)
        .unwrap();
    assert_eq!(frames(&conn.recv(WAIT).unwrap()), vec![b"after".to_vec()]);
}

#[test]
fn libzmq_dealer_connects_to_an_oxmq_router() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_linger(0).unwrap();
    dealer.set_identity(b"zmq-dealer").unwrap();
    dealer.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    dealer.set_heartbeat_ivl(50).unwrap();
    dealer.connect(&format!("tcp://{addr}")).unwrap();

    let mut cfg = EngineConfig::new(SocketType::Router);
    cfg.heartbeat_ivl = Duration::from_millis(50);
    let mut conn = Connection::accept(&listener, cfg).unwrap();
    let peer = conn.wait_ready(WAIT).unwrap().clone();
    assert_eq!(peer.socket_type, Some(SocketType::Dealer));
    assert_eq!(peer.routing_id.as_deref(), Some(&b"zmq-dealer"[..]));

    dealer
        .send_multipart([&b""[..], b"req", b"part2"], 0)
        .unwrap();
    let got = conn.recv(WAIT).unwrap();
    assert_eq!(
        frames(&got),
        vec![b"".to_vec(), b"req".to_vec(), b"part2".to_vec()]
    );
    conn.send(&Message::from_frames(["", "rep"])).unwrap();
    assert_eq!(
        dealer.recv_multipart(0).unwrap(),
        vec![b"".to_vec(), b"rep".to_vec()]
    );
    conn.run_until(WAIT, |c| {
        let s = c.engine().stats();
        s.pongs_received >= 2 && s.pings_received >= 2
    })
    .unwrap();
}

#[test]
fn oxmq_sub_subscription_reaches_libzmq_xpub_and_filters_there() {
    let ctx = zmq::Context::new();
    let (xpub, addr) = bind_libzmq(&ctx, zmq::XPUB);
    let mut conn = Connection::connect(addr, EngineConfig::new(SocketType::Sub)).unwrap();
    conn.subscribe(b"weather").unwrap();
    // XPUB shows subscriptions as `01 topic` messages whatever the wire form.
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01weather");
    xpub.send("sports: 3-1", 0).unwrap();
    xpub.send("weather: rain", 0).unwrap();
    assert_eq!(
        frames(&conn.recv(WAIT).unwrap()),
        vec![b"weather: rain".to_vec()],
        "libzmq filtered on our subscription"
    );
}

#[test]
fn libzmq_sub_subscription_reaches_an_oxmq_xpub() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = zmq::Context::new();
    let sub = connect_libzmq(&ctx, zmq::SUB, addr);
    sub.set_subscribe(b"abc").unwrap();
    let mut conn = Connection::accept(&listener, EngineConfig::new(SocketType::XPub)).unwrap();
    let (subscribe, topic) = conn.recv_subscription(WAIT).unwrap();
    assert!(subscribe);
    assert_eq!(&topic[..], b"abc");
    conn.send(&Message::single("abc-1")).unwrap();
    assert_eq!(sub.recv_bytes(0).unwrap(), b"abc-1");
    sub.set_unsubscribe(b"abc").unwrap();
    let (subscribe, topic) = conn.recv_subscription(WAIT).unwrap();
    assert!(!subscribe);
    assert_eq!(&topic[..], b"abc");
}

#[test]
fn libzmq_push_to_oxmq_pull_and_back_over_pair() {
    let ctx = zmq::Context::new();
    let (push, addr) = bind_libzmq(&ctx, zmq::PUSH);
    let mut conn = Connection::connect(addr, EngineConfig::new(SocketType::Pull)).unwrap();
    // libzmq's PUSH queues only to completed connections; both ends run on this thread.
    conn.wait_ready(WAIT).unwrap();
    for i in 0..1000u32 {
        push.send(&i.to_be_bytes()[..], 0).unwrap();
    }
    for i in 0..1000u32 {
        assert_eq!(
            frames(&conn.recv(WAIT).unwrap()),
            vec![i.to_be_bytes().to_vec()]
        );
    }

    let (pair, addr) = bind_libzmq(&ctx, zmq::PAIR);
    let mut conn = Connection::connect(addr, EngineConfig::new(SocketType::Pair)).unwrap();
    conn.send(&Message::from_frames(["x", "y"])).unwrap();
    assert_eq!(
        pair.recv_multipart(0).unwrap(),
        vec![b"x".to_vec(), b"y".to_vec()]
    );
}

#[test]
fn incompatible_socket_type_ends_only_that_connection() {
    let ctx = zmq::Context::new();
    let (publisher, addr) = bind_libzmq(&ctx, zmq::PUB);
    let mut conn = Connection::connect(addr, EngineConfig::new(SocketType::Push)).unwrap();
    match conn.wait_ready(WAIT) {
        Err(DriverError::Connection(ConnectionError::Incompatible(Incompatible::SocketType {
            ours,
            theirs,
        }))) => {
            assert_eq!(ours, SocketType::Push);
            assert_eq!(&theirs[..], b"PUB");
        }
        other => panic!("expected a socket-type refusal, got {other:?}"),
    }
    // The libzmq socket is unharmed: a proper SUB still gets its messages.
    let mut sub = Connection::connect(addr, EngineConfig::new(SocketType::Sub)).unwrap();
    sub.subscribe(b"").unwrap();
    // PUB drops until the subscription lands, which a PUB cannot show; publish until one
    // arrives.
    let mut got = None;
    for _ in 0..2000 {
        publisher.send("tick", 0).unwrap();
        match sub.recv(Duration::from_millis(10)) {
            Ok(m) => {
                got = Some(m);
                break;
            }
            Err(DriverError::Timeout) => continue,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        frames(&got.expect("a tick arrives")),
        vec![b"tick".to_vec()]
    );
}
