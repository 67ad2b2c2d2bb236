//! `zmq_setsockopt` and `zmq_getsockopt`: libzmq's option numbers and value layouts mapped
//! onto oxmq's typed [`SocketOption`]s.

use std::ffi::{c_int, c_void};

use bytes::Bytes;
use oxmq_core::codec::MechanismName;
use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey, SecretBytes};
use oxmq_core::{SocketOption as O, SocketOptionName as N};

use crate::error::{guard, to_errno};
use crate::socket::{socket, socket_type_number, CSocket};

/// How an option's value is laid out in C.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An `int`.
    Int,
    /// An `int` that must be 0 or 1.
    Bool,
    /// An `int64_t`.
    I64,
    /// Bytes as given (routing ids, subscriptions).
    Binary,
    /// A string: read without, written back with a terminating NUL.
    Str,
    /// A CURVE key: 32 bytes, or 40 Z85 characters (and a NUL).
    Key,
}

/// libzmq's number for each option oxmq has, with its name and layout.
const OPTIONS: &[(c_int, N, Kind)] = &[
    (23, N::SndHwm, Kind::Int),
    (24, N::RcvHwm, Kind::Int),
    (54, N::Conflate, Kind::Bool),
    (17, N::Linger, Kind::Int),
    (22, N::MaxMsgSize, Kind::I64),
    (39, N::Immediate, Kind::Bool),
    (28, N::SndTimeo, Kind::Int),
    (27, N::RcvTimeo, Kind::Int),
    (18, N::ReconnectIvl, Kind::Int),
    (21, N::ReconnectIvlMax, Kind::Int),
    (66, N::HandshakeIvl, Kind::Int),
    (75, N::HeartbeatIvl, Kind::Int),
    (77, N::HeartbeatTimeout, Kind::Int),
    (76, N::HeartbeatTtl, Kind::Int),
    (11, N::SndBuf, Kind::Int),
    (12, N::RcvBuf, Kind::Int),
    (19, N::Backlog, Kind::Int),
    (34, N::TcpKeepalive, Kind::Int),
    (36, N::TcpKeepaliveIdle, Kind::Int),
    (37, N::TcpKeepaliveIntvl, Kind::Int),
    (35, N::TcpKeepaliveCnt, Kind::Int),
    (80, N::TcpMaxrt, Kind::Int),
    (57, N::Tos, Kind::Int),
    (42, N::Ipv6, Kind::Bool),
    (92, N::BindToDevice, Kind::Str),
    (5, N::RoutingId, Kind::Binary),
    (61, N::ConnectRoutingId, Kind::Binary),
    (33, N::RouterMandatory, Kind::Bool),
    (56, N::RouterHandover, Kind::Bool),
    (51, N::ProbeRouter, Kind::Bool),
    (53, N::ReqRelaxed, Kind::Bool),
    (52, N::ReqCorrelate, Kind::Bool),
    (73, N::StreamNotify, Kind::Bool),
    (40, N::XpubVerbose, Kind::Bool),
    (78, N::XpubVerboser, Kind::Bool),
    (71, N::XpubManual, Kind::Bool),
    (69, N::XpubNodrop, Kind::Bool),
    (72, N::XpubWelcomeMsg, Kind::Binary),
    (74, N::InvertMatching, Kind::Bool),
    (6, N::Subscribe, Kind::Binary),
    (7, N::Unsubscribe, Kind::Binary),
    (44, N::PlainServer, Kind::Bool),
    (45, N::PlainUsername, Kind::Str),
    (46, N::PlainPassword, Kind::Str),
    (47, N::CurveServer, Kind::Bool),
    (48, N::CurvePublickey, Kind::Key),
    (49, N::CurveSecretkey, Kind::Key),
    (50, N::CurveServerkey, Kind::Key),
    (55, N::ZapDomain, Kind::Str),
    (16, N::Type, Kind::Int),
    (43, N::Mechanism, Kind::Int),
    (81, N::ThreadSafe, Kind::Bool),
    (32, N::LastEndpoint, Kind::Str),
];

