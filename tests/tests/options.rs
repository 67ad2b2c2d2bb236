//! The option API of the blocking front-end: `Socket::set` / `Socket::get` and
//! `Context::set` / `Context::get`, against libzmq (the `zmq` crate) wherever it can answer
//! the same question: defaults on a fresh socket, values read back, values and options
//! refused, timeouts, MAX_SOCKETS, and the errors a message's first frame reports.

use std::collections::BTreeSet;

use bytes::Bytes;
use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey, SecretBytes};
use oxmq_core::{Message, OptionError, SocketOption, SocketOptionName, SocketType};
use oxmq_mio::{Context, ContextOption, ContextOptionName, Error, Socket, POLLOUT};

/// A failure bound for waits, never a timing assertion.
const WAIT_MS: i32 = 20_000;

fn get(s: &Socket, name: SocketOptionName) -> SocketOption {
    s.get(name).unwrap_or_else(|e| panic!("get({name:?}): {e}"))
}

fn is_einval(r: Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(r, Err(Error::Option(_)))
}

/// Every stable socket type, with libzmq's constant for it.
const TYPES: [(SocketType, zmq::SocketType); 12] = [
    (SocketType::Pair, zmq::PAIR),
    (SocketType::Pub, zmq::PUB),
    (SocketType::Sub, zmq::SUB),
    (SocketType::Req, zmq::REQ),
    (SocketType::Rep, zmq::REP),
    (SocketType::Dealer, zmq::DEALER),
    (SocketType::Router, zmq::ROUTER),
    (SocketType::Pull, zmq::PULL),
    (SocketType::Push, zmq::PUSH),
    (SocketType::XPub, zmq::XPUB),
    (SocketType::XSub, zmq::XSUB),
    (SocketType::Stream, zmq::STREAM),
];

#[test]
fn a_fresh_socket_answers_what_a_fresh_libzmq_socket_answers() {
    use SocketOption as O;
    use SocketOptionName as N;
    let ctx = Context::new().unwrap();
    let zctx = zmq::Context::new();
    for (kind, ztype) in TYPES {
        let s = ctx.socket(kind).unwrap();
        let z = zctx.socket(ztype).unwrap();
        let expected = [
            O::Type(kind),
            O::SndHwm(z.get_sndhwm().unwrap() as usize),
            O::RcvHwm(z.get_rcvhwm().unwrap() as usize),
            O::Linger(z.get_linger().unwrap()),
            O::MaxMsgSize(z.get_maxmsgsize().unwrap()),
            O::Immediate(z.is_immediate().unwrap()),
            O::SndTimeo(z.get_sndtimeo().unwrap()),
            O::RcvTimeo(z.get_rcvtimeo().unwrap()),
            O::ReconnectIvl(z.get_reconnect_ivl().unwrap()),
            O::ReconnectIvlMax(z.get_reconnect_ivl_max().unwrap()),
            O::HandshakeIvl(z.get_handshake_ivl().unwrap()),
            O::HeartbeatIvl(z.get_heartbeat_ivl().unwrap()),
            O::HeartbeatTimeout(z.get_heartbeat_timeout().unwrap()),
            O::HeartbeatTtl(z.get_heartbeat_ttl().unwrap()),
            O::SndBuf(z.get_sndbuf().unwrap()),
            O::RcvBuf(z.get_rcvbuf().unwrap()),
            O::Backlog(z.get_backlog().unwrap()),
            O::TcpKeepalive(z.get_tcp_keepalive().unwrap()),
            O::TcpKeepaliveIdle(z.get_tcp_keepalive_idle().unwrap()),
            O::TcpKeepaliveIntvl(z.get_tcp_keepalive_intvl().unwrap()),
            O::TcpKeepaliveCnt(z.get_tcp_keepalive_cnt().unwrap()),
            O::Tos(z.get_tos().unwrap()),
            O::Ipv6(z.is_ipv6().unwrap()),
            O::RoutingId(Bytes::from(z.get_identity().unwrap())),
            O::RcvMore(z.get_rcvmore().unwrap()),
            O::LastEndpoint(z.get_last_endpoint().unwrap().unwrap()),
            O::Events(z.get_events().unwrap().bits() as u8),
        ];
        for want in expected {
            assert_eq!(get(&s, want.name()), want, "{kind}");
        }
        assert_eq!(z.get_mechanism().unwrap(), zmq::Mechanism::ZMQ_NULL);
        assert_eq!(get(&s, N::Mechanism).name(), N::Mechanism);
        assert_eq!(
            format!("{:?}", get(&s, N::Mechanism)),
            "Mechanism(MechanismName(NULL))"
        );
        if matches!(
            kind,
            SocketType::Pub
                | SocketType::Sub
                | SocketType::Push
                | SocketType::Pull
                | SocketType::Dealer
        ) {
            assert_eq!(
                get(&s, N::Conflate),
                O::Conflate(z.is_conflate().unwrap()),
                "{kind}"
            );
        }
        // The rest, which the zmq crate cannot read, as libzmq's documentation gives them.
        for want in [
            O::TcpMaxrt(0),
            O::BindToDevice(String::new()),
            O::ThreadSafe(false),
            O::ConnectRoutingId(Bytes::new()),
        ] {
            assert_eq!(get(&s, want.name()), want, "{kind}");
        }
    }
    let fresh = |kind| ctx.socket(kind).unwrap();
    assert_eq!(
        get(&fresh(SocketType::Router), N::RouterMandatory),
        O::RouterMandatory(false)
    );
    assert_eq!(
        get(&fresh(SocketType::Router), N::RouterHandover),
        O::RouterHandover(false)
    );
    assert_eq!(
        get(&fresh(SocketType::Dealer), N::ProbeRouter),
        O::ProbeRouter(false)
    );
    assert_eq!(
        get(&fresh(SocketType::Req), N::ReqRelaxed),
        O::ReqRelaxed(false)
    );
    assert_eq!(
        get(&fresh(SocketType::Req), N::ReqCorrelate),
        O::ReqCorrelate(false)
    );
    assert_eq!(
        get(&fresh(SocketType::Stream), N::StreamNotify),
        O::StreamNotify(true)
    );
    assert_eq!(
        get(&fresh(SocketType::XPub), N::XpubNodrop),
        O::XpubNodrop(false)
    );
    assert_eq!(
        get(&fresh(SocketType::XPub), N::XpubWelcomeMsg),
        O::XpubWelcomeMsg(None)
    );
    assert_eq!(
        get(&fresh(SocketType::Sub), N::InvertMatching),
        O::InvertMatching(false)
    );
}

