//! Behaviours where oxmq differed from libzmq when tried as a new user would (issue 12's
//! list), each pinned to what libzmq does, on the blocking front-end.

use std::io::Read;
use std::time::Duration;

use oxmq_core::base::EndpointOpError;
use oxmq_core::monitor::MonitorEventKind;
use oxmq_core::{Message, SocketOption, SocketType};
use oxmq_mio::{Context, Error, Socket};

/// A failure bound for waits, never a timing assertion.
const WAIT: Duration = Duration::from_secs(20);
const WAIT_MS: i32 = 20_000;

fn sock(ctx: &Context, kind: SocketType) -> Socket {
    let s = ctx.socket(kind).unwrap();
    s.set(SocketOption::RcvTimeo(WAIT_MS)).unwrap();
    s.set(SocketOption::SndTimeo(WAIT_MS)).unwrap();
    s
}

fn ipc_wildcard_dir_ok() -> bool {
    cfg!(unix)
}

/// Waits for the first monitor event of `kind`.
fn await_event(mon: &oxmq_mio::Monitor, kind: MonitorEventKind) {
    loop {
        let ev = mon
            .recv(WAIT)
            .unwrap_or_else(|| panic!("no {kind:?} event within {WAIT:?}"));
        if ev.kind == kind {
            return;
        }
    }
}

/// (1) `unbind` takes the endpoint as bound, never the wildcard it was asked for: libzmq
/// answers the wildcard string with ENOENT and keeps listening.
#[test]
fn unbind_takes_the_resolved_endpoint_not_the_wildcard() {
    let ctx = Context::new().unwrap();
    let mut wildcards = vec!["tcp://127.0.0.1:*".to_owned()];
    if ipc_wildcard_dir_ok() {
        wildcards.push("ipc://*".to_owned());
    }
    for wildcard in wildcards {
        let pull = sock(&ctx, SocketType::Pull);
        let bound = pull.bind(&wildcard).unwrap();
        assert_ne!(bound, wildcard);
        match pull.unbind(&wildcard) {
            Err(Error::Endpoint(EndpointOpError::NotFound(_))) => {}
            other => panic!("unbind({wildcard}) answered {other:?}, libzmq says ENOENT"),
        }
        // Still listening: a peer gets through.
        let push = sock(&ctx, SocketType::Push);
        push.connect(&bound).unwrap();
        push.send("still bound").unwrap();
        assert_eq!(pull.recv().unwrap(), Message::from("still bound"));
        // The resolved endpoint unbinds, once.
        pull.unbind(&bound).unwrap();
        assert!(matches!(
            pull.unbind(&bound),
            Err(Error::Endpoint(EndpointOpError::NotFound(_)))
        ));
    }
}

/// (2) With RECONNECT_IVL = -1 a connection that ends takes its pipe with it: a PAIR has no
/// peer left (EAGAIN), and a fresh `connect` elsewhere carries messages.
#[test]
fn no_reconnect_drops_the_pipe_and_a_new_connect_works() {
    let ctx = Context::new().unwrap();
    let first = sock(&ctx, SocketType::Pair);
    let ep = first.bind("tcp://127.0.0.1:*").unwrap();
    let pair = sock(&ctx, SocketType::Pair);
    pair.set(SocketOption::ReconnectIvl(-1)).unwrap();
    let mon = pair.monitor();
    pair.connect(&ep).unwrap();
    pair.send("one").unwrap();
    assert_eq!(first.recv().unwrap(), Message::from("one"));

    drop(first);
    await_event(&mon, MonitorEventKind::Disconnected);
    // libzmq: the pipe is gone, so a DONTWAIT send has nowhere to go.
    match pair.send_dontwait("into the void") {
        Err(Error::WouldBlock) => {}
        other => panic!("send after the peer left answered {other:?}, libzmq says EAGAIN"),
    }

    let second = sock(&ctx, SocketType::Pair);
    let ep2 = second.bind("tcp://127.0.0.1:*").unwrap();
    pair.connect(&ep2).unwrap();
    pair.send("two").unwrap();
    assert_eq!(second.recv().unwrap(), Message::from("two"));
    second.send("back").unwrap();
    assert_eq!(pair.recv().unwrap(), Message::from("back"));
}

