//! PLAIN, CURVE and ZAP on the async front-end: the context's ZAP handler decides, the
//! User-Id it names reaches the application, refusals are monitor events, and libzmq peers
//! interoperate: the `zmq` crate's libzmq for PLAIN in both roles, pyzmq's for CURVE.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use oxmq_core::mechanism::curve::generate_keypair;
use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey, SecretBytes};
use oxmq_core::{ZapReply, ZapRequest};
use oxmq_tokio::{Context, Message, Monitor, MonitorEventKind, Socket, SocketOption, SocketType};

/// A failure bound for waits, never a timing assertion.
const WAIT: Duration = Duration::from_secs(20);

fn sock(ctx: &Context, kind: SocketType) -> Socket {
    let s = ctx.socket(kind).unwrap();
    s.set(SocketOption::Linger(0)).unwrap();
    s.set(SocketOption::RcvTimeo(20_000)).unwrap();
    s.set(SocketOption::SndTimeo(20_000)).unwrap();
    s
}

fn admin_secret(req: &ZapRequest) -> ZapReply {
    match req.credentials.as_slice() {
        [u, p] if u == "admin" && p == "secret" => ZapReply::accept("admin-user"),
        _ => ZapReply::deny(400),
    }
}

fn plain_client(ctx: &Context, user: &str, pass: &str) -> Socket {
    let s = sock(ctx, SocketType::Push);
    s.set(SocketOption::PlainUsername(Bytes::copy_from_slice(
        user.as_bytes(),
    )))
    .unwrap();
    s.set(SocketOption::PlainPassword(SecretBytes::new(pass)))
        .unwrap();
    s
}

async fn await_event(mon: &mut Monitor, kind: MonitorEventKind) -> u64 {
    loop {
        let ev = tokio::time::timeout(WAIT, mon.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind:?} within {WAIT:?}"))
            .expect("the monitor ended");
        if ev.kind == kind {
            return ev.value;
        }
    }
}

/// Waits until the server's monitor shows a handshake failing; one succeeding fails the test.
async fn await_refusal(mon: &mut Monitor) {
    loop {
        let ev = tokio::time::timeout(WAIT, mon.next())
            .await
            .expect("a handshake failure")
            .unwrap();
        match ev.kind {
            MonitorEventKind::HandshakeFailedAuth
            | MonitorEventKind::HandshakeFailedProtocol
            | MonitorEventKind::HandshakeFailedNoDetail => return,
            MonitorEventKind::HandshakeSucceeded => panic!("let in without a handler"),
            _ => {}
        }
    }
}

fn keypair() -> (CurvePublicKey, CurveSecretKey) {
    generate_keypair(oxmq_tokio::os_random().stream().as_mut())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_with_a_zap_handler_decides_and_names_the_user() {
    let ctx = Context::new().unwrap();
    ctx.set_zap_handler(admin_secret);
    let pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::PlainServer(true)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();

    let intruder = plain_client(&ctx, "admin", "guess");
    let mut intruder_mon = intruder.monitor();
    intruder.connect(&ep).await.unwrap();
    let _ = intruder.try_send("must not arrive");
    assert_eq!(
        await_event(&mut intruder_mon, MonitorEventKind::HandshakeFailedAuth).await,
        400
    );

    let push = plain_client(&ctx, "admin", "secret");
    push.connect(&ep).await.unwrap();
    push.send("hello").await.unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(m.frames()[0], Bytes::from("hello"));
    assert_eq!(m.property("User-Id"), Some(&Bytes::from("admin-user")));
    assert!(pull.try_recv().is_err(), "nothing from the intruder");
}

#[tokio::test]
async fn plain_without_a_handler_is_refused() {
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::PlainServer(true)).unwrap();
    let mut mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = plain_client(&ctx, "admin", "secret");
    push.connect(&ep).await.unwrap();
    await_refusal(&mut mon).await;
}

