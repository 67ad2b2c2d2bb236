//! Sockets: `zmq_socket`, `zmq_close`, endpoints, and the send and receive calls.
//!
//! A socket is used by one thread at a time, as in libzmq; it may move between threads.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

use bytes::Bytes;
use oxmq_core::codec::Metadata;
use oxmq_core::{Frame, SocketType};
use oxmq_mio::{Context, Socket};

use crate::ctx::context;
use crate::error::{guard, to_errno};
use crate::msg::{self, zmq_msg_t};

/// `ZMQ_DONTWAIT`.
pub const ZMQ_DONTWAIT: c_int = 1;
/// `ZMQ_SNDMORE`.
pub const ZMQ_SNDMORE: c_int = 2;

const SOCKET_TAG: u32 = 0xbaddecaf;

/// What a `void *` socket points at.
pub(crate) struct CSocket {
    tag: u32,
    pub(crate) sock: Socket,
    /// The context, for the monitor's PAIR socket.
    pub(crate) ctx: Context,
    /// The frames of the message being read that `zmq_recv` has not returned yet.
    in_parts: RefCell<VecDeque<Frame>>,
    /// That message's connection properties.
    in_props: RefCell<Option<Arc<Metadata>>>,
    /// The relay of `zmq_socket_monitor`, if one runs.
    pub(crate) monitor: RefCell<Option<crate::monitor::Relay>>,
    /// The context's count of open sockets, which this one is in until `zmq_close`.
    open: Arc<crate::ctx::OpenSockets>,
    /// The options libzmq keeps that do nothing here (multicast, AFFINITY, ...).
    pub(crate) inert: Cell<crate::options::InertOptions>,
}

/// The socket behind `p`, or `ENOTSOCK`.
pub(crate) fn socket<'a>(p: *mut c_void) -> Result<&'a CSocket, c_int> {
    let s = p.cast::<CSocket>();
    // SAFETY: a non-null pointer given as a socket came from `zmq_socket`; the tag tells a
    // socket from other memory as far as libzmq can.
    match unsafe { s.as_ref() } {
        Some(s) if s.tag == SOCKET_TAG => Ok(s),
        _ => Err(libc::ENOTSOCK),
    }
}

/// libzmq's socket type numbers (the stable ones).
pub(crate) fn socket_type(n: c_int) -> Option<SocketType> {
    Some(match n {
        0 => SocketType::Pair,
        1 => SocketType::Pub,
        2 => SocketType::Sub,
        3 => SocketType::Req,
        4 => SocketType::Rep,
        5 => SocketType::Dealer,
        6 => SocketType::Router,
        7 => SocketType::Pull,
        8 => SocketType::Push,
        9 => SocketType::XPub,
        10 => SocketType::XSub,
        11 => SocketType::Stream,
        _ => return None,
    })
}

/// The number libzmq gives `t`.
pub(crate) fn socket_type_number(t: SocketType) -> c_int {
    match t {
        SocketType::Pair => 0,
        SocketType::Pub => 1,
        SocketType::Sub => 2,
        SocketType::Req => 3,
        SocketType::Rep => 4,
        SocketType::Dealer => 5,
        SocketType::Router => 6,
        SocketType::Pull => 7,
        SocketType::Push => 8,
        SocketType::XPub => 9,
        SocketType::XSub => 10,
        SocketType::Stream => 11,
        SocketType::Server => 12,
        SocketType::Client => 13,
        SocketType::Radio => 14,
        SocketType::Dish => 15,
        SocketType::Gather => 16,
        SocketType::Scatter => 17,
        SocketType::Peer => 19,
        SocketType::Channel => 20,
        _ => -1,
    }
}

