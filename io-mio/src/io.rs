//! The I/O side: the shared state behind a [`crate::Context`], and the mio thread that carries
//! out the core's actions on real TCP and Unix-domain sockets.
//!
//! One mutex guards the core context and every stream. Application threads lock it to call
//! the core; the I/O threads lock it to feed readiness, timers and the bytes they read, and
//! to take the bytes to write. The system calls themselves run outside the lock, so an
//! application thread is not held up behind a 64 KiB read or write. After each round the
//! condition variable wakes blocked callers to retry.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use oxmq_core::base::{Action, ConnId, ListenerId, SocketBase};
use oxmq_core::context::{Context as CoreContext, SocketId};
use oxmq_core::endpoint::{Endpoint, Host, IpcAddr, Port, TcpAddr};
use oxmq_core::monitor::MonitorEvent;
use oxmq_core::{DriverOptions, Instant};

const WAKER: Token = Token(0);
const READ_CHUNK: usize = 256 * 1024;
/// How long the first I/O thread stays awake after a round with system calls.
const IO_AWAKE: Duration = Duration::from_micros(50);
/// How long a receive waiting on sparse traffic spins before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// What the mutex guards.
pub(crate) struct State {
    pub(crate) core: CoreContext,
    epoch: StdInstant,
    /// One registry per I/O thread's poll; listeners live on the first, connections are
    /// spread round-robin.
    pollers: Vec<Registry>,
    next_poller: usize,
    next_token: usize,
    tokens: BTreeMap<Token, Handle>,
    conns: BTreeMap<(SocketId, ConnId), Conn>,
    listeners: BTreeMap<(SocketId, ListenerId), Listen>,
    /// Connections we stopped reading because their socket's queue was full.
    paused: BTreeSet<(SocketId, ConnId)>,
    /// The outcome of each bind, for the `bind` call waiting on it.
    pub(crate) bind_results: BTreeMap<(SocketId, ListenerId), io::Result<()>>,
    /// Monitor events of the sockets that asked for them.
    pub(crate) monitors: BTreeMap<SocketId, VecDeque<MonitorEvent>>,
    pub(crate) terminating: bool,
    stop: bool,
    ipc_serial: u64,
    /// Sockets made and not yet dropped, for ZMQ_MAX_SOCKETS.
    pub(crate) open_sockets: usize,
    /// Readiness signallers (ZMQ_FD) of the sockets that asked for one.
    pub(crate) signallers: BTreeMap<SocketId, Signaller>,
    /// Connections with output to write, for an I/O thread's next round of jobs.
    to_flush: BTreeSet<(SocketId, ConnId)>,
    /// Connections to read (readable, or resumed after back-pressure), likewise.
    to_read: BTreeSet<(SocketId, ConnId)>,
    /// A thread began waiting on the general condition variable since the last notify: only
    /// then is there anyone to notify (a notify per message to a thread already being woken
    /// would cost a futex call each).
    wait_begun: bool,
    /// Send and receive calls asleep on a socket, woken only once what they wait for holds.
    sleepers: BTreeMap<SocketId, Sleepers>,
    /// The first I/O thread was woken and has not yet taken the lock since.
    io_wake_pending: bool,
}

/// What a send or receive call asleep on a socket waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    Recv,
    Send,
}

/// The send and receive calls asleep on one socket. A sender blocked at SNDHWM sleeps until
/// the socket can send, not through every message its peer reads.
struct Sleepers {
    cv: Arc<Condvar>,
    recv: usize,
    send: usize,
    /// Woken since the last one went to sleep: no second futex call while they wake up.
    notified: bool,
}

/// The write end of a socket's readiness fd: a byte is written whenever its events may have
/// changed (libzmq's ZMQ_FD is edge-like the same way: on a wake-up, re-check ZMQ_EVENTS).
pub(crate) struct Signaller {
    pub(crate) write: std::os::unix::net::UnixStream,
    pub(crate) read: std::os::unix::net::UnixStream,
    pub(crate) last: (bool, bool),
}

