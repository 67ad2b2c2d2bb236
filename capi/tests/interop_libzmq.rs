//! liboxmq_zmq.so, loaded as a C program would use it, talking to real libzmq (the `zmq`
//! crate's static build) over tcp in the same process.
//!
//! Both export the same `zmq_*` names, so ours is opened with `RTLD_DEEPBIND` and called
//! through `dlsym`, never linked.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

mod common;

use common::sym;

#[repr(C, align(8))]
struct Msg([u8; 64]);

/// The C API's functions these tests call, from one library: ours through `dlsym`
/// ([`Api::oxmq`]), or libzmq's as linked ([`Api::libzmq`]).
struct Api {
    ctx_new: unsafe extern "C" fn() -> *mut c_void,
    ctx_term: unsafe extern "C" fn(*mut c_void) -> c_int,
    socket: unsafe extern "C" fn(*mut c_void, c_int) -> *mut c_void,
    close: unsafe extern "C" fn(*mut c_void) -> c_int,
    bind: unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int,
    connect: unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int,
    send: unsafe extern "C" fn(*mut c_void, *const c_void, usize, c_int) -> c_int,
    recv: unsafe extern "C" fn(*mut c_void, *mut c_void, usize, c_int) -> c_int,
    getsockopt: unsafe extern "C" fn(*mut c_void, c_int, *mut c_void, *mut usize) -> c_int,
    msg_init: unsafe extern "C" fn(*mut Msg) -> c_int,
    msg_init_size: unsafe extern "C" fn(*mut Msg, usize) -> c_int,
    msg_init_data:
        unsafe extern "C" fn(*mut Msg, *mut c_void, usize, Option<Ffn>, *mut c_void) -> c_int,
    msg_copy: unsafe extern "C" fn(*mut Msg, *mut Msg) -> c_int,
    msg_get: unsafe extern "C" fn(*const Msg, c_int) -> c_int,
    msg_gets: unsafe extern "C" fn(*const Msg, *const c_char) -> *const c_char,
    msg_more: unsafe extern "C" fn(*const Msg) -> c_int,
    msg_data: unsafe extern "C" fn(*mut Msg) -> *mut c_void,
    msg_recv: unsafe extern "C" fn(*mut Msg, *mut c_void, c_int) -> c_int,
    msg_close: unsafe extern "C" fn(*mut Msg) -> c_int,
}

type Ffn = unsafe extern "C" fn(*mut c_void, *mut c_void);

impl Api {
    /// Ours: liboxmq_zmq.so, opened with `RTLD_DEEPBIND` so that its `zmq_*` names do not
    /// resolve to the linked libzmq's.
    fn oxmq() -> Api {
        let path = common::built_library();
        let cpath = CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: loading our own library; each name is looked up with its zmq.h type.
        unsafe {
            let h = libc::dlopen(
                cpath.as_ptr(),
                libc::RTLD_NOW | libc::RTLD_LOCAL | libc::RTLD_DEEPBIND,
            );
            assert!(!h.is_null());
            macro_rules! sym {
                ($name:literal) => {
                    sym(h, concat!($name, "\0"))
                };
            }
            Api {
                ctx_new: sym!("zmq_ctx_new"),
                ctx_term: sym!("zmq_ctx_term"),
                socket: sym!("zmq_socket"),
                close: sym!("zmq_close"),
                bind: sym!("zmq_bind"),
                connect: sym!("zmq_connect"),
                send: sym!("zmq_send"),
                recv: sym!("zmq_recv"),
                getsockopt: sym!("zmq_getsockopt"),
                msg_init: sym!("zmq_msg_init"),
                msg_init_size: sym!("zmq_msg_init_size"),
                msg_init_data: sym!("zmq_msg_init_data"),
                msg_copy: sym!("zmq_msg_copy"),
                msg_get: sym!("zmq_msg_get"),
                msg_gets: sym!("zmq_msg_gets"),
                msg_more: sym!("zmq_msg_more"),
                msg_data: sym!("zmq_msg_data"),
                msg_recv: sym!("zmq_msg_recv"),
                msg_close: sym!("zmq_msg_close"),
            }
        }
    }

    /// libzmq's own functions, from the `zmq` crate's static build linked into this test.
    fn libzmq() -> Api {
        // Keeps the `zmq` crate, and with it the static libzmq, linked into this test.
        let _ = zmq::version();
        Api {
            ctx_new: libzmq::zmq_ctx_new,
            ctx_term: libzmq::zmq_ctx_term,
            socket: libzmq::zmq_socket,
            close: libzmq::zmq_close,
            bind: libzmq::zmq_bind,
            connect: libzmq::zmq_connect,
            send: libzmq::zmq_send,
            recv: libzmq::zmq_recv,
            getsockopt: libzmq::zmq_getsockopt,
            msg_init: libzmq::zmq_msg_init,
            msg_init_size: libzmq::zmq_msg_init_size,
            msg_init_data: libzmq::zmq_msg_init_data,
            msg_copy: libzmq::zmq_msg_copy,
            msg_get: libzmq::zmq_msg_get,
            msg_gets: libzmq::zmq_msg_gets,
            msg_more: libzmq::zmq_msg_more,
            msg_data: libzmq::zmq_msg_data,
            msg_recv: libzmq::zmq_msg_recv,
            msg_close: libzmq::zmq_msg_close,
        }
    }
}

