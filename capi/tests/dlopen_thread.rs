//! liboxmq_zmq.so loaded with `dlopen` by a thread that then exits, and used from threads
//! started after it: what a language binding that loads the library lazily on a worker
//! thread does. With mimalloc 3 as the library's allocator, the next thread's first
//! allocation crashed (SIGSEGV in mimalloc's thread set-up, `_mi_subproc`), a plain C
//! program as much as this test; mimalloc 2 serves it.
//!
//! One test in its own file: the library must be loaded first by the thread that exits, so
//! no other test may have loaded it in this process.

use std::ffi::{c_char, c_int, c_void, CString};

mod common;

type CtxNew = unsafe extern "C" fn() -> *mut c_void;
type CtxTerm = unsafe extern "C" fn(*mut c_void) -> c_int;
type Socket = unsafe extern "C" fn(*mut c_void, c_int) -> *mut c_void;
type Close = unsafe extern "C" fn(*mut c_void) -> c_int;
type Bind = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

/// The library's functions this test calls, as addresses (a thread hands them on).
#[derive(Clone, Copy)]
struct Lib {
    ctx_new: usize,
    ctx_term: usize,
    socket: usize,
    close: usize,
    bind: usize,
}

/// Builds the library and loads it on this thread.
fn load() -> Lib {
    let path = common::built_library();
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: loading our own library; its symbols are looked up by their C names. No
    // RTLD_DEEPBIND: nothing else in this process exports libzmq's names.
    unsafe {
        let h = libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        assert!(!h.is_null(), "{} did not load", path.display());
        let sym = |name: &str| {
            let name = CString::new(name).unwrap();
            let p = libc::dlsym(h, name.as_ptr());
            assert!(!p.is_null(), "{name:?}");
            p as usize
        };
        Lib {
            ctx_new: sym("zmq_ctx_new"),
            ctx_term: sym("zmq_ctx_term"),
            socket: sym("zmq_socket"),
            close: sym("zmq_close"),
            bind: sym("zmq_bind"),
        }
    }
}

/// A context with a bound PUSH (which starts the I/O thread), closed and terminated.
fn use_once(lib: Lib) {
    // SAFETY: each address is the named zmq.h function, called as zmq.h documents it.
    unsafe {
        let ctx_new: CtxNew = std::mem::transmute(lib.ctx_new);
        let ctx_term: CtxTerm = std::mem::transmute(lib.ctx_term);
        let socket: Socket = std::mem::transmute(lib.socket);
        let close: Close = std::mem::transmute(lib.close);
        let bind: Bind = std::mem::transmute(lib.bind);
        let ctx = ctx_new();
        assert!(!ctx.is_null());
        let push = socket(ctx, 8);
        assert!(!push.is_null());
        assert_eq!(bind(push, c"tcp://127.0.0.1:*".as_ptr()), 0);
        assert_eq!(close(push), 0);
        assert_eq!(ctx_term(ctx), 0);
    }
}

#[test]
fn the_library_loaded_by_a_thread_that_exited_serves_later_threads() {
    let lib = std::thread::spawn(|| {
        let lib = load();
        use_once(lib);
        lib
    })
    .join()
    .unwrap();
    for _ in 0..3 {
        std::thread::spawn(move || use_once(lib)).join().unwrap();
    }
}