impl CSocket {
    /// Receives one frame: whether more follow, and the connection's properties.
    pub(crate) fn recv_frame(
        &self,
        flags: c_int,
    ) -> Result<(Frame, bool, Option<Arc<Metadata>>), c_int> {
        let mut parts = self.in_parts.borrow_mut();
        if parts.is_empty() {
            let mut m = if flags & ZMQ_DONTWAIT != 0 {
                self.sock.recv_dontwait()
            } else {
                self.sock.recv()
            }
            .map_err(to_errno)?;
            let props = m.take_properties();
            match m.into_single() {
                // The common case, without a list of parts.
                Ok(frame) => return Ok((frame, false, props)),
                Err(m) => {
                    *self.in_props.borrow_mut() = props;
                    parts.extend(m.into_frames());
                }
            }
        }
        let frame = parts.pop_front().unwrap_or_default();
        Ok((frame, !parts.is_empty(), self.in_props.borrow().clone()))
    }

    /// Sends one frame (ZMQ_SNDMORE, ZMQ_DONTWAIT in `flags`).
    pub(crate) fn send_frame(&self, frame: Frame, flags: c_int) -> Result<(), c_int> {
        let more = flags & ZMQ_SNDMORE != 0;
        if flags & ZMQ_DONTWAIT != 0 {
            self.sock.send_frame_dontwait(frame, more)
        } else {
            self.sock.send_frame(frame, more)
        }
        .map_err(to_errno)
    }

    /// ZMQ_RCVMORE: whether the last frame received has more after it.
    pub(crate) fn rcvmore(&self) -> bool {
        !self.in_parts.borrow().is_empty()
    }
}

/// `zmq_socket`: a socket of libzmq type number `type_` (the stable types, 0 to 11).
#[no_mangle]
pub extern "C" fn zmq_socket(context_: *mut c_void, type_: c_int) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let c = context(context_)?;
        let kind = socket_type(type_).ok_or(libc::EINVAL)?;
        let sock = c.ctx.socket(kind).map_err(to_errno)?;
        let s = CSocket {
            tag: SOCKET_TAG,
            sock,
            ctx: c.ctx.clone(),
            in_parts: RefCell::default(),
            in_props: RefCell::default(),
            monitor: RefCell::default(),
            inert: Cell::default(),
            open: c.open.clone(),
        };
        s.open.opened();
        Ok(Box::into_raw(Box::new(s)).cast())
    })
}

/// `zmq_close`: returns at once; queued messages keep going out for up to ZMQ_LINGER.
#[no_mangle]
pub extern "C" fn zmq_close(s_: *mut c_void) -> c_int {
    guard(-1, || {
        socket(s_)?;
        // SAFETY: checked to be a live socket from `zmq_socket`; from here on it is ours to
        // free.
        let mut s = unsafe { Box::from_raw(s_.cast::<CSocket>()) };
        s.tag = 0;
        let relay = s.monitor.borrow_mut().take();
        let open = s.open.clone();
        drop(s);
        // The relay forwards the last events, up to MONITOR_STOPPED, then ends.
        drop(relay);
        open.closed();
        Ok(0)
    })
}

/// Reads a C string argument.
pub(crate) fn c_str<'a>(p: *const c_char) -> Result<&'a str, c_int> {
    if p.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: the caller passes a NUL-terminated string.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| libc::EINVAL)
}

/// The four endpoint calls: a socket, a NUL-terminated endpoint, 0 or -1 with errno.
fn endpoint_call(
    s_: *mut c_void,
    addr_: *const c_char,
    op: impl FnOnce(&oxmq_mio::Socket, &str) -> Result<(), oxmq_mio::Error>,
) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        let addr = c_str(addr_)?;
        op(&s.sock, addr).map_err(to_errno)?;
        Ok(0)
    })
}

/// `zmq_bind`.
#[no_mangle]
pub extern "C" fn zmq_bind(s_: *mut c_void, addr_: *const c_char) -> c_int {
    endpoint_call(s_, addr_, |sock, addr| sock.bind(addr).map(drop))
}

/// `zmq_connect`.
#[no_mangle]
pub extern "C" fn zmq_connect(s_: *mut c_void, addr_: *const c_char) -> c_int {
    endpoint_call(s_, addr_, |sock, addr| sock.connect(addr).map(drop))
}