/// libzmq's PLAIN client to our server, and our PLAIN client to libzmq's server with its
/// own handler at `inproc://zeromq.zap.01`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_with_libzmq_in_both_roles() {
    let ctx = Context::new().unwrap();
    ctx.set_zap_handler(admin_secret);
    let pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::PlainServer(true)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let zctx = zmq::Context::new();
    let push = zctx.socket(zmq::PUSH).unwrap();
    push.set_linger(0).unwrap();
    push.set_plain_username(Some("admin")).unwrap();
    push.set_plain_password(Some("secret")).unwrap();
    push.connect(&ep).unwrap();
    push.send("from libzmq", 0).unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(m.frames()[0], Bytes::from("from libzmq"));
    assert_eq!(m.property("User-Id"), Some(&Bytes::from("admin-user")));

    let handler = zctx.socket(zmq::REP).unwrap();
    handler.bind("inproc://zeromq.zap.01").unwrap();
    handler.set_rcvtimeo(20_000).unwrap();
    let zap = std::thread::spawn(move || {
        let req = handler.recv_multipart(0).unwrap();
        let ok = req.len() == 8 && req[6] == b"admin" && req[7] == b"secret";
        let code: &[u8] = if ok { b"200" } else { b"400" };
        handler
            .send_multipart([&b"1.0"[..], &req[1], code, b"", b"libzmq-admin", b""], 0)
            .unwrap();
    });
    let lpull = zctx.socket(zmq::PULL).unwrap();
    lpull.set_linger(0).unwrap();
    lpull.set_rcvtimeo(20_000).unwrap();
    lpull.set_plain_server(true).unwrap();
    lpull.bind("tcp://127.0.0.1:*").unwrap();
    let lep = lpull.get_last_endpoint().unwrap().unwrap();
    let ours = plain_client(&ctx, "admin", "secret");
    ours.connect(&lep).await.unwrap();
    ours.send("from oxmq-tokio").await.unwrap();
    let got = tokio::task::spawn_blocking(move || {
        let mut msg = zmq::Message::new();
        lpull.recv(&mut msg, 0).unwrap();
        (msg.to_vec(), msg.gets("User-Id").map(str::to_owned))
    })
    .await
    .unwrap();
    assert_eq!(got.0, b"from oxmq-tokio");
    assert_eq!(got.1.as_deref(), Some("libzmq-admin"));
    zap.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curve_between_our_sockets_and_a_denying_handler() {
    let (server_public, server_secret) = keypair();
    let ctx = Context::new().unwrap();
    let (client_public, client_secret) = keypair();
    let allowed = client_public;
    ctx.set_zap_handler(move |req| {
        if req.credentials[0][..] == allowed.0[..] {
            ZapReply::accept("curve-user")
        } else {
            ZapReply::deny(400)
        }
    });
    let pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::CurveServer(true)).unwrap();
    pull.set(SocketOption::CurvePublickey(server_public))
        .unwrap();
    pull.set(SocketOption::CurveSecretkey(server_secret))
        .unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();

    // A client whose key the handler does not know is refused with 400.
    let (stranger_public, stranger_secret) = keypair();
    let stranger = sock(&ctx, SocketType::Push);
    stranger
        .set(SocketOption::CurveServerkey(server_public))
        .unwrap();
    stranger
        .set(SocketOption::CurvePublickey(stranger_public))
        .unwrap();
    stranger
        .set(SocketOption::CurveSecretkey(stranger_secret))
        .unwrap();
    let mut mon = stranger.monitor();
    stranger.connect(&ep).await.unwrap();
    assert_eq!(
        await_event(&mut mon, MonitorEventKind::HandshakeFailedAuth).await,
        400
    );

    let push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::CurveServerkey(server_public))
        .unwrap();
    push.set(SocketOption::CurvePublickey(client_public))
        .unwrap();
    push.set(SocketOption::CurveSecretkey(client_secret))
        .unwrap();
    push.connect(&ep).await.unwrap();
    push.send("sealed").await.unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(m, Message::from("sealed"));
    assert_eq!(m.property("User-Id"), Some(&Bytes::from("curve-user")));
}

