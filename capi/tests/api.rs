//! The C API called from Rust through its exported functions, as a C program would.

use std::ffi::{c_int, c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oxmq_zmq::*;

const PAIR: c_int = 0;
const REQ: c_int = 3;
const REP: c_int = 4;
const PULL: c_int = 7;
const PUSH: c_int = 8;

const ZMQ_TYPE: c_int = 16;
const ZMQ_LINGER: c_int = 17;
const ZMQ_LAST_ENDPOINT: c_int = 32;
const ZMQ_RCVTIMEO: c_int = 27;

fn send(s: *mut c_void, data: &[u8], flags: c_int) -> c_int {
    zmq_send(s, data.as_ptr().cast(), data.len(), flags)
}

fn recv(s: *mut c_void) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let n = zmq_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0);
    assert!(n >= 0, "recv failed: errno {}", zmq_errno());
    buf.truncate(n as usize);
    buf
}

fn get_int(s: *mut c_void, opt: c_int) -> c_int {
    let mut v: c_int = -7;
    let mut len = std::mem::size_of::<c_int>();
    assert_eq!(
        zmq_getsockopt(s, opt, (&mut v as *mut c_int).cast(), &mut len),
        0
    );
    v
}

fn set_int(s: *mut c_void, opt: c_int, v: c_int) -> c_int {
    zmq_setsockopt(
        s,
        opt,
        (&v as *const c_int).cast(),
        std::mem::size_of::<c_int>(),
    )
}

fn last_endpoint(s: *mut c_void) -> String {
    let mut buf = [0u8; 256];
    let mut len = buf.len();
    assert_eq!(
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, buf.as_mut_ptr().cast(), &mut len),
        0
    );
    CStr::from_bytes_with_nul(&buf[..len])
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn cstr(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s).unwrap()
}

/// A bound and a connected socket of the given types over `endpoint` (a wildcard tcp one is
/// resolved through ZMQ_LAST_ENDPOINT).
fn pair_of(ctx: *mut c_void, a: c_int, b: c_int, endpoint: &str) -> (*mut c_void, *mut c_void) {
    let sa = zmq_socket(ctx, a);
    let sb = zmq_socket(ctx, b);
    assert!(!sa.is_null() && !sb.is_null());
    assert_eq!(zmq_bind(sa, cstr(endpoint).as_ptr()), 0);
    let ep = last_endpoint(sa);
    assert_eq!(zmq_connect(sb, cstr(&ep).as_ptr()), 0);
    (sa, sb)
}

fn close_all(ctx: *mut c_void, sockets: &[*mut c_void]) {
    for &s in sockets {
        set_int(s, ZMQ_LINGER, 0);
        assert_eq!(zmq_close(s), 0);
    }
    assert_eq!(zmq_ctx_term(ctx), 0);
}

#[test]
fn push_pull_and_req_rep_over_inproc_and_tcp() {
    for ep in ["inproc://pp", "tcp://127.0.0.1:*"] {
        let ctx = zmq_ctx_new();
        let (pull, push) = pair_of(ctx, PULL, PUSH, ep);
        assert_eq!(send(push, b"hello", 0), 5);
        assert_eq!(recv(pull), b"hello");
        let ep2 = if ep.starts_with("inproc") {
            "inproc://rr"
        } else {
            ep
        };
        let (rep, req) = pair_of(ctx, REP, REQ, ep2);
        assert_eq!(send(req, b"ping", 0), 4);
        assert_eq!(recv(rep), b"ping");
        assert_eq!(send(rep, b"pong", 0), 4);
        assert_eq!(recv(req), b"pong");
        close_all(ctx, &[pull, push, rep, req]);
    }
}

#[test]
fn multipart_with_sndmore_and_rcvmore() {
    let ctx = zmq_ctx_new();
    let (pull, push) = pair_of(ctx, PULL, PUSH, "inproc://multi");
    assert_eq!(send(push, b"a", ZMQ_SNDMORE), 1);
    assert_eq!(send(push, b"bb", ZMQ_SNDMORE), 2);
    assert_eq!(send(push, b"", 0), 0);
    assert_eq!(recv(pull), b"a");
    assert_eq!(get_int(pull, ZMQ_RCVMORE), 1);
    let mut msg = zmq_msg_t::uninit();
    assert_eq!(zmq_msg_init(&mut msg), 0);
    assert_eq!(zmq_msg_recv(&mut msg, pull, 0), 2);
    assert_eq!(zmq_msg_more(&msg), 1);
    assert_eq!(zmq_msg_get(&msg, ZMQ_MORE), 1);
    assert_eq!(zmq_msg_recv(&mut msg, pull, 0), 0);
    assert_eq!(zmq_msg_more(&msg), 0);
    assert_eq!(get_int(pull, ZMQ_RCVMORE), 0);
    assert_eq!(zmq_msg_close(&mut msg), 0);
    close_all(ctx, &[pull, push]);
}