#[test]
fn every_settable_option_reads_back_what_was_set() {
    use SocketOption as O;
    use SocketType::*;
    let cases: Vec<(SocketType, SocketOption)> = vec![
        (Push, O::SndHwm(0)),
        (Pull, O::RcvHwm(5)),
        (Pull, O::Conflate(true)),
        (Push, O::Linger(0)),
        (Push, O::Linger(250)),
        (Push, O::Linger(-1)),
        (Pull, O::MaxMsgSize(1 << 20)),
        (Push, O::Immediate(true)),
        (Push, O::SndTimeo(0)),
        (Pull, O::RcvTimeo(1500)),
        (Push, O::ReconnectIvl(-1)),
        (Push, O::ReconnectIvlMax(5000)),
        (Push, O::HandshakeIvl(0)),
        (Dealer, O::HeartbeatIvl(100)),
        (Dealer, O::HeartbeatTimeout(300)),
        (Dealer, O::HeartbeatTtl(2500)),
        (Push, O::SndBuf(65536)),
        (Pull, O::RcvBuf(65536)),
        (Pull, O::Backlog(5)),
        (Push, O::TcpKeepalive(1)),
        (Push, O::TcpKeepaliveIdle(60)),
        (Push, O::TcpKeepaliveIntvl(10)),
        (Push, O::TcpKeepaliveCnt(4)),
        (Push, O::TcpMaxrt(3000)),
        (Push, O::Tos(0x28)),
        (Push, O::Ipv6(true)),
        (Push, O::BindToDevice("lo".into())),
        (Dealer, O::RoutingId(Bytes::from_static(b"dealer-1"))),
        (Router, O::ConnectRoutingId(Bytes::from_static(b"peer-9"))),
        (Router, O::RouterMandatory(true)),
        (Router, O::RouterHandover(true)),
        (Dealer, O::ProbeRouter(true)),
        (Req, O::ReqRelaxed(true)),
        (Req, O::ReqCorrelate(true)),
        (Stream, O::StreamNotify(false)),
        (XPub, O::XpubVerbose(true)),
        (XPub, O::XpubVerboser(true)),
        (XPub, O::XpubManual(true)),
        (XPub, O::XpubNodrop(true)),
        (
            XPub,
            O::XpubWelcomeMsg(Some(Bytes::from_static(b"welcome"))),
        ),
        (Sub, O::InvertMatching(true)),
        (Router, O::PlainServer(true)),
        (Dealer, O::PlainUsername(Bytes::from_static(b"admin"))),
        (Dealer, O::PlainPassword(SecretBytes::new("secret"))),
        (Router, O::CurveServer(true)),
        (Dealer, O::CurvePublickey(CurvePublicKey([7; 32]))),
        (
            Dealer,
            O::CurveSecretkey(CurveSecretKey::from_bytes([8; 32])),
        ),
        (Dealer, O::CurveServerkey(CurvePublicKey([9; 32]))),
        (Router, O::ZapDomain(Bytes::from_static(b"global"))),
    ];
    let ctx = Context::new().unwrap();
    let mut covered = BTreeSet::new();
    for (kind, opt) in cases {
        let s = ctx.socket(kind).unwrap();
        s.set(opt.clone())
            .unwrap_or_else(|e| panic!("{kind} set({opt:?}): {e}"));
        assert_eq!(get(&s, opt.name()), opt, "{kind}");
        covered.insert(opt.name());
    }
    let settable: BTreeSet<SocketOptionName> = SocketOptionName::ALL
        .into_iter()
        .filter(|n| !n.is_read_only() && !n.is_write_only())
        .collect();
    assert_eq!(covered, settable, "every settable option has a case above");
}