/// pyzmq's libzmq (with CURVE) in both roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curve_with_pyzmq_in_both_roles() {
    if !oxmq_tests::pyzmq::available() {
        return;
    }
    let ctx = Context::new().unwrap();
    ctx.set_zap_handler(|_| ZapReply::accept("rust-user"));
    // Their client, our server.
    let (public, secret) = keypair();
    let router = sock(&ctx, SocketType::Router);
    router.set(SocketOption::CurveServer(true)).unwrap();
    router.set(SocketOption::CurvePublickey(public)).unwrap();
    router.set(SocketOption::CurveSecretkey(secret)).unwrap();
    let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let port = ep.rsplit(':').next().unwrap().to_owned();
    let server_key = public.to_z85();
    let mut py = tokio::task::spawn_blocking(move || {
        let mut py = oxmq_tests::pyzmq::Py::start(&["client", &server_key, &port]);
        assert!(py.line().starts_with("key "));
        py
    })
    .await
    .unwrap();
    let m = router.recv().await.unwrap();
    assert_eq!(m.frames()[1], Bytes::from("ping"));
    assert_eq!(m.property("User-Id"), Some(&Bytes::from("rust-user")));
    router
        .send(Message::from_frames([
            m.frames()[0].clone(),
            oxmq_core::Frame::from("pong"),
        ]))
        .await
        .unwrap();
    let line = tokio::task::spawn_blocking(move || py.line())
        .await
        .unwrap();
    assert_eq!(line, "reply pong");

    // Our client, their server (whose handler lets our key in as "py-user").
    let (server_public, server_secret) = keypair();
    let (ours_public, ours_secret) = keypair();
    let (secret_z85, ours_z85) = (server_secret.expose_z85(), ours_public.to_z85());
    let (mut py, port) = tokio::task::spawn_blocking(move || {
        let mut py = oxmq_tests::pyzmq::Py::start(&["server", &secret_z85, &ours_z85]);
        let port = py.line();
        (
            py,
            port.strip_prefix("port ").expect("a port line").to_owned(),
        )
    })
    .await
    .unwrap();
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer
        .set(SocketOption::CurveServerkey(server_public))
        .unwrap();
    dealer
        .set(SocketOption::CurvePublickey(ours_public))
        .unwrap();
    dealer
        .set(SocketOption::CurveSecretkey(ours_secret))
        .unwrap();
    dealer
        .connect(&format!("tcp://127.0.0.1:{port}"))
        .await
        .unwrap();
    dealer
        .send(Message::from_frames(["", "ping"]))
        .await
        .unwrap();
    assert_eq!(
        dealer.recv().await.unwrap(),
        Message::from_frames(["ping!", "py-user"])
    );
    let line = tokio::task::spawn_blocking(move || py.line())
        .await
        .unwrap();
    assert_eq!(line, "echoed");
}

/// A handler bound at `inproc://zeromq.zap.01`, as libzmq applications write it: a REP
/// answering RFC 27 requests, on either runtime. Unbinding it ends ZAP: a PLAIN server then
/// refuses, as libzmq's does with no handler.
async fn a_handler_bound_at_the_zap_endpoint_decides() {
    let ctx = Context::new().unwrap();
    let handler = sock(&ctx, SocketType::Rep);
    handler.bind("inproc://zeromq.zap.01").await.unwrap();
    let zap = tokio::spawn(async move {
        // Two requests: a wrong password, then the right one.
        let mut seen = Vec::new();
        for _ in 0..2 {
            let req = handler.recv().await.unwrap();
            let f = req.frames().to_vec();
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
                .await
                .unwrap();
        }
        (seen, handler)
    });
    let pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::PlainServer(true)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let wrong = plain_client(&ctx, "admin", "nope");
    let mut wrong_mon = wrong.monitor();
    wrong.connect(&ep).await.unwrap();
    assert_eq!(
        await_event(&mut wrong_mon, MonitorEventKind::HandshakeFailedAuth).await,
        400
    );
    let push = plain_client(&ctx, "admin", "secret");
    push.connect(&ep).await.unwrap();
    push.send("via inproc zap").await.unwrap();
    let m = tokio::time::timeout(WAIT, pull.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.frames()[0], Bytes::from("via inproc zap"));
    assert_eq!(m.property("User-Id"), Some(&Bytes::from("zap-admin")));
    let (seen, handler) = tokio::time::timeout(WAIT, zap).await.unwrap().unwrap();
    assert_eq!(seen, [false, true]);

    // No handler any more: a PLAIN server refuses everyone.
    handler.unbind("inproc://zeromq.zap.01").await.unwrap();
    let mut pull_mon = pull.monitor();
    let late = plain_client(&ctx, "admin", "secret");
    late.connect(&ep).await.unwrap();
    await_refusal(&mut pull_mon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_bound_at_the_zap_endpoint_decides_multi_thread() {
    a_handler_bound_at_the_zap_endpoint_decides().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_handler_bound_at_the_zap_endpoint_decides_current_thread() {
    a_handler_bound_at_the_zap_endpoint_decides().await;
}
