//! The front-end's error type, shaped after libzmq's errno values.

use std::io;

use oxmq_core::base::EndpointOpError;
use oxmq_core::socket::{RecvError, SendError, SendErrorKind};
use oxmq_core::OptionError;

/// Why a socket call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Nothing could be done now, or not within the timeout (`EAGAIN`).
    WouldBlock,
    /// The socket or its context is closed (`ETERM`).
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
    /// The context already has ZMQ_MAX_SOCKETS sockets open (`EMFILE`).
    TooManySockets,
    /// A signal handler ran while the call waited (`EINTR`): only in a context made
    /// interruptible (see [`Context::set_interruptible`](crate::Context::set_interruptible)).
    /// Nothing was sent or received; the call may be made again.
    Interrupted,
    /// The operating system refused.
    Io(io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::WouldBlock => f.write_str("resource temporarily unavailable"),
            Error::Terminated => f.write_str("context was terminated"),
            Error::HostUnreachable => f.write_str("host unreachable"),
            Error::BadState => f.write_str("operation cannot be accomplished in current state"),
            Error::NotSupported => f.write_str("operation not supported by this socket type"),
            Error::Endpoint(e) => e.fmt(f),
            Error::Option(e) => e.fmt(f),
            Error::TooManySockets => f.write_str("too many open sockets"),
            Error::Interrupted => f.write_str("interrupted system call"),
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
