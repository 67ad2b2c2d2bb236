//! Contexts: `zmq_ctx_*`, shared by any number of threads.

use std::ffi::{c_int, c_void};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use oxmq_mio::{Context, ContextOption, ContextOptionName};

use crate::error::{guard, to_errno};

/// `ZMQ_IO_THREADS`.
pub const ZMQ_IO_THREADS: c_int = 1;
/// `ZMQ_MAX_SOCKETS`.
pub const ZMQ_MAX_SOCKETS: c_int = 2;
/// `ZMQ_SOCKET_LIMIT`.
pub const ZMQ_SOCKET_LIMIT: c_int = 3;
/// `ZMQ_MAX_MSGSZ`.
pub const ZMQ_MAX_MSGSZ: c_int = 5;
/// `ZMQ_MSG_T_SIZE`.
pub const ZMQ_MSG_T_SIZE: c_int = 6;
/// `ZMQ_IPV6` (also a socket option).
pub const ZMQ_IPV6: c_int = 42;
/// `ZMQ_BLOCKY`.
pub const ZMQ_BLOCKY: c_int = 70;

const CTX_TAG: u32 = 0xabad_cafe;

/// What a `void *` context points at.
pub(crate) struct CContext {
    tag: u32,
    pub(crate) ctx: Context,
    /// The sockets `zmq_socket` made that `zmq_close` has not closed yet.
    pub(crate) open: Arc<OpenSockets>,
}

/// A count of a context's open sockets, which `zmq_ctx_term` waits to see at zero.
///
/// The wait is a `poll(2)` on an eventfd written when the count reaches zero, so that a
/// signal handler ends it with `EINTR`, as it ends libzmq's (pyzmq then runs its Python
/// handler: Ctrl-C gets out of a `term` that waits for a socket never closed).
pub(crate) struct OpenSockets {
    count: Mutex<usize>,
    zero: OwnedFd,
}

