//! The small front-end trait the cross-front-end tests are written against: a blocking view
//! of a socket (sends and receives wait up to a bound), which each front-end implements.
//! `oxmq-mio` is here, and `oxmq-tokio`, which blocks on a multi-thread runtime of its own
//! here (its sessions run there as tasks).
//!
//! Errors cross as [`Errno`], libzmq's names for them, so one assertion holds on every
//! front-end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use oxmq_core::base::EndpointOpError;
use oxmq_core::monitor::MonitorEvent;
use oxmq_core::{Frame, Message, SocketOption, SocketOptionName, SocketType};

/// The bound every wait in these tests gives up at: a failure bound, never a timing
/// assertion.
pub const WAIT: Duration = Duration::from_secs(20);

/// A front-end's error, by libzmq's errno name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Errno {
    /// `EAGAIN`: nothing could be done now, or not within the timeout.
    Again,
    /// `ETERM`: the socket is closed.
    Term,
    /// `EHOSTUNREACH`: ROUTER_MANDATORY and no such peer.
    HostUnreach,
    /// `EFSM`: the pattern forbids this call now.
    Fsm,
    /// `ENOTSUP`: the socket type does not do this.
    NotSup,
    /// `ENOENT`: unbind / disconnect of an endpoint not in use.
    NoEnt,
    /// `EINVAL` / `EPROTONOSUPPORT`: a bad endpoint or option.
    Inval(String),
    /// Anything else, as text.
    Other(String),
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<Errno> for String {
    fn from(e: Errno) -> String {
        e.to_string()
    }
}

fn endpoint_errno(e: EndpointOpError) -> Errno {
    match e {
        EndpointOpError::NotFound(_) => Errno::NoEnt,
        EndpointOpError::Terminated => Errno::Term,
        other => Errno::Inval(other.to_string()),
    }
}

/// The two front-ends' errors have the same variants for what libzmq names by errno.
macro_rules! errno_from {
    ($error:ty) => {
        impl From<$error> for Errno {
            fn from(e: $error) -> Errno {
                use $error as E;
                match e {
                    E::WouldBlock => Errno::Again,
                    E::Terminated => Errno::Term,
                    E::HostUnreachable => Errno::HostUnreach,
                    E::BadState => Errno::Fsm,
                    E::NotSupported => Errno::NotSup,
                    E::Endpoint(e) => endpoint_errno(e),
                    E::Option(e) => Errno::Inval(e.to_string()),
                    other => Errno::Other(other.to_string()),
                }
            }
        }
    };
}

errno_from!(oxmq_mio::Error);
errno_from!(oxmq_tokio::Error);

/// A front-end: makes sockets.
pub trait Front: Sync {
    /// Its name in reports ("mio", "tokio").
    fn name(&self) -> &'static str;
    /// A socket of `kind`, with LINGER 0 and sends and receives bounded by [`WAIT`].
    fn socket(&self, kind: SocketType) -> Box<dyn Sock>;
}

/// One socket of a front-end, every call blocking (up to [`WAIT`]) where libzmq's would.
pub trait Sock: Send {
    /// Binds; returns the endpoint as bound.
    fn bind(&self, endpoint: &str) -> Result<String, Errno>;
    /// Connects.
    fn connect(&self, endpoint: &str) -> Result<(), Errno>;
    /// Stops listening on an endpoint as bound.
    fn unbind(&self, endpoint: &str) -> Result<(), Errno>;
    /// Ends a connect.
    fn disconnect(&self, endpoint: &str) -> Result<(), Errno>;
    /// Sets an option.
    fn set(&self, opt: SocketOption) -> Result<(), Errno>;
    /// Reads an option.
    fn get(&self, name: SocketOptionName) -> Result<SocketOption, Errno>;
    /// Sends a whole message, waiting at the high-water mark (up to SNDTIMEO).
    fn send(&self, msg: Message) -> Result<(), Errno>;
    /// Sends a whole message or fails at once (`ZMQ_DONTWAIT`).
    fn try_send(&self, msg: Message) -> Result<(), Errno>;
    /// Sends one frame, `more` when others follow.
    fn send_frame(&self, frame: Frame, more: bool) -> Result<(), Errno>;
    /// Receives a whole message.
    fn recv(&self) -> Result<Message, Errno>;
    /// Receives a whole message if one is there now (`ZMQ_DONTWAIT`).
    fn try_recv(&self) -> Result<Message, Errno>;
    /// Receives one frame and whether more follow.
    fn recv_frame(&self) -> Result<(Frame, bool), Errno>;
    /// Receives a whole message if one is there within `timeout`.
    fn recv_within(&self, timeout: Duration) -> Result<Option<Message>, Errno>;
    /// This socket's monitor events from now on; they outlive the socket.
    fn monitor(&self) -> Box<dyn Mon>;
    /// SUB's subscribe.
    fn subscribe(&self, topic: &[u8]) -> Result<(), Errno> {
        self.set(SocketOption::Subscribe(Bytes::copy_from_slice(topic)))
    }
    /// SUB's unsubscribe.
    fn unsubscribe(&self, topic: &[u8]) -> Result<(), Errno> {
        self.set(SocketOption::Unsubscribe(Bytes::copy_from_slice(topic)))
    }
}

