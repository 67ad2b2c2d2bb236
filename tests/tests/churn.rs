//! Connection churn against an oxmq-mio PULL bound on tcp: peers that connect, send one
//! message and close. Every message must arrive, and every accepted session must end whole —
//! its stream closed (the process's file descriptors back at their baseline) and the core
//! holding no session for it.
//!
//! The tests count this process's open file descriptors, so they take turns ([`SERIAL`]).

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oxmq_core::{SocketOption, SocketType};
use oxmq_mio::{Context, Socket};

/// A failure bound for waits, never a timing assertion.
const WAIT: Duration = Duration::from_secs(20);

/// One test at a time: each counts the descriptors of the whole process.
static SERIAL: Mutex<()> = Mutex::new(());

/// The open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Waits until `done` holds or [`WAIT`] passes; returns whether it held.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn bind_pull(ctx: &Context) -> (Socket, String) {
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set(SocketOption::RcvTimeo(WAIT.as_millis() as i32))
        .unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").unwrap();
    (pull, endpoint)
}

/// Receives exactly `want`, in any order, and nothing more.
fn recv_exactly(pull: &Socket, want: &BTreeSet<String>) {
    let mut got = BTreeSet::new();
    while got.len() < want.len() {
        let m = pull
            .recv()
            .unwrap_or_else(|e| panic!("{e}: {} of {} messages arrived", got.len(), want.len()));
        let text = String::from_utf8_lossy(&m.frames()[0]).into_owned();
        assert!(got.insert(text.clone()), "{text} arrived twice");
    }
    assert_eq!(&got, want);
    assert!(
        pull.recv_timeout(Duration::from_millis(100)).is_err(),
        "a message beyond those sent"
    );
}

/// Asserts that the server let go of every connection: its sessions end and the process's
/// descriptors come back to `baseline`.
fn assert_all_let_go(pull: &Socket, baseline: usize, lifetimes: usize) {
    let mut sessions = pull.session_count();
    assert!(
        eventually(|| {
            sessions = pull.session_count();
            sessions == 0
        }),
        "{sessions} of {lifetimes} sessions still held after every peer closed"
    );
    let mut fds = open_fds();
    assert!(
        eventually(|| {
            fds = open_fds();
            fds <= baseline
        }),
        "{} of {lifetimes} connections still open after every peer closed \
         ({fds} descriptors, {baseline} before)",
        fds.saturating_sub(baseline)
    );
}

/// RFC 23 §3: a ZMTP 3.0 greeting with the NULL mechanism, as a client, then READY for a
/// PUSH socket and one single-frame message.
fn zmtp_push_with_message(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
    let mut mechanism = [0u8; 20];
    mechanism[..4].copy_from_slice(b"NULL");
    out.extend_from_slice(&mechanism);
    out.push(0); // as-server
    out.extend_from_slice(&[0; 31]);
    let mut ready = vec![5];
    ready.extend_from_slice(b"READY");
    ready.push(11);
    ready.extend_from_slice(b"Socket-Type");
    ready.extend_from_slice(&4u32.to_be_bytes());
    ready.extend_from_slice(b"PUSH");
    out.extend_from_slice(&[0x04, ready.len() as u8]);
    out.extend_from_slice(&ready);
    out.extend_from_slice(&[0x00, body.len() as u8]);
    out.extend_from_slice(body);
    out
}

/// A peer whose whole conversation — greeting, READY, one message — and its end of stream
/// reach the server in one TCP segment, hence in one edge-triggered readiness event, after the
/// server has taken up the connection. The server must read past the message to the end of
/// stream, end the session and close: this client reads until it does.
#[test]
fn a_peer_that_sends_and_closes_in_one_segment_is_let_go() {
    const LIFETIMES: usize = 50;
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ctx = Context::new().unwrap();
    let (pull, endpoint) = bind_pull(&ctx);
    let addr = endpoint.trim_start_matches("tcp://");
    let baseline = open_fds();

    for i in 0..LIFETIMES {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        // The server's signature: it has accepted the connection and watches it.
        let mut signature = [0u8; 10];
        (&s).read_exact(&mut signature).unwrap();
        assert_eq!((signature[0], signature[9]), (0xFF, 0x7F));
        // Corked, the bytes wait in our socket; the shutdown sends them with the FIN.
        socket2::SockRef::from(&s).set_cork(true).unwrap();
        (&s).write_all(&zmtp_push_with_message(format!("raw-{i}").as_bytes()))
            .unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        let closed = (&s).read_to_end(&mut rest);
        assert!(
            closed.is_ok(),
            "lifetime {i}: the server never closed the connection ({closed:?})"
        );
    }

    recv_exactly(&pull, &(0..LIFETIMES).map(|i| format!("raw-{i}")).collect());
    assert_all_let_go(&pull, baseline, LIFETIMES);
}

/// Client lifetimes in all, for the libzmq churn.
const CLIENTS: usize = 400;
/// Client threads, each running its share of the lifetimes one after another.
const THREADS: usize = 8;

/// Whether client `i` sends its message before closing (three in four do).
fn sends(i: usize) -> bool {
    i % 4 != 3
}

/// One client lifetime: a libzmq PUSH connects to `endpoint`, sends `body` if given and
/// closes with LINGER 1 s. Its own context, terminated here, makes the lifetime end before
/// this returns: the message written (or the linger run out) and the stream closed.
fn push_once(endpoint: &str, body: Option<&str>) {
    let zctx = zmq::Context::new();
    let push = zctx.socket(zmq::PUSH).unwrap();
    push.set_linger(1000).unwrap();
    push.set_sndtimeo(WAIT.as_millis() as i32).unwrap();
    push.connect(endpoint).unwrap();
    if let Some(body) = body {
        push.send(body.as_bytes(), 0).unwrap();
    }
    drop(push);
    drop(zctx);
}

/// libzmq PUSH clients, [`THREADS`] at a time, each connecting, sending one message (or, one
/// in four, nothing) and closing with LINGER 1 s, as short-lived processes would.
#[test]
fn pull_lets_go_of_every_libzmq_push_client_that_sent_and_closed() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ctx = Context::new().unwrap();
    let (pull, endpoint) = bind_pull(&ctx);
    let baseline = open_fds();

    let clients: Vec<_> = (0..THREADS)
        .map(|t| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                for i in (t..CLIENTS).step_by(THREADS) {
                    let body = format!("zmq-{i}");
                    push_once(&endpoint, sends(i).then_some(body.as_str()));
                }
            })
        })
        .collect();
    let want: BTreeSet<String> = (0..CLIENTS)
        .filter(|&i| sends(i))
        .map(|i| format!("zmq-{i}"))
        .collect();
    recv_exactly(&pull, &want);
    for c in clients {
        c.join().unwrap();
    }

    assert_all_let_go(&pull, baseline, CLIENTS);
}