#[derive(Clone, Copy, Debug)]
enum Handle {
    Conn(SocketId, ConnId),
    Listener(SocketId, ListenerId),
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => {
                let mut s: &TcpStream = s;
                s.read(buf)
            }
            Stream::Unix(s) => {
                let mut s: &UnixStream = s;
                s.read(buf)
            }
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => {
                let mut s: &TcpStream = s;
                s.write(buf)
            }
            Stream::Unix(s) => {
                let mut s: &UnixStream = s;
                s.write(buf)
            }
        }
    }

    fn write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => {
                let mut s: &TcpStream = s;
                s.write_vectored(bufs)
            }
            Stream::Unix(s) => {
                let mut s: &UnixStream = s;
                s.write_vectored(bufs)
            }
        }
    }

    /// For a connect in progress: `Ok(true)` connected, `Ok(false)` not yet, `Err` failed.
    fn connect_status(&self) -> io::Result<bool> {
        let err = match self {
            Stream::Tcp(s) => s.take_error()?,
            Stream::Unix(s) => s.take_error()?,
        };
        if let Some(e) = err {
            return Err(e);
        }
        let peer = match self {
            Stream::Tcp(s) => s.peer_addr().map(|_| ()),
            Stream::Unix(s) => s.peer_addr().map(|_| ()),
        };
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

struct Conn {
    /// Shared with an I/O thread's read or write under way outside the lock.
    stream: Arc<Stream>,
    token: Token,
    poller: usize,
    connecting: bool,
    /// The unwritten rest of chunks taken from the core.
    pending: VecDeque<Bytes>,
    /// An I/O thread is reading, or writing, this stream outside the lock: no one else may
    /// start the same (the byte order depends on it).
    reading: bool,
    writing: bool,
    /// A readiness event said the peer closed its end. The bytes before the end of stream
    /// and the end itself may come with one edge-triggered event, and a read that returns
    /// those bytes leaves the end unread with no event to follow: from now on every read
    /// is followed by another until one returns the end (or an error).
    read_closed: bool,
}

impl Conn {
    fn new(stream: Stream, token: Token, poller: usize, connecting: bool) -> Conn {
        Conn {
            stream: Arc::new(stream),
            token,
            poller,
            connecting,
            pending: VecDeque::new(),
            reading: false,
            writing: false,
            read_closed: false,
        }
    }

    fn register(&self, registry: &Registry) -> io::Result<()> {
        registry.register(
            &mut mio::unix::SourceFd(&self.stream.fd()),
            self.token,
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    fn deregister(&self, registry: &Registry) {
        let _ = registry.deregister(&mut mio::unix::SourceFd(&self.stream.fd()));
    }
}

/// System calls an I/O thread makes with the lock released.
enum Job {
    Write {
        sid: SocketId,
        conn: ConnId,
        stream: Arc<Stream>,
        chunks: VecDeque<Bytes>,
    },
    Read {
        sid: SocketId,
        conn: ConnId,
        stream: Arc<Stream>,
        buf: Vec<u8>,
    },
}

/// What a job found, fed back under the lock.
enum Done {
    Wrote {
        sid: SocketId,
        conn: ConnId,
        /// Bytes the socket did not take yet.
        rest: VecDeque<Bytes>,
        /// The socket's buffer is full (or the stream failed): wait for a writable event.
        blocked: bool,
    },
    Read {
        sid: SocketId,
        conn: ConnId,
        buf: Vec<u8>,
        result: io::Result<usize>,
    },
}

impl Job {
    fn run(self) -> Done {
        match self {
            Job::Write {
                sid,
                conn,
                stream,
                mut chunks,
            } => {
                chunks.retain(|b| !b.is_empty());
                let blocked = loop {
                    if chunks.is_empty() {
                        break false;
                    }
                    let slices: Vec<io::IoSlice<'_>> = chunks
                        .iter()
                        .take(64)
                        .map(|b| io::IoSlice::new(b))
                        .collect();
                    match stream.write_vectored(&slices) {
                        // Nothing taken from a non-empty write: wait for writability rather
                        // than spin.
                        Ok(0) => break true,
                        Ok(mut n) => {
                            while n > 0 {
                                let front = chunks.front_mut().expect("wrote past the chunks");
                                if n >= front.len() {
                                    n -= front.len();
                                    chunks.pop_front();
                                } else {
                                    let _ = front.split_to(n);
                                    n = 0;
                                }
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                        // The stream failed: the read side reports it; drop what is left.
                        Err(_) => {
                            chunks.clear();
                            break true;
                        }
                    }
                };
                Done::Wrote {
                    sid,
                    conn,
                    rest: chunks,
                    blocked,
                }
            }
            Job::Read {
                sid,
                conn,
                stream,
                mut buf,
            } => {
                let result = loop {
                    match stream.read(&mut buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        r => break r,
                    }
                };
                Done::Read {
                    sid,
                    conn,
                    buf,
                    result,
                }
            }
        }
    }
}

/// At most this many bytes go into one write job.
const WRITE_MAX: usize = 1024 * 1024;
/// At most this many reads run per round of jobs (each holds a READ_CHUNK buffer).
const READS_PER_ROUND: usize = 32;

enum Listen {
    Tcp(TcpListener, Token),
    Unix(UnixListener, Token, Option<PathBuf>),
}

fn errno(e: &io::Error) -> u64 {
    e.raw_os_error().map_or(0, |n| n as u64)
}

impl State {
    pub(crate) fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    pub(crate) fn socket(&mut self, id: SocketId) -> Option<&mut SocketBase> {
        self.core.get_mut(id)
    }

    /// The options socket `sid` set for its streams and listeners, as of now.
    fn driver_options(&self, sid: SocketId) -> DriverOptions {
        self.core
            .get(sid)
            .map(|s| s.driver_options().clone())
            .unwrap_or_default()
    }

    fn pick_poller(&mut self) -> usize {
        self.next_poller = (self.next_poller + 1) % self.pollers.len();
        self.next_poller
    }

    fn token(&mut self, h: Handle) -> Token {
        self.next_token += 1;
        let t = Token(self.next_token);
        self.tokens.insert(t, h);
        t
    }

    /// Carries out everything the core asks and collects monitor events, until nothing
    /// changes; what must be read or written is left in `to_read` and `to_flush` for an I/O
    /// thread's jobs.
    pub(crate) fn process(&mut self) {
        loop {
            let now = self.now();
            self.core.pump(now);
            let mut progress = false;
            while let Some((sid, action)) = self.core.poll_action() {
                progress = true;
                self.act(sid, action, now);
            }
            for sid in self.core.socket_ids() {
                let Some(s) = self.core.get_mut(sid) else {
                    continue;
                };
                while let Some(ev) = s.poll_monitor() {
                    if let Some(q) = self.monitors.get_mut(&sid) {
                        q.push_back(ev);
                    }
                }
                while let Some(conn) = s.poll_transmit_ready() {
                    // Inproc connections have no stream: the core context moved their items.
                    if self.conns.contains_key(&(sid, conn)) {
                        self.to_flush.insert((sid, conn));
                    }
                }
            }
            let core = &self.core;
            let resumed: Vec<(SocketId, ConnId)> = self
                .paused
                .iter()
                .filter(|&&(sid, conn)| core.get(sid).is_some_and(|s| s.wants_input(conn)))
                .copied()
                .collect();
            for key in resumed {
                self.paused.remove(&key);
                self.to_read.insert(key);
            }
            if !progress {
                self.signal();
                return;
            }
        }
    }

    /// Wakes the readiness fds of sockets whose events changed.
    fn signal(&mut self) {
        let ids: Vec<SocketId> = self.signallers.keys().copied().collect();
        for sid in ids {
            let Some(s) = self.core.get_mut(sid) else {
                continue;
            };
            let now = s.readiness();
            if let Some(sig) = self.signallers.get_mut(&sid) {
                if now != sig.last {
                    sig.last = now;
                    // A full pipe already holds a wake-up; nothing is lost by dropping this one.
                    let _ = (&sig.write).write(&[1]);
                }
            }
        }
    }

    fn act(&mut self, sid: SocketId, action: Action, now: Instant) {
        match action {
            Action::Listen { listener, endpoint } => {
                let result = self.listen(sid, listener, &endpoint);
                let s = self.core.get_mut(sid);
                match (&result, s) {
                    (Ok(bound), Some(s)) => s.handle_listening(listener, bound, now),
                    (Err(e), Some(s)) => s.handle_bind_failed(listener, errno(e), now),
                    _ => {}
                }
                self.bind_results
                    .insert((sid, listener), result.map(|_| ()));
            }
            Action::Dial { conn, endpoint } => {
                if let Err(e) = self.dial(sid, conn, &endpoint) {
                    if let Some(s) = self.core.get_mut(sid) {
                        s.handle_dial_result(conn, Err(errno(&e)), now);
                    }
                }
            }
            Action::Close { conn, last_bytes } => {
                if let Some(c) = self.conns.remove(&(sid, conn)) {
                    // Best effort, as a socket closing with bytes in its kernel buffer; not
                    // while a write job holds the stream (its bytes would interleave).
                    if !c.connecting && !c.writing {
                        for b in c.pending.iter().chain(std::iter::once(&last_bytes)) {
                            if c.stream.write(b).is_err() {
                                break;
                            }
                        }
                    }
                    c.deregister(&self.pollers[c.poller]);
                    self.tokens.remove(&c.token);
                }
                self.paused.remove(&(sid, conn));
                self.to_read.remove(&(sid, conn));
                self.to_flush.remove(&(sid, conn));
            }
            Action::CloseListener { listener } => {
                if let Some(l) = self.listeners.remove(&(sid, listener)) {
                    match l {
                        Listen::Tcp(mut l, t) => {
                            let _ = self.pollers[0].deregister(&mut l);
                            self.tokens.remove(&t);
                        }
                        Listen::Unix(mut l, t, path) => {
                            let _ = self.pollers[0].deregister(&mut l);
                            self.tokens.remove(&t);
                            if let Some(p) = path {
                                let _ = std::fs::remove_file(p);
                            }
                        }
                    }
                }
            }
            // The core context routes inproc itself; nothing else exists yet.
            _ => {}
        }
    }

    fn listen(&mut self, sid: SocketId, lid: ListenerId, ep: &Endpoint) -> io::Result<String> {
        match ep {
            Endpoint::Tcp { addr, .. } => {
                let opts = self.driver_options(sid);
                let sa = resolve(addr, true, opts.ipv6)?;
                let mut l = tcp_listener(sa, &opts)?;
                let t = self.token(Handle::Listener(sid, lid));
                self.pollers[0].register(&mut l, t, Interest::READABLE)?;
                let bound = format!("tcp://{}", l.local_addr()?);
                self.listeners.insert((sid, lid), Listen::Tcp(l, t));
                Ok(bound)
            }
            Endpoint::Ipc(addr) => {
                let (mut l, path, shown) = match addr {
                    IpcAddr::Path(p) => {
                        // libzmq removes a socket file left behind by an earlier run.
                        let _ = std::fs::remove_file(p);
                        (UnixListener::bind(p)?, Some(PathBuf::from(p)), p.clone())
                    }
                    IpcAddr::Ephemeral => {
                        self.ipc_serial += 1;
                        let p = std::env::temp_dir().join(format!(
                            "oxmq-{}-{}.ipc",
                            std::process::id(),
                            self.ipc_serial
                        ));
                        let shown = p.to_string_lossy().into_owned();
                        (UnixListener::bind(&p)?, Some(p), shown)
                    }
                    IpcAddr::Abstract(name) => (bind_abstract(name)?, None, format!("@{name}")),
                };
                let t = self.token(Handle::Listener(sid, lid));
                self.pollers[0].register(&mut l, t, Interest::READABLE)?;
                self.listeners.insert((sid, lid), Listen::Unix(l, t, path));
                Ok(format!("ipc://{shown}"))
            }
            Endpoint::Inproc(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    }

    fn dial(&mut self, sid: SocketId, conn: ConnId, ep: &Endpoint) -> io::Result<()> {
        let stream = match ep {
            Endpoint::Tcp { addr, source } => {
                let opts = self.driver_options(sid);
                let local = match source {
                    Some(src) => Some(resolve(src, true, opts.ipv6)?),
                    None => None,
                };
                Stream::Tcp(tcp_connect(resolve(addr, false, opts.ipv6)?, local, &opts)?)
            }
            Endpoint::Ipc(IpcAddr::Path(p)) => Stream::Unix(UnixStream::connect(p)?),
            Endpoint::Ipc(IpcAddr::Abstract(name)) => Stream::Unix(connect_abstract(name)?),
            _ => return Err(io::Error::from(io::ErrorKind::Unsupported)),
        };
        let t = self.token(Handle::Conn(sid, conn));
        let poller = self.pick_poller();
        let c = Conn::new(stream, t, poller, true);
        c.register(&self.pollers[poller])?;
        self.conns.insert((sid, conn), c);
        Ok(())
    }

    /// Under the lock: the system calls due now, at most one read and one write per
    /// connection, each marking its connection busy until [`State::finish`].
    fn take_jobs(&mut self, pool: &mut Vec<Vec<u8>>) -> Vec<Job> {
        let now = self.now();
        let mut jobs = Vec::new();
        let State {
            core,
            conns,
            to_flush,
            to_read,
            paused,
            ..
        } = self;
        let mut busy = Vec::new();
        while let Some((sid, conn)) = to_flush.pop_first() {
            let Some(c) = conns.get_mut(&(sid, conn)) else {
                continue;
            };
            if c.connecting {
                continue; // the connect's writable event flushes
            }
            if c.writing {
                busy.push((sid, conn));
                continue;
            }
            let mut chunks = std::mem::take(&mut c.pending);
            let mut total: usize = chunks.iter().map(Bytes::len).sum();
            if let Some(s) = core.get_mut(sid) {
                while total < WRITE_MAX {
                    let Some(b) = s.poll_transmit(conn, now) else {
                        break;
                    };
                    total += b.len();
                    chunks.push_back(b);
                }
            }
            if chunks.is_empty() {
                continue;
            }
            c.writing = true;
            jobs.push(Job::Write {
                sid,
                conn,
                stream: Arc::clone(&c.stream),
                chunks,
            });
        }
        to_flush.extend(busy.drain(..));
        let mut reads = 0;
        while reads < READS_PER_ROUND {
            let Some((sid, conn)) = to_read.pop_first() else {
                break;
            };
            let Some(c) = conns.get_mut(&(sid, conn)) else {
                continue;
            };
            if c.connecting {
                continue;
            }
            if c.reading {
                busy.push((sid, conn));
                continue;
            }
            if !core.get(sid).is_some_and(|s| s.wants_input(conn)) {
                paused.insert((sid, conn));
                continue;
            }
            c.reading = true;
            reads += 1;
            let buf = pool.pop().unwrap_or_else(|| vec![0; READ_CHUNK]);
            jobs.push(Job::Read {
                sid,
                conn,
                stream: Arc::clone(&c.stream),
                buf,
            });
        }
        to_read.extend(busy);
        jobs
    }

    /// Under the lock: feeds back what a job found.
    fn finish(&mut self, done: Done, pool: &mut Vec<Vec<u8>>) {
        let now = self.now();
        match done {
            Done::Wrote {
                sid,
                conn,
                rest,
                blocked,
            } => {
                let Some(c) = self.conns.get_mut(&(sid, conn)) else {
                    return;
                };
                c.writing = false;
                c.pending = rest;
                if !blocked {
                    // The core may have more by now.
                    self.to_flush.insert((sid, conn));
                }
            }
            Done::Read {
                sid,
                conn,
                buf,
                result,
            } => {
                if let Some(c) = self.conns.get_mut(&(sid, conn)) {
                    c.reading = false;
                    let s = self.core.get_mut(sid);
                    match (result, s) {
                        (Ok(0), Some(s)) => s.handle_eof(conn, now),
                        (Ok(n), Some(s)) => {
                            s.handle_input(conn, &buf[..n], now);
                            // The readiness is edge-triggered: read again after a full buffer
                            // (there may be more), and after any read once the peer closed
                            // (the end of stream is still to come, and no event will say so).
                            if n == buf.len() || c.read_closed {
                                self.to_read.insert((sid, conn));
                            }
                        }
                        (Err(e), _) if e.kind() == io::ErrorKind::WouldBlock => {}
                        (Err(_), Some(s)) => s.handle_eof(conn, now),
                        _ => {}
                    }
                }
                pool.push(buf);
            }
        }
    }

    fn accept(&mut self, sid: SocketId, lid: ListenerId) {
        let opts = self.driver_options(sid);
        loop {
            let now = self.now();
            let accepted = match self.listeners.get_mut(&(sid, lid)) {
                Some(Listen::Tcp(l, _)) => l.accept().map(|(s, _)| {
                    // Options are best effort on an accepted stream, as in libzmq.
                    let _ = stream_options(&s, &opts);
                    Stream::Tcp(s)
                }),
                Some(Listen::Unix(l, _, _)) => l.accept().map(|(s, _)| Stream::Unix(s)),
                None => return,
            };
            match accepted {
                Ok(stream) => {
                    let conn = self
                        .core
                        .get_mut(sid)
                        .and_then(|s| s.handle_accepted(lid, now));
                    let Some(conn) = conn else {
                        continue; // dropped: closes the stream
                    };
                    let t = self.token(Handle::Conn(sid, conn));
                    let poller = self.pick_poller();
                    let c = Conn::new(stream, t, poller, false);
                    if c.register(&self.pollers[poller]).is_ok() {
                        self.conns.insert((sid, conn), c);
                        self.to_read.insert((sid, conn));
                        self.to_flush.insert((sid, conn));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if let Some(s) = self.core.get_mut(sid) {
                        s.handle_accept_failed(lid, errno(&e));
                    }
                    return;
                }
            }
        }
    }

    /// A readiness event for `token`; `read_closed` when it says the peer closed its end.
    fn on_ready(&mut self, token: Token, readable: bool, writable: bool, read_closed: bool) {
        let now = self.now();
        match self.tokens.get(&token).copied() {
            Some(Handle::Listener(sid, lid)) => self.accept(sid, lid),
            Some(Handle::Conn(sid, conn)) => {
                let Some(c) = self.conns.get_mut(&(sid, conn)) else {
                    return;
                };
                c.read_closed |= read_closed;
                if c.connecting {
                    match c.stream.connect_status() {
                        Ok(false) => return,
                        Ok(true) => {
                            c.connecting = false;
                            if let Some(s) = self.core.get_mut(sid) {
                                s.handle_dial_result(conn, Ok(()), now);
                            }
                        }
                        Err(e) => {
                            if let Some(c) = self.conns.remove(&(sid, conn)) {
                                c.deregister(&self.pollers[c.poller]);
                                self.tokens.remove(&c.token);
                            }
                            if let Some(s) = self.core.get_mut(sid) {
                                s.handle_dial_result(conn, Err(errno(&e)), now);
                            }
                            return;
                        }
                    }
                }
                if readable {
                    self.to_read.insert((sid, conn));
                }
                if writable {
                    self.to_flush.insert((sid, conn));
                }
            }
            None => {}
        }
    }

    fn fire_timers(&mut self) {
        let now = self.now();
        for sid in self.core.socket_ids() {
            if let Some(s) = self.core.get_mut(sid) {
                if s.poll_timeout().is_some_and(|t| t <= now) {
                    s.handle_timeout(now);
                }
            }
        }
    }

    fn next_timeout(&self) -> Option<Duration> {
        let next = self
            .core
            .socket_ids()
            .into_iter()
            .filter_map(|sid| self.core.get(sid).and_then(SocketBase::poll_timeout))
            .min()?;
        Some(next.saturating_duration_since(self.now()))
    }
}

fn resolve(addr: &TcpAddr, bind: bool, ipv6: bool) -> io::Result<SocketAddr> {
    let port = match addr.port {
        Port::Number(p) => p,
        Port::Ephemeral => 0,
    };
    match &addr.host {
        Host::Any if bind && ipv6 => Ok(SocketAddr::from(([0u16; 8], port))),
        Host::Any if bind => Ok(SocketAddr::from(([0, 0, 0, 0], port))),
        Host::Any => Err(io::Error::from(io::ErrorKind::InvalidInput)),
        Host::V4(a) => Ok(SocketAddr::from((*a, port))),
        Host::V6 { addr, .. } => Ok(SocketAddr::from((*addr, port))),
        // Without ZMQ_IPV6, names resolve to IPv4 addresses only, as in libzmq.
        Host::Name(n) => (n.as_str(), port)
            .to_socket_addrs()?
            .find(|a| ipv6 || a.is_ipv4())
            .ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable)),
    }
}

fn socket_for(addr: SocketAddr, opts: &DriverOptions) -> io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_nonblocking(true)?;
    if addr.is_ipv6() && opts.ipv6 {
        // Dual stack: IPv4 peers arrive as mapped addresses.
        s.set_only_v6(false)?;
    }
    #[cfg(target_os = "linux")]
    if let Some(dev) = &opts.bind_to_device {
        s.bind_device(Some(dev.as_bytes()))?;
    }
    if let Some(n) = opts.send_buffer {
        s.set_send_buffer_size(n)?;
    }
    if let Some(n) = opts.recv_buffer {
        s.set_recv_buffer_size(n)?;
    }
    Ok(s)
}

fn tcp_listener(addr: SocketAddr, opts: &DriverOptions) -> io::Result<TcpListener> {
    let s = socket_for(addr, opts)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    set_tos(&s, addr.is_ipv6(), opts.tos)?;
    s.listen(i32::try_from(opts.backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(s.into()))
}

fn tcp_connect(
    addr: SocketAddr,
    local: Option<SocketAddr>,
    opts: &DriverOptions,
) -> io::Result<TcpStream> {
    let s = socket_for(addr, opts)?;
    if let Some(local) = local {
        s.bind(&local.into())?;
    }
    match s.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc_einprogress()) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    let stream = TcpStream::from_std(s.into());
    stream_options(&stream, opts)?;
    Ok(stream)
}

/// EINPROGRESS: a non-blocking connect under way.
fn libc_einprogress() -> i32 {
    if cfg!(target_os = "linux") {
        115
    } else {
        36
    }
}

fn stream_options(s: &TcpStream, opts: &DriverOptions) -> io::Result<()> {
    s.set_nodelay(true)?;
    let sock = socket2::SockRef::from(s);
    if let Some(on) = opts.keepalive {
        sock.set_keepalive(on)?;
    }
    if opts.keepalive == Some(true) {
        let mut ka = socket2::TcpKeepalive::new();
        if let Some(t) = opts.keepalive_idle {
            ka = ka.with_time(t);
        }
        if let Some(t) = opts.keepalive_interval {
            ka = ka.with_interval(t);
        }
        #[cfg(target_os = "linux")]
        if let Some(n) = opts.keepalive_count {
            ka = ka.with_retries(n);
        }
        sock.set_tcp_keepalive(&ka)?;
    }
    if let Some(n) = opts.send_buffer {
        sock.set_send_buffer_size(n)?;
    }
    if let Some(n) = opts.recv_buffer {
        sock.set_recv_buffer_size(n)?;
    }
    set_tos(&sock, s.local_addr()?.is_ipv6(), opts.tos)?;
    #[cfg(target_os = "linux")]
    if opts.max_retransmit.is_some() {
        sock.set_tcp_user_timeout(opts.max_retransmit)?;
    }
    Ok(())
}

/// ZMQ_TOS as libzmq sets it: IP_TOS, and on an IPv6 socket the traffic class as well (IP_TOS
/// then only covers IPv4-mapped peers, and some systems refuse it there).
fn set_tos(s: &socket2::Socket, ipv6: bool, tos: u32) -> io::Result<()> {
    if tos == 0 {
        return Ok(());
    }
    if !ipv6 {
        return s.set_tos(tos);
    }
    let _ = s.set_tos(tos);
    #[cfg(target_os = "linux")]
    s.set_tclass_v6(tos)?;
    Ok(())
}

#[cfg(target_os = "linux")]
fn bind_abstract(name: &str) -> io::Result<UnixListener> {
    use std::os::linux::net::SocketAddrExt;
    UnixListener::bind_addr(&std::os::unix::net::SocketAddr::from_abstract_name(name)?)
}

#[cfg(target_os = "linux")]
fn connect_abstract(name: &str) -> io::Result<UnixStream> {
    use std::os::linux::net::SocketAddrExt;
    UnixStream::connect_addr(&std::os::unix::net::SocketAddr::from_abstract_name(name)?)
}

#[cfg(not(target_os = "linux"))]
fn bind_abstract(_: &str) -> io::Result<UnixListener> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(not(target_os = "linux"))]
fn connect_abstract(_: &str) -> io::Result<UnixStream> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// What application threads and the I/O thread share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) changed: Condvar,
    /// Bumped on every change under the lock, for [`Shared::wait`]'s spin.
    changes: AtomicU64,
    /// One per I/O thread; the first one keeps the timers.
    wakers: Vec<Waker>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in this crate; keep going with what is there.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Processes, wakes blocked callers and the I/O thread (its timers may have changed).
    pub(crate) fn after_change(&self, state: &mut State) {
        state.process();
        self.notify(state);
        self.wake_io(state);
    }

    /// Wakes every waiting thread, spinning or sleeping.
    pub(crate) fn wake_all(&self, st: &mut State) {
        self.changes.fetch_add(1, Ordering::Release);
        self.changed.notify_all();
        for e in st.sleepers.values_mut() {
            e.notified = true;
            e.cv.notify_all();
        }
    }

    /// Tells waiting threads that something changed: spinners see the counter move, general
    /// sleepers are woken if any began sleeping since the last call, and a socket's send or
    /// receive sleepers if the socket can now do what they wait for.
    pub(crate) fn notify(&self, st: &mut State) {
        self.notify_some(st, None);
    }

    /// [`Shared::notify`], checking only `only`'s send and receive sleepers if given.
    fn notify_some(&self, st: &mut State, only: Option<SocketId>) {
        self.changes.fetch_add(1, Ordering::Release);
        if st.wait_begun {
            st.wait_begun = false;
            self.changed.notify_all();
        }
        let State {
            sleepers,
            core,
            terminating,
            ..
        } = st;
        for (sid, e) in sleepers.iter_mut() {
            if e.notified || only.is_some_and(|o| o != *sid) {
                continue;
            }
            let go = *terminating
                || match core.get_mut(*sid) {
                    None => true,
                    Some(s) if s.is_closed() => true,
                    Some(s) => {
                        let (r, w) = s.readiness();
                        (e.recv > 0 && r) || (e.send > 0 && w)
                    }
                };
            if go {
                e.notified = true;
                e.cv.notify_all();
            }
        }
    }

    /// After an application thread's send or receive on `sid`: inproc items move at once,
    /// socket output is left to the I/O thread, which is woken only if it has something to
    /// do and was not woken already; blocked callers are notified only if there are any.
    /// Per message this costs no system call while the I/O thread is busy.
    pub(crate) fn after_io(&self, st: &mut State, sid: SocketId, now: Instant) {
        st.core.pump(now);
        let State {
            core,
            conns,
            to_flush,
            paused,
            ..
        } = &mut *st;
        if let Some(s) = core.get_mut(sid) {
            while let Some(c) = s.poll_transmit_ready() {
                // Inproc connections have no stream: the core context moved their items.
                if conns.contains_key(&(sid, c)) {
                    to_flush.insert((sid, c));
                }
            }
        }
        let resumable = paused
            .iter()
            .any(|&(s, c)| core.get(s).is_some_and(|b| b.wants_input(c)));
        if resumable || !to_flush.is_empty() || core.has_actions() {
            self.wake_io(st);
        }
        // Only this socket's sleepers can be affected, unless inproc carried something on.
        let only = if st.core.has_inproc_links() {
            None
        } else {
            Some(sid)
        };
        self.notify_some(st, only);
        if !st.signallers.is_empty() {
            st.signal();
        }
    }

    fn wake_io(&self, st: &mut State) {
        if !st.io_wake_pending {
            st.io_wake_pending = true;
            let _ = self.wakers[0].wake();
        }
    }

    /// Waits for the next change, at most until `deadline`; false once it has passed.
    pub(crate) fn wait<'a>(
        &'a self,
        guard: MutexGuard<'a, State>,
        deadline: Option<StdInstant>,
    ) -> (MutexGuard<'a, State>, bool) {
        self.wait_inner(guard, deadline, false, None)
    }

    /// Waits until socket `sid` may do what `want` says (or something ends it), at most
    /// until `deadline`; false once that has passed.
    ///
    /// With `spin`, it first spins for up to [`SPIN`] on the change counter, off the lock.
    /// That is for a caller waiting on sparse traffic (a reply, the next request): the
    /// answer usually comes sooner than a futex sleep and wake-up take, and its sender is
    /// spared the wake-up call. Not for streams: a spinner takes the lock at every change,
    /// one message at a time, where a sleeper wakes to a batch.
    pub(crate) fn wait_on<'a>(
        &'a self,
        guard: MutexGuard<'a, State>,
        deadline: Option<StdInstant>,
        sid: SocketId,
        want: Want,
        spin: bool,
    ) -> (MutexGuard<'a, State>, bool) {
        self.wait_inner(guard, deadline, spin, Some((sid, want)))
    }

    fn wait_inner<'a>(
        &'a self,
        guard: MutexGuard<'a, State>,
        deadline: Option<StdInstant>,
        spin: bool,
        on: Option<(SocketId, Want)>,
    ) -> (MutexGuard<'a, State>, bool) {
        let seen = self.changes.load(Ordering::Acquire);
        if deadline.is_some_and(|d| d <= StdInstant::now()) {
            return (guard, false);
        }
        if !spin {
            return self.sleep(guard, deadline, seen, on);
        }
        drop(guard);
        let spin_until = StdInstant::now() + SPIN;
        let mut i = 0u32;
        loop {
            if self.changes.load(Ordering::Acquire) != seen {
                return (self.lock(), true);
            }
            i += 1;
            if i.is_multiple_of(64) {
                if StdInstant::now() >= spin_until {
                    break;
                }
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        self.sleep(self.lock(), deadline, seen, on)
    }

    /// Sleeps unless the counter moved past `seen`: on the socket's own condition variable
    /// for `on`, else on the general one.
    fn sleep<'a>(
        &'a self,
        mut guard: MutexGuard<'a, State>,
        deadline: Option<StdInstant>,
        seen: u64,
        on: Option<(SocketId, Want)>,
    ) -> (MutexGuard<'a, State>, bool) {
        if self.changes.load(Ordering::Acquire) != seen {
            return (guard, true);
        }
        let left = match deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(StdInstant::now());
                if left.is_zero() {
                    return (guard, false);
                }
                Some(left)
            }
        };
        let cv = match on {
            None => {
                guard.wait_begun = true;
                None
            }
            Some((sid, want)) => {
                let e = guard.sleepers.entry(sid).or_insert_with(|| Sleepers {
                    cv: Arc::new(Condvar::new()),
                    recv: 0,
                    send: 0,
                    notified: false,
                });
                match want {
                    Want::Recv => e.recv += 1,
                    Want::Send => e.send += 1,
                }
                e.notified = false;
                Some(Arc::clone(&e.cv))
            }
        };
        let cv_ref = cv.as_deref().unwrap_or(&self.changed);
        let mut guard = match left {
            None => cv_ref.wait(guard).unwrap_or_else(|p| p.into_inner()),
            Some(left) => {
                cv_ref
                    .wait_timeout(guard, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
        };
        if let Some((sid, want)) = on {
            if let Some(e) = guard.sleepers.get_mut(&sid) {
                match want {
                    Want::Recv => e.recv -= 1,
                    Want::Send => e.send -= 1,
                }
                if e.recv == 0 && e.send == 0 {
                    guard.sleepers.remove(&sid);
                }
            }
        }
        (guard, true)
    }

    pub(crate) fn stop(&self) {
        self.lock().stop = true;
        for w in &self.wakers {
            let _ = w.wake();
        }
    }
}

/// Starts `threads` I/O threads (at least one); returns the shared state and their handles.
pub(crate) fn start(threads: usize) -> io::Result<(Arc<Shared>, Vec<std::thread::JoinHandle<()>>)> {
    let mut polls = Vec::new();
    let mut wakers = Vec::new();
    let mut pollers = Vec::new();
    for _ in 0..threads.max(1) {
        let poll = Poll::new()?;
        wakers.push(Waker::new(poll.registry(), WAKER)?);
        pollers.push(poll.registry().try_clone()?);
        polls.push(poll);
    }
    let state = State {
        core: CoreContext::new(),
        epoch: StdInstant::now(),
        pollers,
        next_poller: 0,
        next_token: 0,
        tokens: BTreeMap::new(),
        conns: BTreeMap::new(),
        listeners: BTreeMap::new(),
        paused: BTreeSet::new(),
        bind_results: BTreeMap::new(),
        monitors: BTreeMap::new(),
        terminating: false,
        stop: false,
        ipc_serial: 0,
        open_sockets: 0,
        signallers: BTreeMap::new(),
        to_flush: BTreeSet::new(),
        to_read: BTreeSet::new(),
        wait_begun: false,
        sleepers: BTreeMap::new(),
        io_wake_pending: false,
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        changed: Condvar::new(),
        changes: AtomicU64::new(0),
        wakers,
    });
    let mut handles = Vec::new();
    for (i, mut poll) in polls.into_iter().enumerate() {
        let io = Arc::clone(&shared);
        handles.push(
            std::thread::Builder::new()
                .name(format!("oxmq-io-{i}"))
                .spawn(move || run(&io, &mut poll, i == 0))?,
        );
    }
    Ok((shared, handles))
}

