//! `zmq_poll` over sockets and plain file descriptors, and the proxies.
//!
//! Over sockets alone the wait is oxmq-mio's own [`poll`](oxmq_mio::poll), which sleeps on
//! the context's change signal. With file descriptors in the set, it is the system's
//! `poll(2)` over those descriptors and each socket's ZMQ_FD, each wake-up followed by a
//! ZMQ_EVENTS check, as libzmq does it.

use std::ffi::{c_int, c_long, c_short, c_void};
use std::time::{Duration, Instant};

use oxmq_core::{SocketOption, SocketOptionName};
use oxmq_mio::PollItem;

use crate::error::{guard, to_errno};
use crate::socket::{socket, CSocket};

/// `ZMQ_POLLIN`.
pub const ZMQ_POLLIN: c_short = 1;
/// `ZMQ_POLLOUT`.
pub const ZMQ_POLLOUT: c_short = 2;
/// `ZMQ_POLLERR`.
pub const ZMQ_POLLERR: c_short = 4;
/// `ZMQ_POLLPRI`.
pub const ZMQ_POLLPRI: c_short = 8;

/// libzmq's `zmq_pollitem_t` (on POSIX, where `fd` is an `int`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct zmq_pollitem_t {
    /// A socket, or null to poll `fd`.
    pub socket: *mut c_void,
    /// A file descriptor, polled when `socket` is null.
    pub fd: c_int,
    /// ZMQ_POLLIN / ZMQ_POLLOUT (and ZMQ_POLLPRI for an fd).
    pub events: c_short,
    /// What happened.
    pub revents: c_short,
}

/// A socket's events now (ZMQ_EVENTS, and a message partly read counts as readable).
fn socket_events(s: &CSocket) -> Result<c_short, c_int> {
    let e = match s.sock.get(SocketOptionName::Events).map_err(to_errno)? {
        SocketOption::Events(e) => c_short::from(e),
        _ => 0,
    };
    Ok(if s.rcvmore() { e | ZMQ_POLLIN } else { e })
}

/// `zmq_poll`: waits until an item is ready or `timeout_` ms pass (−1: forever; 0: look
/// once). Returns how many items are ready.
#[no_mangle]
pub extern "C" fn zmq_poll(items_: *mut zmq_pollitem_t, nitems_: c_int, timeout_: c_long) -> c_int {
    guard(-1, || {
        let n = usize::try_from(nitems_).map_err(|_| libc::EINVAL)?;
        let deadline = (timeout_ >= 0)
            .then(|| Instant::now() + Duration::from_millis(timeout_.unsigned_abs()));
        if n == 0 {
            // A sleep, which a signal handler ends with EINTR, as libzmq's `usleep` does.
            if timeout_ == 0 {
                return Ok(0);
            }
            let ms = if timeout_ < 0 {
                -1
            } else {
                c_int::try_from(timeout_).unwrap_or(c_int::MAX)
            };
            // SAFETY: no descriptors: `poll(2)` reads nothing at the null pointer.
            if unsafe { libc::poll(std::ptr::null_mut(), 0, ms) } < 0 {
                return Err(crate::error::errno());
            }
            return Ok(0);
        }
        if items_.is_null() {
            return Err(libc::EFAULT);
        }
        // SAFETY: the caller gives `nitems_` items at `items_`.
        let items = unsafe { std::slice::from_raw_parts_mut(items_, n) };
        let mut sockets = Vec::with_capacity(n);
        for it in items.iter() {
            sockets.push(if it.socket.is_null() {
                None
            } else {
                Some(socket(it.socket)?)
            });
        }
        if sockets.iter().all(Option::is_some) {
            poll_sockets(items, &sockets, deadline)
        } else {
            poll_fds(items, &sockets, deadline)
        }
    })
}

fn poll_sockets(
    items: &mut [zmq_pollitem_t],
    sockets: &[Option<&CSocket>],
    deadline: Option<Instant>,
) -> Result<c_int, c_int> {
    // A message partly read is not in the core's view: answer at once if one is wanted.
    let buffered = items
        .iter()
        .zip(sockets)
        .any(|(it, s)| it.events & ZMQ_POLLIN != 0 && s.is_some_and(CSocket::rcvmore));
    let timeout = if buffered {
        Some(Duration::ZERO)
    } else {
        deadline.map(|d| d.saturating_duration_since(Instant::now()))
    };
    let mut poll_items: Vec<PollItem<'_>> = items
        .iter()
        .zip(sockets)
        .map(|(it, s)| {
            let s = s.expect("all items are sockets");
            PollItem::new(&s.sock, (it.events & (ZMQ_POLLIN | ZMQ_POLLOUT)) as u8)
        })
        .collect();
    oxmq_mio::poll(&mut poll_items, timeout).map_err(to_errno)?;
    let mut ready = 0;
    for ((it, p), s) in items.iter_mut().zip(&poll_items).zip(sockets) {
        let mut r = c_short::from(p.revents);
        if s.is_some_and(CSocket::rcvmore) {
            r |= ZMQ_POLLIN;
        }
        it.revents = r & it.events;
        ready += c_int::from(it.revents != 0);
    }
    Ok(ready)
}

