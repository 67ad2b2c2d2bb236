//! The two front-ends behind one blocking face, so every command runs on either
//! (`--front-end mio`, the default, or `--front-end tokio`). On Tokio the tool owns a
//! multi-thread runtime; sessions run there as tasks, and each call here blocks on it.

use std::time::Duration;

use oxmq_core::monitor::MonitorEvent;
use oxmq_core::{Message, SocketOption, SocketType, ZapReply, ZapRequest};
use tokio::runtime::Runtime;

/// Which front-end a command runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FrontEnd {
    /// oxmq-mio: blocking sockets, I/O threads of its own
    #[default]
    Mio,
    /// oxmq-tokio: async sockets, sessions as tasks on a Tokio runtime
    Tokio,
}

/// A front-end's context.
pub(crate) enum Ctx {
    Mio(oxmq_mio::Context),
    Tokio {
        rt: Runtime,
        ctx: oxmq_tokio::Context,
    },
}

/// An error of either front-end, as text.
pub(crate) type Error = String;

fn text(e: impl std::fmt::Display) -> Error {
    e.to_string()
}

impl Ctx {
    pub(crate) fn new(front: FrontEnd) -> Result<Ctx, Error> {
        match front {
            FrontEnd::Mio => Ok(Ctx::Mio(oxmq_mio::Context::new().map_err(text)?)),
            FrontEnd::Tokio => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(text)?;
                let ctx = oxmq_tokio::Context::with_runtime(rt.handle().clone());
                Ok(Ctx::Tokio { rt, ctx })
            }
        }
    }

    pub(crate) fn socket(&self, kind: SocketType) -> Result<Sock<'_>, Error> {
        match self {
            Ctx::Mio(ctx) => Ok(Sock::Mio(ctx.socket(kind).map_err(text)?)),
            Ctx::Tokio { rt, ctx } => Ok(Sock::Tokio {
                rt,
                s: ctx.socket(kind).map_err(text)?,
                monitor: None,
            }),
        }
    }

    pub(crate) fn set_zap_handler(
        &self,
        handler: impl Fn(&ZapRequest) -> ZapReply + Send + Sync + 'static,
    ) -> Result<(), Error> {
        match self {
            Ctx::Mio(ctx) => ctx.set_zap_handler(handler).map_err(text),
            Ctx::Tokio { ctx, .. } => {
                ctx.set_zap_handler(handler);
                Ok(())
            }
        }
    }

    /// Waits until every socket closed has sent what LINGER lets it (`zmq_ctx_term`).
    pub(crate) fn term(self) {
        match self {
            Ctx::Mio(ctx) => ctx.term(),
            // Each Tokio socket waits for its own linger in `Sock::close`.
            Ctx::Tokio { .. } => {}
        }
    }
}

/// A socket of either front-end, every call blocking as libzmq's would.
pub(crate) enum Sock<'a> {
    Mio(oxmq_mio::Socket),
    Tokio {
        rt: &'a Runtime,
        s: oxmq_tokio::Socket,
        monitor: Option<std::sync::Mutex<oxmq_tokio::Monitor>>,
    },
}

impl Sock<'_> {
    pub(crate) fn set(&self, opt: SocketOption) -> Result<(), Error> {
        match self {
            Sock::Mio(s) => s.set(opt).map_err(text),
            Sock::Tokio { s, .. } => s.set(opt).map_err(text),
        }
    }

    pub(crate) fn bind(&self, ep: &str) -> Result<String, Error> {
        match self {
            Sock::Mio(s) => s.bind(ep).map_err(text),
            Sock::Tokio { rt, s, .. } => rt.block_on(s.bind(ep)).map_err(text),
        }
    }

    pub(crate) fn connect(&self, ep: &str) -> Result<(), Error> {
        match self {
            Sock::Mio(s) => s.connect(ep).map_err(text),
            Sock::Tokio { rt, s, .. } => rt.block_on(s.connect(ep)).map_err(text),
        }
    }

    pub(crate) fn send(&self, m: impl Into<Message>) -> Result<(), Error> {
        match self {
            Sock::Mio(s) => s.send(m).map_err(text),
            Sock::Tokio { rt, s, .. } => rt.block_on(s.send(m)).map_err(text),
        }
    }

    pub(crate) fn recv(&self) -> Result<Message, Error> {
        match self {
            Sock::Mio(s) => s.recv().map_err(text),
            Sock::Tokio { rt, s, .. } => rt.block_on(s.recv()).map_err(text),
        }
    }

    pub(crate) fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
        match self {
            Sock::Mio(s) => s.subscribe(topic).map_err(text),
            Sock::Tokio { s, .. } => s.subscribe(topic).map_err(text),
        }
    }

    /// Starts recording monitor events, for [`Sock::next_event`].
    pub(crate) fn monitor(&mut self) {
        match self {
            Sock::Mio(s) => {
                s.monitor();
            }
            Sock::Tokio { s, monitor, .. } => {
                *monitor = Some(std::sync::Mutex::new(s.monitor()));
            }
        }
    }

    /// The next monitor event within `timeout`.
    pub(crate) fn next_event(&self, timeout: Duration) -> Option<MonitorEvent> {
        match self {
            Sock::Mio(s) => s.recv_monitor_event(timeout),
            Sock::Tokio { rt, monitor, .. } => {
                use futures_util::StreamExt;
                let mut m = monitor.as_ref()?.lock().ok()?;
                rt.block_on(async { tokio::time::timeout(timeout, m.next()).await })
                    .ok()
                    .flatten()
            }
        }
    }

    /// Closes the socket; on Tokio waits for its LINGER here (on mio the context's `term`
    /// does).
    pub(crate) fn close(self) {
        match self {
            Sock::Mio(s) => drop(s),
            Sock::Tokio { rt, s, .. } => rt.block_on(s.close()),
        }
    }
}

/// Forwards messages both ways between two sockets until one fails (`zmq_proxy`).
pub(crate) fn proxy(front: &Sock<'_>, back: &Sock<'_>) -> Result<(), Error> {
    match (front, back) {
        (Sock::Mio(f), Sock::Mio(b)) => oxmq_mio::proxy(f, b, None).map(|_| ()).map_err(text),
        (Sock::Tokio { rt, s: f, .. }, Sock::Tokio { s: b, .. }) => {
            rt.block_on(oxmq_tokio::proxy(f, b, None)).map_err(text)
        }
        _ => Err("both proxy sides must be on one front-end".into()),
    }
}