impl OpenSockets {
    pub(crate) fn new() -> Result<OpenSockets, c_int> {
        // SAFETY: eventfd takes no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(crate::error::errno());
        }
        Ok(OpenSockets {
            count: Mutex::new(0),
            // SAFETY: a descriptor just made, owned by nothing else.
            zero: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub(crate) fn opened(&self) {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    pub(crate) fn closed(&self) {
        let mut n = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        if *n == 0 {
            let one: u64 = 1;
            // SAFETY: writes the 8 bytes of `one` to our eventfd. It cannot fail but by
            // overflowing the counter, which a waiter would see readable anyway.
            unsafe { libc::write(self.zero.as_raw_fd(), (&raw const one).cast(), 8) };
        }
    }

    /// Waits until no socket is open; `EINTR` if a signal handler ran meanwhile.
    fn wait_for_none(&self) -> Result<(), c_int> {
        loop {
            if *self.count.lock().unwrap_or_else(|e| e.into_inner()) == 0 {
                return Ok(());
            }
            // The count reaching zero after the look above leaves the eventfd readable.
            let mut p = libc::pollfd {
                fd: self.zero.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd, ours, for the call's duration.
            if unsafe { libc::poll(&mut p, 1, -1) } < 0 {
                let e = crate::error::errno();
                if e == libc::EINTR {
                    return Err(e);
                }
                continue;
            }
            let mut v: u64 = 0;
            // SAFETY: reads at most 8 bytes into `v`; the eventfd is non-blocking.
            unsafe { libc::read(self.zero.as_raw_fd(), (&raw mut v).cast(), 8) };
        }
    }
}

/// The context behind `p`, or `EFAULT` as libzmq answers a bad one.
pub(crate) fn context<'a>(p: *mut c_void) -> Result<&'a CContext, c_int> {
    let c = p.cast::<CContext>();
    // SAFETY: a non-null pointer given as a context came from `zmq_ctx_new`; the tag tells a
    // live one from a terminated one as far as libzmq can.
    match unsafe { c.as_ref() } {
        Some(c) if c.tag == CTX_TAG => Ok(c),
        _ => Err(libc::EFAULT),
    }
}

/// `zmq_ctx_new`.
#[no_mangle]
pub extern "C" fn zmq_ctx_new() -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let ctx = Context::new().map_err(to_errno)?;
        // libzmq's CURVE runs on libsodium; so does this library's (same boxes on the wire).
        #[cfg(feature = "libsodium")]
        ctx.set_curve_crypto(&oxmq_sodium::LIBSODIUM);
        // A signal handler ends a blocking call with EINTR, as in libzmq.
        ctx.set_interruptible(true);
        let c = CContext {
            tag: CTX_TAG,
            ctx,
            open: Arc::new(OpenSockets::new()?),
        };
        Ok(Box::into_raw(Box::new(c)).cast())
    })
}

/// `zmq_init` (deprecated): a context with `io_threads` I/O threads.
#[no_mangle]
pub extern "C" fn zmq_init(io_threads: c_int) -> *mut c_void {
    if io_threads < 0 {
        crate::error::set_errno(libc::EINVAL);
        return std::ptr::null_mut();
    }
    let ctx = zmq_ctx_new();
    if !ctx.is_null() {
        zmq_ctx_set(ctx, ZMQ_IO_THREADS, io_threads);
    }
    ctx
}

/// `zmq_ctx_term`, as libzmq's: calls blocked on the context's sockets, and later ones,
/// fail with `ETERM`; then it waits until the application has closed every socket with
/// `zmq_close`, lets them linger as set, stops the I/O threads and frees the context. A
/// signal handler that runs meanwhile ends it with `EINTR`, as in libzmq: the context stays,
/// terminated, and a later call goes on where this one stopped.
#[no_mangle]
pub extern "C" fn zmq_ctx_term(context_: *mut c_void) -> c_int {
    guard(-1, || {
        {
            let c = context(context_)?;
            c.ctx.shutdown();
            // Interrupted (EINTR), the context stays, terminated: a later call goes on.
            c.open.wait_for_none()?;
            c.ctx.try_term().map_err(to_errno)?;
        }
        // SAFETY: checked above to be a live context made by `zmq_ctx_new`, and terminated;
        // from here on it is ours to free.
        let mut c = unsafe { Box::from_raw(context_.cast::<CContext>()) };
        c.tag = 0;
        Ok(0)
    })
}

/// `zmq_term` (deprecated): `zmq_ctx_term`.
#[no_mangle]
pub extern "C" fn zmq_term(context_: *mut c_void) -> c_int {
    zmq_ctx_term(context_)
}

/// `zmq_ctx_destroy` (deprecated): `zmq_ctx_term`.
#[no_mangle]
pub extern "C" fn zmq_ctx_destroy(context_: *mut c_void) -> c_int {
    zmq_ctx_term(context_)
}

/// `zmq_ctx_shutdown`: blocked and later calls fail with `ETERM`; returns at once.
#[no_mangle]
pub extern "C" fn zmq_ctx_shutdown(context_: *mut c_void) -> c_int {
    guard(-1, || {
        context(context_)?.ctx.shutdown();
        Ok(0)
    })
}

/// `zmq_ctx_set`.
#[no_mangle]
pub extern "C" fn zmq_ctx_set(context_: *mut c_void, option_: c_int, optval_: c_int) -> c_int {
    guard(-1, || {
        let c = context(context_)?;
        let count = || usize::try_from(optval_).map_err(|_| libc::EINVAL);
        let opt = match option_ {
            ZMQ_IO_THREADS => ContextOption::IoThreads(count()?),
            ZMQ_MAX_SOCKETS => ContextOption::MaxSockets(count()?),
            ZMQ_IPV6 => ContextOption::Ipv6(optval_ != 0),
            ZMQ_BLOCKY => ContextOption::Blocky(optval_ != 0),
            _ => return Err(libc::EINVAL),
        };
        match c.ctx.set(opt) {
            // libzmq takes IO_THREADS after the first socket and ignores it.
            Err(oxmq_mio::Error::BadState) => Ok(0),
            r => r.map(|()| 0).map_err(to_errno),
        }
    })
}

/// `zmq_ctx_get`.
#[no_mangle]
pub extern "C" fn zmq_ctx_get(context_: *mut c_void, option_: c_int) -> c_int {
    guard(-1, || {
        let c = context(context_)?;
        let name = match option_ {
            ZMQ_IO_THREADS => ContextOptionName::IoThreads,
            ZMQ_MAX_SOCKETS => ContextOptionName::MaxSockets,
            ZMQ_SOCKET_LIMIT => ContextOptionName::SocketLimit,
            ZMQ_IPV6 => ContextOptionName::Ipv6,
            ZMQ_BLOCKY => ContextOptionName::Blocky,
            ZMQ_MSG_T_SIZE => return Ok(crate::msg::MSG_T_SIZE as c_int),
            ZMQ_MAX_MSGSZ => return Ok(c_int::MAX),
            _ => return Err(libc::EINVAL),
        };
        let n = match c.ctx.get(name).map_err(to_errno)? {
            ContextOption::IoThreads(n)
            | ContextOption::MaxSockets(n)
            | ContextOption::SocketLimit(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
            ContextOption::Ipv6(b) | ContextOption::Blocky(b) => c_int::from(b),
            _ => return Err(libc::EINVAL),
        };
        Ok(n)
    })
}
