//! What a context's threads share: each socket's half behind a lock of its own, the I/O
//! threads' mailboxes, and the inproc registry. Nothing is locked context-wide on the way of
//! a message.
//!
//! Who drives a socket half: the application thread inside a call on its `Socket`, or an I/O
//! thread delivering its sessions' commands (a wake-up, a read report, a handshake). Either
//! takes the half's lock, feeds it, and then [`Shared::drain`]s what it produced: commands for
//! sessions go to the mailbox of the I/O thread that runs them, listens happen at once, and
//! what needs another socket's lock (inproc) is done after this one is released
//! ([`Shared::run_later`]), so that no thread ever holds two halves.
//!
//! A caller that must wait sleeps on its socket's condition variable, which every driver of
//! the half notifies after a change while still holding the lock: no wake-up is lost.
//!
//! One exception to "take the half's lock": an inproc pipe command for a socket whose own
//! thread is inside a receive is left as mail beside the lock, for that thread to take
//! ([`Shared::deliver_inproc`] gives the protocol). A stream's sender then wakes a reader
//! that ran dry without waiting for its lock or calling into the kernel.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant as StdInstant;

use mio::Waker;
use oxmq_core::base::{Action, ConnId, ListenerId, SocketHalf};
use oxmq_core::context::SocketId;
use oxmq_core::inproc::{AddrInUse, JoinHost, Registry};
use oxmq_core::monitor::{MonitorEvent, MonitorEventKind};
use oxmq_core::pipe::PipeCommand;
use oxmq_core::session::{Session, ToSession};
use oxmq_core::tree::NodeId;
use oxmq_core::{DriverOptions, Instant, OsError};
use oxmq_core::{ZapReply, ZapRequest};

use crate::net::{Listen, Stream};

/// A command for an I/O thread.
pub(crate) enum IoCmd {
    /// Run this new session; `stream` is its connection if a listener accepted it.
    Launch {
        cell: Arc<SocketCell>,
        session: Box<Session>,
        stream: Option<Stream>,
        opts: DriverOptions,
    },
    /// A command for a session this thread runs.
    Session {
        sid: SocketId,
        node: NodeId,
        cmd: ToSession,
    },
    /// Accept connections on this listener.
    Listen {
        cell: Arc<SocketCell>,
        lid: ListenerId,
        listen: Listen,
        opts: DriverOptions,
    },
    /// Stop listening.
    CloseListener { sid: SocketId, lid: ListenerId },
    /// Call the socket half's `handle_timeout` at `at` (a linger deadline).
    HalfTimer { cell: Arc<SocketCell>, at: Instant },
    /// The ZAP handler's answer for a session this thread runs.
    ZapReply {
        key: (SocketId, NodeId),
        conn: ConnId,
        reply: ZapReply,
    },
    /// The context is done.
    Stop,
}

/// An I/O thread's mailbox.
pub(crate) struct IoHandle {
    pub(crate) mailbox: Mutex<Vec<IoCmd>>,
    pub(crate) waker: Waker,
}

/// One socket: its half, and the condition variable its waiting callers sleep on.
pub(crate) struct SocketCell {
    pub(crate) id: SocketId,
    half: Mutex<HalfState>,
    pub(crate) cv: std::sync::Condvar,
    /// Bumped (under the lock) by every drain: a caller spinning off the lock watches it.
    version: AtomicU64,
    /// Inproc pipe commands a peer left for this half instead of taking its lock (see
    /// [`Shared::deliver_inproc`]), with `has_mail` raised after each is added.
    mail: Mutex<Vec<(ConnId, PipeCommand)>>,
    has_mail: AtomicBool,
    /// Callers inside a receive on this socket: each takes the mail before it returns.
    busy: AtomicUsize,
    /// Callers asleep on `cv` (raised and lowered under the lock): a drain notifies them, and
    /// a peer reads it to decide whether mail would be seen in time.
    sleeping: AtomicUsize,
}

