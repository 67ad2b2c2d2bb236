//! The I/O threads: each owns a mio poll and the sessions placed on it, with their streams,
//! and runs them without any lock. A session's messages cross to its socket in lock-free
//! pipes; only its commands (a wake-up of a sleeping reader, a read report every low-water
//! mark, a handshake, the end of a connection) take the socket half's lock, batched per
//! socket and round.
//!
//! The first thread also keeps the listeners and the socket halves' linger deadlines.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use oxmq_core::base::{Action, ConnId, ListenerId};
use oxmq_core::context::SocketId;
use oxmq_core::session::{Session, ToSocket};
use oxmq_core::tree::NodeId;
use oxmq_core::{DriverOptions, Instant, OsError};

use oxmq_net::rx::{Reads, RxPool};

use crate::net::{self, Listen, Stream};
use crate::shared::{lock, set_current_io, IoCmd, IoHandle, Shared, SocketCell};

const WAKER: Token = Token(0);
/// At most this many bytes go into one vectored write.
const WRITE_MAX: usize = 1024 * 1024;
/// What one session may read, and write, in one turn; a session with more to move goes
/// after every other session and a look at the poller. Both ends of a local stream on
/// one thread then take turns in steps that stay in the cache: written in one turn,
/// read in the next. Unbounded, a writer would fill its socket's kernel buffer (up to
/// megabytes) before the reader copied any of it out, every byte cold by then.
const TURN_BYTES: usize = 128 * 1024;

type Key = (SocketId, NodeId);

/// One socket's commands from this thread's sessions, delivered under one lock.
type Batch = (Arc<SocketCell>, Vec<(NodeId, ToSocket)>);

/// A session with what its thread keeps for it.
struct Sess {
    session: Session,
    cell: Arc<SocketCell>,
    opts: DriverOptions,
    io: Option<IoConn>,
}

/// A session's stream.
struct IoConn {
    conn: ConnId,
    stream: Stream,
    token: Token,
    connecting: bool,
    /// Readable as of the last event and not yet read to would-block (edge-triggered).
    readable: bool,
    /// An event said the peer closed its side (or the socket failed): read to the end,
    /// even after a short read.
    read_closed: bool,
    /// The unwritten rest of chunks taken from the engine.
    pending: VecDeque<Bytes>,
    /// How the next read is sized (`oxmq_net::rx`).
    reads: Reads,
    /// The last flush stopped at its turn's budget, not at would-block or an empty engine.
    write_more: bool,
}

struct Lst {
    listen: Listen,
    token: Token,
    cell: Arc<SocketCell>,
    opts: DriverOptions,
}

#[derive(Clone, Copy)]
enum Handle {
    Conn(Key),
    Listener(SocketId, ListenerId),
}

struct Worker {
    index: usize,
    shared: Arc<Shared>,
    registry: Registry,
    /// Boxed: a session is about 2 KiB, and a map node holds eleven values inline.
    sessions: BTreeMap<Key, Box<Sess>>,
    tokens: BTreeMap<Token, Handle>,
    next_token: usize,
    listeners: BTreeMap<(SocketId, ListenerId), Lst>,
    timers: BTreeSet<(Instant, Key)>,
    deadlines: BTreeMap<Key, Instant>,
    half_timers: BTreeSet<(Instant, SocketId)>,
    half_cells: BTreeMap<SocketId, (Instant, Arc<SocketCell>)>,
    /// Sessions to run this round.
    dirty: BTreeSet<Key>,
    /// Sessions that used up their turn ([`TURN_BYTES`]) with more to move: run again
    /// after the next look at the poller.
    yielded: Vec<Key>,
    /// Commands for socket halves, delivered in one lock per socket at the end of a round.
    to_socket: BTreeMap<SocketId, Batch>,
    /// The mailbox's list from the last round, emptied, to swap in at the next.
    spare_cmds: Vec<IoCmd>,
    /// Large receive buffers whose frames the application may still hold, to reuse once
    /// it lets them go.
    rx_pool: RxPool,
    stop: bool,
}

