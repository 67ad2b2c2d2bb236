//! `Context`: owns the I/O threads and every socket's state, like `zmq_ctx_new`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use oxmq_core::base::{BaseConfig, SocketHalf};
use oxmq_core::pipe::Storage;
use oxmq_core::tree::Linger;
use oxmq_core::{OptionError, SocketOption, SocketType};

use crate::io;
use crate::shared::{IoCmd, Shared, Waited};
use crate::{Error, Socket};

/// libzmq's ZMQ_SOCKET_LIMIT: the largest ZMQ_MAX_SOCKETS it accepts.
const SOCKET_LIMIT: usize = 65535;

/// The longest [`ContextOption::Spin`] accepted: past it, a spin is no longer a wait that
/// saves a sleep.
const MAX_SPIN: std::time::Duration = std::time::Duration::from_secs(1);

/// One context option with its value (`zmq_ctx_set`, `zmq_ctx_get`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextOption {
    /// `ZMQ_IO_THREADS`: how many I/O threads carry the connections (default 1; 0 still runs
    /// one, which keeps the timers). Only before the first socket, as in libzmq.
    IoThreads(usize),
    /// `ZMQ_MAX_SOCKETS`: how many sockets may be open at once (default 1023; 1 to
    /// SOCKET_LIMIT). One more fails with [`Error::TooManySockets`].
    MaxSockets(usize),
    /// `ZMQ_SOCKET_LIMIT`: the largest MAX_SOCKETS accepted. Read-only.
    SocketLimit(usize),
    /// `ZMQ_IPV6`: the ZMQ_IPV6 new sockets start with (default off).
    Ipv6(bool),
    /// `ZMQ_BLOCKY`: new sockets start with ZMQ_LINGER −1 (on, the default), so that
    /// termination waits for their messages, or 0 (off), so that it does not.
    Blocky(bool),
    /// How long a receive waiting on sparse traffic, and an I/O thread with nothing to do,
    /// keep polling (yielding the core) before they sleep: an oxmq extension, libzmq has no
    /// such spin. The default, 50 µs, roughly halves a round trip over tcp on an otherwise
    /// idle machine, at the price of CPU on traffic that comes every few tens of
    /// microseconds; zero sleeps at once, as libzmq does. At most one second (more fails with
    /// an invalid value). May be set at any time.
    Spin(std::time::Duration),
}

/// The name of a [`ContextOption`], without a value: what to ask [`Context::get`] for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ContextOptionName {
    /// `ZMQ_IO_THREADS`.
    IoThreads,
    /// `ZMQ_MAX_SOCKETS`.
    MaxSockets,
    /// `ZMQ_SOCKET_LIMIT`.
    SocketLimit,
    /// `ZMQ_IPV6`.
    Ipv6,
    /// `ZMQ_BLOCKY`.
    Blocky,
    /// [`ContextOption::Spin`].
    Spin,
}

impl ContextOption {
    /// This option's name.
    pub fn name(&self) -> ContextOptionName {
        match self {
            ContextOption::IoThreads(_) => ContextOptionName::IoThreads,
            ContextOption::MaxSockets(_) => ContextOptionName::MaxSockets,
            ContextOption::SocketLimit(_) => ContextOptionName::SocketLimit,
            ContextOption::Ipv6(_) => ContextOptionName::Ipv6,
            ContextOption::Blocky(_) => ContextOptionName::Blocky,
            ContextOption::Spin(_) => ContextOptionName::Spin,
        }
    }
}

/// A ZeroMQ context: I/O threads and the sockets made from it.
///
/// The I/O threads start with the first socket. Dropping the last handle terminates the
/// context: every socket is closed (honouring its LINGER), calls blocked on its sockets return
/// [`Error::Terminated`], and the I/O threads stop.
///
/// ```
/// use oxmq_core::SocketType;
/// use oxmq_mio::{Context, ContextOption, ContextOptionName};
///
/// let ctx = Context::new()?;
/// ctx.set(ContextOption::MaxSockets(1))?;
/// let _only = ctx.socket(SocketType::Pair)?;
/// assert!(matches!(ctx.socket(SocketType::Pair), Err(oxmq_mio::Error::TooManySockets)));
/// assert_eq!(ctx.get(ContextOptionName::IoThreads)?, ContextOption::IoThreads(1));
/// # Ok::<(), oxmq_mio::Error>(())
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<Owner>,
}

