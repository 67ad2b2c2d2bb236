//! inproc and context termination.

use super::*;
use crate::message::Message;
use crate::options::SocketOption;
use crate::socket::{RecvError, SendErrorKind};
use crate::tree::Linger;
use bytes::Bytes;
use std::time::Duration;

const NOW: Instant = Instant::ZERO;

fn ctx_with(kinds: &[SocketType]) -> (Context, Vec<SocketId>) {
    let mut ctx = Context::new();
    let ids = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| ctx.socket(*k, BaseConfig::default(), i as u64).unwrap())
        .collect();
    (ctx, ids)
}

fn text(m: &Message) -> Vec<String> {
    m.frames()
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

#[test]
fn inproc_bind_then_connect_exchanges_multipart_both_ways() {
    let (mut ctx, ids) = ctx_with(&[SocketType::Pair, SocketType::Pair]);
    let (a, b) = (ids[0], ids[1]);
    ctx.get_mut(a).unwrap().bind("inproc://pair", NOW).unwrap();
    ctx.get_mut(b)
        .unwrap()
        .connect("inproc://pair", NOW)
        .unwrap();
    ctx.pump(NOW);
    assert_eq!(ctx.get(a).unwrap().last_endpoint(), Some("inproc://pair"));
    let s = ctx.get_mut(b).unwrap();
    s.send(Message::from_frames(["x", "y"]), NOW).unwrap();
    ctx.pump(NOW);
    assert_eq!(
        text(&ctx.get_mut(a).unwrap().recv(NOW).unwrap()),
        ["x", "y"]
    );
    ctx.get_mut(a)
        .unwrap()
        .send(Message::from("back"), NOW)
        .unwrap();
    ctx.pump(NOW);
    assert_eq!(text(&ctx.get_mut(b).unwrap().recv(NOW).unwrap()), ["back"]);
}

#[test]
fn inproc_connect_before_bind_queues_until_the_bind() {
    let (mut ctx, ids) = ctx_with(&[SocketType::Push, SocketType::Pull]);
    let (push, pull) = (ids[0], ids[1]);
    ctx.get_mut(push)
        .unwrap()
        .connect("inproc://later", NOW)
        .unwrap();
    for i in 0..3 {
        let m = Message::single(format!("{i}").into_bytes());
        ctx.get_mut(push).unwrap().send(m, NOW).unwrap();
    }
    ctx.pump(NOW);
    ctx.get_mut(pull)
        .unwrap()
        .bind("inproc://later", NOW)
        .unwrap();
    ctx.pump(NOW);
    let got: Vec<Vec<String>> = (0..3)
        .map(|_| text(&ctx.get_mut(pull).unwrap().recv(NOW).unwrap()))
        .collect();
    assert_eq!(got, [["0"], ["1"], ["2"]]);
}

#[test]
fn inproc_exchanges_routing_ids() {
    let (mut ctx, ids) = ctx_with(&[SocketType::Router, SocketType::Dealer]);
    let (router, dealer) = (ids[0], ids[1]);
    ctx.get_mut(dealer)
        .unwrap()
        .socket_mut()
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"worker-7")))
        .unwrap();
    ctx.get_mut(router)
        .unwrap()
        .bind("inproc://rr", NOW)
        .unwrap();
    ctx.get_mut(dealer)
        .unwrap()
        .connect("inproc://rr", NOW)
        .unwrap();
    ctx.pump(NOW);
    ctx.get_mut(dealer)
        .unwrap()
        .send(Message::from("hi"), NOW)
        .unwrap();
    ctx.pump(NOW);
    let got = ctx.get_mut(router).unwrap().recv(NOW).unwrap();
    assert_eq!(text(&got), ["worker-7", "hi"]);
    ctx.get_mut(router)
        .unwrap()
        .send(Message::from_frames(["worker-7", "reply"]), NOW)
        .unwrap();
    ctx.pump(NOW);
    assert_eq!(
        text(&ctx.get_mut(dealer).unwrap().recv(NOW).unwrap()),
        ["reply"]
    );
}