/// Starts `threads` I/O threads (at least one); returns the shared state and their handles.
pub(crate) fn start(threads: usize) -> io::Result<(Arc<Shared>, Vec<JoinHandle<()>>)> {
    let mut polls = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..threads.max(1) {
        let poll = Poll::new()?;
        handles.push(IoHandle {
            mailbox: std::sync::Mutex::new(Vec::new()),
            waker: Waker::new(poll.registry(), WAKER)?,
        });
        polls.push(poll);
    }
    let shared = Arc::new(Shared::new(handles));
    let mut joins = Vec::new();
    for (index, poll) in polls.into_iter().enumerate() {
        let worker = Worker {
            index,
            shared: Arc::clone(&shared),
            registry: poll.registry().try_clone()?,
            sessions: BTreeMap::new(),
            tokens: BTreeMap::new(),
            next_token: 0,
            listeners: BTreeMap::new(),
            timers: BTreeSet::new(),
            deadlines: BTreeMap::new(),
            half_timers: BTreeSet::new(),
            half_cells: BTreeMap::new(),
            dirty: BTreeSet::new(),
            yielded: Vec::new(),
            to_socket: BTreeMap::new(),
            spare_cmds: Vec::new(),
            rx_pool: RxPool::default(),
            stop: false,
        };
        joins.push(
            std::thread::Builder::new()
                .name(format!("oxmq-io-{index}"))
                .spawn(move || worker.run(poll))?,
        );
    }
    Ok((shared, joins))
}

