//! liboxmq_zmq.so, loaded as a C program would use it, talking to real libzmq (the `zmq`
//! crate's static build) over tcp in the same process.
//!
//! Both export the same `zmq_*` names, so ours is opened with `RTLD_DEEPBIND` and called
//! through `dlsym`, never linked.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

#[repr(C, align(8))]
struct Msg([u8; 64]);

struct Lib {
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
    msg_recv: unsafe extern "C" fn(*mut Msg, *mut c_void, c_int) -> c_int,
    msg_gets: unsafe extern "C" fn(*const Msg, *const c_char) -> *const c_char,
    msg_more: unsafe extern "C" fn(*const Msg) -> c_int,
    msg_close: unsafe extern "C" fn(*mut Msg) -> c_int,
}

/// The function `name` (NUL-terminated) in `h`, as the pointer type `F`.
///
/// # Safety
/// `F` must be the function's true type.
unsafe fn sym<F: Copy>(h: *mut c_void, name: &str) -> F {
    let p = libc::dlsym(h, name.as_ptr().cast());
    assert!(!p.is_null(), "{name}");
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
    std::mem::transmute_copy(&p)
}

fn open() -> Lib {
    // `cargo test` builds the library as an rlib only: make sure the .so is current.
    let built = std::process::Command::new(env!("CARGO"))
        .args(["build", "-p", "oxmq-capi", "--lib"])
        .status()
        .unwrap();
    assert!(built.success());
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/liboxmq_zmq.so
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("liboxmq_zmq.so");
    assert!(path.exists(), "{} not built", path.display());
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: loading our own library; symbols are looked up by their C names below.
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
        Lib {
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
            msg_recv: sym!("zmq_msg_recv"),
            msg_gets: sym!("zmq_msg_gets"),
            msg_more: sym!("zmq_msg_more"),
            msg_close: sym!("zmq_msg_close"),
        }
    }
}

#[test]
fn oxmq_and_libzmq_talk_over_tcp() {
    let z = open();
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