/// `ZMQ_RCVMORE`.
pub const ZMQ_RCVMORE: c_int = 13;
/// `ZMQ_FD`.
pub const ZMQ_FD: c_int = 14;
/// `ZMQ_EVENTS`.
pub const ZMQ_EVENTS: c_int = 15;
/// `ZMQ_IPV4ONLY` (deprecated inverse of ZMQ_IPV6).
pub const ZMQ_IPV4ONLY: c_int = 31;

/// Options libzmq accepts on every socket that do nothing on the transports oxmq has: the
/// multicast ones (they configure pgm, epgm, norm and udp), LOOPBACK_FASTPATH (Windows
/// only), and AFFINITY (which of libzmq's I/O threads serve the socket's new connections;
/// oxmq places connections itself). As libzmq does on those transports, they are checked,
/// kept and read back, with libzmq's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InertOptions {
    affinity: u64,
    rate: c_int,
    recovery_ivl: c_int,
    multicast_hops: c_int,
    multicast_maxtpdu: c_int,
    multicast_loop: bool,
    loopback_fastpath: bool,
}

impl Default for InertOptions {
    fn default() -> Self {
        // libzmq's options_t constructor.
        InertOptions {
            affinity: 0,
            rate: 100,
            recovery_ivl: 10000,
            multicast_hops: 1,
            multicast_maxtpdu: 1500,
            multicast_loop: true,
            loopback_fastpath: false,
        }
    }
}

const ZMQ_AFFINITY: c_int = 4;
const ZMQ_RATE: c_int = 8;
const ZMQ_RECOVERY_IVL: c_int = 9;
const ZMQ_MULTICAST_HOPS: c_int = 25;
const ZMQ_MULTICAST_MAXTPDU: c_int = 84;
const ZMQ_LOOPBACK_FASTPATH: c_int = 94;
const ZMQ_MULTICAST_LOOP: c_int = 96;

const ZMQ_CONNECT_TIMEOUT: c_int = 79;
const ZMQ_USE_FD: c_int = 89;
const ZMQ_ZAP_ENFORCE_DOMAIN: c_int = 93;

/// Options for features oxmq does not have, read as the one value that says what oxmq does
/// (libzmq's default): CONNECT_TIMEOUT 0 (no timeout of its own, the system's applies),
/// USE_FD −1 (binds open their own sockets), ZAP_ENFORCE_DOMAIN 0 (oxmq applies libzmq
/// 4.3's non-enforcing ZAP rules). Setting that value succeeds; any other fails with
/// `EINVAL`, as before.
fn fixed(option: c_int) -> Option<c_int> {
    match option {
        ZMQ_CONNECT_TIMEOUT => Some(0),
        ZMQ_USE_FD => Some(-1),
        ZMQ_ZAP_ENFORCE_DOMAIN => Some(0),
        _ => None,
    }
}

/// Sets an inert option with libzmq's checks; `None` if `option` is not one of them.
fn set_inert(s: &CSocket, option: c_int, v: &[u8]) -> Option<Result<(), c_int>> {
    if let Some(only) = fixed(option) {
        return Some(match read_int(v) {
            Ok(n) if n == only => Ok(()),
            _ => Err(libc::EINVAL),
        });
    }
    let mut o = s.inert.get();
    // libzmq: an `int` option's buffer is exactly an `int`; the ones here must be positive
    // (RECOVERY_IVL: not negative); the two flags take any non-zero `int` as true.
    let int = |min: c_int| match read_int(v) {
        Ok(n) if n >= min => Ok(n),
        _ => Err(libc::EINVAL),
    };
    let r = match option {
        ZMQ_AFFINITY => v
            .try_into()
            .map(|b| o.affinity = u64::from_ne_bytes(b))
            .map_err(|_| libc::EINVAL),
        ZMQ_RATE => int(1).map(|n| o.rate = n),
        ZMQ_RECOVERY_IVL => int(0).map(|n| o.recovery_ivl = n),
        ZMQ_MULTICAST_HOPS => int(1).map(|n| o.multicast_hops = n),
        ZMQ_MULTICAST_MAXTPDU => int(1).map(|n| o.multicast_maxtpdu = n),
        ZMQ_MULTICAST_LOOP => read_int(v).map(|n| o.multicast_loop = n != 0),
        ZMQ_LOOPBACK_FASTPATH => read_int(v).map(|n| o.loopback_fastpath = n != 0),
        _ => return None,
    };
    if r.is_ok() {
        s.inert.set(o);
    }
    Some(r)
}

