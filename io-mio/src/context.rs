//! `Context`: owns the I/O thread and every socket's state, like `zmq_ctx_new`.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use oxmq_core::base::BaseConfig;
use oxmq_core::context::SocketError;
use oxmq_core::SocketType;

use crate::io::{self, Shared};
use crate::{Error, Socket};

/// A ZeroMQ context: an I/O thread and the sockets made from it.
///
/// Dropping the last handle terminates it: every socket is closed (honouring its LINGER),
/// calls blocked on its sockets return [`Error::Terminated`], and the I/O thread stops.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Owner>,
}

pub(crate) struct Owner {
    pub(crate) shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Context {
    /// A new context with its I/O thread running.
    pub fn new() -> Result<Context, Error> {
        let (shared, thread) = io::start()?;
        Ok(Context {
            inner: Arc::new(Owner {
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// A socket of `kind` with libzmq's default options.
    pub fn socket(&self, kind: SocketType) -> Result<Socket, Error> {
        let shared = &self.inner.shared;
        let mut st = shared.lock();
        let seed = st.now().as_nanos() ^ (u64::from(std::process::id()) << 32);
        let id = st
            .core
            .socket(kind, BaseConfig::default(), seed)
            .map_err(|e| match e {
                SocketError::Terminated => Error::Terminated,
                SocketError::Unsupported(_) => Error::NotSupported,
            })?;
        Ok(Socket::new(Arc::clone(shared), id, kind))
    }

    /// Terminates the context (`zmq_ctx_term`): closes every socket, waits for each to finish
    /// lingering, makes blocked calls return [`Error::Terminated`], and stops the I/O thread.
    pub fn term(&self) {
        self.inner.term();
    }
}

impl Owner {
    fn term(&self) {
        let shared = &self.shared;
        {
            let mut st = shared.lock();
            if !st.terminating {
                st.terminating = true;
                let now = st.now();
                st.core.terminate(now);
                shared.after_change(&mut st);
            }
            while !st.core.is_terminated() {
                let (g, _) = shared.wait(st, None);
                st = g;
            }
            shared.changed.notify_all();
        }
        shared.stop();
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.term();
    }
}
