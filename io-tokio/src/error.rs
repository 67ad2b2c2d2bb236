//! The front-end's error type, shaped after libzmq's errno values (as `oxmq-mio`'s).

use std::io;

use oxmq_core::base::EndpointOpError;
use oxmq_core::socket::{RecvError, SendError, SendErrorKind};
use oxmq_core::OptionError;

/// Why a socket call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Nothing could be done now (`EAGAIN`): from `try_send` / `try_recv`, or when SNDTIMEO /
    /// RCVTIMEO ran out.
    WouldBlock,
    /// The socket is closed, or its context is terminating (`ETERM`).
    Terminated,
    /// ROUTER_MANDATORY: no peer has that routing id (`EHOSTUNREACH`).
    HostUnreachable,
    /// The pattern forbids this call now, e.g. REQ sending twice (`EFSM`).
    BadState,
    /// This socket type does not do this (`ENOTSUP`).
    NotSupported,
    /// A bad endpoint, or one not in use (`EINVAL`, `EPROTONOSUPPORT`, `ENOENT`).
    Endpoint(EndpointOpError),
    /// An option this socket type does not have, a bad value for it, or a read-only one set
    /// (`EINVAL`).
    Option(OptionError),
    /// [`Context::new`](crate::Context::new) was called outside a Tokio runtime.
    NoRuntime,
    /// The operating system refused.
    Io(io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::WouldBlock => f.write_str("resource temporarily unavailable"),
            Error::Terminated => f.write_str("socket closed or context terminated"),
            Error::HostUnreachable => f.write_str("host unreachable"),
            Error::BadState => f.write_str("operation cannot be accomplished in current state"),
            Error::NotSupported => f.write_str("operation not supported by this socket type"),
            Error::Endpoint(e) => e.fmt(f),
            Error::Option(e) => e.fmt(f),
            Error::NoRuntime => f.write_str("no Tokio runtime to run the connections on"),
            Error::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<EndpointOpError> for Error {
    fn from(e: EndpointOpError) -> Self {
        match e {
            EndpointOpError::Terminated => Error::Terminated,
            e => Error::Endpoint(e),
        }
    }
}

impl From<RecvError> for Error {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::WouldBlock => Error::WouldBlock,
            RecvError::BadState => Error::BadState,
            RecvError::NotSupported => Error::NotSupported,
            _ => Error::Terminated,
        }
    }
}

impl From<&SendError> for Error {
    fn from(e: &SendError) -> Self {
        Error::from(e.kind)
    }
}

impl From<SendErrorKind> for Error {
    fn from(kind: SendErrorKind) -> Self {
        match kind {
            SendErrorKind::WouldBlock => Error::WouldBlock,
            SendErrorKind::HostUnreachable => Error::HostUnreachable,
            SendErrorKind::BadState => Error::BadState,
            SendErrorKind::NotSupported => Error::NotSupported,
            _ => Error::Terminated,
        }
    }
}