struct Owner {
    state: Mutex<Ctx>,
}

/// The context's options, and its I/O once started.
struct Ctx {
    io_threads: usize,
    max_sockets: usize,
    ipv6: bool,
    blocky: bool,
    interruptible: bool,
    spin: std::time::Duration,
    /// The CURVE crypto provider of new sockets; oxmq-core's default when `None`.
    #[cfg(feature = "curve")]
    curve_crypto: Option<&'static dyn oxmq_core::mechanism::curve::CurveCrypto>,
    io: Option<Io>,
    terminated: bool,
}

struct Io {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Context {
    /// A new context with libzmq's default options; nothing runs until the first socket.
    pub fn new() -> Result<Context, Error> {
        Ok(Context {
            inner: Arc::new(Owner {
                state: Mutex::new(Ctx {
                    io_threads: 1,
                    max_sockets: 1023,
                    ipv6: false,
                    blocky: true,
                    interruptible: false,
                    spin: crate::shared::SPIN,
                    #[cfg(feature = "curve")]
                    curve_crypto: None,
                    io: None,
                    terminated: false,
                }),
            }),
        })
    }

    /// A new context with `n` I/O threads: `set(IoThreads(n))` on a new one. Connections
    /// are spread over the threads round-robin.
    pub fn with_io_threads(n: usize) -> Result<Context, Error> {
        let ctx = Context::new()?;
        ctx.set(ContextOption::IoThreads(n))?;
        Ok(ctx)
    }

    /// Sets a context option (`zmq_ctx_set`). SOCKET_LIMIT is read-only and MAX_SOCKETS must
    /// lie within it ([`Error::Option`], libzmq's `EINVAL`); IO_THREADS is refused with
    /// [`Error::BadState`] once the first socket has started the threads (libzmq ignores it
    /// then). IPV6 and BLOCKY apply to the sockets made from now on.
    pub fn set(&self, opt: ContextOption) -> Result<(), Error> {
        let mut ctx = self.inner.lock();
        match opt {
            ContextOption::IoThreads(n) => {
                if ctx.io.is_some() {
                    return Err(Error::BadState);
                }
                ctx.io_threads = n;
            }
            ContextOption::MaxSockets(n) => {
                if !(1..=SOCKET_LIMIT).contains(&n) {
                    return Err(Error::Option(OptionError::InvalidValue));
                }
                ctx.max_sockets = n;
            }
            ContextOption::SocketLimit(_) => {
                return Err(Error::Option(OptionError::InvalidValue));
            }
            ContextOption::Ipv6(v) => ctx.ipv6 = v,
            ContextOption::Blocky(v) => ctx.blocky = v,
            ContextOption::Spin(d) => {
                if d > MAX_SPIN {
                    return Err(Error::Option(OptionError::InvalidValue));
                }
                ctx.spin = d;
                if let Some(io) = &ctx.io {
                    io.shared.set_spin(d);
                }
            }
        }
        Ok(())
    }

    /// Reads a context option (`zmq_ctx_get`).
    pub fn get(&self, name: ContextOptionName) -> Result<ContextOption, Error> {
        let ctx = self.inner.lock();
        Ok(match name {
            ContextOptionName::IoThreads => ContextOption::IoThreads(ctx.io_threads),
            ContextOptionName::MaxSockets => ContextOption::MaxSockets(ctx.max_sockets),
            ContextOptionName::SocketLimit => ContextOption::SocketLimit(SOCKET_LIMIT),
            ContextOptionName::Ipv6 => ContextOption::Ipv6(ctx.ipv6),
            ContextOptionName::Blocky => ContextOption::Blocky(ctx.blocky),
            ContextOptionName::Spin => ContextOption::Spin(ctx.spin),
        })
    }