#[test]
fn oxmq_and_libzmq_talk_over_tcp() {
    let z = Api::oxmq();
    // SAFETY: calls into the C API as documented in zmq.h.
    unsafe {
        let ctx = (z.ctx_new)();
        // Our REP, their REQ, multipart.
        let rep = (z.socket)(ctx, 4);
        assert_eq!((z.bind)(rep, c"tcp://127.0.0.1:*".as_ptr()), 0);
        let mut ep = [0u8; 128];
        let mut len = ep.len();
        assert_eq!((z.getsockopt)(rep, 32, ep.as_mut_ptr().cast(), &mut len), 0);
        let ep = CStr::from_bytes_with_nul(&ep[..len])
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let theirs = zmq::Context::new();
        let req = theirs.socket(zmq::REQ).unwrap();
        req.connect(&ep).unwrap();
        req.send_multipart(["a", "bc"], 0).unwrap();
        let mut msg = Msg([0; 64]);
        (z.msg_init)(&mut msg);
        assert_eq!((z.msg_recv)(&mut msg, rep, 0), 1);
        assert_eq!((z.msg_more)(&msg), 1);
        let st = (z.msg_gets)(&msg, c"Socket-Type".as_ptr());
        assert!(!st.is_null());
        assert_eq!(CStr::from_ptr(st).to_str().unwrap(), "REQ");
        let peer = (z.msg_gets)(&msg, c"Peer-Address".as_ptr());
        assert!(!peer.is_null());
        assert_eq!(CStr::from_ptr(peer).to_str().unwrap(), "127.0.0.1");
        assert_eq!((z.msg_recv)(&mut msg, rep, 0), 2);
        assert_eq!((z.msg_more)(&msg), 0);
        assert_eq!((z.send)(rep, b"reply".as_ptr().cast(), 5, 0), 5);
        assert_eq!(req.recv_bytes(0).unwrap(), b"reply");

        // Their PUSH, our PULL; our PUSH, their PULL.
        let pull = (z.socket)(ctx, 7);
        let push = theirs.socket(zmq::PUSH).unwrap();
        push.bind("tcp://127.0.0.1:*").unwrap();
        let their_ep = CString::new(push.get_last_endpoint().unwrap().unwrap()).unwrap();
        assert_eq!((z.connect)(pull, their_ep.as_ptr()), 0);
        push.send("x".repeat(1000).as_bytes(), 0).unwrap();
        let mut buf = vec![0u8; 2000];
        assert_eq!((z.recv)(pull, buf.as_mut_ptr().cast(), buf.len(), 0), 1000);
        let their_pull = theirs.socket(zmq::PULL).unwrap();
        their_pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep2 = CString::new(their_pull.get_last_endpoint().unwrap().unwrap()).unwrap();
        let our_push = (z.socket)(ctx, 8);
        assert_eq!((z.connect)(our_push, ep2.as_ptr()), 0);
        assert_eq!((z.send)(our_push, b"to libzmq".as_ptr().cast(), 9, 0), 9);
        assert_eq!(their_pull.recv_bytes(0).unwrap(), b"to libzmq");

        (z.msg_close)(&mut msg);
        for s in [rep, pull, our_push] {
            (z.close)(s);
        }
        assert_eq!((z.ctx_term)(ctx), 0);
    }
}

/// libzmq's own functions, from the `zmq` crate's static build linked into this test (ours
/// are only ever reached through `dlsym`).
mod libzmq {
    use super::{c_char, c_int, c_void, Ffn, Msg};
    extern "C" {
        pub fn zmq_ctx_new() -> *mut c_void;
        pub fn zmq_ctx_term(ctx: *mut c_void) -> c_int;
        pub fn zmq_socket(ctx: *mut c_void, kind: c_int) -> *mut c_void;
        pub fn zmq_close(s: *mut c_void) -> c_int;
        pub fn zmq_bind(s: *mut c_void, ep: *const c_char) -> c_int;
        pub fn zmq_connect(s: *mut c_void, ep: *const c_char) -> c_int;
        pub fn zmq_send(s: *mut c_void, buf: *const c_void, len: usize, flags: c_int) -> c_int;
        pub fn zmq_recv(s: *mut c_void, buf: *mut c_void, len: usize, flags: c_int) -> c_int;
        pub fn zmq_getsockopt(
            s: *mut c_void,
            option: c_int,
            value: *mut c_void,
            len: *mut usize,
        ) -> c_int;
        pub fn zmq_msg_gets(m: *const Msg, property: *const c_char) -> *const c_char;
        pub fn zmq_msg_more(m: *const Msg) -> c_int;
        pub fn zmq_msg_init(m: *mut Msg) -> c_int;
        pub fn zmq_msg_init_size(m: *mut Msg, size: usize) -> c_int;
        pub fn zmq_msg_init_data(
            m: *mut Msg,
            data: *mut c_void,
            size: usize,
            ffn: Option<Ffn>,
            hint: *mut c_void,
        ) -> c_int;
        pub fn zmq_msg_copy(dest: *mut Msg, src: *mut Msg) -> c_int;
        pub fn zmq_msg_get(m: *const Msg, property: c_int) -> c_int;
        pub fn zmq_msg_data(m: *mut Msg) -> *mut c_void;
        pub fn zmq_msg_recv(m: *mut Msg, s: *mut c_void, flags: c_int) -> c_int;
        pub fn zmq_msg_close(m: *mut Msg) -> c_int;
    }
}

