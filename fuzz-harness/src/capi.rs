//! The C API (`oxmq-capi`, libzmq's `zmq.h`) under arbitrary call sequences: sockets of any
//! type number made and closed, endpoints good and bad bound, connected, unbound and
//! disconnected, option numbers and value sizes of every kind set and read, messages sent,
//! received, copied, moved, closed and re-initialised, polls, and a context terminated at the
//! end. Whatever the sequence, every call must return (nothing blocks: sends and receives
//! are DONTWAIT, and LINGER is set back to 0 before each close and before each disconnect
//! of a tcp or ipc endpoint), a failure must set an errno, a null socket must give
//! `ENOTSOCK`, and no call may panic inside the library (the library catches panics at its
//! boundary and counts them; the count must stay 0).
//!
//! Why before a disconnect: it ends the connection with the LINGER of that moment, as
//! libzmq's does, and a connection to a tcp or ipc peer that never answers then holds
//! `zmq_ctx_term` up for all of it (libzmq's too: checked with the same sequence). An inproc
//! disconnect keeps the sequence's LINGER: no inproc link may hold the termination up.
//!
//! The choices come from a [`Choices`] source: the fuzzer's bytes ([`capi_calls`]), or a
//! seeded generator for the plain test that replays many sequences on every `cargo test`
//! ([`capi_seeded`]).

use std::ffi::{c_int, c_void, CString};

use oxmq_zmq::*;

/// With `OXMQ_CAPI_TRACE` set, each call is printed (to replay a fuzzer's find by eye).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("OXMQ_CAPI_TRACE").is_some())
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if tracing() {
            eprintln!($($arg)*);
        }
    };
}

/// Where a sequence's choices come from.
trait Choices {
    /// A number below `n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64;
    /// Up to `max` bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max as u64 + 1) as usize;
        (0..n).map(|_| self.below(256) as u8).collect()
    }
    /// Whether another call follows (the sequence ends when the source runs dry).
    fn another(&mut self) -> bool;
}

/// The fuzzer's input, a byte per choice (two where the range needs them); dry at its end.
struct Input<'a>(&'a [u8]);

impl Choices for Input<'_> {
    fn below(&mut self, n: u64) -> u64 {
        let wide = n > 256;
        let take = if wide { 2 } else { 1 };
        let (head, rest) = self.0.split_at(take.min(self.0.len()));
        self.0 = rest;
        let v = head.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        v % n
    }

    fn another(&mut self) -> bool {
        !self.0.is_empty()
    }
}

/// xorshift64*: a small deterministic generator, so that a failing seed replays.
struct Seeded {
    state: u64,
    left: usize,
}

impl Choices for Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }

    fn another(&mut self) -> bool {
        let more = self.left > 0;
        self.left = self.left.saturating_sub(1);
        more
    }
}

const ENDPOINTS: &[&str] = &[
    "inproc://seq-a",
    "inproc://seq-b",
    "tcp://127.0.0.1:*",
    "tcp://127.0.0.1:0",
    "tcp://localhost:1",
    "ipc://@oxmq-seq",
    "pgm://eth0;239.1.1.1:5555",
    "tcp://",
    "inproc://",
    "nonsense",
    "",
];

/// The most calls one input makes.
const MAX_STEPS: usize = 400;

/// The fuzz target `capi`: one call sequence read from `data`.
pub fn capi_calls(data: &[u8]) {
    run(&mut Input(data), MAX_STEPS);
}

/// The seeded form: `steps` calls drawn from `seed`.
pub fn capi_seeded(seed: u64, steps: usize) {
    run(
        &mut Seeded {
            state: seed | 1,
            left: steps,
        },
        steps,
    );
}

/// LINGER 0 on live socket `s`.
fn set_linger_zero(s: *mut c_void) {
    let zero: c_int = 0;
    // 17: ZMQ_LINGER.
    assert_eq!(zmq_setsockopt(s, 17, (&zero as *const c_int).cast(), 4), 0);
    trace!("zmq_setsockopt({s:?}, ZMQ_LINGER, 0)");
}