static FREED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn free_box(data: *mut c_void, hint: *mut c_void) {
    assert_eq!(hint as usize, 0x1234);
    drop(Vec::from_raw_parts(data.cast::<u8>(), 5, 5));
    FREED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn msg_init_data_is_zero_copy_and_freed_once() {
    let ctx = zmq_ctx_new();
    let (pull, push) = pair_of(ctx, PULL, PUSH, "inproc://ffn");
    let mut data = std::mem::ManuallyDrop::new(b"hello".to_vec());
    let ptr = data.as_mut_ptr();
    let mut msg = zmq_msg_t::uninit();
    assert_eq!(
        zmq_msg_init_data(
            &mut msg,
            ptr.cast(),
            5,
            Some(free_box),
            0x1234 as *mut c_void
        ),
        0
    );
    assert_eq!(zmq_msg_data(&mut msg), ptr.cast());
    let mut copy = zmq_msg_t::uninit();
    zmq_msg_init(&mut copy);
    assert_eq!(zmq_msg_copy(&mut copy, &mut msg), 0);
    assert_eq!(zmq_msg_send(&mut msg, push, 0), 5);
    assert_eq!(zmq_msg_close(&mut msg), 0);
    let mut got = zmq_msg_t::uninit();
    zmq_msg_init(&mut got);
    assert_eq!(zmq_msg_recv(&mut got, pull, 0), 5);
    // Over inproc the very buffer arrives.
    assert_eq!(zmq_msg_data(&mut got), ptr.cast());
    assert_eq!(FREED.load(Ordering::SeqCst), 0);
    zmq_msg_close(&mut got);
    assert_eq!(FREED.load(Ordering::SeqCst), 0);
    zmq_msg_close(&mut copy);
    assert_eq!(FREED.load(Ordering::SeqCst), 1);
    close_all(ctx, &[pull, push]);
    assert_eq!(FREED.load(Ordering::SeqCst), 1);
}

/// As libzmq's `test_msg_flags`: a copy of a large message shares it, and both report
/// ZMQ_SHARED. A very small message received is held in place (as libzmq's), so its copy is
/// a copy and neither reports ZMQ_SHARED. A message made with `zmq_msg_init_size` keeps
/// its buffer where the caller's `zmq_msg_data` pointed, whatever its size.
#[test]
fn a_copy_shares_a_large_message_and_copies_a_small_received_one() {
    const ZMQ_SHARED: c_int = 3;
    let mut a = zmq_msg_t::uninit();
    assert_eq!(zmq_msg_init_size(&mut a, 1024), 0);
    assert_eq!(zmq_msg_get(&a, ZMQ_SHARED), 0);
    let mut b = zmq_msg_t::uninit();
    zmq_msg_init(&mut b);
    assert_eq!(zmq_msg_copy(&mut b, &mut a), 0);
    assert_eq!(zmq_msg_get(&b, ZMQ_SHARED), 1);
    assert_eq!(zmq_msg_get(&a, ZMQ_SHARED), 1);
    assert_eq!(
        zmq_msg_data(&mut a),
        zmq_msg_data(&mut b),
        "shared, not copied"
    );
    zmq_msg_close(&mut a);
    zmq_msg_close(&mut b);

    let mut small = zmq_msg_t::uninit();
    assert_eq!(zmq_msg_init_size(&mut small, 5), 0);
    let data = zmq_msg_data(&mut small);
    let mut copy = zmq_msg_t::uninit();
    zmq_msg_init(&mut copy);
    assert_eq!(zmq_msg_copy(&mut copy, &mut small), 0);
    assert_eq!(
        zmq_msg_data(&mut small),
        data,
        "the caller's pointer still holds"
    );
    zmq_msg_close(&mut small);
    zmq_msg_close(&mut copy);

    let ctx = zmq_ctx_new();
    let (pull, push) = pair_of(ctx, PULL, PUSH, "inproc://copy-small");
    assert_eq!(send(push, b"hello", 0), 5);
    let mut got = zmq_msg_t::uninit();
    zmq_msg_init(&mut got);
    assert_eq!(zmq_msg_recv(&mut got, pull, 0), 5);
    let mut copy = zmq_msg_t::uninit();
    zmq_msg_init(&mut copy);
    assert_eq!(zmq_msg_copy(&mut copy, &mut got), 0);
    assert_eq!(zmq_msg_get(&copy, ZMQ_SHARED), 0);
    assert_eq!(zmq_msg_get(&got, ZMQ_SHARED), 0);
    assert_ne!(zmq_msg_data(&mut got), zmq_msg_data(&mut copy), "copied");
    assert_eq!(zmq_msg_size(&copy), 5);
    zmq_msg_close(&mut got);
    zmq_msg_close(&mut copy);
    close_all(ctx, &[pull, push]);
}

/// After libzmq's `test_reset_hwm`: a reader reports its reads every half HWM, so a
/// publisher at SNDHWM 11,024 whose subscriber has read 9,000 messages has room for 3,000
/// more. With the step libzmq used before 4.0 (HWM − 1024 for a large HWM) no report had
/// come, and only 2,024 would get through.
#[test]
fn a_publisher_whose_subscriber_read_everything_has_room_for_more_than_the_rest() {
    const PUB: c_int = 1;
    const SUB: c_int = 2;
    const ZMQ_SNDHWM: c_int = 23;
    const ZMQ_RCVHWM: c_int = 24;
    const ZMQ_SUBSCRIBE: c_int = 6;
    let ctx = zmq_ctx_new();
    let publisher = zmq_socket(ctx, PUB);
    let subscriber = zmq_socket(ctx, SUB);
    assert_eq!(set_int(publisher, ZMQ_SNDHWM, 11_024), 0);
    assert_eq!(set_int(subscriber, ZMQ_RCVHWM, 11_024), 0);
    assert_eq!(set_int(subscriber, ZMQ_RCVTIMEO, 10_000), 0);
    assert_eq!(zmq_bind(publisher, c"tcp://127.0.0.1:*".as_ptr()), 0);
    let ep = last_endpoint(publisher);
    assert_eq!(zmq_connect(subscriber, cstr(&ep).as_ptr()), 0);
    assert_eq!(
        zmq_setsockopt(subscriber, ZMQ_SUBSCRIBE, std::ptr::null(), 0),
        0
    );
    // The subscription has arrived once a probe gets through (PUB drops until then).
    let mut buf = [0u8; 8];
    let mut read = 0;
    loop {
        assert_eq!(send(publisher, b"probe", ZMQ_DONTWAIT), 5);
        // Waits for the probe itself, up to 10 ms, then sends another.
        let mut item = [zmq_pollitem_t {
            socket: subscriber,
            fd: 0,
            events: ZMQ_POLLIN,
            revents: 0,
        }];
        if zmq_poll(item.as_mut_ptr(), 1, 10) == 1 {
            assert_eq!(
                zmq_recv(subscriber, buf.as_mut_ptr().cast(), buf.len(), 0),
                5
            );
            read += 1;
            break;
        }
    }
    // Probes still on the way come before this fence.
    assert_eq!(send(publisher, b"fence!", 0), 6);
    loop {
        let n = zmq_recv(subscriber, buf.as_mut_ptr().cast(), buf.len(), 0);
        assert!(n >= 0, "errno {}", zmq_errno());
        read += 1;
        if n == 6 {
            break;
        }
    }
    // 9,000 read in all before the second batch: half the HWM has been reported (one step of
    // 5,512), where the old step (10,000) had reported nothing and left room for 2,024.
    let first = 9_000 - read;
    for (batch, count) in [("first", first), ("second", 3_000)] {
        for _ in 0..count {
            assert_eq!(send(publisher, b"", ZMQ_DONTWAIT), 0);
        }
        // Every message sent must arrive (none was dropped at HWM).
        for i in 0..count {
            assert_eq!(
                zmq_recv(subscriber, buf.as_mut_ptr().cast(), buf.len(), 0),
                0,
                "{batch} batch: message {i} of {count} (errno {})",
                zmq_errno()
            );
        }
    }
    close_all(ctx, &[subscriber, publisher]);
}

/// A message passed on with `zmq_msg_send` is left empty, as `zmq_msg_init` makes one: no
/// content, no MORE, no properties (libzmq re-initialises it).
#[test]
fn a_sent_message_is_left_empty_with_nothing_of_what_it_carried() {
    let ctx = zmq_ctx_new();
    let (pull, push) = pair_of(ctx, PULL, PUSH, "tcp://127.0.0.1:*");
    let (pull2, push2) = pair_of(ctx, PULL, PUSH, "inproc://relay");
    assert_eq!(send(push, b"head", ZMQ_SNDMORE), 4);
    assert_eq!(send(push, b"tail", 0), 4);
    let mut msg = zmq_msg_t::uninit();
    zmq_msg_init(&mut msg);
    assert_eq!(zmq_msg_recv(&mut msg, pull, 0), 4);
    assert_eq!(zmq_msg_more(&msg), 1);
    let ty = zmq_msg_gets(&msg, c"Socket-Type".as_ptr());
    assert!(!ty.is_null());
    assert_eq!(unsafe { CStr::from_ptr(ty) }.to_bytes(), b"PUSH");
    // Passed on as the first frame of a two-frame message.
    assert_eq!(zmq_msg_send(&mut msg, push2, ZMQ_SNDMORE), 4);
    assert_eq!(zmq_msg_size(&msg), 0);
    assert_eq!(zmq_msg_more(&msg), 0);
    assert!(zmq_msg_gets(&msg, c"Socket-Type".as_ptr()).is_null());
    assert_eq!(zmq_errno(), libc::EINVAL);
    // The emptied message can be filled again and its last frame sent.
    assert_eq!(zmq_msg_recv(&mut msg, pull, 0), 4);
    assert_eq!(zmq_msg_more(&msg), 0);
    assert_eq!(zmq_msg_send(&mut msg, push2, 0), 4);
    assert_eq!(zmq_msg_close(&mut msg), 0);
    assert_eq!(recv(pull2), b"head");
    assert_eq!(recv(pull2), b"tail");
    close_all(ctx, &[pull, push, pull2, push2]);
}

#[test]
fn getsockopt_type_last_endpoint_events_fd() {
    let ctx = zmq_ctx_new();
    let (pull, push) = pair_of(ctx, PULL, PUSH, "tcp://127.0.0.1:*");
    assert_eq!(get_int(pull, ZMQ_TYPE), PULL);
    assert_eq!(get_int(push, ZMQ_TYPE), PUSH);
    assert!(last_endpoint(pull).starts_with("tcp://127.0.0.1:"));
    assert!(get_int(pull, ZMQ_FD) >= 0);
    assert_eq!(get_int(pull, ZMQ_EVENTS) & ZMQ_POLLIN as c_int, 0);
    assert_eq!(send(push, b"x", 0), 1);
    let mut ready = false;
    for _ in 0..500 {
        if get_int(pull, ZMQ_EVENTS) & ZMQ_POLLIN as c_int != 0 {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(ready);
    // An int option needs an int-sized buffer.
    let mut v: i64 = 0;
    let mut len = 8usize;
    assert_eq!(
        zmq_getsockopt(pull, ZMQ_TYPE, (&mut v as *mut i64).cast(), &mut len),
        -1
    );
    assert_eq!(zmq_errno(), libc::EINVAL);
    close_all(ctx, &[pull, push]);
}

#[test]
fn errno_values() {
    let ctx = zmq_ctx_new();
    let push = zmq_socket(ctx, PUSH);
    assert_eq!(send(push, b"x", ZMQ_DONTWAIT), -1);
    assert_eq!(zmq_errno(), libc::EAGAIN);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EAGAIN)
    );
    // A message that could not be sent stays with its caller, unchanged.
    let mut msg = zmq_msg_t::uninit();
    assert_eq!(zmq_msg_init_size(&mut msg, 5), 0);
    unsafe { std::ptr::copy_nonoverlapping(b"kept!".as_ptr(), zmq_msg_data(&mut msg).cast(), 5) };
    assert_eq!(zmq_msg_send(&mut msg, push, ZMQ_DONTWAIT), -1);
    assert_eq!(zmq_errno(), libc::EAGAIN);
    assert_eq!(zmq_msg_size(&msg), 5);
    let kept = unsafe { std::slice::from_raw_parts(zmq_msg_data(&mut msg).cast::<u8>(), 5) };
    assert_eq!(kept, b"kept!");
    assert_eq!(zmq_msg_close(&mut msg), 0);
    let (rep, req) = pair_of(ctx, REP, REQ, "inproc://efsm");
    assert_eq!(send(req, b"1", 0), 1);
    assert_eq!(send(req, b"2", 0), -1);
    assert_eq!(zmq_errno(), EFSM);
    assert_eq!(zmq_errno(), 156_384_763);
    assert_eq!(zmq_close(std::ptr::null_mut()), -1);
    assert_eq!(zmq_errno(), libc::ENOTSOCK);
    assert_eq!(send(std::ptr::null_mut(), b"x", 0), -1);
    assert_eq!(zmq_errno(), libc::ENOTSOCK);
    assert_eq!(set_int(push, 9999, 1), -1);
    assert_eq!(zmq_errno(), libc::EINVAL);
    assert_eq!(zmq_unbind(rep, c"tcp://127.0.0.1:5".as_ptr()), -1);
    assert_eq!(zmq_errno(), libc::ENOENT);
    assert_eq!(zmq_connect(push, c"pgm://eth0;239.1.1.1:5555".as_ptr()), -1);
    assert_eq!(zmq_errno(), libc::EPROTONOSUPPORT);
    assert_eq!(zmq_connect(push, c"nonsense".as_ptr()), -1);
    assert_eq!(zmq_errno(), libc::EINVAL);
    assert_eq!(set_int(rep, ZMQ_RCVTIMEO, 10), 0);
    let mut buf = [0u8; 4];
    assert_eq!(zmq_recv(rep, buf.as_mut_ptr().cast(), 4, 0), 1);
    assert_eq!(zmq_recv(rep, buf.as_mut_ptr().cast(), 4, 0), -1);
    assert_eq!(zmq_errno(), EFSM);
    let msg = unsafe { CStr::from_ptr(zmq_strerror(EFSM)) };
    assert!(!msg.to_bytes().is_empty());
    close_all(ctx, &[push, rep, req]);
    assert_eq!(zmq_socket(std::ptr::null_mut(), PAIR), std::ptr::null_mut());
    assert_eq!(zmq_errno(), libc::EFAULT);
}

#[test]
fn poll_over_a_socket_and_a_pipe() {
    let ctx = zmq_ctx_new();
    let (pull, push) = pair_of(ctx, PULL, PUSH, "inproc://poll");
    let mut fds = [0 as c_int; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let mut items = [
        zmq_pollitem_t {
            socket: pull,
            fd: 0,
            events: ZMQ_POLLIN,
            revents: 0,
        },
        zmq_pollitem_t {
            socket: std::ptr::null_mut(),
            fd: fds[0],
            events: ZMQ_POLLIN,
            revents: 0,
        },
    ];
    assert_eq!(zmq_poll(items.as_mut_ptr(), 2, 10), 0);
    assert_eq!(unsafe { libc::write(fds[1], b"!".as_ptr().cast(), 1) }, 1);
    assert_eq!(zmq_poll(items.as_mut_ptr(), 2, 1000), 1);
    assert_eq!(items[0].revents, 0);
    assert_eq!(items[1].revents, ZMQ_POLLIN);
    let mut b = [0u8; 1];
    assert_eq!(unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) }, 1);
    // The message arrives while zmq_poll sleeps.
    let p = push as usize;
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(send(p as *mut c_void, b"m", 0), 1);
    });
    assert_eq!(zmq_poll(items.as_mut_ptr(), 2, 2000), 1);
    sender.join().unwrap();
    assert_eq!(items[0].revents, ZMQ_POLLIN);
    assert_eq!(items[1].revents, 0);
    assert_eq!(recv(pull), b"m");
    // Sockets alone go through oxmq's own poll.
    assert_eq!(zmq_poll(items.as_mut_ptr(), 1, 0), 0);
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    close_all(ctx, &[pull, push]);
}