impl Api {
    /// For each way of making a message, what a copy of it shows: whether the source and
    /// the copy report ZMQ_SHARED, whether they point at the same bytes, whether the
    /// source's data pointer moved, and whether a write into the copy shows in the source.
    fn copies(&self) -> Vec<(String, [bool; 5])> {
        const ZMQ_SHARED: c_int = 3;
        unsafe extern "C" fn free_nothing(_: *mut c_void, _: *mut c_void) {}
        let mut out = Vec::new();
        // SAFETY: the C API used as zmq.h documents it; the buffers given to
        // `zmq_msg_init_data` outlive every message made over them.
        unsafe {
            let ctx = (self.ctx_new)();
            let pull = (self.socket)(ctx, 7);
            let push = (self.socket)(ctx, 8);
            assert_eq!((self.bind)(pull, c"inproc://copies".as_ptr()), 0);
            assert_eq!((self.connect)(push, c"inproc://copies".as_ptr()), 0);
            let mut buffers: Vec<Vec<u8>> = Vec::new();
            for size in [0, 1, 5, 23, 24, 30, 33, 34, 64, 1024] {
                for how in ["init_size", "init_data", "constant", "received"] {
                    let mut src = Msg([0; 64]);
                    match how {
                        "init_size" => assert_eq!((self.msg_init_size)(&mut src, size), 0),
                        "init_data" | "constant" => {
                            buffers.push(vec![7u8; size.max(1)]);
                            let data = buffers.last_mut().unwrap().as_mut_ptr().cast();
                            let ffn = (how == "init_data").then_some(free_nothing as Ffn);
                            let hint = std::ptr::null_mut();
                            assert_eq!((self.msg_init_data)(&mut src, data, size, ffn, hint), 0);
                        }
                        _ => {
                            let body = vec![9u8; size];
                            let sent = (self.send)(push, body.as_ptr().cast(), size, 0);
                            assert_eq!(sent, size as c_int);
                            (self.msg_init)(&mut src);
                            assert_eq!((self.msg_recv)(&mut src, pull, 0), size as c_int);
                        }
                    }
                    let before = (self.msg_data)(&mut src);
                    let mut copy = Msg([0; 64]);
                    (self.msg_init)(&mut copy);
                    assert_eq!((self.msg_copy)(&mut copy, &mut src), 0);
                    let (s, c) = ((self.msg_data)(&mut src), (self.msg_data)(&mut copy));
                    let written = size > 0 && {
                        *c.cast::<u8>() = 0xEE;
                        *s.cast::<u8>() == 0xEE
                    };
                    out.push((
                        format!("{how} {size} B"),
                        [
                            (self.msg_get)(&src, ZMQ_SHARED) == 1,
                            (self.msg_get)(&copy, ZMQ_SHARED) == 1,
                            size > 0 && s == c,
                            size > 0 && s != before,
                            written,
                        ],
                    ));
                    (self.msg_close)(&mut src);
                    (self.msg_close)(&mut copy);
                }
            }
            (self.close)(push);
            (self.close)(pull);
            assert_eq!((self.ctx_term)(ctx), 0);
        }
        out
    }
}

/// `zmq_msg_copy` shares or copies exactly where libzmq does, and ZMQ_SHARED says so: a
/// message libzmq holds in place (33 bytes or fewer, unless it is the caller's buffer) is
/// copied, neither side is shared, and the source's bytes stay where they were; a larger
/// one, or the caller's buffer however short, is shared by both.
#[test]
fn copies_share_what_libzmq_shares() {
    let theirs = Api::libzmq().copies();
    let ours = Api::oxmq().copies();
    assert_eq!(theirs.len(), 40);
    // The table must tell the cases apart, or it would prove nothing.
    assert!(theirs.iter().any(|(_, r)| r[0]) && theirs.iter().any(|(_, r)| !r[0]));
    for ((case, t), (_, o)) in theirs.iter().zip(&ours) {
        assert_eq!(
            o, t,
            "{case}: [src shared, copy shared, same bytes, src moved, write shows]"
        );
    }
}