/// Reads an inert option back; `None` if `option` is not one of them.
fn get_inert(
    s: &CSocket,
    option: c_int,
    optval: *mut c_void,
    optvallen: *mut usize,
) -> Option<Result<(), c_int>> {
    if let Some(only) = fixed(option) {
        return Some(output_int(optval, optvallen, only));
    }
    let o = s.inert.get();
    let n = match option {
        ZMQ_AFFINITY => {
            // SAFETY: as in `output`.
            if unsafe { *optvallen } != 8 {
                return Some(Err(libc::EINVAL));
            }
            return Some(output(optval, optvallen, &o.affinity.to_ne_bytes()));
        }
        ZMQ_RATE => o.rate,
        ZMQ_RECOVERY_IVL => o.recovery_ivl,
        ZMQ_MULTICAST_HOPS => o.multicast_hops,
        ZMQ_MULTICAST_MAXTPDU => o.multicast_maxtpdu,
        ZMQ_MULTICAST_LOOP => c_int::from(o.multicast_loop),
        ZMQ_LOOPBACK_FASTPATH => c_int::from(o.loopback_fastpath),
        _ => return None,
    };
    Some(output_int(optval, optvallen, n))
}

fn lookup(option: c_int) -> Option<(N, Kind)> {
    OPTIONS
        .iter()
        .find(|(n, _, _)| *n == option)
        .map(|&(_, name, kind)| (name, kind))
}

/// The bytes at `optval` (`len` of them).
fn input<'a>(optval: *const c_void, len: usize) -> Result<&'a [u8], c_int> {
    if len == 0 {
        return Ok(&[]);
    }
    if optval.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: the caller gives `len` readable bytes at `optval`.
    Ok(unsafe { std::slice::from_raw_parts(optval.cast(), len) })
}

fn read_int(v: &[u8]) -> Result<c_int, c_int> {
    Ok(c_int::from_ne_bytes(
        v.try_into().map_err(|_| libc::EINVAL)?,
    ))
}

fn key(v: &[u8]) -> Result<[u8; 32], c_int> {
    let text = match v.len() {
        32 => return Ok(v.try_into().expect("length checked")),
        40 => v,
        41 => &v[..40],
        _ => return Err(libc::EINVAL),
    };
    let text = std::str::from_utf8(text).map_err(|_| libc::EINVAL)?;
    let bytes = oxmq_core::mechanism::z85::decode(text).map_err(|_| libc::EINVAL)?;
    bytes.try_into().map_err(|_| libc::EINVAL)
}