impl SocketCell {
    /// Wakes every caller asleep on this socket; `st` is its state, locked.
    pub(crate) fn wake(&self, st: &HalfState) {
        self.cv.notify_all();
        crate::sleep::wake_all(&st.alarms);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HalfState> {
        // A panic while holding the lock is a bug in this crate; keep going with what is there.
        self.half.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands the half (locked, as `st`) the mail left for it, in the order it came.
    #[inline]
    pub(crate) fn take_mail(&self, st: &mut HalfState, now: Instant) {
        // On every send and receive: one load inline, the taking out of line.
        if self.has_mail.load(Ordering::Acquire) {
            self.take_mail_now(st, now);
        }
    }

    #[inline(never)]
    fn take_mail_now(&self, st: &mut HalfState, now: Instant) {
        // Lowered before the taking: mail added meanwhile raises it again.
        if self.has_mail.swap(false, Ordering::SeqCst) {
            let mail = std::mem::take(&mut *lock(&self.mail));
            for (conn, cmd) in mail {
                st.half.handle_inproc_command(conn, cmd, now);
            }
        }
    }

    /// Marks a receive on this socket as under way until the guard drops; the guard then
    /// takes any mail that came too late for the receive (the other half of the protocol in
    /// [`Shared::deliver_inproc`]).
    pub(crate) fn receiving<'a>(self: &'a Arc<Self>, shared: &'a Shared) -> Receiving<'a> {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Receiving { cell: self, shared }
    }
}

/// See [`SocketCell::receiving`].
pub(crate) struct Receiving<'a> {
    cell: &'a Arc<SocketCell>,
    shared: &'a Shared,
}

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.cell.busy.fetch_sub(1, Ordering::SeqCst);
        if self.cell.has_mail.load(Ordering::SeqCst) {
            self.shared.with_half(self.cell, |_, _| ());
        }
    }
}

/// What a socket's lock guards.
pub(crate) struct HalfState {
    pub(crate) half: SocketHalf,
    /// The I/O thread that runs each session.
    placement: BTreeMap<NodeId, usize>,
    /// Monitor events, once the application asked for them.
    pub(crate) monitor: Option<VecDeque<MonitorEvent>>,
    /// MONITOR_STOPPED has been queued: no event follows it.
    pub(crate) monitor_stopped: bool,
    /// The readiness fd (ZMQ_FD), once asked for.
    pub(crate) signaller: Option<Signaller>,
    /// The application dropped its handle: the socket is reaped once closed.
    pub(crate) dropped: bool,
    /// The outcome of each bind, for the `bind` call waiting on it.
    pub(crate) bind_errors: BTreeMap<ListenerId, io::Error>,
    /// The linger deadline last given to the timer thread.
    timer_posted: Option<Instant>,
    /// The far side of each joined inproc link: the peer's cell and its connection there,
    /// so that a pipe command finds its peer without the registry's lock.
    peers: BTreeMap<ConnId, (std::sync::Weak<SocketCell>, ConnId)>,
    /// The wakers of callers asleep on this socket in a sleep a signal ends (see
    /// [`crate::sleep`]); woken with the condition variable.
    pub(crate) alarms: Vec<Arc<mio::Waker>>,
}

/// The write end of a socket's readiness fd: a byte is written whenever its events may have
/// changed (libzmq's ZMQ_FD is edge-like the same way: on a wake-up, re-check ZMQ_EVENTS).
pub(crate) struct Signaller {
    pub(crate) write: std::os::unix::net::UnixStream,
    pub(crate) read: std::os::unix::net::UnixStream,
    pub(crate) last: (bool, bool),
}

/// Work that needs another socket's lock, done once the current one is released.
pub(crate) enum Later {
    InprocConnect {
        sid: SocketId,
        conn: ConnId,
        name: String,
    },
    InprocCmd {
        from: (SocketId, ConnId),
        cmd: PipeCommand,
        /// The peer's cell and connection, when the sender knew them.
        to: Option<(Arc<SocketCell>, ConnId)>,
    },
    InprocClose {
        from: (SocketId, ConnId),
    },
    Reap(SocketId),
    /// A ZAP handler came or went: tell every socket.
    ZapChanged,
}

/// Names the files of ephemeral IPC binds (`ipc://*`): process-wide, as two contexts of one
/// process share the file system.
static IPC_SERIAL: AtomicU64 = AtomicU64::new(0);

/// What a context's threads share.
pub(crate) struct Shared {
    epoch: StdInstant,
    /// The last time [`Shared::now`] read, for [`Shared::coarse_now`].
    coarse: AtomicU64,
    pub(crate) io: Vec<IoHandle>,
    next_io: AtomicUsize,
    sockets: Mutex<BTreeMap<SocketId, Arc<SocketCell>>>,
    next_socket: std::sync::atomic::AtomicU32,
    inproc: Mutex<Registry<SocketId>>,
    pub(crate) terminating: AtomicBool,
    pub(crate) open_sockets: AtomicUsize,
    /// Bumped after any socket changed while someone watches (`poll`, termination).
    changes: Mutex<Changes>,
    changed: Condvar,
    watchers: AtomicUsize,
    /// Blocking calls end with `EINTR` when a signal handler runs (see
    /// [`Context::set_interruptible`](crate::Context::set_interruptible)).
    pub(crate) interruptible: AtomicBool,
    /// How long, in nanoseconds, a waiting receive and an idle I/O thread poll before they
    /// sleep ([`ContextOption::Spin`](crate::ContextOption::Spin)).
    spin_ns: AtomicU64,
    /// The application's ZAP handler, asked by the I/O threads (see
    /// [`Context::set_zap_handler`](crate::Context::set_zap_handler)).
    zap: std::sync::RwLock<Option<ZapHandler>>,
    /// A socket is bound at `inproc://zeromq.zap.01`.
    inproc_zap: AtomicBool,
    /// The relay to that handler, started the first time it is needed.
    zap_relay: std::sync::OnceLock<std::sync::mpsc::Sender<crate::zap::Ask>>,
}