/// After a round with system calls, the first I/O thread stays awake for [`IO_AWAKE`],
/// polling without blocking and watching the change counter, while it holds
/// `io_wake_pending` so that senders skip the wake-up call: a stream keeps it busy without a
/// futex or eventfd round trip per batch.
#[derive(Debug, Default)]
struct AwakeWindow {
    until: Option<StdInstant>,
    /// The change counter as of the last round: a different value means work.
    seen: u64,
}

/// What the I/O thread does after a non-blocking poll while awake.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Handle events or changes.
    Work,
    /// Nothing yet: poll again.
    Spin,
    /// The window ran out: go back to sleeping in the poll.
    Expire,
}

impl AwakeWindow {
    fn is_open(&self) -> bool {
        self.until.is_some()
    }

    fn step(&self, events: bool, changes: u64, now: StdInstant) -> Step {
        match self.until {
            None => Step::Work,
            Some(_) if events || changes != self.seen => Step::Work,
            Some(until) if now < until => Step::Spin,
            Some(_) => Step::Expire,
        }
    }

    /// After a round (`busy`: it made system calls): opens or extends the window, and
    /// records the counter, busy or not, so that a round with nothing to do does not look
    /// like work forever. Returns whether the window is open.
    fn after_round(&mut self, busy: bool, changes: u64, now: StdInstant) -> bool {
        if busy {
            self.until = Some(now + IO_AWAKE);
        }
        if self.until.is_some() {
            self.seen = changes;
        }
        self.is_open()
    }
}