fn make(name: N, kind: Kind, v: &[u8]) -> Result<O, c_int> {
    let int = || read_int(v);
    let count = || usize::try_from(read_int(v)?).map_err(|_| libc::EINVAL);
    // libzmq's socket-type flags take any non-negative int; a few options want 0 or 1.
    let flag = || match read_int(v)? {
        n if n < 0 => Err(libc::EINVAL),
        n => Ok(n != 0),
    };
    let strict = || match read_int(v)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(libc::EINVAL),
    };
    let bytes = || Bytes::copy_from_slice(v);
    // A string may come with its NUL.
    let text = || v.strip_suffix(&[0]).unwrap_or(v);
    let _ = kind;
    Ok(match name {
        N::SndHwm => O::SndHwm(count()?),
        N::RcvHwm => O::RcvHwm(count()?),
        N::Conflate => O::Conflate(strict()?),
        N::Linger => O::Linger(int()?),
        N::MaxMsgSize => O::MaxMsgSize(i64::from_ne_bytes(v.try_into().map_err(|_| libc::EINVAL)?)),
        N::Immediate => O::Immediate(strict()?),
        N::SndTimeo => O::SndTimeo(int()?),
        N::RcvTimeo => O::RcvTimeo(int()?),
        N::ReconnectIvl => O::ReconnectIvl(int()?),
        N::ReconnectIvlMax => O::ReconnectIvlMax(int()?),
        N::HandshakeIvl => O::HandshakeIvl(int()?),
        N::HeartbeatIvl => O::HeartbeatIvl(int()?),
        N::HeartbeatTimeout => O::HeartbeatTimeout(int()?),
        N::HeartbeatTtl => O::HeartbeatTtl(int()?),
        N::SndBuf => O::SndBuf(int()?),
        N::RcvBuf => O::RcvBuf(int()?),
        N::Backlog => O::Backlog(int()?),
        N::TcpKeepalive => O::TcpKeepalive(int()?),
        N::TcpKeepaliveIdle => O::TcpKeepaliveIdle(int()?),
        N::TcpKeepaliveIntvl => O::TcpKeepaliveIntvl(int()?),
        N::TcpKeepaliveCnt => O::TcpKeepaliveCnt(int()?),
        N::TcpMaxrt => O::TcpMaxrt(int()?),
        N::Tos => O::Tos(int()?),
        N::Ipv6 => O::Ipv6(strict()?),
        N::BindToDevice => O::BindToDevice(
            std::str::from_utf8(text())
                .map_err(|_| libc::EINVAL)?
                .to_owned(),
        ),
        N::RoutingId => O::RoutingId(bytes()),
        N::ConnectRoutingId => O::ConnectRoutingId(bytes()),
        N::RouterMandatory => O::RouterMandatory(flag()?),
        N::RouterHandover => O::RouterHandover(flag()?),
        N::ProbeRouter => O::ProbeRouter(flag()?),
        N::ReqRelaxed => O::ReqRelaxed(flag()?),
        N::ReqCorrelate => O::ReqCorrelate(flag()?),
        N::StreamNotify => O::StreamNotify(flag()?),
        N::XpubVerbose => O::XpubVerbose(flag()?),
        N::XpubVerboser => O::XpubVerboser(flag()?),
        N::XpubManual => O::XpubManual(flag()?),
        N::XpubNodrop => O::XpubNodrop(flag()?),
        N::XpubWelcomeMsg => O::XpubWelcomeMsg((!v.is_empty()).then(bytes)),
        N::InvertMatching => O::InvertMatching(flag()?),
        N::Subscribe => O::Subscribe(bytes()),
        N::Unsubscribe => O::Unsubscribe(bytes()),
        N::PlainServer => O::PlainServer(strict()?),
        N::PlainUsername => O::PlainUsername(Bytes::copy_from_slice(text())),
        N::PlainPassword => O::PlainPassword(SecretBytes::new(text())),
        N::CurveServer => O::CurveServer(strict()?),
        N::CurvePublickey => O::CurvePublickey(CurvePublicKey(key(v)?)),
        N::CurveSecretkey => O::CurveSecretkey(CurveSecretKey::from_bytes(key(v)?)),
        N::CurveServerkey => O::CurveServerkey(CurvePublicKey(key(v)?)),
        N::ZapDomain => O::ZapDomain(Bytes::copy_from_slice(text())),
        _ => return Err(libc::EINVAL),
    })
}