/// `zmq_unbind`: `ENOENT` if the endpoint is not bound.
#[no_mangle]
pub extern "C" fn zmq_unbind(s_: *mut c_void, addr_: *const c_char) -> c_int {
    endpoint_call(s_, addr_, |sock, addr| sock.unbind(addr).map(drop))
}

/// `zmq_disconnect`: `ENOENT` if the endpoint is not connected.
#[no_mangle]
pub extern "C" fn zmq_disconnect(s_: *mut c_void, addr_: *const c_char) -> c_int {
    endpoint_call(s_, addr_, |sock, addr| sock.disconnect(addr).map(drop))
}

fn len_result(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

/// `zmq_send`: sends a copy of `len_` bytes at `buf_`; returns `len_`.
#[no_mangle]
pub extern "C" fn zmq_send(
    s_: *mut c_void,
    buf_: *const c_void,
    len_: usize,
    flags_: c_int,
) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        let frame = if len_ == 0 {
            Frame::new()
        } else {
            if buf_.is_null() {
                return Err(libc::EFAULT);
            }
            // SAFETY: the caller gives `len_` readable bytes at `buf_`.
            Frame::copy_from_slice(unsafe { std::slice::from_raw_parts(buf_.cast(), len_) })
        };
        s.send_frame(frame, flags_)?;
        Ok(len_result(len_))
    })
}

/// A constant buffer the caller promises never to change or free.
struct ConstBuffer(*const u8, usize);

// SAFETY: `zmq_send_const`'s contract: the buffer is constant and outlives the message.
unsafe impl Send for ConstBuffer {}

impl AsRef<[u8]> for ConstBuffer {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: see the Send impl; `0` is non-null (checked before construction).
        unsafe { std::slice::from_raw_parts(self.0, self.1) }
    }
}

/// `zmq_send_const`: sends `len_` bytes at `buf_` without copying them; the buffer must stay
/// unchanged for as long as the library may hold it.
#[no_mangle]
pub extern "C" fn zmq_send_const(
    s_: *mut c_void,
    buf_: *const c_void,
    len_: usize,
    flags_: c_int,
) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        let frame = if len_ == 0 {
            Frame::new()
        } else if buf_.is_null() {
            return Err(libc::EFAULT);
        } else if len_ <= Frame::INLINE {
            // Copied into the frame: cheaper than sharing so few bytes.
            // SAFETY: the caller gives `len_` readable bytes at `buf_`.
            Frame::copy_from_slice(unsafe { std::slice::from_raw_parts(buf_.cast(), len_) })
        } else {
            Frame::shared(Bytes::from_owner(ConstBuffer(buf_.cast(), len_)))
        };
        s.send_frame(frame, flags_)?;
        Ok(len_result(len_))
    })
}

/// `zmq_recv`: copies at most `len_` bytes of the next frame into `buf_` and returns the
/// frame's full size (larger than `len_` when it was truncated).
#[no_mangle]
pub extern "C" fn zmq_recv(
    s_: *mut c_void,
    buf_: *mut c_void,
    len_: usize,
    flags_: c_int,
) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        if buf_.is_null() && len_ != 0 {
            return Err(libc::EFAULT);
        }
        let (frame, _, _) = s.recv_frame(flags_)?;
        let n = frame.len().min(len_);
        if n > 0 {
            // SAFETY: the caller gives `len_` writable bytes at `buf_`; `n <= len_`.
            unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), buf_.cast::<u8>(), n) };
        }
        Ok(len_result(frame.len()))
    })
}

/// `zmq_msg_send`: sends the message's content; on success the message is left empty, on
/// failure it is left as it was.
#[no_mangle]
pub extern "C" fn zmq_msg_send(msg_: *mut zmq_msg_t, s_: *mut c_void, flags_: c_int) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        let m = msg::inner(msg_)?;
        // Moved out, not shared: the bytes go to the pipe without a reference count, and
        // come back into the message if they could not be sent.
        let frame = m.take_frame();
        let len = frame.len();
        let more = flags_ & ZMQ_SNDMORE != 0;
        if let Err((e, back)) = s
            .sock
            .try_send_frame(frame, more, flags_ & ZMQ_DONTWAIT != 0)
        {
            m.put_back(back);
            return Err(to_errno(e));
        }
        // Left empty in place: the content was taken out above; what else it carried goes.
        m.clear();
        Ok(len_result(len))
    })
}

