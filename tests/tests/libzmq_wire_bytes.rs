//! Byte-exact vectors taken from a live libzmq 4.3 peer: we play a raw TCP server, let a
//! libzmq socket connect, and compare what it sends with what our encoder produces for the same
//! greeting and commands.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use oxmq_core::codec::command::{PROP_IDENTITY, PROP_SOCKET_TYPE};
use oxmq_core::codec::frame::put_header;
use oxmq_core::codec::{Command, Greeting, MechanismName, Metadata};

fn command_frame(cmd: &Command) -> Vec<u8> {
    let mut b = BytesMut::new();
    put_header(&mut b, false, true, cmd.body_len());
    cmd.encode_body(&mut b);
    b.to_vec()
}

fn ready(socket_type: &str, identity: Option<&[u8]>) -> Vec<u8> {
    let mut m = Metadata::new();
    m.push(
        PROP_SOCKET_TYPE,
        Bytes::copy_from_slice(socket_type.as_bytes()),
    )
    .unwrap();
    if let Some(id) = identity {
        m.push(PROP_IDENTITY, Bytes::copy_from_slice(id)).unwrap();
    }
    command_frame(&Command::Ready(m))
}

fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    stream
        .read_exact(&mut buf)
        .expect("libzmq sent fewer bytes than expected");
    buf
}

/// Accepts a libzmq socket's connection and plays the greeting and READY of `our_type`.
/// Returns the stream positioned after libzmq's greeting, and libzmq's greeting bytes.
fn accept_and_greet(listener: &TcpListener, our_type: &str) -> (TcpStream, Vec<u8>) {
    let (mut stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(&Greeting::ours(MechanismName::NULL, false).encode())
        .unwrap();
    let greeting = read_exact(&mut stream, 64);
    stream.write_all(&ready(our_type, None)).unwrap();
    (stream, greeting)
}

#[test]
fn libzmq_dealer_greeting_ready_and_ping_match_our_encoding() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_linger(0).unwrap();
    dealer.set_heartbeat_ivl(20).unwrap();
    dealer.set_heartbeat_ttl(3000).unwrap();
    dealer.connect(&format!("tcp://{addr}")).unwrap();

    let (mut stream, greeting) = accept_and_greet(&listener, "ROUTER");
    assert_eq!(
        greeting,
        Greeting::ours(MechanismName::NULL, false).encode(),
        "libzmq's NULL greeting"
    );
    let want_ready = ready("DEALER", Some(b""));
    assert_eq!(
        read_exact(&mut stream, want_ready.len()),
        want_ready,
        "libzmq DEALER's READY: Socket-Type, then an empty Identity"
    );
    // TTL 3000 ms travels as 30 deciseconds, with an empty context.
    let want_ping = command_frame(&Command::Ping {
        ttl_deciseconds: 30,
        context: Bytes::new(),
    });
    assert_eq!(read_exact(&mut stream, want_ping.len()), want_ping);
}

#[test]
fn libzmq_router_ready_carries_identity_too() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = zmq::Context::new();
    let router = ctx.socket(zmq::ROUTER).unwrap();
    router.set_linger(0).unwrap();
    router.set_identity(b"R1").unwrap();
    router.connect(&format!("tcp://{addr}")).unwrap();
    let (mut stream, _) = accept_and_greet(&listener, "DEALER");
    let want = ready("ROUTER", Some(b"R1"));
    assert_eq!(read_exact(&mut stream, want.len()), want);
}

#[test]
fn libzmq_sub_sends_a_3_1_subscribe_command() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_linger(0).unwrap();
    sub.set_subscribe(b"weather").unwrap();
    sub.connect(&format!("tcp://{addr}")).unwrap();
    let (mut stream, _) = accept_and_greet(&listener, "PUB");
    let want_ready = ready("SUB", None);
    assert_eq!(read_exact(&mut stream, want_ready.len()), want_ready);
    let want = command_frame(&Command::Subscribe(Bytes::from_static(b"weather")));
    assert_eq!(want, b"\x04\x11\x09SUBSCRIBEweather");
    assert_eq!(read_exact(&mut stream, want.len()), want);
}
