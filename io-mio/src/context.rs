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
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Context {
    /// A new context with one I/O thread running (libzmq's default ZMQ_IO_THREADS).
    pub fn new() -> Result<Context, Error> {
        Context::with_io_threads(1)
    }

    /// A new context with `n` I/O threads (ZMQ_IO_THREADS); connections are spread over
    /// them round-robin.
    pub fn with_io_threads(n: usize) -> Result<Context, Error> {
        let (shared, threads) = io::start(n)?;
        Ok(Context {
            inner: Arc::new(Owner {
                shared,
                threads: Mutex::new(threads),
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
            shared.wake_all(&mut st);
        }
        shared.stop();
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.term();
    }
}