impl Worker {
    fn run(mut self, mut poll: Poll) {
        set_current_io(self.index);
        let mut events = Events::with_capacity(256);
        while !self.stop {
            let timeout = if self.yielded.is_empty() {
                self.next_timeout()
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.block(&mut poll, &mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
            for ev in events.iter() {
                if ev.token() != WAKER {
                    let closed = ev.is_read_closed() || ev.is_error();
                    self.on_ready(
                        ev.token(),
                        ev.is_readable() || closed,
                        ev.is_writable(),
                        closed,
                    );
                }
            }
            self.take_mailbox();
            self.fire_timers();
            self.dirty.extend(self.yielded.drain(..));
            self.settle();
        }
    }

    /// Polls for readiness, at most `timeout`. A wait first spins for up to the context's
    /// spin (50 µs unless [`ContextOption::Spin`](crate::ContextOption::Spin) says otherwise)
    /// on zero-timeout polls, yielding the core between them, then sleeps: on sparse traffic
    /// (a request's reply, the next request) the next event usually comes sooner than a sleep
    /// and a wake-up take.
    fn block(
        &self,
        poll: &mut Poll,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let spin = self.shared.spin();
        if timeout == Some(Duration::ZERO) || spin.is_zero() {
            return poll.poll(events, timeout);
        }
        let start = std::time::Instant::now();
        let spin = timeout.map_or(spin, |t| t.min(spin));
        loop {
            // A post to this thread's mailbox shows here as its waker's event.
            poll.poll(events, Some(Duration::ZERO))?;
            if !events.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= spin {
                break;
            }
            std::thread::yield_now();
        }
        poll.poll(events, timeout.map(|t| t.saturating_sub(start.elapsed())))
    }

    fn token(&mut self, h: Handle) -> Token {
        self.next_token += 1;
        let t = Token(self.next_token);
        self.tokens.insert(t, h);
        t
    }

    fn take_mailbox(&mut self) -> bool {
        // The mailbox gets this thread's emptied list back, so posting costs no allocation.
        let mut cmds = std::mem::take(&mut self.spare_cmds);
        std::mem::swap(&mut cmds, &mut *lock(&self.shared.io[self.index].mailbox));
        let any = !cmds.is_empty();
        for cmd in cmds.drain(..) {
            self.on_cmd(cmd);
        }
        if cmds.capacity() <= 256 {
            self.spare_cmds = cmds;
        }
        any
    }

    fn on_cmd(&mut self, cmd: IoCmd) {
        let now = self.shared.now();
        match cmd {
            IoCmd::Launch {
                cell,
                session,
                stream,
                opts,
            } => {
                let key = (cell.id, session.node());
                let mut sess = Sess {
                    session: *session,
                    cell,
                    opts,
                    io: None,
                };
                if let (Some(stream), Some(conn)) = (stream, sess.session.conn()) {
                    let token = self.token(Handle::Conn(key));
                    if register(&self.registry, &stream, token).is_ok() {
                        sess.io = Some(IoConn {
                            conn,
                            stream,
                            token,
                            connecting: false,
                            readable: true,
                            read_closed: false,
                            pending: VecDeque::new(),
                            reads: Reads::default(),
                            write_more: false,
                        });
                    } else {
                        self.tokens.remove(&token);
                        sess.session.handle_eof(now);
                    }
                }
                self.sessions.insert(key, Box::new(sess));
                self.dirty.insert(key);
            }
            IoCmd::Session { sid, node, cmd } => {
                if let Some(s) = self.sessions.get_mut(&(sid, node)) {
                    s.session.handle_command(cmd, now);
                    self.dirty.insert((sid, node));
                }
            }
            IoCmd::Listen {
                cell,
                lid,
                mut listen,
                opts,
            } => {
                let token = self.token(Handle::Listener(cell.id, lid));
                if self
                    .registry
                    .register(listen.source(), token, Interest::READABLE)
                    .is_ok()
                {
                    let sid = cell.id;
                    self.listeners.insert(
                        (sid, lid),
                        Lst {
                            listen,
                            token,
                            cell,
                            opts,
                        },
                    );
                    // Connections may have queued before the registration.
                    self.accept(sid, lid);
                }
            }
            IoCmd::CloseListener { sid, lid } => {
                if let Some(mut l) = self.listeners.remove(&(sid, lid)) {
                    let _ = self.registry.deregister(l.listen.source());
                    self.tokens.remove(&l.token);
                    l.listen.remove_file();
                }
            }
            IoCmd::HalfTimer { cell, at } => {
                let sid = cell.id;
                if let Some((old, _)) = self.half_cells.insert(sid, (at, cell)) {
                    self.half_timers.remove(&(old, sid));
                }
                self.half_timers.insert((at, sid));
            }
            IoCmd::ZapReply { key, conn, reply } => {
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.session.handle_zap_reply(conn, reply, now);
                    self.dirty.insert(key);
                }
            }
            IoCmd::Stop => self.stop = true,
        }
    }

    fn on_ready(&mut self, token: Token, readable: bool, writable: bool, closed: bool) {
        match self.tokens.get(&token).copied() {
            Some(Handle::Listener(sid, lid)) => self.accept(sid, lid),
            Some(Handle::Conn(key)) => {
                let now = self.shared.now();
                let Some(s) = self.sessions.get_mut(&key) else {
                    return;
                };
                let Some(io) = s.io.as_mut() else {
                    return;
                };
                io.read_closed |= closed;
                if io.connecting {
                    if !(readable || writable) {
                        return;
                    }
                    match io.stream.connect_status() {
                        Ok(false) => return,
                        Ok(true) => {
                            io.connecting = false;
                            io.readable = true;
                            s.session.set_peer_address(io.stream.peer_ip());
                            s.session.handle_dial_result(Ok(()), now);
                        }
                        Err(e) => {
                            let io = s.io.take().expect("checked above");
                            let _ = self
                                .registry
                                .deregister(&mut mio::unix::SourceFd(&io.stream.fd()));
                            self.tokens.remove(&io.token);
                            s.session.handle_dial_result(Err(OsError::from(&e)), now);
                        }
                    }
                } else if readable {
                    io.readable = true;
                }
                self.dirty.insert(key);
            }
            None => {}
        }
    }

    fn accept(&mut self, sid: SocketId, lid: ListenerId) {
        loop {
            let Some(l) = self.listeners.get(&(sid, lid)) else {
                return;
            };
            match l.listen.accept(&l.opts) {
                Ok(stream) => {
                    let cell = Arc::clone(&l.cell);
                    let mut later = Vec::new();
                    {
                        let mut st = cell.lock();
                        let now = self.shared.now();
                        let peer = stream.peer_ip();
                        let Some(conn) = st.half.handle_accepted_from(lid, peer, now) else {
                            continue; // refused: dropping the stream closes it
                        };
                        let mut accepted = Some((conn, stream));
                        self.shared
                            .drain(&cell, &mut st, now, &mut later, &mut accepted);
                    }
                    self.shared.run_later(later);
                    self.take_mailbox();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let cell = Arc::clone(&l.cell);
                    self.shared.with_half(&cell, |st, _| {
                        st.half.handle_accept_failed(lid, OsError::from(&e))
                    });
                    return;
                }
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = self.shared.now();
        let due: Vec<Key> = self
            .timers
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|&(_, k)| k)
            .collect();
        for key in due {
            if let Some(s) = self.sessions.get_mut(&key) {
                s.session.handle_timeout(now);
            }
            self.dirty.insert(key);
        }
        while let Some(&(t, sid)) = self.half_timers.first() {
            if t > now {
                break;
            }
            self.half_timers.pop_first();
            if let Some((_, cell)) = self.half_cells.remove(&sid) {
                self.shared.with_half(&cell, |st, now| {
                    if st.half.poll_timeout().is_some_and(|t| t <= now) {
                        st.half.handle_timeout(now);
                    }
                });
            }
        }
    }

    fn next_timeout(&self) -> Option<Duration> {
        let next = self
            .timers
            .first()
            .map(|&(t, _)| t)
            .into_iter()
            .chain(self.half_timers.first().map(|&(t, _)| t))
            .min()?;
        Some(next.saturating_duration_since(self.shared.now()))
    }

    /// Runs every session marked this round and delivers their commands, until nothing is
    /// left to do.
    fn settle(&mut self) {
        loop {
            while let Some(key) = self.dirty.pop_first() {
                self.run_session(key);
            }
            let batches = std::mem::take(&mut self.to_socket);
            let delivered = !batches.is_empty();
            for (_, (cell, cmds)) in batches {
                self.shared.with_half(&cell, |st, now| {
                    for (node, cmd) in cmds {
                        st.half.handle_command(node, cmd, now);
                    }
                });
            }
            let posted = self.take_mailbox();
            if !delivered && !posted && self.dirty.is_empty() {
                return;
            }
        }
    }

    /// Moves everything session `key` can move: its actions, commands, reads and writes.
    fn run_session(&mut self, key: Key) {
        let Some(s) = self.sessions.get_mut(&key) else {
            return;
        };
        let now = self.shared.now();
        // What this turn has read and written ([`TURN_BYTES`] each).
        let (mut read, mut written) = (0, 0);
        loop {
            let mut again = false;
            while let Some(action) = s.session.poll_action() {
                again = true;
                match action {
                    Action::Dial { conn, endpoint } => match net::dial(&endpoint, &s.opts) {
                        Ok((stream, connecting)) => {
                            self.next_token += 1;
                            let token = Token(self.next_token);
                            if let Err(e) = register(&self.registry, &stream, token) {
                                s.session.handle_dial_result(Err(OsError::from(&e)), now);
                                continue;
                            }
                            self.tokens.insert(token, Handle::Conn(key));
                            s.io = Some(IoConn {
                                conn,
                                stream,
                                token,
                                connecting,
                                readable: !connecting,
                                read_closed: false,
                                pending: VecDeque::new(),
                                reads: Reads::default(),
                                write_more: false,
                            });
                            if !connecting {
                                if let Some(io) = &s.io {
                                    s.session.set_peer_address(io.stream.peer_ip());
                                }
                                s.session.handle_dial_result(Ok(()), now);
                            }
                        }
                        Err(e) => s.session.handle_dial_result(Err(OsError::from(&e)), now),
                    },
                    Action::Close { conn, last_bytes }
                        if s.io.as_ref().is_some_and(|io| io.conn == conn) =>
                    {
                        let io = s.io.take().expect("checked above");
                        // Best effort, as a socket closing with bytes in its kernel buffer; a
                        // partial write ends it (what follows would corrupt the stream).
                        if !io.connecting {
                            for b in io.pending.iter().chain(std::iter::once(&last_bytes)) {
                                if !matches!(io.stream.write(b), Ok(n) if n == b.len()) {
                                    break;
                                }
                            }
                        }
                        let _ = self
                            .registry
                            .deregister(&mut mio::unix::SourceFd(&io.stream.fd()));
                        self.tokens.remove(&io.token);
                    }
                    _ => {}
                }
            }
            // The application's ZAP handler answers here, on the session's thread.
            while let Some((conn, req)) = s.session.poll_zap_request() {
                let ask = crate::zap::Ask {
                    io: self.index,
                    key,
                    conn,
                    req,
                };
                if let Some((ask, reply)) = self.shared.ask_zap(ask) {
                    again = true;
                    s.session.handle_zap_reply(ask.conn, reply, now);
                }
            }
            while let Some(cmd) = s.session.poll_command() {
                self.to_socket
                    .entry(key.0)
                    .or_insert_with(|| (Arc::clone(&s.cell), Vec::new()))
                    .1
                    .push((key.1, cmd));
            }
            if let Some(io) = s.io.as_mut().filter(|io| !io.connecting) {
                // Read to would-block (the readiness is edge-triggered), while the session
                // has room; a full pipe leaves the stream marked readable for later.
                while io.readable && s.session.wants_input() && read < TURN_BYTES {
                    // Straight into the engine's buffer, sized as `oxmq_net::rx` says.
                    let Some((rx, len)) =
                        io.reads
                            .prepare(&mut s.session, &mut self.rx_pool, TURN_BYTES - read)
                    else {
                        break;
                    };
                    let spare = &mut rx.spare_capacity_mut()[..len];
                    let r = io.stream.read_uninit(spare);
                    let n = *r.as_ref().unwrap_or(&0);
                    read += n;
                    // SAFETY: `recv` initialised the first `n` bytes of the spare capacity,
                    // which follow the buffer's `len` initialised ones.
                    unsafe { rx.set_len(rx.len() + n) };
                    io.reads.done(n, len);
                    match r {
                        Ok(0) => {
                            io.readable = false;
                            s.session.handle_eof(now);
                        }
                        Ok(n) => {
                            // A read that did not fill what it offered emptied the socket:
                            // the edge-triggered readiness reports anything that comes
                            // later, so the would-block read is not needed (as Tokio does).
                            // Not once the peer has closed, so that its end is read.
                            if n < len && !io.read_closed {
                                io.readable = false;
                            }
                            s.session.handle_read(now);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => io.readable = false,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => {
                            io.readable = false;
                            s.session.handle_eof(now);
                        }
                    }
                    again = true;
                }
                io.reads.settle(&mut s.session);
            }
            if let Some(io) = s.io.as_mut().filter(|io| !io.connecting) {
                if written < TURN_BYTES
                    && (io.write_more || s.session.take_transmit_ready() || !io.pending.is_empty())
                {
                    let n = flush(io, &mut s.session, now, TURN_BYTES - written);
                    written += n;
                    again |= n > 0;
                }
                // Likewise the list of chunks being written, once written (one allocation
                // per write call at most, for a connection that keeps writing).
                if !io.reads.big_reads && io.pending.is_empty() && io.pending.capacity() > 0 {
                    io.pending = VecDeque::new();
                }
            }
            if !again {
                break;
            }
        }
        // Out of turn with bytes still to move: after the others.
        if let Some(io) = s.io.as_ref().filter(|io| !io.connecting) {
            let more_in = read >= TURN_BYTES && io.readable && s.session.wants_input();
            let more_out = io.write_more;
            if more_in || more_out {
                self.yielded.push(key);
            }
        }
        let finished = s.session.is_finished();
        let next = if finished {
            None
        } else {
            s.session.poll_timeout()
        };
        if finished {
            if let Some(io) = s.io.take() {
                let _ = self
                    .registry
                    .deregister(&mut mio::unix::SourceFd(&io.stream.fd()));
                self.tokens.remove(&io.token);
            }
            self.sessions.remove(&key);
        }
        let old = self.deadlines.get(&key).copied();
        if old != next {
            if let Some(t) = old {
                self.timers.remove(&(t, key));
                self.deadlines.remove(&key);
            }
            if let Some(t) = next {
                self.timers.insert((t, key));
                self.deadlines.insert(key, t);
            }
        }
    }
}

fn register(registry: &Registry, stream: &Stream, token: Token) -> io::Result<()> {
    registry.register(
        &mut mio::unix::SourceFd(&stream.fd()),
        token,
        Interest::READABLE | Interest::WRITABLE,
    )
}

/// Writes what the engine has, up to would-block or `budget` bytes; returns how many.
fn flush(io: &mut IoConn, session: &mut Session, now: Instant, budget: usize) -> usize {
    let wrote = write_out(io, session, now, budget);
    // What is left over is the session's still: its LINGER waits for it.
    session.set_unwritten(io.pending.iter().map(Bytes::len).sum(), now);
    wrote
}

fn write_out(io: &mut IoConn, session: &mut Session, now: Instant, budget: usize) -> usize {
    let mut wrote = 0;
    io.write_more = false;
    loop {
        if wrote >= budget {
            io.write_more = true;
            return wrote;
        }
        let mut total: usize = io.pending.iter().map(Bytes::len).sum();
        while total < WRITE_MAX {
            let Some(b) = session.poll_transmit(now) else {
                break;
            };
            total += b.len();
            io.pending.push_back(b);
        }
        io.pending.retain(|b| !b.is_empty());
        if io.pending.is_empty() {
            return wrote;
        }
        let mut slices = [io::IoSlice::new(&[]); 64];
        let (mut k, mut room) = (0, budget - wrote);
        for (slot, b) in slices.iter_mut().zip(&io.pending) {
            if room == 0 {
                break;
            }
            let b = &b[..b.len().min(room)];
            room -= b.len();
            *slot = io::IoSlice::new(b);
            k += 1;
        }
        match io.stream.write_vectored(&slices[..k]) {
            Ok(0) => return wrote,
            Ok(mut n) => {
                wrote += n;
                while n > 0 {
                    let front = io.pending.front_mut().expect("wrote past the chunks");
                    if n >= front.len() {
                        n -= front.len();
                        io.pending.pop_front();
                    } else {
                        let _ = front.split_to(n);
                        n = 0;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Full: the writable event brings us back. Failed: the read side reports it.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return wrote,
            Err(_) => {
                io.pending.clear();
                return wrote;
            }
        }
    }
}