#[test]
fn monitor_events_have_libzmq_layout() {
    let ctx = zmq_ctx_new();
    let rep = zmq_socket(ctx, REP);
    assert_eq!(zmq_socket_monitor(rep, c"inproc://mon".as_ptr(), 0xFFFF), 0);
    let mon = zmq_socket(ctx, PAIR);
    assert_eq!(zmq_connect(mon, c"inproc://mon".as_ptr()), 0);
    assert_eq!(zmq_bind(rep, c"tcp://127.0.0.1:*".as_ptr()), 0);
    let ep = last_endpoint(rep);
    let mut head = zmq_msg_t::uninit();
    zmq_msg_init(&mut head);
    assert_eq!(zmq_msg_recv(&mut head, mon, 0), 6);
    assert_eq!(zmq_msg_more(&head), 1);
    let bytes = unsafe { std::slice::from_raw_parts(zmq_msg_data(&mut head).cast::<u8>(), 6) };
    let event = u16::from_ne_bytes([bytes[0], bytes[1]]);
    assert_eq!(event, 0x0008, "LISTENING first");
    assert_eq!(recv(mon), ep.as_bytes());
    assert_eq!(get_int(mon, ZMQ_RCVMORE), 0);
    zmq_msg_close(&mut head);
    // Closing the socket ends the stream with MONITOR_STOPPED.
    set_int(rep, ZMQ_LINGER, 0);
    zmq_close(rep);
    let mut seen = Vec::new();
    set_int(mon, ZMQ_RCVTIMEO, 2000);
    loop {
        let mut buf = [0u8; 6];
        if zmq_recv(mon, buf.as_mut_ptr().cast(), 6, 0) != 6 {
            break;
        }
        let event = u16::from_ne_bytes([buf[0], buf[1]]);
        recv(mon);
        seen.push(event);
        if event == 0x0400 {
            break;
        }
    }
    assert_eq!(seen.last(), Some(&0x0400), "events after close: {seen:x?}");
    close_all(ctx, &[mon]);
}

