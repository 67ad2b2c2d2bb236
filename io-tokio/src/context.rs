//! `Context`: the sockets that may join over inproc, and the runtime their tasks run on.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use oxmq_core::base::{BaseConfig, SocketHalf};
use oxmq_core::pipe::Storage;
use oxmq_core::SocketType;

use crate::shared::Shared;
use crate::{Error, Socket};

/// A ZeroMQ context: a scope for inproc names, and the Tokio runtime on which its sockets'
/// connections run as tasks (the one current where it was made; the crate starts none of its
/// own). Cheap to clone. Sockets outlive it: each closes when dropped or by
/// [`Socket::close`].
#[derive(Clone)]
pub struct Context {
    shared: Arc<Shared>,
}

impl Context {
    /// A context on the current Tokio runtime (current-thread or multi-thread); fails with
    /// [`Error::NoRuntime`] outside one.
    pub fn new() -> Result<Context, Error> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        Ok(Context::with_runtime(rt))
    }

    /// A context whose sockets run their connections on `runtime`.
    pub fn with_runtime(runtime: tokio::runtime::Handle) -> Context {
        Context {
            shared: Arc::new(Shared::new(runtime)),
        }
    }

    /// A socket of `kind` with libzmq's default options for that type.
    pub fn socket(&self, kind: SocketType) -> Result<Socket, Error> {
        // Reconnect jitter and generated routing ids: seeded from the process's random keys.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(self.shared.now().as_nanos());
        let seed = h.finish();
        // The sessions are tasks, maybe on other worker threads: lock-free pipes.
        let half = SocketHalf::new(
            kind,
            BaseConfig::for_socket_type(kind),
            seed,
            Storage::Threads,
        )
        .map_err(|_| Error::NotSupported)?;
        let cell = self.shared.add_socket(half);
        Ok(Socket::new(cell, kind))
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}