    /// Makes the blocking calls on this context's sockets (send, receive, [`poll`](crate::poll))
    /// end with [`Error::Interrupted`] when a signal handler runs on the waiting thread, as
    /// libzmq's do (`EINTR`), so that a program's handler (Ctrl-C, say) gets to act. Off by
    /// default, as a Rust program expects a wait to outlast signals; the C API turns it on.
    /// An interruptible wait sleeps on a per-thread eventfd rather than a condition
    /// variable: two more file descriptors for each thread that waits.
    pub fn set_interruptible(&self, on: bool) {
        let mut ctx = self.inner.lock();
        ctx.interruptible = on;
        if let Some(io) = &ctx.io {
            io.shared
                .interruptible
                .store(on, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Installs the ZAP handler (RFC 27) that PLAIN and CURVE servers, and NULL servers with
    /// a ZAP_DOMAIN, of this context ask about each peer before letting it in; it runs on
    /// the I/O thread of the connection, so it should answer quickly. Its
    /// [`ZapReply`](oxmq_core::ZapReply) accepts (200, naming the peer's `User-Id`) or refuses
    /// (300, 400, 500: the handshake ends with ERROR and `HANDSHAKE_FAILED_AUTH`). Applies to
    /// connections made from now on. Without a handler libzmq's rules hold: NULL and CURVE
    /// servers let peers in, PLAIN servers refuse them.
    pub fn set_zap_handler(
        &self,
        handler: impl Fn(&oxmq_core::ZapRequest) -> oxmq_core::ZapReply + Send + Sync + 'static,
    ) -> Result<(), Error> {
        let shared = self.inner.lock().start()?;
        shared.set_zap_handler(Some(Arc::new(handler)));
        Ok(())
    }

    /// Removes the ZAP handler: see [`Context::set_zap_handler`].
    pub fn clear_zap_handler(&self) -> Result<(), Error> {
        let shared = self.inner.lock().start()?;
        shared.set_zap_handler(None);
        Ok(())
    }

    /// Where the CURVE connections of sockets made from now on take X25519 and
    /// XSalsa20-Poly1305 from: RustCrypto's unless set, or another
    /// [`CurveCrypto`](oxmq_core::mechanism::curve::CurveCrypto) provider such as
    /// `oxmq_sodium::LIBSODIUM`.
    #[cfg(feature = "curve")]
    pub fn set_curve_crypto(&self, crypto: &'static dyn oxmq_core::mechanism::curve::CurveCrypto) {
        self.inner.lock().curve_crypto = Some(crypto);
    }

    /// A socket of `kind` with libzmq's default options for that type (LINGER 0 if the
    /// context's BLOCKY is off, IPV6 as the context's IPV6). Fails with [`Error::TooManySockets`] when MAX_SOCKETS are open.
    pub fn socket(&self, kind: SocketType) -> Result<Socket, Error> {
        let mut ctx = self.inner.lock();
        if ctx.terminated {
            return Err(Error::Terminated);
        }
        let shared = ctx.start()?;
        if shared
            .open_sockets
            .load(std::sync::atomic::Ordering::Acquire)
            >= ctx.max_sockets
        {
            return Err(Error::TooManySockets);
        }
        let now = shared.now();
        let seed = now.as_nanos() ^ (u64::from(std::process::id()) << 32);
        let mut config = BaseConfig::for_socket_type(kind);
        if !ctx.blocky {
            config.linger = Linger::For(Duration::ZERO);
        }
        // The sessions run on the I/O threads: the pipes to them are lock-free queues.
        let mut half = SocketHalf::new(kind, config, seed, Storage::Threads)
            .map_err(|_| Error::NotSupported)?;
        half.set_option(SocketOption::Ipv6(ctx.ipv6), now)
            .expect("every socket takes IPV6");
        half.set_random_source(oxmq_core::rng::os_random());
        #[cfg(feature = "curve")]
        if let Some(crypto) = ctx.curve_crypto {
            half.set_curve_crypto(crypto);
        }
        let cell = shared.add_socket(half);
        shared
            .open_sockets
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        drop(ctx);
        Ok(Socket::new(shared, cell, kind))
    }

    /// Shuts the context down without waiting (`zmq_ctx_shutdown`): calls blocked on its
    /// sockets, and every call made from now on, fail with [`Error::Terminated`]; no new
    /// socket can be made. [`Context::term`] still has to be called to close the sockets
    /// and stop the I/O threads.
    pub fn shutdown(&self) {
        let shared = {
            let mut ctx = self.inner.lock();
            ctx.terminated = true;
            ctx.io.as_ref().map(|io| Arc::clone(&io.shared))
        };
        if let Some(shared) = shared {
            shared
                .terminating
                .store(true, std::sync::atomic::Ordering::Release);
            for cell in shared.cells() {
                shared.with_half(&cell, |st, _| cell.wake(st));
            }
        }
    }

    /// Terminates the context (`zmq_ctx_term`): closes every socket, waits for each to finish
    /// lingering, makes blocked calls return [`Error::Terminated`], and stops the I/O threads.
    pub fn term(&self) {
        let _ = self.inner.term(false);
    }

    /// [`Context::term`] that, in a context made interruptible
    /// ([`Context::set_interruptible`]), fails with [`Error::Interrupted`] when a signal
    /// handler runs while it waits for sockets to finish lingering, as libzmq's
    /// `zmq_ctx_term` fails with `EINTR`. The context then stays terminated for new calls,
    /// its sockets closing; calling `try_term` or `term` again finishes the job.
    pub fn try_term(&self) -> Result<(), Error> {
        self.inner.term(true)
    }
}

impl Ctx {
    /// The shared state, starting the I/O threads if this is the first socket.
    fn start(&mut self) -> Result<Arc<Shared>, Error> {
        if let Some(io) = &self.io {
            return Ok(Arc::clone(&io.shared));
        }
        let (shared, threads) = io::start(self.io_threads)?;
        shared
            .interruptible
            .store(self.interruptible, std::sync::atomic::Ordering::Relaxed);
        shared.set_spin(self.spin);
        self.io = Some(Io {
            shared: Arc::clone(&shared),
            threads,
        });
        Ok(shared)
    }
}

impl Owner {
    fn lock(&self) -> MutexGuard<'_, Ctx> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Terminates: see [`Context::term`]; with `interruptible` (and the context's
    /// [`Context::set_interruptible`]), a signal handler ends the wait for lingering sockets
    /// with [`Error::Interrupted`].
    fn term(&self, interruptible: bool) -> Result<(), Error> {
        // The wait below runs without this lock: a thread woken by termination may make a
        // socket call, which must find the context terminated rather than wait for it.
        let shared = {
            let mut ctx = self.lock();
            ctx.terminated = true;
            match &ctx.io {
                None => return Ok(()),
                Some(io) => Arc::clone(&io.shared),
            }
        };
        shared
            .terminating
            .store(true, std::sync::atomic::Ordering::Release);
        // Every socket closes (with its LINGER); calls blocked on it return.
        for cell in shared.cells() {
            shared.with_half(&cell, |st, now| {
                st.half.close(now);
                cell.wake(st);
            });
        }
        // No bind can come now: connects still waiting for one end, dropping what they queued.
        shared.end_waiting_connects();
        loop {
            let seen = shared.watch();
            let open = shared.cells().iter().any(|c| !c.lock().half.is_closed());
            if !open {
                shared.unwatch();
                break;
            }
            if shared.wait_change(seen, None) == Waited::Interrupted && interruptible {
                // The sockets stay closing and the threads running: a later call finishes.
                return Err(Error::Interrupted);
            }
        }
        // Whoever finishes first stops the threads; any other call finds none left.
        let threads = match &mut self.lock().io {
            Some(io) => std::mem::take(&mut io.threads),
            None => Vec::new(),
        };
        if threads.is_empty() {
            return Ok(());
        }
        for k in 0..shared.io.len() {
            shared.post(k, IoCmd::Stop);
        }
        for h in threads {
            let _ = h.join();
        }
        Ok(())
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.term(false);
    }
}