#[test]
fn helpers() {
    let (mut maj, mut min, mut pat) = (0, 0, 0);
    zmq_version(&mut maj, &mut min, &mut pat);
    assert_eq!((maj, min), (4, 3));
    assert_eq!(zmq_has(c"ipc".as_ptr()), 1);
    assert_eq!(zmq_has(c"pgm".as_ptr()), 0);
    let data = [0x86u8, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
    let mut text = [0 as std::ffi::c_char; 11];
    assert!(!zmq_z85_encode(text.as_mut_ptr(), data.as_ptr(), 8).is_null());
    assert_eq!(
        unsafe { CStr::from_ptr(text.as_ptr()) }.to_str().unwrap(),
        "HelloWorld"
    );
    let mut back = [0u8; 8];
    assert!(!zmq_z85_decode(back.as_mut_ptr(), text.as_ptr()).is_null());
    assert_eq!(back, data);
    assert!(zmq_z85_encode(text.as_mut_ptr(), data.as_ptr(), 7).is_null());
    let (mut public, mut secret) = ([0 as std::ffi::c_char; 41], [0 as std::ffi::c_char; 41]);
    assert_eq!(
        zmq_curve_keypair(public.as_mut_ptr(), secret.as_mut_ptr()),
        0
    );
    let mut derived = [0 as std::ffi::c_char; 41];
    assert_eq!(zmq_curve_public(derived.as_mut_ptr(), secret.as_ptr()), 0);
    assert_eq!(public, derived);
    let c = zmq_atomic_counter_new();
    assert_eq!(zmq_atomic_counter_inc(c), 0);
    assert_eq!(zmq_atomic_counter_inc(c), 1);
    assert_eq!(zmq_atomic_counter_dec(c), 1);
    assert_eq!(zmq_atomic_counter_dec(c), 0);
    let mut c = c;
    zmq_atomic_counter_destroy(&mut c);
    assert!(c.is_null());
    assert_eq!(std::mem::size_of::<zmq_msg_t>(), 64);
}

#[test]
fn ctx_shutdown_wakes_a_blocked_recv() {
    let ctx = zmq_ctx_new();
    let pull = zmq_socket(ctx, PULL);
    assert_eq!(zmq_bind(pull, c"inproc://shut".as_ptr()), 0);
    let p = pull as usize;
    let t = std::thread::spawn(move || {
        let mut b = [0u8; 1];
        let rc = zmq_recv(p as *mut c_void, b.as_mut_ptr().cast(), 1, 0);
        (rc, zmq_errno())
    });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(zmq_ctx_shutdown(ctx), 0);
    assert_eq!(t.join().unwrap(), (-1, ETERM));
    zmq_close(pull);
    assert_eq!(zmq_ctx_term(ctx), 0);
}

/// The options libzmq keeps on every socket though they act only on transports or
/// platforms oxmq lacks (pyzmq's test_int_sockopts reads them all): libzmq's defaults,
/// its range checks, and the value set read back.
#[test]
fn multicast_affinity_and_fastpath_options_are_kept() {
    const ZMQ_AFFINITY: c_int = 4;
    const ZMQ_RATE: c_int = 8;
    const ZMQ_RECOVERY_IVL: c_int = 9;
    const ZMQ_MULTICAST_HOPS: c_int = 25;
    const ZMQ_MULTICAST_MAXTPDU: c_int = 84;
    const ZMQ_LOOPBACK_FASTPATH: c_int = 94;
    const ZMQ_MULTICAST_LOOP: c_int = 96;
    let ctx = zmq_ctx_new();
    let s = zmq_socket(ctx, PUSH);
    for (opt, default) in [
        (ZMQ_RATE, 100),
        (ZMQ_RECOVERY_IVL, 10000),
        (ZMQ_MULTICAST_HOPS, 1),
        (ZMQ_MULTICAST_MAXTPDU, 1500),
        (ZMQ_MULTICAST_LOOP, 1),
        (ZMQ_LOOPBACK_FASTPATH, 0),
    ] {
        assert_eq!(get_int(s, opt), default, "default of option {opt}");
    }
    assert_eq!(set_int(s, ZMQ_RATE, 40), 0);
    assert_eq!(get_int(s, ZMQ_RATE), 40);
    assert_eq!(set_int(s, ZMQ_RECOVERY_IVL, 0), 0);
    assert_eq!(get_int(s, ZMQ_RECOVERY_IVL), 0);
    assert_eq!(set_int(s, ZMQ_MULTICAST_HOPS, 5), 0);
    assert_eq!(get_int(s, ZMQ_MULTICAST_HOPS), 5);
    assert_eq!(set_int(s, ZMQ_MULTICAST_MAXTPDU, 9000), 0);
    assert_eq!(get_int(s, ZMQ_MULTICAST_MAXTPDU), 9000);
    // The flags take any non-zero int as true, as libzmq's "relaxed" booleans do.
    assert_eq!(set_int(s, ZMQ_MULTICAST_LOOP, 0), 0);
    assert_eq!(get_int(s, ZMQ_MULTICAST_LOOP), 0);
    assert_eq!(set_int(s, ZMQ_LOOPBACK_FASTPATH, 7), 0);
    assert_eq!(get_int(s, ZMQ_LOOPBACK_FASTPATH), 1);
    // Out of range, or the wrong size: EINVAL, the value unchanged.
    for (opt, bad) in [
        (ZMQ_RATE, 0),
        (ZMQ_RECOVERY_IVL, -1),
        (ZMQ_MULTICAST_HOPS, 0),
        (ZMQ_MULTICAST_MAXTPDU, -3),
    ] {
        assert_eq!(set_int(s, opt, bad), -1, "option {opt} = {bad}");
        assert_eq!(zmq_errno(), libc::EINVAL);
    }
    assert_eq!(get_int(s, ZMQ_RATE), 40);
    // AFFINITY is a uint64_t.
    let mut a: u64 = 7;
    let mut len = 8;
    assert_eq!(
        zmq_getsockopt(s, ZMQ_AFFINITY, (&mut a as *mut u64).cast(), &mut len),
        0
    );
    assert_eq!(a, 0);
    let v: u64 = 0b101;
    assert_eq!(
        zmq_setsockopt(s, ZMQ_AFFINITY, (&v as *const u64).cast(), 8),
        0
    );
    assert_eq!(
        zmq_getsockopt(s, ZMQ_AFFINITY, (&mut a as *mut u64).cast(), &mut len),
        0
    );
    assert_eq!(a, 0b101);
    assert_eq!(set_int(s, ZMQ_AFFINITY, 1), -1);
    assert_eq!(zmq_errno(), libc::EINVAL);
    let mut small: c_int = 0;
    let mut len = std::mem::size_of::<c_int>();
    assert_eq!(
        zmq_getsockopt(s, ZMQ_AFFINITY, (&mut small as *mut c_int).cast(), &mut len),
        -1
    );
    close_all(ctx, &[s]);
}

/// libzmq's proxy sends to its capture socket without ZMQ_DONTWAIT: a capture PUSH whose
/// peer connects late still gets every message (pyzmq's test_proxy connects it after the
/// proxy started). oxmq dropped the copy when the capture socket could not take it at once.
#[test]
fn proxy_capture_waits_for_its_peer() {
    let ctx = zmq_ctx_new();
    let bound = |t: c_int, ep: &str| {
        let s = zmq_socket(ctx, t);
        assert_eq!(zmq_bind(s, cstr(ep).as_ptr()), 0);
        s
    };
    let connected = |t: c_int, ep: &str| {
        let s = zmq_socket(ctx, t);
        assert_eq!(zmq_connect(s, cstr(ep).as_ptr()), 0);
        assert_eq!(set_int(s, ZMQ_RCVTIMEO, 5000), 0);
        s
    };
    let front = bound(PULL, "inproc://capture-front");
    let back = bound(PUSH, "inproc://capture-back");
    let capture = bound(PUSH, "inproc://capture-capture");
    let control = bound(PAIR, "inproc://capture-control");
    let steer = connected(PAIR, "inproc://capture-control");
    let ptrs = [front, back, capture, control].map(|p| p as usize);
    let proxy = std::thread::spawn(move || {
        let [f, b, c, ctl] = ptrs.map(|p| p as *mut c_void);
        zmq_proxy_steerable(f, b, c, ctl)
    });
    let push = connected(PUSH, "inproc://capture-front");
    let pull = connected(PULL, "inproc://capture-back");
    assert_eq!(send(push, b"hello", 0), 5);
    // The proxy has the message by now; its capture socket has no peer yet.
    std::thread::sleep(Duration::from_millis(200));
    let mon = connected(PULL, "inproc://capture-capture");
    assert_eq!(recv(mon), b"hello");
    assert_eq!(recv(pull), b"hello");
    assert_eq!(send(steer, b"TERMINATE", 0), 9);
    assert_eq!(proxy.join().unwrap(), 0);
    close_all(
        ctx,
        &[push, pull, mon, steer, front, back, capture, control],
    );
}

/// `zmq_ctx_term` waits for the application to close its sockets, as libzmq's does
/// (pyzmq's test_term_noclose): a blocked call on one fails with ETERM at once, and the
/// term returns once the last socket is closed.
#[test]
fn ctx_term_waits_until_the_sockets_are_closed() {
    let ctx = zmq_ctx_new();
    let pull = zmq_socket(ctx, PULL);
    let req = zmq_socket(ctx, REQ);
    assert_eq!(zmq_bind(pull, c"inproc://term-waits".as_ptr()), 0);
    let p = pull as usize;
    let blocked = std::thread::spawn(move || {
        let mut b = [0u8; 1];
        let rc = zmq_recv(p as *mut c_void, b.as_mut_ptr().cast(), 1, 0);
        (rc, zmq_errno())
    });
    std::thread::sleep(Duration::from_millis(50));
    let c = ctx as usize;
    let term = std::thread::spawn(move || zmq_ctx_term(c as *mut c_void));
    assert_eq!(blocked.join().unwrap(), (-1, ETERM));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !term.is_finished(),
        "zmq_ctx_term returned with sockets open"
    );
    // Calls on a socket of a terminating context fail with ETERM.
    assert_eq!(send(req, b"x", 0), -1);
    assert_eq!(zmq_errno(), ETERM);
    assert_eq!(zmq_close(pull), 0);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !term.is_finished(),
        "zmq_ctx_term returned with a socket open"
    );
    assert_eq!(zmq_close(req), 0);
    assert_eq!(term.join().unwrap(), 0);
}