#[test]
fn inproc_hwm_is_the_sum_of_both_sides() {
    let (mut ctx, ids) = ctx_with(&[SocketType::Push, SocketType::Pull]);
    let (push, pull) = (ids[0], ids[1]);
    let s = ctx.get_mut(push).unwrap();
    s.socket_mut().set_option(SocketOption::SndHwm(3)).unwrap();
    let r = ctx.get_mut(pull).unwrap();
    r.socket_mut().set_option(SocketOption::RcvHwm(5)).unwrap();
    ctx.get_mut(pull)
        .unwrap()
        .bind("inproc://hwm", NOW)
        .unwrap();
    ctx.get_mut(push)
        .unwrap()
        .connect("inproc://hwm", NOW)
        .unwrap();
    ctx.pump(NOW);
    let mut accepted = 0;
    loop {
        let r = ctx.get_mut(push).unwrap().send(Message::from("m"), NOW);
        ctx.pump(NOW);
        match r {
            Ok(()) => accepted += 1,
            Err(e) => {
                assert_eq!(e.kind, SendErrorKind::WouldBlock);
                break;
            }
        }
        assert!(accepted < 100, "no back-pressure");
    }
    assert_eq!(accepted, 3 + 5);
    // Reading makes room again end to end.
    for _ in 0..5 {
        ctx.get_mut(pull).unwrap().recv(NOW).unwrap();
    }
    ctx.pump(NOW);
    assert!(ctx
        .get_mut(push)
        .unwrap()
        .send(Message::from("m"), NOW)
        .is_ok());
}

#[test]
fn binding_a_taken_inproc_name_fails() {
    let (mut ctx, ids) = ctx_with(&[SocketType::Pull, SocketType::Pull]);
    ctx.get_mut(ids[0])
        .unwrap()
        .bind("inproc://x", NOW)
        .unwrap();
    ctx.get_mut(ids[1])
        .unwrap()
        .bind("inproc://x", NOW)
        .unwrap();
    ctx.pump(NOW);
    assert_eq!(ctx.get(ids[1]).unwrap().last_endpoint(), None);
    // As libzmq, whose inproc bind fails with EADDRINUSE and reports nothing to the
    // monitor (its drivers that bind synchronously return the error, as oxmq-mio does).
    assert_eq!(ctx.get_mut(ids[1]).unwrap().poll_monitor(), None);
    assert_eq!(ctx.get_mut(ids[0]).unwrap().poll_monitor(), None);
}

#[test]
fn closing_the_binder_ends_the_connectors_session() {
    let (mut ctx, ids) = ctx_with(&[SocketType::Pair, SocketType::Pair]);
    let (a, b) = (ids[0], ids[1]);
    ctx.get_mut(a).unwrap().bind("inproc://gone", NOW).unwrap();
    ctx.get_mut(b)
        .unwrap()
        .connect("inproc://gone", NOW)
        .unwrap();
    ctx.pump(NOW);
    ctx.get_mut(a).unwrap().close(NOW);
    ctx.pump(NOW);
    assert!(ctx.get(a).unwrap().is_closed());
    let r = ctx.get_mut(b).unwrap().send(Message::from("x"), NOW);
    assert_eq!(
        r.unwrap_err().kind,
        SendErrorKind::WouldBlock,
        "no peer left"
    );
}

#[test]
fn terminate_closes_every_socket_and_later_calls_fail_with_terminated() {
    let mut ctx = Context::new();
    let cfg = BaseConfig {
        linger: Linger::For(Duration::ZERO),
        ..BaseConfig::default()
    };
    let a = ctx.socket(SocketType::Push, cfg.clone(), 1).unwrap();
    let b = ctx.socket(SocketType::Pull, cfg, 2).unwrap();
    ctx.get_mut(b).unwrap().bind("inproc://t", NOW).unwrap();
    ctx.get_mut(a).unwrap().connect("inproc://t", NOW).unwrap();
    ctx.get_mut(a)
        .unwrap()
        .connect("tcp://127.0.0.1:9", NOW)
        .unwrap();
    ctx.pump(NOW);
    assert!(matches!(ctx.poll_action(), Some((_, Action::Dial { .. }))));
    ctx.terminate(NOW);
    assert!(ctx.is_terminated());
    let err = ctx
        .get_mut(a)
        .unwrap()
        .send(Message::from("x"), NOW)
        .unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Terminated);
    assert_eq!(
        ctx.get_mut(b).unwrap().recv(NOW),
        Err(RecvError::Terminated)
    );
    assert_eq!(
        ctx.socket(SocketType::Pair, BaseConfig::default(), 3),
        Err(SocketError::Terminated)
    );
    assert!(ctx.reap(a) && ctx.reap(b));
}

