//! The interop matrix against libzmq (the `zmq` crate's 4.3, built from source): every
//! compatible pair of socket types, with oxmq on either side, oxmq binding or connecting,
//! over tcp and ipc, on each front-end. Each cell carries multipart messages with an empty
//! frame, a frame over 255 bytes and one over 1 MiB, both ways where the pattern allows,
//! subscriptions both ways, with heartbeats on. The test prints the matrix
//! (`cargo test -p oxmq-tests --test interop_matrix -- --nocapture`) and fails if any cell does.
//!
//! Besides the matrix: a reconnect after the libzmq side restarts, and a ZMTP 3.0 peer that
//! gets its subscriptions as messages (the downgrade of RFC 29).

use std::io::{Read, Write};
use std::time::Duration;

use bytes::Bytes;
use oxmq_core::{Message, SocketOption, SocketType};
use oxmq_tests::front::{Front, Mio, Sock, Tokio, WAIT};

const HEARTBEAT_MS: i32 = 100;

/// One side of a cell: ours, or libzmq's.
enum End {
    Ours(Box<dyn Sock>),
    Lib(zmq::Socket),
}

fn lib_kind(k: SocketType) -> zmq::SocketType {
    match k {
        SocketType::Req => zmq::REQ,
        SocketType::Rep => zmq::REP,
        SocketType::Dealer => zmq::DEALER,
        SocketType::Router => zmq::ROUTER,
        SocketType::Pub => zmq::PUB,
        SocketType::Sub => zmq::SUB,
        SocketType::XPub => zmq::XPUB,
        SocketType::XSub => zmq::XSUB,
        SocketType::Push => zmq::PUSH,
        SocketType::Pull => zmq::PULL,
        SocketType::Pair => zmq::PAIR,
        other => panic!("{other:?} is not in the matrix"),
    }
}

impl End {
    fn ours(front: &dyn Front, kind: SocketType) -> End {
        let s = front.socket(kind);
        s.set(SocketOption::HeartbeatIvl(HEARTBEAT_MS)).unwrap();
        End::Ours(s)
    }

    fn lib(ctx: &zmq::Context, kind: SocketType) -> End {
        let s = ctx.socket(lib_kind(kind)).unwrap();
        let ms = WAIT.as_millis() as i32;
        s.set_linger(0).unwrap();
        s.set_rcvtimeo(ms).unwrap();
        s.set_sndtimeo(ms).unwrap();
        s.set_heartbeat_ivl(HEARTBEAT_MS).unwrap();
        End::Lib(s)
    }

    fn bind(&self, ep: &str) -> Result<String, String> {
        match self {
            End::Ours(s) => s.bind(ep).map_err(String::from),
            End::Lib(s) => {
                s.bind(ep).map_err(|e| e.to_string())?;
                Ok(s.get_last_endpoint().unwrap().unwrap())
            }
        }
    }

    fn connect(&self, ep: &str) -> Result<(), String> {
        match self {
            End::Ours(s) => s.connect(ep).map_err(String::from),
            End::Lib(s) => s.connect(ep).map_err(|e| e.to_string()),
        }
    }

    fn routing_id(&self, id: &str) {
        match self {
            End::Ours(s) => s
                .set(SocketOption::RoutingId(Bytes::copy_from_slice(
                    id.as_bytes(),
                )))
                .unwrap(),
            End::Lib(s) => s.set_identity(id.as_bytes()).unwrap(),
        }
    }

    fn router_mandatory(&self) {
        match self {
            End::Ours(s) => s.set(SocketOption::RouterMandatory(true)).unwrap(),
            End::Lib(s) => s.set_router_mandatory(true).unwrap(),
        }
    }

    fn subscribe(&self, topic: &[u8]) -> Result<(), String> {
        match self {
            End::Ours(s) => s.subscribe(topic).map_err(String::from),
            End::Lib(s) => s.set_subscribe(topic).map_err(|e| e.to_string()),
        }
    }

    /// Lets a libzmq socket process its commands (attach pipes), as any call on it does.
    fn poke(&self) {
        if let End::Lib(s) = self {
            let _ = s.get_events();
        }
    }

    fn send(&self, frames: &[Vec<u8>]) -> Result<(), String> {
        match self {
            End::Ours(s) => s
                .send(Message::from_frames(frames.to_vec()))
                .map_err(String::from),
            End::Lib(s) => s.send_multipart(frames, 0).map_err(|e| e.to_string()),
        }
    }

    fn recv(&self) -> Result<Vec<Vec<u8>>, String> {
        match self {
            End::Ours(s) => Ok(s.recv()?.frames().iter().map(|f| f.to_vec()).collect()),
            End::Lib(s) => s.recv_multipart(0).map_err(|e| e.to_string()),
        }
    }