/// `zmq_msg_recv`: replaces the message's content with the next frame; returns its size.
#[no_mangle]
pub extern "C" fn zmq_msg_recv(msg_: *mut zmq_msg_t, s_: *mut c_void, flags_: c_int) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        let m = msg::inner(msg_)?;
        let (frame, more, props) = s.recv_frame(flags_)?;
        let len = frame.len();
        m.set_received(frame, more, props);
        Ok(len_result(len))
    })
}

/// `zmq_sendmsg` (deprecated): `zmq_msg_send`.
#[no_mangle]
pub extern "C" fn zmq_sendmsg(s_: *mut c_void, msg_: *mut zmq_msg_t, flags_: c_int) -> c_int {
    zmq_msg_send(msg_, s_, flags_)
}

/// `zmq_recvmsg` (deprecated): `zmq_msg_recv`.
#[no_mangle]
pub extern "C" fn zmq_recvmsg(s_: *mut c_void, msg_: *mut zmq_msg_t, flags_: c_int) -> c_int {
    zmq_msg_recv(msg_, s_, flags_)
}

/// `zmq_sendiov` (deprecated): sends `count_` buffers, each with `flags_` (the last without
/// ZMQ_SNDMORE); returns the last one's size.
#[no_mangle]
pub extern "C" fn zmq_sendiov(
    s_: *mut c_void,
    iov_: *mut libc::iovec,
    count_: usize,
    flags_: c_int,
) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        if count_ == 0 || iov_.is_null() {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller gives `count_` iovecs at `iov_`, each over readable bytes.
        let iov = unsafe { std::slice::from_raw_parts(iov_, count_) };
        let mut rc = 0;
        for (i, v) in iov.iter().enumerate() {
            let frame = if v.iov_len == 0 {
                Frame::new()
            } else {
                // SAFETY: as above.
                Frame::copy_from_slice(unsafe {
                    std::slice::from_raw_parts(v.iov_base.cast::<u8>(), v.iov_len)
                })
            };
            // As libzmq: the flags apply to every buffer, but the last never has SNDMORE.
            let flags = if i + 1 < count_ {
                flags_
            } else {
                flags_ & !ZMQ_SNDMORE
            };
            rc = len_result(v.iov_len);
            s.send_frame(frame, flags)?;
        }
        Ok(rc)
    })
}

/// `zmq_recviov` (deprecated): receives up to `*count_` frames of one message into buffers
/// it allocates with `malloc` (the caller frees them); sets `*count_` to how many it filled
/// and returns that count, as libzmq does.
#[no_mangle]
pub extern "C" fn zmq_recviov(
    s_: *mut c_void,
    iov_: *mut libc::iovec,
    count_: *mut usize,
    flags_: c_int,
) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        // SAFETY: read only when non-null.
        if iov_.is_null() || count_.is_null() || unsafe { *count_ } == 0 {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller gives `*count_` writable iovecs at `iov_`.
        let iov = unsafe { std::slice::from_raw_parts_mut(iov_, *count_) };
        let mut filled = 0;
        for v in iov.iter_mut() {
            let (frame, more, _) = s.recv_frame(flags_)?;
            // SAFETY: a fresh allocation of at least one byte, filled with the frame.
            let buf = unsafe { libc::malloc(frame.len().max(1)) };
            if buf.is_null() {
                return Err(libc::ENOMEM);
            }
            // SAFETY: `buf` has room for the frame.
            unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), buf.cast(), frame.len()) };
            v.iov_base = buf;
            v.iov_len = frame.len();
            filled += 1;
            if !more {
                break;
            }
        }
        // SAFETY: checked non-null above.
        unsafe { *count_ = filled };
        Ok(len_result(filled))
    })
}