/// `zmq_setsockopt`: `EINVAL` for an option oxmq does not have, a value of the wrong size,
/// one out of range, or a read-only option.
#[no_mangle]
pub extern "C" fn zmq_setsockopt(
    s_: *mut c_void,
    option_: c_int,
    optval_: *const c_void,
    optvallen_: usize,
) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        let v = input(optval_, optvallen_)?;
        if let Some(r) = set_inert(s, option_, v) {
            return r.map(|()| 0);
        }
        let opt = if option_ == ZMQ_IPV4ONLY {
            O::Ipv6(match read_int(v)? {
                0 => true,
                1 => false,
                _ => return Err(libc::EINVAL),
            })
        } else {
            let (name, kind) = lookup(option_).ok_or(libc::EINVAL)?;
            if name.is_read_only() {
                return Err(libc::EINVAL);
            }
            make(name, kind, v)?
        };
        s.sock.set(opt).map_err(to_errno)?;
        Ok(0)
    })
}

/// Writes `value` to the caller's buffer as libzmq does: `EINVAL` if it does not fit, the
/// rest of the buffer zeroed, the length written back.
fn output(optval: *mut c_void, optvallen: *mut usize, value: &[u8]) -> Result<(), c_int> {
    // SAFETY: the caller gives a valid length pointer (checked non-null by the caller of
    // this function).
    let cap = unsafe { *optvallen };
    if cap < value.len() {
        return Err(libc::EINVAL);
    }
    if cap > 0 && optval.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `cap` writable bytes at `optval`, as the caller says; `value` fits.
    unsafe {
        let dst = optval.cast::<u8>();
        std::ptr::copy_nonoverlapping(value.as_ptr(), dst, value.len());
        std::ptr::write_bytes(dst.add(value.len()), 0, cap - value.len());
        *optvallen = value.len();
    }
    Ok(())
}

/// Writes an `int` option: the buffer must be exactly an `int`.
fn output_int(optval: *mut c_void, optvallen: *mut usize, value: c_int) -> Result<(), c_int> {
    // SAFETY: as in `output`.
    if unsafe { *optvallen } != std::mem::size_of::<c_int>() {
        return Err(libc::EINVAL);
    }
    output(optval, optvallen, &value.to_ne_bytes())
}

/// Writes an `int` the way libzmq's socket-level options do (RCVMORE, FD, EVENTS): any
/// buffer of at least an `int`, the rest zeroed.
fn output_int_relaxed(
    optval: *mut c_void,
    optvallen: *mut usize,
    value: c_int,
) -> Result<(), c_int> {
    output(optval, optvallen, &value.to_ne_bytes())
}

fn with_nul(b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    v.push(0);
    v
}

fn output_key(optval: *mut c_void, optvallen: *mut usize, key: &[u8; 32]) -> Result<(), c_int> {
    // SAFETY: as in `output`.
    match unsafe { *optvallen } {
        32 => output(optval, optvallen, key),
        41 => {
            let text = oxmq_core::mechanism::z85::encode(key).map_err(|_| libc::EINVAL)?;
            output(optval, optvallen, &with_nul(text.as_bytes()))
        }
        _ => Err(libc::EINVAL),
    }
}