    /// A message within `t`, if any.
    fn recv_within(&self, t: Duration) -> Result<Option<Vec<Vec<u8>>>, String> {
        match self {
            End::Ours(s) => Ok(s
                .recv_within(t)?
                .map(|m| m.frames().iter().map(|f| f.to_vec()).collect())),
            End::Lib(s) => {
                if s.poll(zmq::POLLIN, t.as_millis() as i64)
                    .map_err(|e| e.to_string())?
                    == 0
                {
                    return Ok(None);
                }
                s.recv_multipart(0).map(Some).map_err(|e| e.to_string())
            }
        }
    }
}

/// A multipart body: a word, an empty frame, 300 bytes, and (with `big`) 1 MiB + 1.
fn body(word: &str, big: bool) -> Vec<Vec<u8>> {
    let mut f = vec![word.as_bytes().to_vec(), Vec::new(), vec![0xa5; 300]];
    if big {
        f.push((0..(1 << 20) + 1).map(|i| (i % 251) as u8).collect());
    }
    f
}

fn expect(got: Vec<Vec<u8>>, want: &[Vec<u8>], what: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        let sizes = |v: &[Vec<u8>]| v.iter().map(Vec::len).collect::<Vec<_>>();
        Err(format!(
            "{what}: got frames of sizes {:?}, wanted {:?}",
            sizes(&got),
            sizes(want)
        ))
    }
}

fn cat(a: &[Vec<u8>], b: &[Vec<u8>]) -> Vec<Vec<u8>> {
    a.iter().chain(b).cloned().collect()
}

/// Runs one pattern between `a` (of the pair's first type) and `b`, already joined.
fn exchange(kinds: (SocketType, SocketType), a: &End, b: &End) -> Result<(), String> {
    use SocketType::*;
    let request = body("request", true);
    let reply = body("reply", false);
    match kinds {
        (Req, Rep) => {
            a.send(&request)?;
            expect(b.recv()?, &request, "REP got")?;
            b.send(&reply)?;
            expect(a.recv()?, &reply, "REQ got")
        }
        (Req, Router) => {
            a.send(&request)?;
            let got = b.recv()?;
            let id = got.first().cloned().ok_or("no routing id")?;
            expect(got, &cat(&[id.clone(), Vec::new()], &request), "ROUTER got")?;
            b.send(&cat(&[id, Vec::new()], &reply))?;
            expect(a.recv()?, &reply, "REQ got")
        }
        (Dealer, Rep) => {
            a.send(&cat(&[Vec::new()], &request))?;
            expect(b.recv()?, &request, "REP got")?;
            b.send(&reply)?;
            expect(a.recv()?, &cat(&[Vec::new()], &reply), "DEALER got")
        }
        (Dealer, Router) => {
            a.send(&request)?;
            let got = b.recv()?;
            let id = got.first().cloned().ok_or("no routing id")?;
            expect(got, &cat(std::slice::from_ref(&id), &request), "ROUTER got")?;
            b.send(&cat(&[id], &reply))?;
            expect(a.recv()?, &reply, "DEALER got")
        }
        (Router, Router) => {
            // `b` carries the routing id "b-side" (set before joining); `a` sends to it once
            // the handshake has made it known (ROUTER_MANDATORY says when).
            let to_b = |f: &[Vec<u8>]| cat(&[b"b-side".to_vec()], f);
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                match a.send(&to_b(&request)) {
                    Ok(()) => break,
                    Err(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => return Err(format!("never routable: {e}")),
                }
            }
            let got = b.recv()?;
            let id = got.first().cloned().ok_or("no routing id")?;
            expect(
                got,
                &cat(std::slice::from_ref(&id), &request),
                "ROUTER b got",
            )?;
            b.send(&cat(&[id], &reply))?;
            expect(a.recv()?, &to_b(&reply), "ROUTER a got")
        }
        (Pub, Sub) | (XPub, Sub) | (Pub, XSub) | (XPub, XSub) => {
            if kinds.1 == XSub {
                b.send(&[b"\x01weather".to_vec()])?;
            } else {
                b.subscribe(b"weather")?;
            }
            if kinds.0 == XPub {
                // The subscription itself reaches an XPUB. A libzmq socket attaches a pipe
                // that its I/O thread accepted only when the application next calls it, and
                // sends its subscriptions then: keep calling it (ZMQ_EVENTS) meanwhile.
                let deadline = std::time::Instant::now() + WAIT;
                loop {
                    b.poke();
                    if let Some(got) = a.recv_within(Duration::from_millis(20))? {
                        expect(got, &[b"\x01weather".to_vec()], "XPUB got")?;
                        break;
                    }
                    if std::time::Instant::now() > deadline {
                        return Err("no subscription reached the XPUB".into());
                    }
                }
            }
            // A publisher cannot know when a SUB's filter is in place (PUB): publish until
            // one arrives; what does not match must never arrive.
            let wanted = cat(&[b"weather".to_vec()], &request);
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                a.send(&[b"traffic".to_vec(), b"jam".to_vec()])?;
                a.send(&wanted)?;
                if let Some(got) = b.recv_within(Duration::from_millis(20))? {
                    return expect(got, &wanted, "subscriber got");
                }
                if std::time::Instant::now() > deadline {
                    return Err("no publication arrived".into());
                }
            }
        }
        (Push, Pull) => {
            a.send(&request)?;
            a.send(&reply)?;
            expect(b.recv()?, &request, "PULL got")?;
            expect(b.recv()?, &reply, "PULL got")
        }
        (Pair, Pair) => {
            a.send(&request)?;
            expect(b.recv()?, &request, "PAIR got")?;
            b.send(&reply)?;
            expect(a.recv()?, &reply, "PAIR got")
        }
        other => Err(format!("no scenario for {other:?}")),
    }
}

