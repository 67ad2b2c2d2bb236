//! libzmq with CURVE: the `zmq` crate's libzmq is built without libsodium, so the CURVE
//! workloads load the libzmq that pyzmq's wheel ships (4.3.5 with libsodium) at run time,
//! through its C API. `OXMQ_PERF_LIBZMQ` names another `libzmq.so` to use instead (Debian's
//! `libzmq5`, say). Without one, the column is left out.
//!
//! The only unsafe code of the harness: calls into that library, each with the arguments
//! its `zmq.h` documents.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::blocking::{Blocking, Socket};
use crate::spec::{Kind, Transport, CURVE_CLIENT, CURVE_SERVER};

type Ptr = *mut c_void;

/// The entry points used, looked up once.
struct Api {
    ctx_new: unsafe extern "C" fn() -> Ptr,
    ctx_set: unsafe extern "C" fn(Ptr, c_int, c_int) -> c_int,
    ctx_term: unsafe extern "C" fn(Ptr) -> c_int,
    socket: unsafe extern "C" fn(Ptr, c_int) -> Ptr,
    close: unsafe extern "C" fn(Ptr) -> c_int,
    setsockopt: unsafe extern "C" fn(Ptr, c_int, *const c_void, usize) -> c_int,
    getsockopt: unsafe extern "C" fn(Ptr, c_int, *mut c_void, *mut usize) -> c_int,
    bind: unsafe extern "C" fn(Ptr, *const c_char) -> c_int,
    connect: unsafe extern "C" fn(Ptr, *const c_char) -> c_int,
    send: unsafe extern "C" fn(Ptr, *const c_void, usize, c_int) -> c_int,
    msg_init: unsafe extern "C" fn(*mut ZmqMsg) -> c_int,
    msg_recv: unsafe extern "C" fn(*mut ZmqMsg, Ptr, c_int) -> c_int,
    msg_size: unsafe extern "C" fn(*const ZmqMsg) -> usize,
    msg_data: unsafe extern "C" fn(*mut ZmqMsg) -> *mut c_void,
    msg_more: unsafe extern "C" fn(*const ZmqMsg) -> c_int,
    msg_close: unsafe extern "C" fn(*mut ZmqMsg) -> c_int,
}

// SAFETY: the table holds plain function pointers into a library that stays loaded.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

/// libzmq's `zmq_msg_t`: 64 opaque bytes, pointer-aligned.
#[repr(C, align(8))]
struct ZmqMsg([u8; 64]);

const ZMQ_PULL: c_int = 7;
const ZMQ_PUSH: c_int = 8;
const ZMQ_LAST_ENDPOINT: c_int = 32;
const ZMQ_LINGER: c_int = 17;
const ZMQ_CURVE_SERVER: c_int = 47;
const ZMQ_CURVE_PUBLICKEY: c_int = 48;
const ZMQ_CURVE_SECRETKEY: c_int = 49;
const ZMQ_CURVE_SERVERKEY: c_int = 50;

/// Where pyzmq's bundled libzmq is, if pyzmq is installed.
fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OXMQ_PERF_LIBZMQ") {
        return Some(PathBuf::from(p));
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import zmq, os; print(os.path.dirname(zmq.__file__))"])
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join("../pyzmq.libs");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libzmq"))
        })
}

