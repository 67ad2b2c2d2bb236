//! A signal handler that runs on a thread blocked in `zmq_recv`, `zmq_send`, `zmq_poll` or
//! `zmq_ctx_term` ends the call with `EINTR`, as in libzmq, and the socket (or the
//! termination, called again) goes on as before. (pyzmq
//! relies on it: it runs Python's handlers, Ctrl-C's `KeyboardInterrupt` among them, when a
//! call returns `EINTR`.)
//!
//! Each test blocks a thread in a call and signals that thread until the call returns
//! ([`signalled`]).

use std::ffi::{c_int, c_void};

use oxmq_tests::signals::signalled;
use oxmq_zmq::*;

const PULL: c_int = 7;
const PUSH: c_int = 8;
const ZMQ_LINGER: c_int = 17;
const ZMQ_LAST_ENDPOINT: c_int = 32;
const ZMQ_SNDMORE: c_int = 2;
const ZMQ_POLLIN: i16 = 1;

/// A raw pointer that may cross to the thread that blocks on it.
#[derive(Clone, Copy)]
struct P(*mut c_void);
// SAFETY: libzmq's sockets may move between threads (one at a time), as here.
unsafe impl Send for P {}

/// Runs `call` on a thread of its own, signals that thread until the call returns, and
/// gives back the call's result and errno.
fn interrupted(call: impl FnOnce() -> c_int + Send + 'static) -> (c_int, c_int) {
    signalled(2000, move || {
        let rc = call();
        (rc, zmq_errno())
    })
}

fn set_int(s: *mut c_void, opt: c_int, v: c_int) {
    let rc = zmq_setsockopt(
        s,
        opt,
        (&v as *const c_int).cast(),
        std::mem::size_of::<c_int>(),
    );
    assert_eq!(rc, 0);
}

fn bind_any(s: *mut c_void) -> String {
    assert_eq!(zmq_bind(s, c"tcp://127.0.0.1:*".as_ptr()), 0);
    let mut buf = [0u8; 256];
    let mut len = buf.len();
    assert_eq!(
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, buf.as_mut_ptr().cast(), &mut len),
        0
    );
    std::ffi::CStr::from_bytes_with_nul(&buf[..len])
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn connect(s: *mut c_void, endpoint: &str) {
    let c = std::ffi::CString::new(endpoint).unwrap();
    assert_eq!(zmq_connect(s, c.as_ptr()), 0);
}

fn send(s: *mut c_void, data: &[u8], flags: c_int) -> c_int {
    zmq_send(s, data.as_ptr().cast(), data.len(), flags)
}

fn recv(s: *mut c_void) -> Vec<u8> {
    let mut buf = vec![0u8; 64];
    let n = zmq_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0);
    assert!(n >= 0, "recv failed: errno {}", zmq_errno());
    buf.truncate(n as usize);
    buf
}

fn close(s: *mut c_void) {
    set_int(s, ZMQ_LINGER, 0);
    assert_eq!(zmq_close(s), 0);
}

#[test]
fn a_signal_ends_a_blocked_recv_with_eintr_and_the_socket_still_receives() {
    let ctx = zmq_ctx_new();
    let pull = zmq_socket(ctx, PULL);
    let endpoint = bind_any(pull);
    let p = P(pull);
    let (rc, errno) = interrupted(move || {
        let p = p;
        let mut buf = [0u8; 16];
        zmq_recv(p.0, buf.as_mut_ptr().cast(), buf.len(), 0)
    });
    assert_eq!((rc, errno), (-1, libc::EINTR));

    let push = zmq_socket(ctx, PUSH);
    connect(push, &endpoint);
    assert_eq!(send(push, b"after", 0), 5);
    assert_eq!(recv(pull), b"after");
    close(push);
    close(pull);
    assert_eq!(zmq_ctx_term(ctx), 0);
}