#[test]
fn values_are_kept_as_libzmq_keeps_them() {
    use SocketOption as O;
    let ctx = Context::new().unwrap();
    let zctx = zmq::Context::new();
    let s = ctx.socket(SocketType::Dealer).unwrap();
    let z = zctx.socket(zmq::DEALER).unwrap();
    // HEARTBEAT_TTL goes on the wire in deciseconds, and reads back rounded down.
    s.set(O::HeartbeatTtl(1234)).unwrap();
    z.set_heartbeat_ttl(1234).unwrap();
    assert_eq!(
        get(&s, SocketOptionName::HeartbeatTtl),
        O::HeartbeatTtl(z.get_heartbeat_ttl().unwrap())
    );
    // Any negative MAXMSGSIZE means no limit; ours reads back as -1.
    s.set(O::MaxMsgSize(-1)).unwrap();
    z.set_maxmsgsize(-1).unwrap();
    assert_eq!(
        get(&s, SocketOptionName::MaxMsgSize),
        O::MaxMsgSize(z.get_maxmsgsize().unwrap())
    );
}

#[test]
fn options_that_do_not_apply_or_values_out_of_range_are_einval() {
    use SocketOption as O;
    use SocketOptionName as N;
    let ctx = Context::new().unwrap();
    let zctx = zmq::Context::new();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    let zdealer = zctx.socket(zmq::DEALER).unwrap();

    // Options this socket type does not have.
    assert!(matches!(
        dealer.set(O::RouterMandatory(true)),
        Err(Error::Option(OptionError::NotApplicable(
            SocketType::Dealer
        )))
    ));
    assert_eq!(zdealer.set_router_mandatory(true), Err(zmq::Error::EINVAL));
    assert!(is_einval(dealer.get(N::RouterMandatory)));
    assert!(is_einval(
        dealer.set(O::Subscribe(Bytes::from_static(b"x")))
    ));
    assert_eq!(zdealer.set_subscribe(b"x"), Err(zmq::Error::EINVAL));
    assert!(is_einval(
        ctx.socket(SocketType::Req).unwrap().set(O::Conflate(true))
    ));

    // Values out of range.
    for bad in [
        O::Linger(-2),
        O::SndTimeo(-2),
        O::ReconnectIvl(-2),
        O::HandshakeIvl(-1),
        O::TcpKeepalive(2),
        O::RoutingId(Bytes::new()),
        O::RoutingId(Bytes::from(vec![b'x'; 256])),
    ] {
        assert!(
            matches!(
                dealer.set(bad.clone()),
                Err(Error::Option(OptionError::InvalidValue))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(zdealer.set_tcp_keepalive(2), Err(zmq::Error::EINVAL));
    assert_eq!(zdealer.set_identity(b""), Err(zmq::Error::EINVAL));
    assert_eq!(
        get(&dealer, N::Linger),
        O::Linger(-1),
        "a refused value changes nothing"
    );

    // Read-only options cannot be set, SUBSCRIBE cannot be read.
    assert!(matches!(
        dealer.set(O::Type(SocketType::Router)),
        Err(Error::Option(OptionError::ReadOnly(N::Type)))
    ));
    assert!(is_einval(dealer.set(O::Events(POLLOUT))));
    let sub = ctx.socket(SocketType::Sub).unwrap();
    assert!(matches!(
        sub.get(N::Subscribe),
        Err(Error::Option(OptionError::WriteOnly(N::Subscribe)))
    ));
}

#[test]
fn whatever_get_answers_set_takes_back() {
    // The exceptions, as in libzmq: an unset routing id reads back empty, and an empty one
    // cannot be set.
    let empty_ids = [
        SocketOption::RoutingId(Bytes::new()),
        SocketOption::ConnectRoutingId(Bytes::new()),
    ];
    let ctx = Context::new().unwrap();
    for (kind, _) in TYPES {
        let s = ctx.socket(kind).unwrap();
        for name in SocketOptionName::ALL {
            match s.get(name) {
                Ok(v) => {
                    assert_eq!(v.name(), name);
                    if !name.is_read_only() && !empty_ids.contains(&v) {
                        s.set(v.clone())
                            .unwrap_or_else(|e| panic!("{kind} set({v:?}): {e}"));
                    }
                }
                Err(Error::Option(OptionError::NotApplicable(k))) => {
                    assert_eq!(k, kind);
                    assert!(is_einval(s.set(fresh_value(name))), "{kind} {name:?}");
                }
                Err(Error::Option(OptionError::WriteOnly(_))) => assert!(name.is_write_only()),
                Err(e) => panic!("{kind} get({name:?}): {e}"),
            }
        }
    }
}

/// Some value for an option that only some socket types have.
fn fresh_value(name: SocketOptionName) -> SocketOption {
    use SocketOption as O;
    use SocketOptionName as N;
    match name {
        N::Conflate => O::Conflate(true),
        N::RouterMandatory => O::RouterMandatory(true),
        N::RouterHandover => O::RouterHandover(true),
        N::ProbeRouter => O::ProbeRouter(true),
        N::ReqRelaxed => O::ReqRelaxed(true),
        N::ReqCorrelate => O::ReqCorrelate(true),
        N::StreamNotify => O::StreamNotify(false),
        N::XpubVerbose => O::XpubVerbose(true),
        N::XpubVerboser => O::XpubVerboser(true),
        N::XpubManual => O::XpubManual(true),
        N::XpubNodrop => O::XpubNodrop(true),
        N::XpubWelcomeMsg => O::XpubWelcomeMsg(None),
        N::InvertMatching => O::InvertMatching(true),
        other => panic!("{other:?} applies to every socket type"),
    }
}

#[test]
fn timeouts_set_through_a_shared_reference_time_out() {
    let ctx = Context::new().unwrap();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    // No peers: nothing arrives and nothing can leave.
    let (pull_ref, push_ref): (&Socket, &Socket) = (&pull, &push);
    pull_ref.set(SocketOption::RcvTimeo(10)).unwrap();
    push_ref.set(SocketOption::SndTimeo(10)).unwrap();
    assert!(matches!(pull_ref.recv(), Err(Error::WouldBlock)));
    assert!(matches!(push_ref.send("x"), Err(Error::WouldBlock)));
    // As in libzmq, a frame-by-frame send blocks, and times out, on its first frame.
    let zctx = zmq::Context::new();
    let zpush = zctx.socket(zmq::PUSH).unwrap();
    zpush.set_sndtimeo(10).unwrap();
    assert_eq!(zpush.send("x", zmq::SNDMORE), Err(zmq::Error::EAGAIN));
    assert!(matches!(push.send_frame("x", true), Err(Error::WouldBlock)));
    assert!(matches!(
        push.send_frame("y", false),
        Err(Error::WouldBlock)
    ));
    // Zero is "do not wait".
    pull.set(SocketOption::RcvTimeo(0)).unwrap();
    assert!(matches!(pull.recv(), Err(Error::WouldBlock)));
    // And the timeout still lets a message through once one is there.
    pull.set(SocketOption::RcvTimeo(WAIT_MS)).unwrap();
    push.set(SocketOption::SndTimeo(WAIT_MS)).unwrap();
    let ep = pull.bind("inproc://timeouts").unwrap();
    push.connect(&ep).unwrap();
    push.send("through").unwrap();
    assert_eq!(pull.recv().unwrap(), Message::from("through"));
}

#[test]
fn router_mandatory_fails_an_unknown_routing_id_on_the_first_frame() {
    let ctx = Context::new().unwrap();
    let router = ctx.socket(SocketType::Router).unwrap();
    router.set(SocketOption::RouterMandatory(true)).unwrap();
    router.set(SocketOption::SndTimeo(WAIT_MS)).unwrap();
    router.set(SocketOption::RcvTimeo(WAIT_MS)).unwrap();
    assert!(matches!(
        router.send_frame("nobody", true),
        Err(Error::HostUnreachable)
    ));
    let zctx = zmq::Context::new();
    let zrouter = zctx.socket(zmq::ROUTER).unwrap();
    zrouter.set_router_mandatory(true).unwrap();
    assert_eq!(
        zrouter.send("nobody", zmq::SNDMORE),
        Err(zmq::Error::EHOSTUNREACH)
    );

    // The refused frame started nothing: the next message goes out whole.
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer
        .set(SocketOption::RoutingId(Bytes::from_static(b"D")))
        .unwrap();
    dealer.set(SocketOption::RcvTimeo(WAIT_MS)).unwrap();
    let ep = router.bind("inproc://mandatory").unwrap();
    dealer.connect(&ep).unwrap();
    dealer.send("hello").unwrap();
    assert_eq!(router.recv().unwrap(), Message::from_frames(["D", "hello"]));
    router.send_frame("D", true).unwrap();
    router.send_frame("reply", false).unwrap();
    assert_eq!(dealer.recv().unwrap(), Message::from("reply"));

    // A known peer that reads nothing: once its queue is full, the first frame waits up to
    // SNDTIMEO and then says so; a message whose first frame passed goes out whole.
    router.set(SocketOption::SndTimeo(10)).unwrap();
    let mut sent = 0;
    loop {
        match router.send_frame("D", true) {
            Ok(()) => router.send_frame("more", false).unwrap(),
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
        sent += 1;
        assert!(sent < 100_000, "the queue never filled");
    }
    assert!(sent > 0);
}

#[test]
fn a_socket_that_cannot_send_now_fails_on_the_first_frame() {
    let ctx = Context::new().unwrap();
    let zctx = zmq::Context::new();
    for (kind, ztype) in [(SocketType::Pull, zmq::PULL), (SocketType::Sub, zmq::SUB)] {
        let s = ctx.socket(kind).unwrap();
        assert!(
            matches!(s.send_frame("x", true), Err(Error::NotSupported)),
            "{kind}"
        );
        let z = zctx.socket(ztype).unwrap();
        assert_eq!(
            z.send("x", zmq::SNDMORE),
            Err(zmq::Error::ENOTSUP),
            "{kind}"
        );
    }
    let rep = ctx.socket(SocketType::Rep).unwrap();
    assert!(matches!(rep.send_frame("x", true), Err(Error::BadState)));
    let zrep = zctx.socket(zmq::REP).unwrap();
    assert_eq!(zrep.send("x", zmq::SNDMORE), Err(zmq::Error::EFSM));
}

#[test]
fn context_options_default_as_libzmq_and_io_threads_only_before_the_first_socket() {
    let ctx = Context::new().unwrap();
    let zctx = zmq::Context::new();
    assert_eq!(
        ctx.get(ContextOptionName::IoThreads).unwrap(),
        ContextOption::IoThreads(zctx.get_io_threads().unwrap() as usize)
    );
    for want in [
        ContextOption::MaxSockets(1023),
        ContextOption::SocketLimit(65535),
        ContextOption::Ipv6(false),
        ContextOption::Blocky(true),
    ] {
        assert_eq!(ctx.get(want.name()).unwrap(), want);
    }
    ctx.set(ContextOption::IoThreads(2)).unwrap();
    assert_eq!(
        ctx.get(ContextOptionName::IoThreads).unwrap(),
        ContextOption::IoThreads(2)
    );
    let _first = ctx.socket(SocketType::Pair).unwrap();
    assert!(matches!(
        ctx.set(ContextOption::IoThreads(4)),
        Err(Error::BadState)
    ));
    assert!(is_einval(ctx.set(ContextOption::SocketLimit(10))));
    assert!(is_einval(ctx.set(ContextOption::MaxSockets(0))));
    assert!(is_einval(ctx.set(ContextOption::MaxSockets(65536))));
    assert_eq!(
        Context::with_io_threads(3)
            .unwrap()
            .get(ContextOptionName::IoThreads)
            .unwrap(),
        ContextOption::IoThreads(3)
    );
}

/// `Spin` (an oxmq extension) reads back as set, before and after the I/O threads start, and
/// traffic flows whatever it is: with no spin, every wait sleeps at once, as libzmq's do.
#[test]
fn the_spin_reads_back_and_traffic_flows_with_none_or_some() {
    let ctx = Context::new().unwrap();
    assert_eq!(
        ctx.get(ContextOptionName::Spin).unwrap(),
        ContextOption::Spin(std::time::Duration::from_micros(50))
    );
    assert!(is_einval(
        ctx.set(ContextOption::Spin(std::time::Duration::from_secs(2)))
    ));
    ctx.set(ContextOption::Spin(std::time::Duration::ZERO))
        .unwrap();
    let rep = ctx.socket(SocketType::Rep).unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = ctx.socket(SocketType::Req).unwrap();
    req.connect(&ep).unwrap();
    for spin in [0, 200, 0] {
        ctx.set(ContextOption::Spin(std::time::Duration::from_micros(spin)))
            .unwrap();
        assert_eq!(
            ctx.get(ContextOptionName::Spin).unwrap(),
            ContextOption::Spin(std::time::Duration::from_micros(spin))
        );
        for i in 0..20 {
            req.send(format!("q{i}")).unwrap();
            assert_eq!(rep.recv().unwrap(), Message::from(format!("q{i}")));
            rep.send(format!("a{i}")).unwrap();
            assert_eq!(req.recv().unwrap(), Message::from(format!("a{i}")));
        }
    }
}

#[test]
fn max_sockets_is_enforced() {
    let ctx = Context::new().unwrap();
    ctx.set(ContextOption::MaxSockets(2)).unwrap();
    let a = ctx.socket(SocketType::Push).unwrap();
    let _b = ctx.socket(SocketType::Pull).unwrap();
    assert!(matches!(
        ctx.socket(SocketType::Pair),
        Err(Error::TooManySockets)
    ));
    drop(a);
    let _c = ctx.socket(SocketType::Pair).unwrap();
    assert!(matches!(
        ctx.socket(SocketType::Pair),
        Err(Error::TooManySockets)
    ));
    // Raised while sockets are open, it applies to the next one.
    ctx.set(ContextOption::MaxSockets(3)).unwrap();
    let _d = ctx.socket(SocketType::Pair).unwrap();
}

#[test]
fn context_ipv6_and_blocky_are_the_defaults_of_new_sockets() {
    let ctx = Context::new().unwrap();
    let before = ctx.socket(SocketType::Push).unwrap();
    assert_eq!(
        get(
            &ctx.socket(SocketType::Sub).unwrap(),
            SocketOptionName::Linger
        ),
        SocketOption::Linger(0),
        "SUB lingers 0 whatever BLOCKY says, as in libzmq"
    );
    ctx.set(ContextOption::Ipv6(true)).unwrap();
    ctx.set(ContextOption::Blocky(false)).unwrap();
    let after = ctx.socket(SocketType::Push).unwrap();
    assert_eq!(
        get(&before, SocketOptionName::Ipv6),
        SocketOption::Ipv6(false)
    );
    assert_eq!(
        get(&before, SocketOptionName::Linger),
        SocketOption::Linger(-1)
    );
    assert_eq!(
        get(&after, SocketOptionName::Ipv6),
        SocketOption::Ipv6(true)
    );
    assert_eq!(
        get(&after, SocketOptionName::Linger),
        SocketOption::Linger(0)
    );
    // A socket's own setting still wins.
    after.set(SocketOption::Linger(100)).unwrap();
    assert_eq!(
        get(&after, SocketOptionName::Linger),
        SocketOption::Linger(100)
    );
}