/// CONNECT_TIMEOUT, USE_FD and ZAP_ENFORCE_DOMAIN read as what oxmq does (libzmq's defaults:
/// 0, -1, 0), accept that value, and refuse any other (pyzmq's test_int_sockopts reads them).
#[test]
fn options_of_absent_features_read_as_what_oxmq_does() {
    const ZMQ_CONNECT_TIMEOUT: c_int = 79;
    const ZMQ_USE_FD: c_int = 89;
    const ZMQ_ZAP_ENFORCE_DOMAIN: c_int = 93;
    let ctx = zmq_ctx_new();
    let s = zmq_socket(ctx, PUSH);
    for (opt, value, other) in [
        (ZMQ_CONNECT_TIMEOUT, 0, 100),
        (ZMQ_USE_FD, -1, 3),
        (ZMQ_ZAP_ENFORCE_DOMAIN, 0, 1),
    ] {
        assert_eq!(get_int(s, opt), value, "option {opt}");
        assert_eq!(set_int(s, opt, value), 0, "option {opt} = {value}");
        assert_eq!(set_int(s, opt, other), -1, "option {opt} = {other}");
        assert_eq!(zmq_errno(), libc::EINVAL);
        assert_eq!(get_int(s, opt), value);
    }
    close_all(ctx, &[s]);
}