// Each transmute's target type is the `Api` field it initialises.
#[allow(clippy::missing_transmute_annotations)]
fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        let path = CString::new(find()?.to_str()?).ok()?;
        // SAFETY: dlopen with a NUL-terminated path; RTLD_LOCAL and DEEPBIND keep its symbols
        // apart from the statically linked libzmq of the `zmq` crate.
        let lib = unsafe {
            libc::dlopen(
                path.as_ptr(),
                libc::RTLD_NOW | libc::RTLD_LOCAL | libc::RTLD_DEEPBIND,
            )
        };
        if lib.is_null() {
            return None;
        }
        let sym = |name: &CStr| {
            // SAFETY: a symbol lookup in the handle just opened.
            let p = unsafe { libc::dlsym(lib, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        // SAFETY: each symbol is transmuted to the signature `zmq.h` declares for it.
        unsafe {
            Some(Api {
                ctx_new: std::mem::transmute(sym(c"zmq_ctx_new")?),
                ctx_set: std::mem::transmute(sym(c"zmq_ctx_set")?),
                ctx_term: std::mem::transmute(sym(c"zmq_ctx_term")?),
                socket: std::mem::transmute(sym(c"zmq_socket")?),
                close: std::mem::transmute(sym(c"zmq_close")?),
                setsockopt: std::mem::transmute(sym(c"zmq_setsockopt")?),
                getsockopt: std::mem::transmute(sym(c"zmq_getsockopt")?),
                bind: std::mem::transmute(sym(c"zmq_bind")?),
                connect: std::mem::transmute(sym(c"zmq_connect")?),
                send: std::mem::transmute(sym(c"zmq_send")?),
                msg_init: std::mem::transmute(sym(c"zmq_msg_init")?),
                msg_recv: std::mem::transmute(sym(c"zmq_msg_recv")?),
                msg_size: std::mem::transmute(sym(c"zmq_msg_size")?),
                msg_data: std::mem::transmute(sym(c"zmq_msg_data")?),
                msg_more: std::mem::transmute(sym(c"zmq_msg_more")?),
                msg_close: std::mem::transmute(sym(c"zmq_msg_close")?),
            })
        }
    })
    .as_ref()
}

/// Whether a libzmq with CURVE could be loaded.
pub fn available() -> bool {
    api().is_some()
}

pub struct LibzmqSodium {
    ctx: Ptr,
}

// SAFETY: a libzmq context is thread-safe.
unsafe impl Send for LibzmqSodium {}
unsafe impl Sync for LibzmqSodium {}

impl Drop for LibzmqSodium {
    fn drop(&mut self) {
        let api = api().expect("loaded");
        // SAFETY: the context made in `new`; its sockets are closed by now.
        unsafe { (api.ctx_term)(self.ctx) };
    }
}

pub struct Sock {
    s: Ptr,
}

// SAFETY: a libzmq socket may move between threads (one user at a time).
unsafe impl Send for Sock {}

impl Drop for Sock {
    fn drop(&mut self) {
        let api = api().expect("loaded");
        // SAFETY: the socket made in `socket`, closed once.
        unsafe { (api.close)(self.s) };
    }
}

impl Sock {
    fn set(&mut self, opt: c_int, value: &[u8]) {
        let api = api().expect("loaded");
        // SAFETY: the value's pointer and length describe a live slice.
        let rc = unsafe { (api.setsockopt)(self.s, opt, value.as_ptr().cast(), value.len()) };
        assert_eq!(rc, 0, "zmq_setsockopt({opt})");
    }
}

impl Blocking for LibzmqSodium {
    type Socket = Sock;
    const TRANSPORTS: &'static [Transport] = &[Transport::Tcp];
    const CURVE: bool = true;

    fn new() -> Self {
        let api = api().expect("a libzmq with CURVE");
        // SAFETY: no arguments.
        let ctx = unsafe { (api.ctx_new)() };
        assert!(!ctx.is_null(), "zmq_ctx_new");
        if let Some(n) = crate::spec::io_threads() {
            /// `ZMQ_IO_THREADS` in zmq.h.
            const ZMQ_IO_THREADS: c_int = 1;
            let n = c_int::try_from(n).expect("a thread count");
            // SAFETY: a live context, before any socket is made.
            let rc = unsafe { (api.ctx_set)(ctx, ZMQ_IO_THREADS, n) };
            assert_eq!(rc, 0, "zmq_ctx_set(ZMQ_IO_THREADS)");
        }
        LibzmqSodium { ctx }
    }

