//! PLAIN, CURVE and ZAP on the blocking front-end: the context's ZAP handler decides, the
//! User-Id it names reaches the application, refusals are monitor events, and libzmq peers
//! (the `zmq` crate's, which has PLAIN but no CURVE) interoperate in both roles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use oxmq_core::mechanism::SecretBytes;
use oxmq_core::monitor::MonitorEventKind;
use oxmq_core::{Message, SocketOption, SocketType, ZapReply, ZapRequest};
use oxmq_mio::{Context, Monitor, Socket};

/// A failure bound for waits, never a timing assertion.
const WAIT: Duration = Duration::from_secs(20);
const WAIT_MS: i32 = 20_000;

fn sock(ctx: &Context, kind: SocketType) -> Socket {
    let s = ctx.socket(kind).unwrap();
    s.set(SocketOption::RcvTimeo(WAIT_MS)).unwrap();
    s.set(SocketOption::SndTimeo(WAIT_MS)).unwrap();
    s.set(SocketOption::Linger(0)).unwrap();
    s
}

fn admin_secret(req: &ZapRequest) -> ZapReply {
    match req.credentials.as_slice() {
        [u, p] if u == "admin" && p == "secret" => ZapReply::accept("admin-user"),
        _ => ZapReply::deny(400),
    }
}

fn plain_client(ctx: &Context, kind: SocketType, user: &str, pass: &str) -> Socket {
    let s = sock(ctx, kind);
    s.set(SocketOption::PlainUsername(Bytes::copy_from_slice(
        user.as_bytes(),
    )))
    .unwrap();
    s.set(SocketOption::PlainPassword(SecretBytes::new(pass)))
        .unwrap();
    s
}

fn plain_server(ctx: &Context, kind: SocketType) -> Socket {
    let s = sock(ctx, kind);
    s.set(SocketOption::PlainServer(true)).unwrap();
    s
}

/// Waits for the first event of `kind`; returns its value.
fn await_event(mon: &Monitor, kind: MonitorEventKind) -> u64 {
    loop {
        let ev = mon
            .recv(WAIT)
            .unwrap_or_else(|| panic!("no {kind:?} within {WAIT:?}"));
        if ev.kind == kind {
            return ev.value;
        }
    }
}

#[test]
fn plain_with_a_zap_handler_lets_the_right_password_in_and_names_the_user() {
    let ctx = Context::new().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    ctx.set_zap_handler(move |req| {
        counter.fetch_add(1, Ordering::Relaxed);
        admin_secret(req)
    })
    .unwrap();
    let pull = plain_server(&ctx, SocketType::Pull);
    let server_mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();

    // A wrong password first: refused with 400 on both sides, nothing delivered.
    let intruder = plain_client(&ctx, SocketType::Push, "admin", "guess");
    let intruder_mon = intruder.monitor();
    intruder.connect(&ep).unwrap();
    intruder.send_dontwait("must not arrive").unwrap();
    assert_eq!(
        await_event(&server_mon, MonitorEventKind::HandshakeFailedAuth),
        400
    );
    assert_eq!(
        await_event(&intruder_mon, MonitorEventKind::HandshakeFailedAuth),
        400
    );

    // The right one, while the intruder's socket is still there: it gets through.
    let push = plain_client(&ctx, SocketType::Push, "admin", "secret");
    push.connect(&ep).unwrap();
    push.send("hello").unwrap();
    let m = pull.recv().unwrap();
    assert_eq!(m.frames()[0], Bytes::from("hello"));
    assert_eq!(m.property("User-Id"), Some(&Bytes::from("admin-user")));
    assert!(asked.load(Ordering::Relaxed) >= 2);
    assert!(matches!(
        pull.recv_dontwait(),
        Err(oxmq_mio::Error::WouldBlock)
    ));
}