/// (3) A STREAM socket that connected out hears of the server closing: the routing id and
/// an empty frame, as the binding side does.
#[test]
fn stream_connect_hears_the_server_close() {
    let ctx = Context::new().unwrap();
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let stream = sock(&ctx, SocketType::Stream);
    stream.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let (mut conn, _) = server.accept().unwrap();
    // The connect notification: [id, ""].
    let hello = stream.recv().unwrap();
    let id = hello.frames()[0].clone();
    assert_eq!(hello.frames().len(), 2);
    assert!(hello.frames()[1].is_empty());
    // Data both ways, then the server closes.
    stream
        .send(Message::from_frames([id.to_vec(), b"ping".to_vec()]))
        .unwrap();
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    drop(conn);
    let bye = stream.recv().unwrap();
    assert_eq!(bye.frames().len(), 2, "{bye:?}");
    assert_eq!(bye.frames()[0], id);
    assert!(
        bye.frames()[1].is_empty(),
        "expected the disconnect notification, got {bye:?}"
    );
}

/// (4) A steerable proxy whose backend cannot take a message (a PUSH with no peer) reads no
/// more from its frontend and still obeys TERMINATE.
#[test]
fn steerable_proxy_terminates_while_its_backend_blocks() {
    let ctx = Context::new().unwrap();
    let frontend = ctx.socket(SocketType::Pull).unwrap();
    let fe = frontend.bind("tcp://127.0.0.1:*").unwrap();
    let backend = ctx.socket(SocketType::Push).unwrap();
    backend.bind("tcp://127.0.0.1:*").unwrap();
    let control = ctx.socket(SocketType::Pair).unwrap();
    control.bind("inproc://steer-while-blocked").unwrap();
    let steer = sock(&ctx, SocketType::Pair);
    steer.connect("inproc://steer-while-blocked").unwrap();

    let feeder = sock(&ctx, SocketType::Push);
    feeder.connect(&fe).unwrap();
    for i in 0..10 {
        feeder.send(format!("m{i}")).unwrap();
    }
    let proxy =
        std::thread::spawn(move || oxmq_mio::proxy_steerable(&frontend, &backend, None, &control));
    steer.send("TERMINATE").unwrap();
    let stats = proxy.join().unwrap().unwrap();
    assert_eq!(
        stats.backend_out, 0,
        "nothing can have gone to a peerless PUSH"
    );
}

/// (5) Monitor events outlive the socket: the last CLOSED and MONITOR_STOPPED are read after
/// `close`.
#[test]
fn monitor_events_are_readable_after_close() {
    let ctx = Context::new().unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    await_event(&mon, MonitorEventKind::Listening);
    drop(pull);
    let mut kinds = Vec::new();
    loop {
        let ev = mon
            .recv(WAIT)
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
    // Nothing follows MONITOR_STOPPED.
    assert!(mon.recv(Duration::from_millis(1)).is_none());
}

/// Two contexts of one process each bind `ipc://*`: each gets a file of its own (the names
/// were numbered per context, and the second bind failed with EADDRINUSE).
#[test]
fn ipc_wildcards_of_two_contexts_do_not_collide() {
    let (a, b) = (Context::new().unwrap(), Context::new().unwrap());
    let pa = sock(&a, SocketType::Pull);
    let pb = sock(&b, SocketType::Pull);
    let ea = pa.bind("ipc://*").unwrap();
    let eb = pb.bind("ipc://*").unwrap();
    assert_ne!(ea, eb);
    let push = sock(&a, SocketType::Push);
    push.connect(&eb).unwrap();
    push.send("to the second context").unwrap();
    assert_eq!(pb.recv().unwrap(), Message::from("to the second context"));
}