/// A ZAP handler (RFC 27): answers one request about one peer.
pub(crate) type ZapHandler = Arc<dyn Fn(&ZapRequest) -> ZapReply + Send + Sync>;

thread_local! {
    /// The I/O thread this is, if it is one: posts to its own mailbox need no wake-up, as it
    /// looks at the mailbox before it polls again.
    static CURRENT_IO: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

pub(crate) fn set_current_io(index: usize) {
    CURRENT_IO.with(|c| c.set(Some(index)));
}

impl Shared {
    pub(crate) fn new(io: Vec<IoHandle>) -> Shared {
        Shared {
            epoch: StdInstant::now(),
            coarse: AtomicU64::new(0),
            io,
            next_io: AtomicUsize::new(0),
            sockets: Mutex::new(BTreeMap::new()),
            next_socket: std::sync::atomic::AtomicU32::new(1),
            inproc: Mutex::new(Registry::new()),
            terminating: AtomicBool::new(false),
            open_sockets: AtomicUsize::new(0),
            changes: Mutex::new(Changes::default()),
            interruptible: AtomicBool::new(false),
            spin_ns: AtomicU64::new(nanos(SPIN)),
            changed: Condvar::new(),
            watchers: AtomicUsize::new(0),
            zap: std::sync::RwLock::new(None),
            inproc_zap: AtomicBool::new(false),
            zap_relay: std::sync::OnceLock::new(),
        }
    }

    /// Installs (or with `None` removes) the ZAP handler, and tells every socket's future
    /// connections whether there is one.
    pub(crate) fn set_zap_handler(&self, handler: Option<ZapHandler>) {
        *self.zap.write().unwrap_or_else(|p| p.into_inner()) = handler;
        self.zap_changed();
    }

    /// Tells every socket whether a ZAP handler is there now. Takes each socket's lock in
    /// turn: never call it holding one.
    fn zap_changed(&self) {
        for cell in self.cells() {
            let mut st = cell.lock();
            let present = self.has_zap_handler();
            st.half.set_zap_handler(present);
        }
    }

    /// Whether a closure or a socket bound at `inproc://zeromq.zap.01` answers ZAP.
    pub(crate) fn has_zap_handler(&self) -> bool {
        self.inproc_zap.load(Ordering::Acquire)
            || self.zap.read().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Asks the ZAP handler about `ask`: the closure answers at once; a handler at
    /// `inproc://zeromq.zap.01` answers later, as an [`IoCmd::ZapReply`] to `ask.io`. With
    /// neither (one went meanwhile), the answer is libzmq's for a failed handler: 500.
    pub(crate) fn ask_zap(
        self: &Arc<Self>,
        ask: crate::zap::Ask,
    ) -> Option<(crate::zap::Ask, ZapReply)> {
        let handler = self.zap.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(h) = handler {
            let reply = h(&ask.req);
            return Some((ask, reply));
        }
        if !self.inproc_zap.load(Ordering::Acquire) {
            return Some((ask, ZapReply::deny(500)));
        }
        let relay = self.zap_relay.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            let shared = Arc::clone(self);
            let _ = std::thread::Builder::new()
                .name("oxmq-zap".into())
                .spawn(move || crate::zap::run(shared, rx));
            tx
        });
        match relay.send(ask) {
            Ok(()) => None,
            Err(std::sync::mpsc::SendError(ask)) => Some((ask, ZapReply::deny(500))),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        let now = Instant::from_duration(self.epoch.elapsed());
        self.coarse.fetch_max(now.as_nanos(), Ordering::Relaxed);
        now
    }

    /// The time as last read by any thread: for sends and receives, where the core uses the
    /// time only to stamp what it starts (a linger runs from `close`, which reads the clock),
    /// and a clock read per message would cost more than the message.
    pub(crate) fn coarse_now(&self) -> Instant {
        Instant::from_duration(std::time::Duration::from_nanos(
            self.coarse.load(Ordering::Relaxed),
        ))
    }

    pub(crate) fn is_terminating(&self) -> bool {
        self.terminating.load(Ordering::Acquire)
    }

    /// Registers a new socket half.
    pub(crate) fn add_socket(&self, half: SocketHalf) -> Arc<SocketCell> {
        let id = SocketId(self.next_socket.fetch_add(1, Ordering::Relaxed));
        let cell = Arc::new(SocketCell {
            id,
            half: Mutex::new(HalfState {
                half,
                placement: BTreeMap::new(),
                monitor: None,
                monitor_stopped: false,
                signaller: None,
                dropped: false,
                bind_errors: BTreeMap::new(),
                timer_posted: None,
                peers: BTreeMap::new(),
                alarms: Vec::new(),
            }),
            cv: Condvar::new(),
            version: AtomicU64::new(0),
            mail: Mutex::new(Vec::new()),
            has_mail: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
        });
        lock(&self.sockets).insert(id, Arc::clone(&cell));
        {
            // Read under the socket's lock, after it is listed: a handler installed
            // meanwhile reaches it one way or the other.
            let mut st = cell.lock();
            let zap = self.has_zap_handler();
            st.half.set_zap_handler(zap);
        }
        cell
    }

    fn cell(&self, sid: SocketId) -> Option<Arc<SocketCell>> {
        lock(&self.sockets).get(&sid).cloned()
    }

    /// Every socket not yet reaped.
    pub(crate) fn cells(&self) -> Vec<Arc<SocketCell>> {
        lock(&self.sockets).values().cloned().collect()
    }

    /// Posts `cmd` to I/O thread `k`, waking it if its mailbox was empty.
    pub(crate) fn post(&self, k: usize, cmd: IoCmd) {
        let io = &self.io[k];
        let was_empty = {
            let mut m = lock(&io.mailbox);
            m.push(cmd);
            m.len() == 1
        };
        if was_empty && CURRENT_IO.with(std::cell::Cell::get) != Some(k) {
            let _ = io.waker.wake();
        }
    }

    fn pick_io(&self) -> usize {
        self.next_io.fetch_add(1, Ordering::Relaxed) % self.io.len()
    }

    /// Carries out what socket `cell`'s half produced, with its lock held (`st`): actions,
    /// commands for sessions, monitor events, its next deadline; wakes whoever waits on it.
    /// `accepted` is a stream just accepted for the half, to travel with its session.
    pub(crate) fn drain(
        &self,
        cell: &Arc<SocketCell>,
        st: &mut HalfState,
        now: Instant,
        later: &mut Vec<Later>,
        accepted: &mut Option<(ConnId, Stream)>,
    ) {
        // Most sends and receives produce nothing to carry out: the queues are then skipped
        // without the call (and its large frame) that carries them out.
        if st.half.has_output() {
            self.carry_out(cell, st, now, later, accepted);
        }
        let deadline = st.half.poll_timeout();
        if deadline != st.timer_posted {
            st.timer_posted = deadline;
            if let Some(at) = deadline {
                self.post(
                    0,
                    IoCmd::HalfTimer {
                        cell: Arc::clone(cell),
                        at,
                    },
                );
            }
        }
        if let Some(sig) = st.signaller.as_mut() {
            let now = st.half.readiness();
            if now != sig.last {
                sig.last = now;
                // A full pipe already holds a wake-up; nothing is lost by dropping this one.
                let _ = (&sig.write).write(&[1]);
            }
        }
        if st.dropped && st.half.is_closed() {
            later.push(Later::Reap(cell.id));
        }
        // Only the lock's holder writes the version, so a plain store does (no atomic
        // read-modify-write on the per-message path); spinners only compare it.
        let v = cell.version.load(Ordering::Relaxed);
        cell.version.store(v.wrapping_add(1), Ordering::Release);
        // Read under the lock, which every sleeper holds from raising it until it waits.
        if cell.sleeping.load(Ordering::Relaxed) > 0 {
            cell.wake(st);
        }
        self.changed();
    }

    /// The queues of [`Shared::drain`]: actions, commands for sessions, inproc commands,
    /// monitor events.
    #[inline(never)]
    fn carry_out(
        &self,
        cell: &Arc<SocketCell>,
        st: &mut HalfState,
        now: Instant,
        later: &mut Vec<Later>,
        accepted: &mut Option<(ConnId, Stream)>,
    ) {
        let sid = cell.id;
        while st.half.has_output() {
            let mut progress = false;
            while let Some(a) = st.half.poll_action() {
                progress = true;
                self.act(cell, st, a, now, later);
            }
            while let Some((node, cmd)) = st.half.poll_command() {
                progress = true;
                match cmd {
                    ToSession::Launch(session) => {
                        let k = self.pick_io();
                        st.placement.insert(node, k);
                        let stream = match accepted.take() {
                            Some((c, s)) if session.conn() == Some(c) => Some(s),
                            other => {
                                *accepted = other;
                                None
                            }
                        };
                        let opts = st.half.driver_options().clone();
                        self.post(
                            k,
                            IoCmd::Launch {
                                cell: Arc::clone(cell),
                                session,
                                stream,
                                opts,
                            },
                        );
                    }
                    cmd => {
                        let last = matches!(cmd, ToSession::Destroy);
                        if let Some(&k) = st.placement.get(&node) {
                            self.post(k, IoCmd::Session { sid, node, cmd });
                        }
                        if last {
                            st.placement.remove(&node);
                        }
                    }
                }
            }
            while let Some((conn, cmd)) = st.half.poll_inproc_command() {
                let to = st
                    .peers
                    .get(&conn)
                    .and_then(|(w, tconn)| Some((w.upgrade()?, *tconn)));
                later.push(Later::InprocCmd {
                    from: (sid, conn),
                    cmd,
                    to,
                });
            }
            if !progress {
                break;
            }
        }
        while let Some(ev) = st.half.poll_monitor() {
            if ev.kind == MonitorEventKind::MonitorStopped {
                st.monitor_stopped = true;
            }
            if let Some(q) = st.monitor.as_mut() {
                q.push_back(ev);
            }
        }
    }

    fn act(
        &self,
        cell: &Arc<SocketCell>,
        st: &mut HalfState,
        action: Action,
        now: Instant,
        later: &mut Vec<Later>,
    ) {
        let sid = cell.id;
        match action {
            Action::Listen { listener, endpoint } => {
                let opts = st.half.driver_options().clone();
                let serial = IPC_SERIAL.fetch_add(1, Ordering::Relaxed) + 1;
                match Listen::open(&endpoint, &opts, serial) {
                    Ok((listen, bound)) => {
                        st.half.handle_listening(listener, &bound, now);
                        self.post(
                            0,
                            IoCmd::Listen {
                                cell: Arc::clone(cell),
                                lid: listener,
                                listen,
                                opts,
                            },
                        );
                    }
                    Err(e) => {
                        st.half.handle_bind_failed(listener, OsError::from(&e), now);
                        st.bind_errors.insert(listener, e);
                    }
                }
            }
            Action::InprocBind { listener, name } => {
                let bound = lock(&self.inproc).bind(&name, sid, listener);
                match bound {
                    Err(AddrInUse) => {
                        st.half
                            .handle_bind_failed(listener, OsError::AddrInUse, now);
                        st.bind_errors
                            .insert(listener, io::ErrorKind::AddrInUse.into());
                    }
                    Ok(waiting) => {
                        st.half
                            .handle_listening(listener, &format!("inproc://{name}"), now);
                        if name == crate::zap::ZAP_ENDPOINT {
                            self.inproc_zap.store(true, Ordering::Release);
                            later.push(Later::ZapChanged);
                        }
                        // The connects that waited join once this lock is released.
                        later.extend(waiting.into_iter().map(|(sid, conn)| Later::InprocConnect {
                            sid,
                            conn,
                            name: name.clone(),
                        }));
                    }
                }
            }
            Action::CloseListener { listener } => {
                let mut reg = lock(&self.inproc);
                let unbound = reg.unbind(sid, listener);
                if self.inproc_zap.load(Ordering::Acquire)
                    && !reg.is_bound(crate::zap::ZAP_ENDPOINT)
                {
                    self.inproc_zap.store(false, Ordering::Release);
                    later.push(Later::ZapChanged);
                }
                if unbound.is_none() {
                    drop(reg);
                    self.post(0, IoCmd::CloseListener { sid, lid: listener });
                }
            }
            Action::InprocConnect { conn, name } => {
                later.push(Later::InprocConnect { sid, conn, name });
            }
            // The half closes only inproc links; sessions close their own streams.
            Action::Close { conn, .. } => {
                st.peers.remove(&conn);
                later.push(Later::InprocClose { from: (sid, conn) });
            }
            // Sessions dial, on their I/O threads.
            Action::Dial { .. } => {}
        }
    }

    /// Runs `cell`'s half under its lock with `f`, then drains it and does what it left for
    /// later.
    pub(crate) fn with_half<R>(
        &self,
        cell: &Arc<SocketCell>,
        f: impl FnOnce(&mut HalfState, Instant) -> R,
    ) -> R {
        let mut later = Vec::new();
        let r = {
            let mut st = cell.lock();
            let now = self.now();
            cell.take_mail(&mut st, now);
            let r = f(&mut st, now);
            self.drain(cell, &mut st, now, &mut later, &mut None);
            r
        };
        self.run_later(later);
        r
    }

    /// Does the work that needed other sockets' locks, none being held now.
    #[inline]
    pub(crate) fn run_later(&self, later: Vec<Later>) {
        // On every send and receive, where there is almost never any: the check inline,
        // the work out of line.
        if !later.is_empty() {
            self.run_later_now(later);
        }
    }

    #[inline(never)]
    fn run_later_now(&self, later: Vec<Later>) {
        let mut queue: VecDeque<Later> = later.into();
        while let Some(op) = queue.pop_front() {
            let mut more = Vec::new();
            match op {
                Later::InprocConnect { sid, conn, name } => {
                    self.inproc_join(sid, conn, &name, &mut more);
                }
                Later::InprocCmd {
                    from: _,
                    cmd,
                    to: Some((cell, tconn)),
                } => {
                    // A cached peer: the link was joined, and the peer's half ignores
                    // commands for a connection it has closed since.
                    self.deliver_inproc(&cell, tconn, cmd, &mut more);
                }
                Later::InprocCmd {
                    from,
                    cmd,
                    to: None,
                } => {
                    // Held while the link is being joined; no link: the peer is gone, or not
                    // joined yet (it finds the pipe's contents when it attaches the end).
                    let to = lock(&self.inproc).route(from, cmd);
                    if let Some((tsid, tconn)) = to {
                        if let Some(cell) = self.cell(tsid) {
                            self.deliver_inproc(&cell, tconn, cmd, &mut more);
                        }
                    }
                }
                Later::InprocClose { from } => {
                    let to = lock(&self.inproc).close(from);
                    if let Some((tsid, tconn)) = to {
                        if let Some(cell) = self.cell(tsid) {
                            self.drive(&cell, &mut more, |h, now| {
                                h.handle_inproc_closed(tconn, now);
                            });
                        }
                    }
                }
                Later::ZapChanged => self.zap_changed(),
                Later::Reap(sid) => {
                    lock(&self.sockets).remove(&sid);
                    self.changed();
                }
            }
            queue.extend(more);
        }
    }

    /// Gives inproc pipe command `cmd` to connection `conn` of `cell`'s half.
    ///
    /// While a caller is inside a receive on that socket, the command is left as mail and
    /// the caller takes it: the sender of a stream of messages wakes a reader that ran dry
    /// without contending for its lock. The protocol, with every step `SeqCst`:
    /// - here: add the mail, raise `has_mail`, then read `busy` and `sleeping`;
    /// - the receiver: at its end, lowers `busy` and then reads `has_mail`; before it
    ///   sleeps on the condition variable, raises `sleeping` and then reads `has_mail`.
    ///
    /// In each pair one side sees the other's write, so either the receiver finds the mail
    /// or this delivers it under the lock (which, for a sleeper, also wakes it). Whoever
    /// takes the lock first takes the mail before anything else, which keeps each link's
    /// commands in order.
    fn deliver_inproc(
        &self,
        cell: &Arc<SocketCell>,
        conn: ConnId,
        cmd: PipeCommand,
        later: &mut Vec<Later>,
    ) {
        if cell.busy.load(Ordering::SeqCst) == 0 {
            self.drive(cell, later, |h, now| {
                h.handle_inproc_command(conn, cmd, now)
            });
            return;
        }
        lock(&cell.mail).push((conn, cmd));
        cell.has_mail.store(true, Ordering::SeqCst);
        if cell.busy.load(Ordering::SeqCst) > 0 && cell.sleeping.load(Ordering::SeqCst) == 0 {
            return;
        }
        self.drive(cell, later, |_, _| ());
    }

    /// Ends every inproc connect still waiting for its name to be bound, as if its peer had
    /// closed, dropping what it queued: once the context terminates no bind can come, and a
    /// socket lingering on such a link would hold `zmq_ctx_term` up for its whole LINGER.
    /// (libzmq's `zmq_ctx_term` binds a throwaway socket to each pending name and closes it,
    /// to the same end.) Called by the termination after [`Shared::terminating`] is raised.
    pub(crate) fn end_waiting_connects(&self) {
        let waiting = lock(&self.inproc).take_all_waiting();
        let mut later = Vec::new();
        for (_, (sid, conn)) in waiting {
            if let Some(cell) = self.cell(sid) {
                self.drive(&cell, &mut later, |h, now| {
                    h.handle_inproc_closed(conn, now)
                });
            }
        }
        self.run_later(later);
    }

    /// Feeds `cell`'s half with `f` under its lock and drains it.
    fn drive(
        &self,
        cell: &Arc<SocketCell>,
        later: &mut Vec<Later>,
        f: impl FnOnce(&mut SocketHalf, Instant),
    ) {
        let mut st = cell.lock();
        let now = self.now();
        cell.take_mail(&mut st, now);
        f(&mut st.half, now);
        self.drain(cell, &mut st, now, later, &mut None);
    }

    /// Joins inproc connect `conn` of socket `sid` to the socket bound at `name`, or leaves
    /// it waiting for the bind ([`oxmq_core::inproc::join`]).
    fn inproc_join(&self, sid: SocketId, conn: ConnId, name: &str, later: &mut Vec<Later>) {
        let host = Joiner {
            shared: self,
            later: std::cell::RefCell::new(later),
        };
        oxmq_core::inproc::join(&host, (sid, conn), name);
    }

    /// Records in `cell`'s half that its inproc `conn` leads to `peer`'s `pconn`, unless the
    /// link has ended meanwhile (its `Close` action, which drops the entry, is then past).
    fn cache_peer(
        &self,
        cell: &Arc<SocketCell>,
        conn: ConnId,
        peer: &Arc<SocketCell>,
        pconn: ConnId,
    ) {
        let mut st = cell.lock();
        if st.half.is_inproc(conn) {
            st.peers.insert(conn, (Arc::downgrade(peer), pconn));
        }
    }

    /// Tells watchers (`poll`, termination) that some socket changed.
    #[inline]
    pub(crate) fn changed(&self) {
        // After every send and receive: the look inline, the telling out of line.
        if self.watchers.load(Ordering::Acquire) > 0 {
            self.tell_watchers();
        }
    }

    #[inline(never)]
    fn tell_watchers(&self) {
        let mut c = lock(&self.changes);
        c.count += 1;
        self.changed.notify_all();
        crate::sleep::wake_all(&c.alarms);
    }

    /// The change counter, to pass to [`Shared::wait_change`]. Registers a watcher until
    /// the matching wait returns.
    pub(crate) fn watch(&self) -> u64 {
        self.watchers.fetch_add(1, Ordering::AcqRel);
        lock(&self.changes).count
    }

    /// Ends a watch begun with [`Shared::watch`] without waiting.
    pub(crate) fn unwatch(&self) {
        self.watchers.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether blocking calls end with `EINTR` when a signal handler runs.
    pub(crate) fn is_interruptible(&self) -> bool {
        self.interruptible.load(Ordering::Relaxed)
    }

    /// How long a waiting receive and an idle I/O thread poll before they sleep.
    pub(crate) fn spin(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.spin_ns.load(Ordering::Relaxed))
    }

    pub(crate) fn set_spin(&self, d: std::time::Duration) {
        self.spin_ns.store(nanos(d), Ordering::Relaxed);
    }

    /// Waits until the counter moves past `seen` or `deadline` passes: [`Waited::Expired`]
    /// once it has, [`Waited::Interrupted`] if a signal handler ran meanwhile and waits are
    /// interruptible.
    pub(crate) fn wait_change(&self, seen: u64, deadline: Option<StdInstant>) -> Waited {
        let alarm = if self.is_interruptible() {
            crate::sleep::alarm()
        } else {
            None
        };
        let mut g = lock(&self.changes);
        let mut waited = Waited::Look;
        while g.count == seen {
            let left = match deadline {
                None => None,
                Some(d) => {
                    let left = d.saturating_duration_since(StdInstant::now());
                    if left.is_zero() {
                        waited = Waited::Expired;
                        break;
                    }
                    Some(left)
                }
            };
            if let Some(alarm) = &alarm {
                g.alarms.push(Arc::clone(alarm));
                drop(g);
                let woke = crate::sleep::sleep(left);
                g = lock(&self.changes);
                crate::sleep::unregister(&mut g.alarms, alarm);
                if woke == crate::sleep::Woke::Interrupted {
                    waited = Waited::Interrupted;
                    break;
                }
                continue;
            }
            g = match left {
                None => self.changed.wait(g).unwrap_or_else(|p| p.into_inner()),
                Some(left) => {
                    self.changed
                        .wait_timeout(g, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        drop(g);
        self.watchers.fetch_sub(1, Ordering::AcqRel);
        waited
    }
}

/// The change counter of [`Shared::changed`] and the wakers of those who wait on it in a
/// sleep a signal ends.
#[derive(Default)]
struct Changes {
    count: u64,
    alarms: Vec<Arc<Waker>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long a caller waiting on sparse traffic spins before it sleeps, and an I/O thread
/// before it blocks in its poll, unless [`ContextOption::Spin`](crate::ContextOption::Spin)
/// says otherwise.
pub(crate) const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// Something may have changed, or nothing did: look again.
    Look,
    /// The deadline had passed (without waiting).
    Expired,
    /// A signal handler ran on this thread while it slept (only with `interruptible`).
    Interrupted,
}

/// Waits on `cell`'s condition variable with its lock `st`, at most until `deadline`.
///
/// With `interruptible`, the sleep is one a signal handler ends (see [`crate::sleep`]):
/// the caller then fails with `EINTR`, as libzmq's blocking calls do.
///
/// With a non-zero `spin`, it first watches the cell's version off the lock for up to that
/// long: for a caller waiting on sparse traffic (a reply, the next request), the answer
/// usually comes sooner than a futex sleep and wake-up take, and its sender is spared the
/// wake-up call.
pub(crate) fn wait_on<'a>(
    cell: &'a SocketCell,
    mut st: MutexGuard<'a, HalfState>,
    deadline: Option<StdInstant>,
    spin: std::time::Duration,
    interruptible: bool,
) -> (MutexGuard<'a, HalfState>, Waited) {
    let left = match deadline {
        None => None,
        Some(d) => {
            let left = d.saturating_duration_since(StdInstant::now());
            if left.is_zero() {
                return (st, Waited::Expired);
            }
            Some(left)
        }
    };
    if !spin.is_zero() {
        let seen = cell.version.load(Ordering::Acquire);
        drop(st);
        let until = StdInstant::now() + spin.min(left.unwrap_or(spin));
        let mut i = 0u32;
        while cell.version.load(Ordering::Acquire) == seen && !cell.has_mail.load(Ordering::Acquire)
        {
            i += 1;
            if i.is_multiple_of(64) {
                if StdInstant::now() >= until {
                    break;
                }
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        st = cell.lock();
        // A change made while the lock was free found no one to notify: look again.
        if cell.version.load(Ordering::Acquire) != seen || cell.has_mail.load(Ordering::Acquire) {
            return (st, Waited::Look);
        }
    }
    cell.sleeping.fetch_add(1, Ordering::SeqCst);
    if cell.has_mail.load(Ordering::SeqCst) {
        cell.sleeping.fetch_sub(1, Ordering::SeqCst);
        return (st, Waited::Look);
    }
    let alarm = if interruptible {
        crate::sleep::alarm()
    } else {
        None
    };
    if let Some(alarm) = alarm {
        // Registered under the lock, which every waker holds while it reads the list.
        st.alarms.push(Arc::clone(&alarm));
        drop(st);
        let woke = crate::sleep::sleep(left);
        let mut st = cell.lock();
        crate::sleep::unregister(&mut st.alarms, &alarm);
        cell.sleeping.fetch_sub(1, Ordering::SeqCst);
        return match woke {
            crate::sleep::Woke::Interrupted => (st, Waited::Interrupted),
            crate::sleep::Woke::Look => (st, Waited::Look),
        };
    }
    let st = match left {
        None => cell.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
        Some(left) => {
            cell.cv
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0
        }
    };
    cell.sleeping.fetch_sub(1, Ordering::SeqCst);
    (st, Waited::Look)
}

/// This context as [`oxmq_core::inproc::join`] drives it: what the join leaves for later goes
/// into `later`.
struct Joiner<'a> {
    shared: &'a Shared,
    later: std::cell::RefCell<&'a mut Vec<Later>>,
}

impl JoinHost for Joiner<'_> {
    type Socket = SocketId;

    fn with_registry<R>(&self, f: impl FnOnce(&mut Registry<SocketId>, bool) -> R) -> R {
        let mut reg = lock(&self.shared.inproc);
        f(&mut reg, self.shared.is_terminating())
    }

    fn inspect<R>(&self, s: SocketId, f: impl FnOnce(&SocketHalf) -> R) -> Option<R> {
        let cell = self.shared.cell(s)?;
        let st = cell.lock();
        Some(f(&st.half))
    }

    fn drive(&self, s: SocketId, f: impl FnOnce(&mut SocketHalf, Instant)) {
        if let Some(cell) = self.shared.cell(s) {
            self.shared.drive(&cell, &mut self.later.borrow_mut(), f);
        }
    }

    fn linked(&self, a: (SocketId, ConnId), b: (SocketId, ConnId)) {
        if let (Some(acell), Some(bcell)) = (self.shared.cell(a.0), self.shared.cell(b.0)) {
            self.shared.cache_peer(&acell, a.1, &bcell, b.1);
            self.shared.cache_peer(&bcell, b.1, &acell, a.1);
        }
    }

    fn send_held(&self, from: (SocketId, ConnId), held: Vec<PipeCommand>) {
        self.later
            .borrow_mut()
            .extend(held.into_iter().map(|cmd| Later::InprocCmd {
                from,
                cmd,
                to: None,
            }));
    }
}
