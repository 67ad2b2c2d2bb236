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

use common::sym;

/// The library's functions this test calls (function pointers: a thread hands them on).
#[derive(Clone, Copy)]
struct Lib {
    ctx_new: unsafe extern "C" fn() -> *mut c_void,
    ctx_term: unsafe extern "C" fn(*mut c_void) -> c_int,
    socket: unsafe extern "C" fn(*mut c_void, c_int) -> *mut c_void,
    close: unsafe extern "C" fn(*mut c_void) -> c_int,
    bind: unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int,
}

/// Builds the library and loads it on this thread.
fn load() -> Lib {
    let path = common::built_library();
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: loading our own library; each name is looked up with its zmq.h type. No
    // RTLD_DEEPBIND: nothing else in this process exports libzmq's names.
    unsafe {
        let h = libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        assert!(!h.is_null(), "{} did not load", path.display());
        Lib {
            ctx_new: sym(h, "zmq_ctx_new\0"),
            ctx_term: sym(h, "zmq_ctx_term\0"),
            socket: sym(h, "zmq_socket\0"),
            close: sym(h, "zmq_close\0"),
            bind: sym(h, "zmq_bind\0"),
        }
    }
}

/// A context with a bound PUSH (which starts the I/O thread), closed and terminated.
fn use_once(lib: Lib) {
    // SAFETY: each pointer is the named zmq.h function, called as zmq.h documents it.
    unsafe {
        let ctx = (lib.ctx_new)();
        assert!(!ctx.is_null());
        let push = (lib.socket)(ctx, 8);
        assert!(!push.is_null());
        assert_eq!((lib.bind)(push, c"tcp://127.0.0.1:*".as_ptr()), 0);
        assert_eq!((lib.close)(push), 0);
        assert_eq!((lib.ctx_term)(ctx), 0);
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