/// A PUSH with no peer blocks on the first frame of a message (`more`: a multi-frame one,
/// which waits where it starts); interrupted, it sends the message whole once a peer is
/// there.
fn interrupted_send(more: bool) {
    let ctx = zmq_ctx_new();
    let push = zmq_socket(ctx, PUSH);
    let p = P(push);
    let flags = if more { ZMQ_SNDMORE } else { 0 };
    let (rc, errno) = interrupted(move || {
        let p = p;
        send(p.0, b"first", flags)
    });
    assert_eq!((rc, errno), (-1, libc::EINTR));

    let pull = zmq_socket(ctx, PULL);
    let endpoint = bind_any(pull);
    connect(push, &endpoint);
    assert_eq!(send(push, b"first", flags), 5);
    if more {
        assert_eq!(send(push, b"last", 0), 4);
    }
    assert_eq!(send(push, b"next", 0), 4);
    let mut got = vec![recv(pull)];
    if more {
        got.push(recv(pull));
    }
    got.push(recv(pull));
    let mut want: Vec<&[u8]> = vec![b"first"];
    if more {
        want.push(b"last");
    }
    want.push(b"next");
    assert_eq!(got, want);
    close(push);
    close(pull);
    assert_eq!(zmq_ctx_term(ctx), 0);
}

#[test]
fn a_signal_ends_a_blocked_send_with_eintr_and_the_socket_still_sends() {
    interrupted_send(false);
}

#[test]
fn a_signal_ends_a_blocked_first_frame_with_eintr_and_the_message_goes_whole_later() {
    interrupted_send(true);
}

#[test]
fn a_signal_ends_a_blocked_poll_with_eintr() {
    let ctx = zmq_ctx_new();
    let pull = zmq_socket(ctx, PULL);
    bind_any(pull);
    let p = P(pull);
    let (rc, errno) = interrupted(move || {
        let p = p;
        let mut items = [zmq_pollitem_t {
            socket: p.0,
            fd: 0,
            events: ZMQ_POLLIN,
            revents: 0,
        }];
        zmq_poll(items.as_mut_ptr(), 1, -1)
    });
    assert_eq!((rc, errno), (-1, libc::EINTR));
    close(pull);
    assert_eq!(zmq_ctx_term(ctx), 0);
}

#[test]
fn a_signal_ends_a_poll_over_no_items_with_eintr() {
    let (rc, errno) = interrupted(|| zmq_poll(std::ptr::null_mut(), 0, -1));
    assert_eq!((rc, errno), (-1, libc::EINTR));
}

#[test]
fn a_signal_ends_a_term_waiting_for_an_open_socket_and_a_later_term_finishes() {
    let ctx = zmq_ctx_new();
    let pull = zmq_socket(ctx, PULL);
    bind_any(pull);
    let c = P(ctx);
    let (rc, errno) = interrupted(move || {
        let c = c;
        zmq_ctx_term(c.0)
    });
    assert_eq!((rc, errno), (-1, libc::EINTR));
    // Terminated all the same: the socket's calls fail with ETERM.
    let mut buf = [0u8; 4];
    assert_eq!(zmq_recv(pull, buf.as_mut_ptr().cast(), buf.len(), 0), -1);
    assert_eq!(zmq_errno(), ETERM);
    assert_eq!(zmq_close(pull), 0);
    assert_eq!(zmq_ctx_term(ctx), 0);
}

#[test]
fn a_signal_ends_a_term_waiting_for_a_linger_and_a_later_term_finishes() {
    // An address with no listener (yet): a port taken and let go again.
    let probe_ctx = zmq_ctx_new();
    let probe = zmq_socket(probe_ctx, PULL);
    let endpoint = bind_any(probe);
    close(probe);
    assert_eq!(zmq_ctx_term(probe_ctx), 0);

    let ctx = zmq_ctx_new();
    let push = zmq_socket(ctx, PUSH);
    connect(push, &endpoint);
    assert_eq!(send(push, b"kept", 0), 4);
    // LINGER stays at its default, forever: term waits until the message is out.
    assert_eq!(zmq_close(push), 0);
    let c = P(ctx);
    let (rc, errno) = interrupted(move || {
        let c = c;
        zmq_ctx_term(c.0)
    });
    assert_eq!((rc, errno), (-1, libc::EINTR));

    // A listener comes; the lingering socket delivers, and a term again finishes.
    let other = zmq_ctx_new();
    let pull = zmq_socket(other, PULL);
    let c = std::ffi::CString::new(endpoint).unwrap();
    assert_eq!(zmq_bind(pull, c.as_ptr()), 0);
    assert_eq!(zmq_ctx_term(ctx), 0);
    assert_eq!(recv(pull), b"kept");
    close(pull);
    assert_eq!(zmq_ctx_term(other), 0);
}