    fn socket(&self, kind: Kind, hwm: Option<usize>) -> Sock {
        assert!(hwm.is_none(), "only the CURVE streams run here");
        let kind = match kind {
            Kind::Push => ZMQ_PUSH,
            Kind::Pull => ZMQ_PULL,
            other => panic!("{other:?} is not used by the CURVE workloads"),
        };
        let api = api().expect("loaded");
        // SAFETY: the live context of `self`.
        let s = unsafe { (api.socket)(self.ctx, kind) };
        assert!(!s.is_null(), "zmq_socket");
        let mut sock = Sock { s };
        sock.set(ZMQ_LINGER, &0i32.to_ne_bytes());
        sock
    }
}

impl Socket for Sock {
    type Msg = Vec<u8>;

    fn bind(&mut self, endpoint: &str) -> String {
        let api = api().expect("loaded");
        let ep = CString::new(endpoint).expect("an endpoint without NUL");
        // SAFETY: a NUL-terminated endpoint.
        assert_eq!(unsafe { (api.bind)(self.s, ep.as_ptr()) }, 0, "zmq_bind");
        let mut buf = [0u8; 256];
        let mut len = buf.len();
        // SAFETY: the buffer and its length.
        let rc = unsafe {
            (api.getsockopt)(self.s, ZMQ_LAST_ENDPOINT, buf.as_mut_ptr().cast(), &mut len)
        };
        assert_eq!(rc, 0, "ZMQ_LAST_ENDPOINT");
        CStr::from_bytes_until_nul(&buf[..len])
            .expect("a NUL-terminated endpoint")
            .to_string_lossy()
            .into_owned()
    }

    fn connect(&mut self, endpoint: &str) {
        let api = api().expect("loaded");
        let ep = CString::new(endpoint).expect("an endpoint without NUL");
        // SAFETY: a NUL-terminated endpoint.
        assert_eq!(
            unsafe { (api.connect)(self.s, ep.as_ptr()) },
            0,
            "zmq_connect"
        );
    }

    fn subscribe_all(&mut self) {
        unreachable!("no PUB/SUB here");
    }

    fn message(&self, payload: &[u8]) -> Vec<u8> {
        payload.to_vec()
    }

    fn send(&mut self, msg: &Vec<u8>) {
        let api = api().expect("loaded");
        // SAFETY: the message's pointer and length describe a live buffer, copied by libzmq.
        let rc = unsafe { (api.send)(self.s, msg.as_ptr().cast(), msg.len(), 0) };
        assert_eq!(usize::try_from(rc).ok(), Some(msg.len()), "zmq_send");
    }

    fn recv(&mut self) -> (usize, u8) {
        let api = api().expect("loaded");
        let mut msg = ZmqMsg([0; 64]);
        loop {
            // SAFETY: a zmq_msg_t initialised, received into, read and closed, in that order.
            unsafe {
                (api.msg_init)(&mut msg);
                assert!((api.msg_recv)(&mut msg, self.s, 0) >= 0, "zmq_msg_recv");
                let len = (api.msg_size)(&msg);
                let first = if len > 0 {
                    *(api.msg_data)(&mut msg).cast::<u8>()
                } else {
                    0
                };
                let more = (api.msg_more)(&msg) != 0;
                (api.msg_close)(&mut msg);
                if !more {
                    return (len, first);
                }
            }
        }
    }

    fn curve(&mut self, server: bool) {
        let (sp, ss) = CURVE_SERVER;
        let (cp, cs) = CURVE_CLIENT;
        // libzmq takes Z85 keys as 40-character strings.
        if server {
            self.set(ZMQ_CURVE_SERVER, &1i32.to_ne_bytes());
            self.set(ZMQ_CURVE_PUBLICKEY, sp.as_bytes());
            self.set(ZMQ_CURVE_SECRETKEY, ss.as_bytes());
        } else {
            self.set(ZMQ_CURVE_SERVERKEY, sp.as_bytes());
            self.set(ZMQ_CURVE_PUBLICKEY, cp.as_bytes());
            self.set(ZMQ_CURVE_SECRETKEY, cs.as_bytes());
        }
    }
}