/// CURVE through the C API (libsodium's crypto underneath, as in libzmq): Z85 keys from
/// `zmq_curve_keypair`, options by libzmq's numbers, a message across, and a client with the
/// wrong server key never delivers.
#[test]
fn curve_push_pull_with_z85_keys() {
    const CURVE_SERVER: c_int = 47;
    const CURVE_PUBLICKEY: c_int = 48;
    const CURVE_SECRETKEY: c_int = 49;
    const CURVE_SERVERKEY: c_int = 50;
    let keypair = || {
        let (mut public, mut secret) = ([0 as std::ffi::c_char; 41], [0 as std::ffi::c_char; 41]);
        assert_eq!(
            zmq_curve_keypair(public.as_mut_ptr(), secret.as_mut_ptr()),
            0
        );
        (public, secret)
    };
    let set_key = |s: *mut c_void, opt: c_int, z85: &[std::ffi::c_char; 41]| {
        assert_eq!(
            zmq_setsockopt(s, opt, z85.as_ptr().cast(), 40),
            0,
            "option {opt}"
        );
    };
    let ctx = zmq_ctx_new();
    let (server_public, server_secret) = keypair();
    let pull = zmq_socket(ctx, PULL);
    assert_eq!(set_int(pull, CURVE_SERVER, 1), 0);
    set_key(pull, CURVE_SECRETKEY, &server_secret);
    assert_eq!(set_int(pull, ZMQ_RCVTIMEO, 20_000), 0);
    assert_eq!(zmq_bind(pull, c"tcp://127.0.0.1:*".as_ptr()), 0);
    let ep = std::ffi::CString::new(last_endpoint(pull)).unwrap();
    let client = |server: &[std::ffi::c_char; 41]| {
        let (public, secret) = keypair();
        let push = zmq_socket(ctx, PUSH);
        set_key(push, CURVE_SERVERKEY, server);
        set_key(push, CURVE_PUBLICKEY, &public);
        set_key(push, CURVE_SECRETKEY, &secret);
        assert_eq!(set_int(push, ZMQ_LINGER, 0), 0);
        assert_eq!(zmq_connect(push, ep.as_ptr()), 0);
        push
    };
    let (someone_else, _) = keypair();
    let wrong = client(&someone_else);
    assert_eq!(send(wrong, b"must not arrive", ZMQ_DONTWAIT), 15);
    let right = client(&server_public);
    assert_eq!(send(right, b"sealed", 0), 6);
    assert_eq!(recv(pull), b"sealed");
    let mut buf = [0u8; 32];
    assert_eq!(
        zmq_recv(pull, buf.as_mut_ptr().cast(), buf.len(), ZMQ_DONTWAIT),
        -1,
        "only the right key's message arrives"
    );
    for s in [wrong, right, pull] {
        assert_eq!(set_int(s, ZMQ_LINGER, 0), 0);
        assert_eq!(zmq_close(s), 0);
    }
    assert_eq!(zmq_ctx_term(ctx), 0);
}