/// A socket's monitor events.
pub trait Mon: Send {
    /// The next event, if one comes within `timeout`.
    fn next(&self, timeout: Duration) -> Option<MonitorEvent>;
}

/// The blocking front-end.
pub struct Mio(pub oxmq_mio::Context);

impl Mio {
    /// A front-end on a new context.
    pub fn new() -> Mio {
        Mio(oxmq_mio::Context::new().expect("a context"))
    }
}

impl Default for Mio {
    fn default() -> Self {
        Mio::new()
    }
}

impl Front for Mio {
    fn name(&self) -> &'static str {
        "mio"
    }

    fn socket(&self, kind: SocketType) -> Box<dyn Sock> {
        let s = self.0.socket(kind).expect("a socket");
        let ms = i32::try_from(WAIT.as_millis()).expect("fits");
        s.set(SocketOption::Linger(0)).expect("LINGER");
        s.set(SocketOption::SndTimeo(ms)).expect("SNDTIMEO");
        s.set(SocketOption::RcvTimeo(ms)).expect("RCVTIMEO");
        Box::new(MioSock(s))
    }
}

struct MioSock(oxmq_mio::Socket);

impl Sock for MioSock {
    fn bind(&self, endpoint: &str) -> Result<String, Errno> {
        Ok(self.0.bind(endpoint)?)
    }

    fn connect(&self, endpoint: &str) -> Result<(), Errno> {
        Ok(self.0.connect(endpoint)?)
    }

    fn unbind(&self, endpoint: &str) -> Result<(), Errno> {
        Ok(self.0.unbind(endpoint)?)
    }

    fn disconnect(&self, endpoint: &str) -> Result<(), Errno> {
        Ok(self.0.disconnect(endpoint)?)
    }

    fn set(&self, opt: SocketOption) -> Result<(), Errno> {
        Ok(self.0.set(opt)?)
    }

    fn get(&self, name: SocketOptionName) -> Result<SocketOption, Errno> {
        Ok(self.0.get(name)?)
    }

    fn send(&self, msg: Message) -> Result<(), Errno> {
        Ok(self.0.send(msg)?)
    }

    fn try_send(&self, msg: Message) -> Result<(), Errno> {
        Ok(self.0.send_dontwait(msg)?)
    }

    fn send_frame(&self, frame: Frame, more: bool) -> Result<(), Errno> {
        Ok(self.0.send_frame(frame, more)?)
    }

    fn recv(&self) -> Result<Message, Errno> {
        Ok(self.0.recv()?)
    }

    fn try_recv(&self) -> Result<Message, Errno> {
        Ok(self.0.recv_dontwait()?)
    }

    fn recv_frame(&self) -> Result<(Frame, bool), Errno> {
        Ok(self.0.recv_frame()?)
    }