/// Closes `s` after setting LINGER back to 0: the sequence may have set any LINGER, and a
/// long one with messages queued makes `zmq_ctx_term` wait for it, as libzmq's does.
fn close_now(s: *mut c_void) {
    set_linger_zero(s);
    trace!("zmq_close({s:?})");
    assert_eq!(zmq_close(s), 0);
}

/// A failed call (`rc == -1`) must say why; with a null socket, libzmq's `ENOTSOCK`.
fn check(rc: c_int, socket: *mut c_void, call: &str) {
    if rc == -1 {
        let errno = zmq_errno();
        assert_ne!(errno, 0, "{call} failed without an errno");
        if socket.is_null() {
            assert_eq!(errno, libc::ENOTSOCK, "{call} on a null socket");
        }
    } else {
        assert!(rc >= 0, "{call} returned {rc}");
    }
}

fn run(c: &mut dyn Choices, steps: usize) {
    let panics_before = panics_caught();
    let ctx = zmq_ctx_new();
    assert!(!ctx.is_null());
    let mut sockets: Vec<*mut c_void> = Vec::new();
    let mut msgs: Vec<zmq_msg_t> = (0..4).map(|_| zmq_msg_t::uninit()).collect();
    for m in msgs.iter_mut() {
        assert_eq!(zmq_msg_init(m), 0);
    }
    for _ in 0..steps {
        if !c.another() {
            break;
        }
        let s = if sockets.is_empty() || c.below(8) == 0 {
            std::ptr::null_mut()
        } else {
            sockets[c.below(sockets.len() as u64) as usize]
        };
        let flags = c.below(4) as c_int; // DONTWAIT and SNDMORE in any mix
        match c.below(12) {
            0 if sockets.len() < 8 => {
                let kind = c.below(14) as c_int;
                let p = zmq_socket(ctx, kind);
                trace!("zmq_socket({kind}) = {p:?}");
                if p.is_null() {
                    assert_eq!(zmq_errno(), libc::EINVAL, "an unknown socket type");
                } else {
                    let zero: c_int = 0;
                    // 17: ZMQ_LINGER.
                    let rc = zmq_setsockopt(p, 17, (&zero as *const c_int).cast(), 4);
                    assert_eq!(rc, 0, "LINGER 0 on a new socket");
                    sockets.push(p);
                }
            }
            1 => {
                let ep = CString::new(ENDPOINTS[c.below(ENDPOINTS.len() as u64) as usize])
                    .expect("no NUL inside");
                let (rc, call) = match c.below(4) {
                    0 => (zmq_bind(s, ep.as_ptr()), "zmq_bind"),
                    1 => (zmq_connect(s, ep.as_ptr()), "zmq_connect"),
                    2 => (zmq_unbind(s, ep.as_ptr()), "zmq_unbind"),
                    _ => {
                        if !s.is_null() && !ep.as_bytes().starts_with(b"inproc") {
                            set_linger_zero(s);
                        }
                        (zmq_disconnect(s, ep.as_ptr()), "zmq_disconnect")
                    }
                };
                trace!("{call}({s:?}, {ep:?}) = {rc} errno {}", zmq_errno());
                check(rc, s, call);
            }
            2 => {
                let v = c.bytes(48);
                let option = c.below(120) as c_int;
                let rc = zmq_setsockopt(s, option, v.as_ptr().cast(), v.len());
                trace!("zmq_setsockopt({s:?}, {option}, {v:?}) = {rc}");
                check(rc, s, "zmq_setsockopt");
            }
            3 => {
                let mut buf = [0u8; 256];
                let mut len = c.below(257) as usize;
                let asked = len;
                let option = c.below(120) as c_int;
                let rc = zmq_getsockopt(s, option, buf.as_mut_ptr().cast(), &mut len);
                trace!("zmq_getsockopt({s:?}, {option}, {asked} bytes) = {rc}, {len} bytes");
                check(rc, s, "zmq_getsockopt");
                if rc == 0 {
                    assert!(
                        len <= asked,
                        "option {option}: wrote {len} of {asked} bytes"
                    );
                }
            }
            4 => {
                let v = c.bytes(40);
                let rc = zmq_send(s, v.as_ptr().cast(), v.len(), flags | ZMQ_DONTWAIT);
                trace!("zmq_send({s:?}, {} bytes, {flags}) = {rc}", v.len());
                check(rc, s, "zmq_send");
                if rc >= 0 {
                    assert_eq!(rc as usize, v.len(), "zmq_send returns the length sent");
                }
            }
            5 => {
                let mut buf = [0u8; 16];
                let len = c.below(17) as usize;
                let rc = zmq_recv(s, buf.as_mut_ptr().cast(), len, ZMQ_DONTWAIT);
                trace!("zmq_recv({s:?}, {len} bytes, ZMQ_DONTWAIT) = {rc}");
                check(rc, s, "zmq_recv");
            }
            6 => {
                let i = c.below(4) as usize;
                let rc = zmq_msg_send(&mut msgs[i], s, flags | ZMQ_DONTWAIT);
                trace!("zmq_msg_send(msg {i}, {s:?}, {flags}) = {rc}");
                check(rc, s, "zmq_msg_send");
            }
            7 => {
                let i = c.below(4) as usize;
                let rc = zmq_msg_recv(&mut msgs[i], s, ZMQ_DONTWAIT);
                trace!("zmq_msg_recv(msg {i}, {s:?}, ZMQ_DONTWAIT) = {rc}");
                check(rc, s, "zmq_msg_recv");
            }
            8 => {
                let (a, b) = (c.below(4) as usize, c.below(4) as usize);
                let pa: *mut zmq_msg_t = &mut msgs[a];
                let pb: *mut zmq_msg_t = &mut msgs[b];
                if c.below(2) == 0 {
                    let rc = zmq_msg_copy(pa, pb);
                    trace!("zmq_msg_copy(msg {a}, msg {b}) = {rc}");
                } else {
                    let rc = zmq_msg_move(pa, pb);
                    trace!("zmq_msg_move(msg {a}, msg {b}) = {rc}");
                }
                zmq_msg_gets(pa, c"Socket-Type".as_ptr());
                zmq_msg_get(pa, c.below(5) as c_int);
                let size = zmq_msg_size(pa);
                if size > 0 {
                    assert!(!zmq_msg_data(pa).is_null(), "a message with bytes has data");
                }
            }
            9 => {
                let i = c.below(4) as usize;
                assert_eq!(zmq_msg_close(&mut msgs[i]), 0);
                let size = c.below(100) as usize;
                trace!("zmq_msg_close(msg {i}); zmq_msg_init_size(msg {i}, {size})");
                assert_eq!(zmq_msg_init_size(&mut msgs[i], size), 0);
                assert_eq!(zmq_msg_size(&msgs[i]), size);
            }
            10 => {
                let mut items: Vec<zmq_pollitem_t> = sockets
                    .iter()
                    .map(|&p| zmq_pollitem_t {
                        socket: p,
                        fd: 0,
                        events: c.below(4) as i16,
                        revents: 0,
                    })
                    .collect();
                let rc = zmq_poll(items.as_mut_ptr(), items.len() as c_int, 0);
                trace!("zmq_poll({} items, 0) = {rc}", items.len());
                assert!(rc >= 0, "zmq_poll over live sockets: {rc}");
                let ready = items.iter().filter(|i| i.revents != 0).count();
                assert_eq!(rc as usize, ready, "zmq_poll counts the items with events");
            }
            11 if !sockets.is_empty() => {
                let i = c.below(sockets.len() as u64) as usize;
                close_now(sockets.swap_remove(i));
            }
            _ => {}
        }
    }
    for m in msgs.iter_mut() {
        zmq_msg_close(m);
    }
    for s in sockets {
        close_now(s);
    }
    trace!("zmq_ctx_term");
    let rc = zmq_ctx_term(ctx);
    // The context is interruptible (as libzmq's), and libFuzzer's alarm fires every second:
    // a termination that hangs comes back here as EINTR.
    assert_eq!(
        rc,
        0,
        "zmq_ctx_term failed, errno {} (EINTR: it hung until a signal came)",
        zmq_errno()
    );
    assert_eq!(
        panics_caught(),
        panics_before,
        "a call panicked inside the library"
    );
}