fn run(shared: &Shared, poll: &mut Poll, keeps_timers: bool) {
    let mut events = Events::with_capacity(256);
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut awake = AwakeWindow::default();
    loop {
        let timeout = {
            let st = shared.lock();
            if st.stop {
                return;
            }
            if awake.is_open() {
                Some(Duration::ZERO)
            } else if keeps_timers {
                st.next_timeout()
            } else {
                None
            }
        };
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                return;
            }
        }
        let changes = shared.changes.load(Ordering::Acquire);
        match awake.step(!events.is_empty(), changes, StdInstant::now()) {
            Step::Work => {}
            Step::Spin => {
                std::thread::yield_now();
                continue;
            }
            Step::Expire => {
                // Back to sleeping in the poll, with senders waking it again; a change that
                // came in while the flag was still held is caught here.
                let mut st = shared.lock();
                st.io_wake_pending = false;
                awake.until = None;
                if shared.changes.load(Ordering::Acquire) == awake.seen {
                    continue;
                }
            }
        }
        let mut st = shared.lock();
        if keeps_timers && !awake.is_open() {
            st.io_wake_pending = false;
        }
        for ev in events.iter() {
            if ev.token() != WAKER {
                let closed = ev.is_read_closed() || ev.is_error();
                st.on_ready(
                    ev.token(),
                    ev.is_readable() || closed,
                    ev.is_writable(),
                    closed,
                );
            }
        }
        if keeps_timers {
            st.fire_timers();
        }
        let mut busy = false;
        loop {
            st.process();
            let jobs = st.take_jobs(&mut pool);
            if jobs.is_empty() {
                break;
            }
            busy = true;
            // Callers may act on what this round produced while the system calls run.
            shared.notify(&mut st);
            drop(st);
            let done: Vec<Done> = jobs.into_iter().map(Job::run).collect();
            st = shared.lock();
            for d in done {
                st.finish(d, &mut pool);
            }
        }
        shared.notify(&mut st);
        if keeps_timers {
            let changes = shared.changes.load(Ordering::Acquire);
            if awake.after_round(busy, changes, StdInstant::now()) {
                st.io_wake_pending = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_awake_window_runs_out_after_a_round_with_nothing_to_do() {
        let t0 = StdInstant::now();
        let mut w = AwakeWindow::default();
        assert_eq!(
            w.step(false, 0, t0),
            Step::Work,
            "closed: block in the poll"
        );
        assert!(w.after_round(true, 5, t0), "a busy round opens it");
        assert_eq!(w.step(false, 5, t0), Step::Spin);
        // A change comes in; the round that handles it makes no system call.
        assert_eq!(w.step(false, 6, t0), Step::Work);
        assert!(w.after_round(false, 6, t0), "still open until it runs out");
        assert_eq!(
            w.step(false, 6, t0),
            Step::Spin,
            "the handled change is not work again"
        );
        assert_eq!(w.step(true, 6, t0), Step::Work, "socket events are");
        assert_eq!(w.step(false, 6, t0 + IO_AWAKE * 2), Step::Expire);
    }
}
