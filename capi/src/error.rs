//! errno as libzmq sets it: the C `errno` of the calling thread, with libzmq's own codes
//! above `ZMQ_HAUSNUMERO` for what POSIX has no name for.

use std::ffi::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use oxmq_core::base::EndpointOpError;
use oxmq_core::endpoint::EndpointError;
use oxmq_mio::Error;

/// libzmq's base for its own error numbers.
pub const ZMQ_HAUSNUMERO: c_int = 156_384_712;
/// The operation cannot be done in the socket's current state (REQ sending twice).
pub const EFSM: c_int = ZMQ_HAUSNUMERO + 51;
/// The transport's protocol does not fit the socket type.
pub const ENOCOMPATPROTO: c_int = ZMQ_HAUSNUMERO + 52;
/// The context was terminated.
pub const ETERM: c_int = ZMQ_HAUSNUMERO + 53;
/// No I/O thread is available.
pub const EMTHREAD: c_int = ZMQ_HAUSNUMERO + 54;

/// Sets the calling thread's C `errno`.
pub(crate) fn set_errno(code: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot, valid for the
    // thread's lifetime.
    unsafe { *libc::__errno_location() = code }
}

/// The calling thread's C `errno`.
pub(crate) fn errno() -> c_int {
    // SAFETY: as in `set_errno`.
    unsafe { *libc::__errno_location() }
}

/// The errno libzmq gives for `e`.
pub(crate) fn errno_of(e: &Error) -> c_int {
    match e {
        Error::WouldBlock => libc::EAGAIN,
        Error::Terminated => ETERM,
        Error::HostUnreachable => libc::EHOSTUNREACH,
        Error::BadState => EFSM,
        Error::NotSupported => libc::ENOTSUP,
        Error::Endpoint(e) => endpoint_errno(e),
        Error::Option(_) => libc::EINVAL,
        Error::TooManySockets => libc::EMFILE,
        Error::Interrupted => libc::EINTR,
        Error::Io(io) => io.raw_os_error().unwrap_or(match io.kind() {
            std::io::ErrorKind::AddrInUse => libc::EADDRINUSE,
            std::io::ErrorKind::AddrNotAvailable => libc::EADDRNOTAVAIL,
            std::io::ErrorKind::NotFound => libc::ENOENT,
            _ => libc::EINVAL,
        }),
        _ => libc::EINVAL,
    }
}

fn endpoint_errno(e: &EndpointOpError) -> c_int {
    match e {
        EndpointOpError::NotFound(_) => libc::ENOENT,
        EndpointOpError::Terminated => ETERM,
        EndpointOpError::Endpoint(e) => match e {
            EndpointError::UnsupportedTransport(_) => libc::EPROTONOSUPPORT,
            EndpointError::PathTooLong(_) => libc::ENAMETOOLONG,
            _ => libc::EINVAL,
        },
        _ => libc::EINVAL,
    }
}

/// How many panics the entry points have caught: always 0 unless an invariant of ours broke.
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// How many panics the entry points have caught and turned into `EFAULT` (for tests: a
/// panic is a bug even when it does not cross into C).
pub fn panics_caught() -> usize {
    PANICS.load(Ordering::Relaxed)
}

/// Runs an entry point's body: its error becomes errno and `fail` is returned, and a panic
/// never crosses into C (it reports `EFAULT`). A call that succeeds leaves errno as it found
/// it, whatever the system calls and the allocator did to it on the way.
pub(crate) fn guard<R>(fail: R, f: impl FnOnce() -> Result<R, c_int>) -> R {
    // One lookup of the thread's errno slot serves both the read and the restore.
    // SAFETY: as in `set_errno`; the slot stays valid for the thread's lifetime.
    let slot = unsafe { libc::__errno_location() };
    // SAFETY: `slot` is this thread's errno, read and written only by this thread.
    let before = unsafe { *slot };
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(r)) => {
            // SAFETY: as above.
            unsafe { *slot = before };
            r
        }
        Ok(Err(code)) => {
            set_errno(code);
            fail
        }
        Err(_) => {
            PANICS.fetch_add(1, Ordering::Relaxed);
            set_errno(libc::EFAULT);
            fail
        }
    }
}

/// Converts an oxmq error into its errno, for `?` in entry points.
pub(crate) fn to_errno(e: Error) -> c_int {
    errno_of(&e)
}

/// `zmq_errno`: the calling thread's errno.
#[no_mangle]
pub extern "C" fn zmq_errno() -> c_int {
    errno()
}

/// `zmq_strerror`: a static message for `errnum`, libzmq's own codes included.
#[no_mangle]
pub extern "C" fn zmq_strerror(errnum: c_int) -> *const c_char {
    let own: Option<&'static [u8]> = match errnum {
        EFSM => Some(b"Operation cannot be accomplished in current state\0"),
        ENOCOMPATPROTO => Some(b"The protocol is not compatible with the socket type\0"),
        ETERM => Some(b"Context was terminated\0"),
        EMTHREAD => Some(b"No thread available\0"),
        _ => None,
    };
    match own {
        Some(s) => s.as_ptr().cast(),
        // SAFETY: strerror returns a pointer to a string that stays valid until the next
        // call on this thread, as libzmq's zmq_strerror does.
        None => unsafe { libc::strerror(errnum) },
    }
}
