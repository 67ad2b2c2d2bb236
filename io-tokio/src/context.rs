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

    /// A socket of `kind` with libzmq's default options for that type; fails with
    /// [`Error::Terminated`] once the context is terminating.
    pub fn socket(&self, kind: SocketType) -> Result<Socket, Error> {
        if self.shared.is_terminating() {
            return Err(Error::Terminated);
        }
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
        let mut half = half;
        half.set_random_source(oxmq_core::rng::os_random());
        #[cfg(feature = "curve")]
        if let Some(crypto) = *self
            .shared
            .curve_crypto
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            half.set_curve_crypto(crypto);
        }
        let cell = self.shared.add_socket(half).ok_or(Error::Terminated)?;
        Ok(Socket::new(cell, kind))
    }

    /// Where the CURVE connections of sockets made from now on take X25519 and
    /// XSalsa20-Poly1305 from: RustCrypto's unless set, or another
    /// [`CurveCrypto`](oxmq_core::mechanism::curve::CurveCrypto) provider such as
    /// `oxmq_sodium::LIBSODIUM`.
    #[cfg(feature = "curve")]
    pub fn set_curve_crypto(&self, crypto: &'static dyn oxmq_core::mechanism::curve::CurveCrypto) {
        *self
            .shared
            .curve_crypto
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(crypto);
    }

    /// Installs the ZAP handler (RFC 27) that PLAIN and CURVE servers (and NULL servers
    /// with a ZAP_DOMAIN) of this context ask about each peer before letting it in. It runs
    /// in the connection's task, so it should answer quickly. Its
    /// [`ZapReply`](oxmq_core::ZapReply) accepts (200, naming the peer's `User-Id`) or
    /// refuses (the handshake ends with ERROR and `HANDSHAKE_FAILED_AUTH`). Applies to
    /// connections made from now on. Without a handler libzmq's rules hold: NULL and CURVE
    /// servers let peers in, PLAIN servers refuse them.
    pub fn set_zap_handler(
        &self,
        handler: impl Fn(&oxmq_core::ZapRequest) -> oxmq_core::ZapReply + Send + Sync + 'static,
    ) {
        self.shared.set_zap_handler(Some(Arc::new(handler)));
    }

    /// Removes the ZAP handler: see [`Context::set_zap_handler`].
    pub fn clear_zap_handler(&self) {
        self.shared.set_zap_handler(None);
    }

    /// Terminates the context (`zmq_ctx_term`) and waits until it is done: every socket
    /// closes, what each had queued keeps flowing for up to its LINGER, and then every
    /// connection and listener is closed. From the start, every call on the context's
    /// sockets except [`Socket::close`] fails with [`Error::Terminated`], those waiting
    /// included, and [`Context::socket`] fails the same way.
    ///
    /// This is how a program makes sure what it sent has gone before it ends: a runtime that
    /// shuts down drops the tasks still delivering. As with libzmq, a socket with LINGER -1
    /// (the default) and a queue its peer never takes keeps this waiting; set LINGER where
    /// that may happen. An inproc connect whose name was never bound does not: it ends here,
    /// with what it queued, as no bind can come any more.
    ///
    /// Cancel-safe: dropped midway, the context stays terminated and its sockets go on
    /// closing in the background; calling `term` again waits for them.
    ///
    /// ```
    /// use oxmq_tokio::{Context, Error, SocketType};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let ctx = Context::new()?;
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// pull.bind("inproc://done").await?;
    /// ctx.term().await;
    /// assert!(matches!(pull.recv().await, Err(Error::Terminated)));
    /// assert!(matches!(ctx.socket(SocketType::Push), Err(Error::Terminated)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn term(&self) {
        self.shared.terminate(true);
        self.shared.all_closed().await;
    }

    /// Shuts the context down without waiting (`zmq_ctx_shutdown`): every call on its
    /// sockets except [`Socket::close`] fails with [`Error::Terminated`] from now on, those
    /// waiting included, and no socket can be made. The sockets stay open until each is
    /// closed or dropped, or [`Context::term`] is called.
    pub fn shutdown(&self) {
        self.shared.terminate(false);
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SocketOption;

    /// Polls until `done`, letting the runtime's other tasks run in between.
    async fn until(mut done: impl FnMut() -> bool) {
        for _ in 0..100_000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("never happened");
    }

    #[tokio::test]
    async fn closed_sockets_are_reaped_and_their_tasks_let_go_of_them() {
        let ctx = Context::new().unwrap();
        for ep in ["tcp://127.0.0.1:*", "inproc://reaped"] {
            let pull = ctx.socket(SocketType::Pull).unwrap();
            let ep = pull.bind(ep).await.unwrap();
            let push = ctx.socket(SocketType::Push).unwrap();
            push.set(SocketOption::Linger(0)).unwrap();
            push.connect(&ep).await.unwrap();
            push.send("x").await.unwrap();
            pull.recv().await.unwrap();
            assert_eq!(ctx.shared.socket_count(), 2);
            let cell = std::sync::Arc::downgrade(&pull.cell_for_tests());
            drop(push);
            pull.close().await;
            until(|| ctx.shared.socket_count() == 0).await;
            // No session, listener or timer task holds the socket any more.
            until(|| cell.strong_count() == 0).await;
        }
    }
}