#[test]
fn terminate_ends_connects_whose_bind_can_no_longer_come() {
    // A fuzzer's find (the C API's `zmq_ctx_term` hung): a message queued for an inproc name
    // nobody bound, LINGER forever. Closing the socket keeps it (a bind may still come, see
    // `terminate_waits_for_linger_while_inproc_messages_are_unread`), but termination cannot
    // wait for a bind that can no longer happen; libzmq's `zmq_ctx_term` returns at once here
    // too.
    for disconnect in [false, true] {
        let (mut ctx, ids) = ctx_with(&[SocketType::XSub, SocketType::Push]);
        for &id in &ids {
            let s = ctx.get_mut(id).unwrap();
            s.connect("inproc://never", NOW).unwrap();
            s.send(Message::from("m"), NOW).unwrap();
        }
        if disconnect {
            ctx.get_mut(ids[0])
                .unwrap()
                .disconnect("inproc://never", NOW)
                .unwrap();
        }
        ctx.get_mut(ids[0]).unwrap().close(NOW);
        ctx.pump(NOW);
        assert!(
            !ctx.get(ids[0]).unwrap().is_closed(),
            "lingering for a bind"
        );
        ctx.terminate(NOW);
        assert!(ctx.is_terminated(), "disconnect {disconnect}");
    }
}

#[test]
fn a_connect_disconnected_before_its_bind_still_hands_over_what_it_sent() {
    // As libzmq: what was sent before `zmq_disconnect` stays for the peer as LINGER allows,
    // even when the peer binds only afterwards. A fuzzer found the old way out: the bind
    // found the pipe let go of, the link was dropped with the message, and its linger
    // (forever) held the context's termination up.
    for kind in [SocketType::Pair, SocketType::Push, SocketType::Dealer] {
        let (mut ctx, ids) = ctx_with(&[kind, SocketType::Pair]);
        let (a, b) = (ids[0], ids[1]);
        let s = ctx.get_mut(a).unwrap();
        s.connect("inproc://late", NOW).unwrap();
        s.send(Message::from("before"), NOW).unwrap();
        s.disconnect("inproc://late", NOW).unwrap();
        ctx.pump(NOW);
        ctx.get_mut(b).unwrap().bind("inproc://late", NOW).unwrap();
        ctx.pump(NOW);
        let got = ctx.get_mut(b).unwrap().recv(NOW).unwrap();
        assert_eq!(text(&got), ["before"], "{kind:?}");
        assert_eq!(
            ctx.get_mut(b).unwrap().recv(NOW),
            Err(RecvError::WouldBlock)
        );
        ctx.terminate(NOW);
        assert!(ctx.is_terminated(), "{kind:?}");
    }
}

#[test]
fn terminate_waits_for_linger_while_inproc_messages_are_unread() {
    let (mut ctx, ids) = ctx_with(&[SocketType::Push, SocketType::Pull]);
    let (push, pull) = (ids[0], ids[1]);
    ctx.get_mut(push)
        .unwrap()
        .connect("inproc://slow", NOW)
        .unwrap();
    ctx.get_mut(push)
        .unwrap()
        .send(Message::from("m"), NOW)
        .unwrap();
    ctx.pump(NOW);
    // Nobody bound: the message waits, and linger is forever.
    ctx.get_mut(push).unwrap().close(NOW);
    ctx.pump(NOW);
    assert!(!ctx.get(push).unwrap().is_closed());
    ctx.get_mut(pull)
        .unwrap()
        .bind("inproc://slow", NOW)
        .unwrap();
    ctx.pump(NOW);
    assert!(
        ctx.get(push).unwrap().is_closed(),
        "flushed to the late binder, then closed"
    );
    assert_eq!(text(&ctx.get_mut(pull).unwrap().recv(NOW).unwrap()), ["m"]);
}
