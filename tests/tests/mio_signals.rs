//! A signal handler running on a thread blocked in a call: an interruptible context's call
//! ends with [`Error::Interrupted`] (the C API's `EINTR`), a default context's waits on.
//!
//! Each test blocks a thread in a call and signals that thread until the call returns
//! ([`signalled`]).

use std::time::Duration;

use oxmq_core::{Message, SocketType};
use oxmq_mio::{poll, Context, Error, PollItem, Socket, POLLIN};
use oxmq_tests::signals::signalled;

fn interruptible() -> Context {
    let ctx = Context::new().unwrap();
    ctx.set_interruptible(true);
    ctx
}

#[test]
fn an_interruptible_recv_ends_with_interrupted_and_the_socket_receives_after() {
    let ctx = interruptible();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").unwrap();
    let (pull, r) = signalled(2000, move || {
        let r = pull.recv();
        (pull, r)
    });
    assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
    let push = ctx.socket(SocketType::Push).unwrap();
    push.connect(&endpoint).unwrap();
    push.send("after").unwrap();
    assert_eq!(pull.recv().unwrap(), Message::from("after"));
}

#[test]
fn an_interruptible_send_hands_the_message_back() {
    let ctx = interruptible();
    let push = ctx.socket(SocketType::Push).unwrap();
    let (push, r) = signalled(2000, move || {
        let r = push.try_send_frame(oxmq_core::Frame::from(b"kept"), false, false);
        (push, r)
    });
    match r {
        Err((Error::Interrupted, back)) => assert_eq!(&back[..], b"kept"),
        other => panic!("{other:?}"),
    }
    drop(push);
}

#[test]
fn an_interruptible_poll_ends_with_interrupted() {
    let ctx = interruptible();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let (pull, r) = signalled(2000, move || {
        let r = poll(&mut [PollItem::new(&pull, POLLIN)], None);
        (pull, r)
    });
    assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
    drop(pull);
}

#[test]
fn a_default_context_waits_through_signals() {
    let ctx = Context::new().unwrap();
    let pull: Socket = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    // Signalled for as long as the wait lasts (a quarter of a second), it still times out.
    let r = signalled(usize::MAX, move || {
        pull.recv_timeout(Duration::from_millis(250))
    });
    assert!(matches!(r, Err(Error::WouldBlock)), "{r:?}");
}