fn clamp(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

fn get(
    s: &CSocket,
    option: c_int,
    optval: *mut c_void,
    optvallen: *mut usize,
) -> Result<(), c_int> {
    match option {
        ZMQ_RCVMORE => return output_int_relaxed(optval, optvallen, c_int::from(s.rcvmore())),
        ZMQ_EVENTS => {
            let e = match s.sock.get(N::Events).map_err(to_errno)? {
                O::Events(e) => c_int::from(e),
                _ => 0,
            };
            let buffered = if s.rcvmore() {
                crate::poll::ZMQ_POLLIN
            } else {
                0
            };
            return output_int_relaxed(optval, optvallen, e | c_int::from(buffered));
        }
        ZMQ_FD => {
            let fd = s.sock.readiness_fd().map_err(to_errno)?;
            return output_int_relaxed(optval, optvallen, fd);
        }
        ZMQ_IPV4ONLY => {
            let v6 = matches!(s.sock.get(N::Ipv6).map_err(to_errno)?, O::Ipv6(true));
            return output_int(optval, optvallen, c_int::from(!v6));
        }
        _ => {}
    }
    if let Some(r) = get_inert(s, option, optval, optvallen) {
        return r;
    }
    let (name, _) = lookup(option).ok_or(libc::EINVAL)?;
    if name.is_write_only() {
        return Err(libc::EINVAL);
    }
    let int = |n: c_int| output_int(optval, optvallen, n);
    match s.sock.get(name).map_err(to_errno)? {
        O::SndHwm(n) | O::RcvHwm(n) => int(clamp(n)),
        O::Linger(n)
        | O::SndTimeo(n)
        | O::RcvTimeo(n)
        | O::ReconnectIvl(n)
        | O::ReconnectIvlMax(n)
        | O::HandshakeIvl(n)
        | O::HeartbeatIvl(n)
        | O::HeartbeatTimeout(n)
        | O::HeartbeatTtl(n)
        | O::SndBuf(n)
        | O::RcvBuf(n)
        | O::Backlog(n)
        | O::TcpKeepalive(n)
        | O::TcpKeepaliveIdle(n)
        | O::TcpKeepaliveIntvl(n)
        | O::TcpKeepaliveCnt(n)
        | O::TcpMaxrt(n)
        | O::Tos(n) => int(n),
        O::Conflate(b)
        | O::Immediate(b)
        | O::Ipv6(b)
        | O::RouterMandatory(b)
        | O::RouterHandover(b)
        | O::ProbeRouter(b)
        | O::ReqRelaxed(b)
        | O::ReqCorrelate(b)
        | O::StreamNotify(b)
        | O::XpubVerbose(b)
        | O::XpubVerboser(b)
        | O::XpubManual(b)
        | O::XpubNodrop(b)
        | O::InvertMatching(b)
        | O::PlainServer(b)
        | O::CurveServer(b)
        | O::ThreadSafe(b) => int(c_int::from(b)),
        O::MaxMsgSize(n) => {
            // SAFETY: as in `output`.
            if unsafe { *optvallen } != 8 {
                return Err(libc::EINVAL);
            }
            output(optval, optvallen, &n.to_ne_bytes())
        }
        O::RoutingId(b) | O::ConnectRoutingId(b) => output(optval, optvallen, &b),
        O::XpubWelcomeMsg(b) => output(optval, optvallen, b.as_deref().unwrap_or(&[])),
        O::BindToDevice(t) | O::LastEndpoint(t) => {
            output(optval, optvallen, &with_nul(t.as_bytes()))
        }
        O::PlainUsername(b) | O::ZapDomain(b) => output(optval, optvallen, &with_nul(&b)),
        O::PlainPassword(p) => output(optval, optvallen, &with_nul(p.expose())),
        O::CurvePublickey(k) | O::CurveServerkey(k) => output_key(optval, optvallen, &k.0),
        O::CurveSecretkey(k) => output_key(optval, optvallen, k.expose()),
        O::Type(t) => int(socket_type_number(t)),
        O::Mechanism(m) => int(if m == MechanismName::PLAIN {
            1
        } else if m == MechanismName::CURVE {
            2
        } else {
            0
        }),
        _ => Err(libc::EINVAL),
    }
}

/// `zmq_getsockopt`: `int` options need `*optvallen_ == sizeof (int)`; binary and string
/// options need room for the value (strings with their NUL) and get their length written
/// back; CURVE keys come as 32 bytes or, given 41, as Z85 with a NUL.
#[no_mangle]
pub extern "C" fn zmq_getsockopt(
    s_: *mut c_void,
    option_: c_int,
    optval_: *mut c_void,
    optvallen_: *mut usize,
) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        if optvallen_.is_null() {
            return Err(libc::EFAULT);
        }
        get(s, option_, optval_, optvallen_)?;
        Ok(0)
    })
}