fn poll_fds(
    items: &mut [zmq_pollitem_t],
    sockets: &[Option<&CSocket>],
    deadline: Option<Instant>,
) -> Result<c_int, c_int> {
    let mut fds = Vec::with_capacity(items.len());
    for (it, s) in items.iter().zip(sockets) {
        let (fd, events) = match s {
            Some(s) => (s.sock.readiness_fd().map_err(to_errno)?, libc::POLLIN),
            None => {
                let mut e = 0;
                if it.events & ZMQ_POLLIN != 0 {
                    e |= libc::POLLIN;
                }
                if it.events & ZMQ_POLLOUT != 0 {
                    e |= libc::POLLOUT;
                }
                if it.events & ZMQ_POLLPRI != 0 {
                    e |= libc::POLLPRI;
                }
                (it.fd, e)
            }
        };
        fds.push(libc::pollfd {
            fd,
            events,
            revents: 0,
        });
    }
    let mut wait_ms: c_int = 0;
    loop {
        // SAFETY: `fds` is a live array of `fds.len()` pollfd structs.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if rc < 0 {
            return Err(crate::error::errno());
        }
        let mut ready = 0;
        for ((it, pfd), s) in items.iter_mut().zip(&fds).zip(sockets) {
            it.revents = match s {
                // The fd only says "look again": ZMQ_EVENTS says what is ready.
                Some(s) => socket_events(s)? & it.events,
                None => {
                    let mut r = 0;
                    if pfd.revents & libc::POLLIN != 0 {
                        r |= ZMQ_POLLIN;
                    }
                    if pfd.revents & libc::POLLOUT != 0 {
                        r |= ZMQ_POLLOUT;
                    }
                    if pfd.revents & libc::POLLPRI != 0 {
                        r |= ZMQ_POLLPRI;
                    }
                    if pfd.revents & !(libc::POLLIN | libc::POLLOUT | libc::POLLPRI) != 0 {
                        r |= ZMQ_POLLERR;
                    }
                    r
                }
            };
            ready += c_int::from(it.revents != 0);
        }
        if ready > 0 {
            return Ok(ready);
        }
        wait_ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(0);
                }
                // Round up, so that the last wait does not end a millisecond short.
                c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(c_int::MAX)
            }
        };
    }
}

/// `zmq_proxy`: forwards between `frontend_` and `backend_` (copying to `capture_` if not
/// null) until the context is terminated; then returns −1 with `ETERM`.
#[no_mangle]
pub extern "C" fn zmq_proxy(
    frontend_: *mut c_void,
    backend_: *mut c_void,
    capture_: *mut c_void,
) -> c_int {
    guard(-1, || {
        let f = socket(frontend_)?;
        let b = socket(backend_)?;
        let c = if capture_.is_null() {
            None
        } else {
            Some(&socket(capture_)?.sock)
        };
        oxmq_mio::proxy(&f.sock, &b.sock, c).map_err(to_errno)?;
        Ok(0)
    })
}

/// `zmq_proxy_steerable`: `zmq_proxy` steered by PAUSE, RESUME, TERMINATE and STATISTICS
/// on `control_`; returns 0 on TERMINATE.
#[no_mangle]
pub extern "C" fn zmq_proxy_steerable(
    frontend_: *mut c_void,
    backend_: *mut c_void,
    capture_: *mut c_void,
    control_: *mut c_void,
) -> c_int {
    if control_.is_null() {
        return zmq_proxy(frontend_, backend_, capture_);
    }
    guard(-1, || {
        let f = socket(frontend_)?;
        let b = socket(backend_)?;
        let c = if capture_.is_null() {
            None
        } else {
            Some(&socket(capture_)?.sock)
        };
        let control = socket(control_)?;
        oxmq_mio::proxy_steerable(&f.sock, &b.sock, c, &control.sock).map_err(to_errno)?;
        Ok(0)
    })
}

/// `zmq_device` (deprecated): `zmq_proxy` without capture; the type is ignored as in libzmq.
#[no_mangle]
pub extern "C" fn zmq_device(_type: c_int, frontend_: *mut c_void, backend_: *mut c_void) -> c_int {
    zmq_proxy(frontend_, backend_, std::ptr::null_mut())
}
