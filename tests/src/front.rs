//! The small front-end trait the cross-front-end tests are written against: a blocking view
//! of a socket (sends and receives wait up to a bound), which each front-end implements.
//! `oxmq-mio` is here, and `oxmq-tokio`, which blocks on a multi-thread runtime of its own
//! here (its sessions run there as tasks).

use std::time::Duration;

use bytes::Bytes;
use oxmq_core::{Message, SocketOption, SocketType};

/// The bound every wait in these tests gives up at: a failure bound, never a timing
/// assertion.
pub const WAIT: Duration = Duration::from_secs(20);

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
    fn bind(&self, endpoint: &str) -> Result<String, String>;
    /// Connects.
    fn connect(&self, endpoint: &str) -> Result<(), String>;
    /// Sets an option.
    fn set(&self, opt: SocketOption) -> Result<(), String>;
    /// Sends a whole message.
    fn send(&self, msg: Message) -> Result<(), String>;
    /// Receives a whole message.
    fn recv(&self) -> Result<Message, String>;
    /// Receives a whole message if one is there within `timeout`.
    fn recv_within(&self, timeout: Duration) -> Result<Option<Message>, String>;
    /// SUB's subscribe.
    fn subscribe(&self, topic: &[u8]) -> Result<(), String> {
        self.set(SocketOption::Subscribe(Bytes::copy_from_slice(topic)))
    }
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

fn text(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

impl Sock for MioSock {
    fn bind(&self, endpoint: &str) -> Result<String, String> {
        self.0.bind(endpoint).map_err(text)
    }

    fn connect(&self, endpoint: &str) -> Result<(), String> {
        self.0.connect(endpoint).map_err(text)
    }

    fn set(&self, opt: SocketOption) -> Result<(), String> {
        self.0.set(opt).map_err(text)
    }

    fn send(&self, msg: Message) -> Result<(), String> {
        self.0.send(msg).map_err(text)
    }

    fn recv(&self) -> Result<Message, String> {
        self.0.recv().map_err(text)
    }

    fn recv_within(&self, timeout: Duration) -> Result<Option<Message>, String> {
        match self.0.recv_timeout(timeout) {
            Ok(m) => Ok(Some(m)),
            Err(oxmq_mio::Error::WouldBlock) => Ok(None),
            Err(e) => Err(text(e)),
        }
    }
}

/// The async front-end, each call blocking on a multi-thread runtime owned by the front.
pub struct Tokio {
    rt: std::sync::Arc<tokio::runtime::Runtime>,
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
            rt: std::sync::Arc::new(rt),
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
            rt: std::sync::Arc::clone(&self.rt),
            s,
        })
    }
}

struct TokioSock {
    rt: std::sync::Arc<tokio::runtime::Runtime>,
    s: oxmq_tokio::Socket,
}

impl Sock for TokioSock {
    fn bind(&self, endpoint: &str) -> Result<String, String> {
        self.rt.block_on(self.s.bind(endpoint)).map_err(text)
    }

    fn connect(&self, endpoint: &str) -> Result<(), String> {
        self.rt.block_on(self.s.connect(endpoint)).map_err(text)
    }

    fn set(&self, opt: SocketOption) -> Result<(), String> {
        self.s.set(opt).map_err(text)
    }

    fn send(&self, msg: Message) -> Result<(), String> {
        self.rt.block_on(self.s.send(msg)).map_err(text)
    }

    fn recv(&self) -> Result<Message, String> {
        self.rt.block_on(self.s.recv()).map_err(text)
    }

    fn recv_within(&self, timeout: Duration) -> Result<Option<Message>, String> {
        // Cancel-safe: a receive that times out has taken nothing.
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, self.s.recv()).await })
        {
            Ok(r) => r.map(Some).map_err(text),
            Err(_) => Ok(None),
        }
    }
}