const PAIRS: [(SocketType, SocketType); 11] = [
    (SocketType::Req, SocketType::Rep),
    (SocketType::Req, SocketType::Router),
    (SocketType::Dealer, SocketType::Rep),
    (SocketType::Dealer, SocketType::Router),
    (SocketType::Router, SocketType::Router),
    (SocketType::Pub, SocketType::Sub),
    (SocketType::XPub, SocketType::XSub),
    (SocketType::Pub, SocketType::XSub),
    (SocketType::XPub, SocketType::Sub),
    (SocketType::Push, SocketType::Pull),
    (SocketType::Pair, SocketType::Pair),
];

/// One cell: `ours_first` puts oxmq on the pair's first type; `ours_binds` makes oxmq bind.
fn cell(
    front: &dyn Front,
    ctx: &zmq::Context,
    kinds: (SocketType, SocketType),
    ours_first: bool,
    ours_binds: bool,
    transport: &str,
    n: usize,
) -> Result<(), String> {
    let (a, b) = if ours_first {
        (End::ours(front, kinds.0), End::lib(ctx, kinds.1))
    } else {
        (End::lib(ctx, kinds.0), End::ours(front, kinds.1))
    };
    if kinds == (SocketType::Router, SocketType::Router) {
        b.routing_id("b-side");
        a.router_mandatory();
    }
    let ep = match transport {
        "tcp" => "tcp://127.0.0.1:*".to_owned(),
        _ => format!(
            "ipc://{}/oxmq-matrix-{}-{n}.ipc",
            std::env::temp_dir().display(),
            std::process::id()
        ),
    };
    // oxmq binds: whichever end is ours binds, the other connects.
    let a_is_ours = ours_first;
    let (binder, connecter) = if a_is_ours == ours_binds {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let bound = binder.bind(&ep)?;
    connecter.connect(&bound)?;
    exchange(kinds, &a, &b)
}

fn name(k: SocketType) -> String {
    format!("{k:?}").to_uppercase()
}

#[test]
fn matrix() {
    let fronts: Vec<Box<dyn Front>> = vec![Box::new(Mio::new()), Box::new(Tokio::new())];
    let ctx = zmq::Context::new();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut n = 0;
    for front in &fronts {
        for kinds in PAIRS {
            for ours_first in [true, false] {
                for ours_binds in [true, false] {
                    for transport in ["tcp", "ipc"] {
                        n += 1;
                        let (ox, lib) = if ours_first {
                            (name(kinds.0), name(kinds.1))
                        } else {
                            (name(kinds.1), name(kinds.0))
                        };
                        let label = format!(
                            "{:<6} oxmq {:<6} × libzmq {:<6} {:<3} oxmq {}",
                            front.name(),
                            ox,
                            lib,
                            transport,
                            if ours_binds { "binds   " } else { "connects" }
                        );
                        let r = cell(
                            front.as_ref(),
                            &ctx,
                            kinds,
                            ours_first,
                            ours_binds,
                            transport,
                            n,
                        );
                        rows.push(format!(
                            "{label}  {}",
                            if r.is_ok() { "pass" } else { "FAIL" }
                        ));
                        if let Err(e) = r {
                            failures.push(format!("{label}: {e}"));
                        }
                    }
                }
            }
        }
    }
    println!("front  oxmq side     libzmq side   transport / role        result");
    for r in &rows {
        println!("{r}");
    }
    println!(
        "{} cells, {} passed, {} failed",
        rows.len(),
        rows.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "failed cells:\n{}",
        failures.join("\n")
    );
}

/// The libzmq side restarts (closes and binds again at the same address): oxmq's connect
/// reconnects and traffic resumes.
#[test]
fn reconnect_after_the_libzmq_side_restarts() {
    let fronts: Vec<Box<dyn Front>> = vec![Box::new(Mio::new()), Box::new(Tokio::new())];
    for front in fronts {
        let front = front.as_ref();
        let ctx = zmq::Context::new();
        let first = End::lib(&ctx, SocketType::Pull);
        let ep = first.bind("tcp://127.0.0.1:*").unwrap();
        let push = End::ours(front, SocketType::Push);
        push.connect(&ep).unwrap();
        push.send(&[b"before".to_vec()]).unwrap();
        assert_eq!(first.recv().unwrap(), [b"before".to_vec()]);
        drop(first);
        // libzmq closes its listener in the background: bind again once the port is free.
        let second = End::lib(&ctx, SocketType::Pull);
        let deadline = std::time::Instant::now() + WAIT;
        while let Err(e) = second.bind(&ep) {
            assert!(
                std::time::Instant::now() < deadline,
                "cannot bind again: {e}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // What was sent while the old connection was being torn down may be lost (PUSH
        // promises no more); once the new one is up, messages flow again, in order.
        let mut n = 0u32;
        let first_seen = loop {
            n += 1;
            push.send(&[n.to_be_bytes().to_vec()]).unwrap();
            if let Some(got) = second.recv_within(Duration::from_millis(20)).unwrap() {
                break u32::from_be_bytes(got[0][..].try_into().unwrap());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: no reconnect",
                front.name()
            );
        };
        for k in first_seen + 1..=n {
            assert_eq!(second.recv().unwrap(), [k.to_be_bytes().to_vec()]);
        }
    }
}

/// A ZMTP 3.0 peer (a raw socket writing a 3.0 greeting, as libzmq 4.1 would) subscribing
/// to an oxmq PUB: 3.0 has no SUBSCRIBE command, so its subscription is the message
/// `\x01topic`, and oxmq's publications must arrive filtered.
#[test]
fn a_zmtp_3_0_subscriber_gets_filtered_publications() {
    zmtp_3_0_subscriber(&Mio::new());
    zmtp_3_0_subscriber(&Tokio::new());
}

fn zmtp_3_0_subscriber(front: &dyn Front) {
    // No heartbeats here: the raw peer reads only what it expects.
    let publisher = End::Ours(front.socket(SocketType::Pub));
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let mut raw = std::net::TcpStream::connect(ep.trim_start_matches("tcp://")).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    // Greeting: signature, version 3.0, NULL, as-server 0, filler.
    let mut greeting = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0];
    greeting.extend_from_slice(b"NULL");
    greeting.resize(64, 0);
    raw.write_all(&greeting).unwrap();
    let mut theirs = [0u8; 64];
    raw.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[..10], &greeting[..10], "a ZMTP 3.x greeting back");
    // READY with Socket-Type SUB, as a command frame.
    let mut ready = b"\x05READY".to_vec();
    ready.extend_from_slice(b"\x0bSocket-Type\x00\x00\x00\x03SUB");
    let mut frame = vec![0x04, ready.len() as u8];
    frame.extend_from_slice(&ready);
    raw.write_all(&frame).unwrap();
    // The subscription as a 3.0 message frame: \x01weather.
    raw.write_all(b"\x00\x08\x01weather").unwrap();
    // Read the peer's READY (a command frame), then publications.
    let mut read_frame = || {
        let mut head = [0u8; 2];
        raw.read_exact(&mut head).unwrap();
        assert_eq!(head[0] & 0x02, 0, "short frames only here");
        let mut payload = vec![0u8; head[1] as usize];
        raw.read_exact(&mut payload).unwrap();
        (head[0], payload)
    };
    let (flags, ready) = read_frame();
    assert_eq!(flags & 0x04, 0x04, "a command");
    assert!(ready.starts_with(b"\x05READY"));
    // Publish until one arrives; the other topic must never arrive.
    let wanted = b"weather sunny".to_vec();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = std::sync::Arc::clone(&done);
    let publisher_thread = std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            publisher.send(&[b"traffic jam".to_vec()]).unwrap();
            publisher.send(std::slice::from_ref(&wanted)).unwrap();
            // Pacing, not synchronisation: the subscription takes a moment to apply.
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    for _ in 0..3 {
        let (flags, payload) = read_frame();
        assert_eq!(flags, 0, "a last message frame");
        assert_eq!(payload, b"weather sunny", "only the subscribed topic");
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(raw);
    publisher_thread.join().unwrap();
}
