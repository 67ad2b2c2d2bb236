//! Behaviours where oxmq differed from libzmq when tried as a new user would (issue 12's
//! list), pinned to what libzmq does, that only the blocking front-end can show: the
//! steerable proxy (the async front-end has none), and two contexts' `ipc://*` names.
//! Differences (1), (2), (3) and (5) are conformance cases on every front-end
//! (`conformance.rs`).

use oxmq_core::{Message, SocketOption, SocketType};
use oxmq_mio::{Context, Socket};

/// A failure bound for waits, never a timing assertion.
const WAIT_MS: i32 = 20_000;

/// A socket whose calls give up at the wait bound, and whose close never waits on a peer
/// that is gone (the context's end waits for every socket's LINGER).
fn sock(ctx: &Context, kind: SocketType) -> Socket {
    let s = ctx.socket(kind).unwrap();
    s.set(SocketOption::RcvTimeo(WAIT_MS)).unwrap();
    s.set(SocketOption::SndTimeo(WAIT_MS)).unwrap();
    s.set(SocketOption::Linger(0)).unwrap();
    s
}

/// (4) A steerable proxy whose backend cannot take a message (a PUSH with no peer) reads no
/// more from its frontend and still obeys TERMINATE.
#[test]
fn steerable_proxy_terminates_while_its_backend_blocks() {
    let ctx = Context::new().unwrap();
    // No timeouts on the proxy's own sockets: a send into the blocked backend would wait
    // for ever, which is what the test must show does not happen.
    let proxy_socket = |kind| {
        let s = ctx.socket(kind).unwrap();
        s.set(SocketOption::Linger(0)).unwrap();
        s
    };
    let frontend = proxy_socket(SocketType::Pull);
    let fe = frontend.bind("tcp://127.0.0.1:*").unwrap();
    let backend = proxy_socket(SocketType::Push);
    backend.bind("tcp://127.0.0.1:*").unwrap();
    let control = proxy_socket(SocketType::Pair);
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