    fn recv_within(&self, timeout: Duration) -> Result<Option<Message>, Errno> {
        match self.0.recv_timeout(timeout) {
            Ok(m) => Ok(Some(m)),
            Err(oxmq_mio::Error::WouldBlock) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn monitor(&self) -> Box<dyn Mon> {
        Box::new(MioMon(self.0.monitor()))
    }
}

struct MioMon(oxmq_mio::Monitor);

impl Mon for MioMon {
    fn next(&self, timeout: Duration) -> Option<MonitorEvent> {
        self.0.recv(timeout)
    }
}

/// The async front-end, each call blocking on a multi-thread runtime owned by the front.
pub struct Tokio {
    rt: Arc<tokio::runtime::Runtime>,
    ctx: oxmq_tokio::Context,
}

impl Tokio {
    /// A front-end on a new two-worker runtime.
    pub fn new() -> Tokio {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let ctx = oxmq_tokio::Context::with_runtime(rt.handle().clone());
        Tokio {
            rt: Arc::new(rt),
            ctx,
        }
    }
}

impl Default for Tokio {
    fn default() -> Self {
        Tokio::new()
    }
}

impl Front for Tokio {
    fn name(&self) -> &'static str {
        "tokio"
    }

    fn socket(&self, kind: SocketType) -> Box<dyn Sock> {
        let s = self.ctx.socket(kind).expect("a socket");
        let ms = i32::try_from(WAIT.as_millis()).expect("fits");
        s.set(SocketOption::Linger(0)).expect("LINGER");
        s.set(SocketOption::SndTimeo(ms)).expect("SNDTIMEO");
        s.set(SocketOption::RcvTimeo(ms)).expect("RCVTIMEO");
        Box::new(TokioSock {
            rt: Arc::clone(&self.rt),
            s,
        })
    }
}

struct TokioSock {
    rt: Arc<tokio::runtime::Runtime>,
    s: oxmq_tokio::Socket,
}

impl Sock for TokioSock {
    fn bind(&self, endpoint: &str) -> Result<String, Errno> {
        Ok(self.rt.block_on(self.s.bind(endpoint))?)
    }

    fn connect(&self, endpoint: &str) -> Result<(), Errno> {
        Ok(self.rt.block_on(self.s.connect(endpoint))?)
    }

    fn unbind(&self, endpoint: &str) -> Result<(), Errno> {
        Ok(self.rt.block_on(self.s.unbind(endpoint))?)
    }

    fn disconnect(&self, endpoint: &str) -> Result<(), Errno> {
        Ok(self.rt.block_on(self.s.disconnect(endpoint))?)
    }

    fn set(&self, opt: SocketOption) -> Result<(), Errno> {
        Ok(self.s.set(opt)?)
    }

    fn get(&self, name: SocketOptionName) -> Result<SocketOption, Errno> {
        Ok(self.s.get(name)?)
    }

    fn send(&self, msg: Message) -> Result<(), Errno> {
        Ok(self.rt.block_on(self.s.send(msg))?)
    }

    fn try_send(&self, msg: Message) -> Result<(), Errno> {
        self.s.try_send(msg).map_err(|(e, _)| e.into())
    }

    fn send_frame(&self, frame: Frame, more: bool) -> Result<(), Errno> {
        Ok(self.rt.block_on(self.s.send_frame(frame, more))?)
    }

    fn recv(&self) -> Result<Message, Errno> {
        Ok(self.rt.block_on(self.s.recv())?)
    }

    fn try_recv(&self) -> Result<Message, Errno> {
        Ok(self.s.try_recv()?)
    }

    fn recv_frame(&self) -> Result<(Frame, bool), Errno> {
        Ok(self.rt.block_on(self.s.recv_frame())?)
    }

    fn recv_within(&self, timeout: Duration) -> Result<Option<Message>, Errno> {
        // Cancel-safe: a receive that times out has taken nothing.
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, self.s.recv()).await })
        {
            Ok(r) => Ok(Some(r?)),
            Err(_) => Ok(None),
        }
    }

    fn monitor(&self) -> Box<dyn Mon> {
        Box::new(TokioMon {
            rt: Arc::clone(&self.rt),
            m: Mutex::new(self.s.monitor()),
        })
    }
}

struct TokioMon {
    rt: Arc<tokio::runtime::Runtime>,
    m: Mutex<oxmq_tokio::Monitor>,
}

impl Mon for TokioMon {
    fn next(&self, timeout: Duration) -> Option<MonitorEvent> {
        use futures_util::StreamExt;
        let mut m = self.m.lock().expect("monitor lock");
        self.rt
            .block_on(async { tokio::time::timeout(timeout, m.next()).await })
            .ok()
            .flatten()
    }
}

/// Message `i` of test stream `stream`, for the large-message tests of every front-end:
/// runs of large frames (up to 1 MiB, several above a read's size) broken by small and empty
/// ones, every fifth a two-frame message. Each byte depends on its stream, message and
/// position, so a misplaced piece shows.
pub fn mixed_message(stream: usize, i: usize) -> Message {
    const SIZES: [usize; 10] = [
        40_000,
        65_545,
        300_000,
        7,
        1 << 20,
        33,
        32_768,
        0,
        131_071,
        9,
    ];
    let n = SIZES[(i * 7 + stream) % SIZES.len()];
    let body: Vec<u8> = (0..n).map(|k| (k + i * 13 + stream) as u8).collect();
    if i % 5 == 4 {
        Message::from_frames([vec![i as u8; 3], body])
    } else {
        Message::single(body)
    }
}
