//! # oxmq-capi
//!
//! libzmq's C API (`zmq.h`, the 4.3 stable functions) over [`oxmq_mio`], with libzmq's
//! numbers, struct sizes and errno values. It builds as `liboxmq_zmq.so` (and `.a`); a C
//! program compiled against libzmq's own `zmq.h` links against it unchanged, and it can be
//! installed or preloaded as `libzmq.so.5`.
//!
//! Every entry point catches panics (reported as `EFAULT`) so none crosses into C; errors
//! set the calling thread's `errno`, which `zmq_errno` reads back. Contexts may be shared
//! between threads; a socket is used by one thread at a time, as libzmq asks.
//!
//! From Rust the functions can be called directly:
//!
//! ```
//! use oxmq_zmq::*;
//! use std::ffi::c_void;
//!
//! let ctx = zmq_ctx_new();
//! let pull = zmq_socket(ctx, 7);
//! let push = zmq_socket(ctx, 8);
//! assert_eq!(zmq_bind(pull, c"inproc://doc".as_ptr()), 0);
//! assert_eq!(zmq_connect(push, c"inproc://doc".as_ptr()), 0);
//! assert_eq!(zmq_send(push, b"hi".as_ptr().cast(), 2, 0), 2);
//! let mut buf = [0u8; 8];
//! assert_eq!(zmq_recv(pull, buf.as_mut_ptr().cast::<c_void>(), 8, 0), 2);
//! assert_eq!(&buf[..2], b"hi");
//! zmq_close(push);
//! zmq_close(pull);
//! zmq_ctx_term(ctx);
//! ```

// The entry points are C functions: they take raw pointers from C callers, which cannot see
// a Rust `unsafe`, and check them as far as libzmq does (null → EFAULT / ENOTSOCK, tags on
// contexts, sockets and messages). Each dereference says in a SAFETY note what it relies on.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

/// The library allocates with mimalloc, not the C library's malloc. A C caller's message is
/// allocated on its own thread (`zmq_msg_init_size`) and freed on an I/O thread once written,
/// and glibc serves that pattern poorly: at 64-byte messages its `_int_malloc` took a fifth
/// of the sending thread's time, refilling the thread cache from fast bins whose chunks were
/// freed on the other core. mimalloc hands frees from other threads back to the owning page
/// in batches. Only the library's own allocations use it; the program's `malloc` is its own.
///
/// mimalloc 2, not 3: with mimalloc 3, a program that loaded this library with `dlopen` from
/// a thread that then exited crashed at the next thread's first allocation (in mimalloc's
/// thread set-up; `tests/dlopen_thread.rs`), as language bindings that load it lazily would.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod ctx;
mod error;
mod monitor;
mod msg;
mod options;
mod poll;
mod socket;
mod util;

pub use ctx::*;
pub use error::*;
pub use monitor::*;
pub use msg::*;
pub use options::*;
pub use poll::*;
pub use socket::*;
pub use util::*;