/// libzmq's own tests check errno after calls that succeed: a successful call leaves it as
/// it was, even the first call of a fresh thread (whose allocations set up the allocator) and
/// calls that make system calls on the way.
#[test]
fn a_successful_call_leaves_errno_alone() {
    std::thread::spawn(|| {
        let set = |v: c_int| unsafe { *libc::__errno_location() = v };
        set(0);
        let data = [0x86u8, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        let mut text = [0 as std::ffi::c_char; 11];
        assert!(!zmq_z85_encode(text.as_mut_ptr(), data.as_ptr(), 8).is_null());
        assert_eq!(zmq_errno(), 0);
        set(1234);
        let ctx = zmq_ctx_new();
        let (a, b) = pair_of(ctx, PUSH, PULL, "tcp://127.0.0.1:*");
        assert_eq!(send(a, b"x", 0), 1);
        assert_eq!(recv(b), b"x");
        assert_eq!(zmq_errno(), 1234);
        // A failure still sets it.
        let mut buf = [0u8; 4];
        assert_eq!(zmq_recv(b, buf.as_mut_ptr().cast(), 4, 1), -1);
        assert_eq!(zmq_errno(), libc::EAGAIN);
        close_all(ctx, &[a, b]);
    })
    .join()
    .unwrap();
}