#[test]
fn plain_without_a_zap_handler_is_refused_as_libzmq_refuses_it() {
    let ctx = Context::new().unwrap();
    let pull = plain_server(&ctx, SocketType::Pull);
    let server_mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = plain_client(&ctx, SocketType::Push, "admin", "secret");
    push.connect(&ep).unwrap();
    // libzmq's PLAIN server with no handler fails the handshake (no detail).
    loop {
        let ev = server_mon.recv(WAIT).expect("a handshake failure");
        match ev.kind {
            MonitorEventKind::HandshakeFailedAuth
            | MonitorEventKind::HandshakeFailedProtocol
            | MonitorEventKind::HandshakeFailedNoDetail => break,
            MonitorEventKind::HandshakeSucceeded => panic!("let in without a handler"),
            _ => {}
        }
    }
}

#[test]
fn a_zap_handler_installed_later_reaches_existing_sockets() {
    let ctx = Context::new().unwrap();
    let pull = plain_server(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    ctx.set_zap_handler(admin_secret).unwrap();
    let push = plain_client(&ctx, SocketType::Push, "admin", "secret");
    push.connect(&ep).unwrap();
    push.send("late handler").unwrap();
    assert_eq!(pull.recv().unwrap(), Message::from("late handler"));
}

/// Our PLAIN server with its ZAP handler, and libzmq's PLAIN client.
#[test]
fn libzmq_plain_client_to_our_server() {
    let ctx = Context::new().unwrap();
    ctx.set_zap_handler(admin_secret).unwrap();
    let pull = plain_server(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();

    let zctx = zmq::Context::new();
    let wrong = zctx.socket(zmq::PUSH).unwrap();
    wrong.set_linger(0).unwrap();
    wrong.set_plain_username(Some("admin")).unwrap();
    wrong.set_plain_password(Some("nope")).unwrap();
    wrong.connect(&ep).unwrap();
    let _ = wrong.send("must not arrive", zmq::DONTWAIT);

    let push = zctx.socket(zmq::PUSH).unwrap();
    push.set_linger(0).unwrap();
    push.set_sndtimeo(WAIT_MS).unwrap();
    push.set_plain_username(Some("admin")).unwrap();
    push.set_plain_password(Some("secret")).unwrap();
    push.connect(&ep).unwrap();
    push.send("from libzmq", 0).unwrap();
    let m = pull.recv().unwrap();
    assert_eq!(m.frames()[0], Bytes::from("from libzmq"));
    assert_eq!(m.property("User-Id"), Some(&Bytes::from("admin-user")));
}

/// libzmq's PLAIN server with its own ZAP handler (`inproc://zeromq.zap.01`), and our client:
/// the User-Id libzmq's handler names is on the message libzmq receives.
#[test]
fn our_plain_client_to_libzmqs_server() {
    let zctx = zmq::Context::new();
    let handler = zctx.socket(zmq::REP).unwrap();
    handler.bind("inproc://zeromq.zap.01").unwrap();
    handler.set_rcvtimeo(WAIT_MS).unwrap();
    let zap = std::thread::spawn(move || {
        // Two requests: one wrong password, one right.
        for _ in 0..2 {
            let req = handler.recv_multipart(0).unwrap();
            let ok = req.len() == 8 && req[6] == b"admin" && req[7] == b"secret";
            let (code, user): (&[u8], &[u8]) = if ok {
                (b"200", b"libzmq-admin")
            } else {
                (b"400", b"")
            };
            handler
                .send_multipart([&b"1.0"[..], &req[1], code, b"", user, b""], 0)
                .unwrap();
        }
    });
    let pull = zctx.socket(zmq::PULL).unwrap();
    pull.set_linger(0).unwrap();
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    pull.set_plain_server(true).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();

    let ctx = Context::new().unwrap();
    let wrong = plain_client(&ctx, SocketType::Push, "admin", "nope");
    let wrong_mon = wrong.monitor();
    wrong.connect(&ep).unwrap();
    assert_eq!(
        await_event(&wrong_mon, MonitorEventKind::HandshakeFailedAuth),
        400
    );
    let push = plain_client(&ctx, SocketType::Push, "admin", "secret");
    push.connect(&ep).unwrap();
    push.send("from oxmq").unwrap();
    let mut msg = zmq::Message::new();
    pull.recv(&mut msg, 0).unwrap();
    assert_eq!(&msg[..], b"from oxmq");
    assert_eq!(msg.gets("User-Id"), Some("libzmq-admin"));
    zap.join().unwrap();
}

mod curve {
    use super::*;
    use oxmq_core::mechanism::curve::generate_keypair;
    use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey};
    use oxmq_core::SecureRandom;

    /// Test keys from the operating system's CSPRNG.
    struct Urandom;
    impl SecureRandom for Urandom {
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            use std::io::Read;
            std::fs::File::open("/dev/urandom")
                .unwrap()
                .read_exact(dst)
                .unwrap();
        }
    }

    fn keypair() -> (CurvePublicKey, CurveSecretKey) {
        generate_keypair(&mut Urandom)
    }

    /// A context for each CURVE crypto provider: oxmq-core's own (RustCrypto) and
    /// libsodium's (`oxmq-sodium`), so that both are proven against libzmq.
    fn contexts() -> [(&'static str, Context); 2] {
        let sodium = Context::new().unwrap();
        sodium.set_curve_crypto(&oxmq_sodium::LIBSODIUM);
        [
            ("rustcrypto", Context::new().unwrap()),
            ("libsodium", sodium),
        ]
    }

    fn curve_server(ctx: &Context, public: &CurvePublicKey, secret: &CurveSecretKey) -> Socket {
        let s = sock(ctx, SocketType::Pull);
        s.set(SocketOption::CurveServer(true)).unwrap();
        s.set(SocketOption::CurvePublickey(*public)).unwrap();
        s.set(SocketOption::CurveSecretkey(secret.clone())).unwrap();
        s
    }

    fn curve_client(ctx: &Context, server: &CurvePublicKey) -> (Socket, CurvePublicKey) {
        let (public, secret) = keypair();
        let s = sock(ctx, SocketType::Push);
        s.set(SocketOption::CurveServerkey(*server)).unwrap();
        s.set(SocketOption::CurvePublickey(public)).unwrap();
        s.set(SocketOption::CurveSecretkey(secret)).unwrap();
        (s, public)
    }

    #[test]
    fn curve_between_our_sockets_with_and_without_a_handler() {
        let (server_public, server_secret) = keypair();
        for with_handler in [false, true] {
            let ctx = Context::new().unwrap();
            let (push, client_public) = curve_client(&ctx, &server_public);
            if with_handler {
                let expected = client_public;
                ctx.set_zap_handler(move |req| {
                    let key =
                        CurvePublicKey(req.credentials[0][..].try_into().expect("a 32-byte key"));
                    if key == expected {
                        ZapReply::accept("curve-user")
                    } else {
                        ZapReply::deny(400)
                    }
                })
                .unwrap();
            }
            let pull = curve_server(&ctx, &server_public, &server_secret);
            let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
            push.connect(&ep).unwrap();
            push.send("sealed").unwrap();
            let m = pull.recv().unwrap();
            assert_eq!(m.frames()[0], Bytes::from("sealed"));
            if with_handler {
                assert_eq!(m.property("User-Id"), Some(&Bytes::from("curve-user")));
            }
        }
    }

    #[test]
    fn curve_with_the_wrong_server_key_never_delivers() {
        let ctx = Context::new().unwrap();
        let (server_public, server_secret) = keypair();
        let (someone_else, _) = keypair();
        let pull = curve_server(&ctx, &server_public, &server_secret);
        let server_mon = pull.monitor();
        let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
        let (push, _) = curve_client(&ctx, &someone_else);
        push.connect(&ep).unwrap();
        push.send_dontwait("must not arrive").unwrap();
        // The server cannot open the client's HELLO: a protocol failure.
        await_event(&server_mon, MonitorEventKind::HandshakeFailedProtocol);
        assert!(matches!(
            pull.recv_dontwait(),
            Err(oxmq_mio::Error::WouldBlock)
        ));
        // A client with the right key still gets through.
        let (good, _) = curve_client(&ctx, &server_public);
        good.connect(&ep).unwrap();
        good.send("right key").unwrap();
        assert_eq!(pull.recv().unwrap(), Message::from("right key"));
    }

    /// libzmq's CURVE client (pyzmq) to our ROUTER, whose context handler names it.
    #[test]
    fn pyzmq_curve_client_to_our_server() {
        if !oxmq_tests::pyzmq::available() {
            return;
        }
        for (provider, ctx) in contexts() {
            eprintln!("provider {provider}");
            pyzmq_client_to(ctx);
        }
    }

    fn pyzmq_client_to(ctx: Context) {
        ctx.set_zap_handler(|req| {
            assert_eq!(req.credentials[0].len(), 32, "the client's public key");
            ZapReply::accept("rust-user")
        })
        .unwrap();
        let (public, secret) = keypair();
        let router = sock(&ctx, SocketType::Router);
        router.set(SocketOption::CurveServer(true)).unwrap();
        router.set(SocketOption::CurvePublickey(public)).unwrap();
        router.set(SocketOption::CurveSecretkey(secret)).unwrap();
        let ep = router.bind("tcp://127.0.0.1:*").unwrap();
        let port = ep.rsplit(':').next().unwrap();
        let mut py = oxmq_tests::pyzmq::Py::start(&["client", &public.to_z85(), port]);
        assert!(py.line().starts_with("key "));
        let m = router.recv().unwrap();
        assert_eq!(m.frames()[1], Bytes::from("ping"));
        assert_eq!(m.property("User-Id"), Some(&Bytes::from("rust-user")));
        router
            .send(Message::from_frames([
                m.frames()[0].clone(),
                oxmq_core::Frame::from("pong"),
            ]))
            .unwrap();
        assert_eq!(py.line(), "reply pong");
    }

    /// Our CURVE DEALER to libzmq's CURVE ROUTER (pyzmq), whose ZAP handler lets our key in
    /// as "py-user": the echo carries the User-Id libzmq gave us.
    #[test]
    fn our_curve_client_to_pyzmqs_server() {
        if !oxmq_tests::pyzmq::available() {
            return;
        }
        for (provider, ctx) in contexts() {
            eprintln!("provider {provider}");
            client_to_pyzmq(ctx);
        }
    }

    fn client_to_pyzmq(ctx: Context) {
        let (server_public, server_secret) = keypair();
        let (public, secret) = keypair();
        let mut py = oxmq_tests::pyzmq::Py::start(&[
            "server",
            &server_secret.expose_z85(),
            &public.to_z85(),
        ]);
        let port = py.line();
        let port = port.strip_prefix("port ").expect("a port line");
        let dealer = sock(&ctx, SocketType::Dealer);
        dealer
            .set(SocketOption::CurveServerkey(server_public))
            .unwrap();
        dealer.set(SocketOption::CurvePublickey(public)).unwrap();
        dealer.set(SocketOption::CurveSecretkey(secret)).unwrap();
        dealer.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
        dealer.send(Message::from_frames(["", "ping"])).unwrap();
        assert_eq!(
            dealer.recv().unwrap(),
            Message::from_frames(["ping!", "py-user"])
        );
        assert_eq!(py.line(), "echoed");
    }

    #[test]
    fn a_denying_handler_is_obeyed_for_curve() {
        let ctx = Context::new().unwrap();
        ctx.set_zap_handler(|_| ZapReply::deny(400)).unwrap();
        let (server_public, server_secret) = keypair();
        let pull = curve_server(&ctx, &server_public, &server_secret);
        let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
        let (push, _) = curve_client(&ctx, &server_public);
        let mon = push.monitor();
        push.connect(&ep).unwrap();
        assert_eq!(
            await_event(&mon, MonitorEventKind::HandshakeFailedAuth),
            400
        );
    }
}

/// A handler bound at `inproc://zeromq.zap.01`, as libzmq applications (and libzmq's own
/// tests) write it: a REP answering RFC 27 requests.
#[test]
fn a_handler_bound_at_the_zap_endpoint_decides() {
    let ctx = Context::new().unwrap();
    let handler = sock(&ctx, SocketType::Rep);
    handler.bind("inproc://zeromq.zap.01").unwrap();
    let zap = std::thread::spawn(move || {
        // Two requests: a wrong password, then the right one.
        let mut seen = Vec::new();
        for _ in 0..2 {
            let req = handler.recv().unwrap();
            let f = req.frames();
            assert_eq!(&f[0][..], b"1.0", "version");
            assert_eq!(&f[5][..], b"PLAIN", "mechanism");
            let ok = f.len() == 8 && f[6] == "admin" && f[7] == "secret";
            seen.push(ok);
            let (code, user): (&[u8], &[u8]) = if ok {
                (b"200", b"zap-admin")
            } else {
                (b"400", b"")
            };
            handler
                .send(Message::from_frames([
                    b"1.0".to_vec(),
                    f[1].to_vec(),
                    code.to_vec(),
                    b"OK".to_vec(),
                    user.to_vec(),
                    Vec::new(),
                ]))
                .unwrap();
        }
        seen
    });
    let pull = plain_server(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let wrong = plain_client(&ctx, SocketType::Push, "admin", "nope");
    let wrong_mon = wrong.monitor();
    wrong.connect(&ep).unwrap();
    assert_eq!(
        await_event(&wrong_mon, MonitorEventKind::HandshakeFailedAuth),
        400
    );
    let push = plain_client(&ctx, SocketType::Push, "admin", "secret");
    push.connect(&ep).unwrap();
    push.send("via inproc zap").unwrap();
    let m = pull.recv().unwrap();
    assert_eq!(m.frames()[0], Bytes::from("via inproc zap"));
    assert_eq!(m.property("User-Id"), Some(&Bytes::from("zap-admin")));
    assert_eq!(zap.join().unwrap(), [false, true]);
}

/// ZAP 300 (a temporary failure), as libzmq: the server reports HANDSHAKE_FAILED_AUTH 300,
/// sends no ERROR and keeps the connection until the handshake interval, so the client sees
/// no failure of its own and does not redial meanwhile (one ZAP request, not a storm).
#[test]
fn zap_300_leaves_the_client_waiting_instead_of_redialling() {
    let ctx = Context::new().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    ctx.set_zap_handler(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        ZapReply::deny(300)
    })
    .unwrap();
    let server = plain_server(&ctx, SocketType::Pull);
    let server_mon = server.monitor();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let client = plain_client(&ctx, SocketType::Push, "admin", "secret");
    let client_mon = client.monitor();
    client.connect(&ep).unwrap();
    assert_eq!(
        await_event(&server_mon, MonitorEventKind::HandshakeFailedAuth),
        300
    );
    // The client's monitor, up to and including its CONNECTED, then quiet: a redial would
    // show as DISCONNECTED, CONNECT_RETRIED or a handshake failure within its 100 ms
    // RECONNECT_IVL (waiting longer only makes the check stronger, never flaky).
    await_event(&client_mon, MonitorEventKind::Connected);
    if let Some(ev) = client_mon.recv(Duration::from_millis(500)) {
        panic!("the client saw {ev:?} after a 300");
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1, "one ZAP request");
}

/// The same through a handler bound at `inproc://zeromq.zap.01`, on a NULL server with a
/// ZAP_DOMAIN (libzmq's `test_security_zap` temporary-failure case).
#[test]
fn zap_300_from_an_inproc_handler_leaves_a_null_client_waiting() {
    let ctx = Context::new().unwrap();
    let handler = sock(&ctx, SocketType::Rep);
    handler.bind("inproc://zeromq.zap.01").unwrap();
    let zap = std::thread::spawn(move || {
        let req = handler.recv().unwrap();
        let f = req.frames();
        handler
            .send(Message::from_frames([
                b"1.0".to_vec(),
                f[1].to_vec(),
                b"300".to_vec(),
                b"try later".to_vec(),
                Vec::new(),
                Vec::new(),
            ]))
            .unwrap();
        handler
    });
    let server = sock(&ctx, SocketType::Dealer);
    server
        .set(SocketOption::ZapDomain(Bytes::from_static(b"test")))
        .unwrap();
    let server_mon = server.monitor();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let client = sock(&ctx, SocketType::Dealer);
    let client_mon = client.monitor();
    client.connect(&ep).unwrap();
    assert_eq!(
        await_event(&server_mon, MonitorEventKind::HandshakeFailedAuth),
        300
    );
    let _handler = zap.join().unwrap();
    await_event(&client_mon, MonitorEventKind::Connected);
    if let Some(ev) = client_mon.recv(Duration::from_millis(500)) {
        panic!("the client saw {ev:?} after a 300");
    }
}
