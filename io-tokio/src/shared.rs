//! What a context's sockets share, and how a socket half is driven.
//!
//! Each socket half sits behind a lock of its own ([`SocketCell`]); nothing is locked
//! context-wide on the way of a message. Whoever feeds a half — the application's task inside
//! a call on its `Socket`, a session task delivering its commands, a listener task, a linger
//! timer — takes that lock, feeds it, and [`SocketCell::drain`]s what it produced: a new
//! session becomes a Tokio task (its `Launch` is the first command of its mailbox), other
//! commands go to the session tasks' mailboxes, listens happen at once, and whatever needs
//! another socket's lock (inproc) is done once this one is released ([`Shared::run_later`]),
//! so that no task ever holds two halves (the driver contract's rule 5).
//!
//! A caller that must wait registers its task's waker with the cell under the lock, after the
//! call that found nothing to do; every drain takes the wakers and wakes them once the lock is
//! released. A change always drains under the lock, so no wake-up is lost.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use oxmq_core::base::{Action, ConnId, ListenerId, SocketHalf};
use oxmq_core::context::SocketId;
use oxmq_core::inproc::{AddrInUse, JoinHost, Registry};
use oxmq_core::monitor::MonitorEvent;
use oxmq_core::pipe::PipeCommand;
use oxmq_core::session::ToSession;
use oxmq_core::tree::NodeId;
use oxmq_core::{DriverOptions, Instant, OsError};
use tokio::sync::mpsc::UnboundedSender;

use crate::net::{Listen, Stream};

/// One socket: its half behind its own lock.
pub(crate) struct SocketCell {
    pub(crate) id: SocketId,
    pub(crate) shared: Arc<Shared>,
    half: Mutex<HalfState>,
}

/// What a socket's lock guards.
pub(crate) struct HalfState {
    pub(crate) half: SocketHalf,
    /// The mailbox of each session task.
    sessions: BTreeMap<NodeId, UnboundedSender<ToSession>>,
    /// The listening sockets, shared with their accept tasks.
    listeners: BTreeMap<ListenerId, Arc<ListenSlot>>,
    /// Monitor events, once the application asked for them.
    pub(crate) monitor: Option<VecDeque<MonitorEvent>>,
    /// Tasks waiting for this socket to change.
    wakers: Vec<Waker>,
    /// The application let go of its handle: the socket is reaped once closed.
    pub(crate) dropped: bool,
    /// The outcome of each bind, for the `bind` call that caused it.
    pub(crate) bind_errors: BTreeMap<ListenerId, io::Error>,
    /// The linger deadline a timer task was last started for.
    timer_posted: Option<Instant>,
}

/// A listener, shared by the socket half (which closes it) and its accept task.
pub(crate) struct ListenSlot {
    listen: Mutex<Option<Listen>>,
    opts: DriverOptions,
    /// The accept task, ended when the listener closes (it may be parked on it).
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl ListenSlot {
    /// The next accepted stream; `None` once the listener is closed.
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Stream>>> {
        let g = lock(&self.listen);
        match g.as_ref() {
            None => Poll::Ready(None),
            Some(l) => l.poll_accept(cx, &self.opts).map(Some),
        }
    }

    /// Closes the listening socket now (its address is free at once).
    fn close(&self) {
        if let Some(l) = lock(&self.listen).take() {
            l.remove_file();
        }
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
    }
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
    },
    InprocClose {
        from: (SocketId, ConnId),
    },
    Reap(SocketId),
    /// A socket bound or unbound `inproc://zeromq.zap.01`.
    ZapChanged,
}

/// Names the files of ephemeral IPC binds (`ipc://*`): process-wide, as two contexts of one
/// process share the file system.
static IPC_SERIAL: AtomicU64 = AtomicU64::new(0);

/// What a context's sockets share: the runtime they run on, the clock's epoch, the sockets
/// by id (for inproc) and the inproc names.
pub(crate) struct Shared {
    epoch: tokio::time::Instant,
    pub(crate) runtime: tokio::runtime::Handle,
    sockets: Mutex<BTreeMap<SocketId, Arc<SocketCell>>>,
    next_socket: AtomicU32,
    inproc: Mutex<Registry<SocketId>>,
    /// The last time [`Shared::now`] read, for [`Shared::coarse_now`].
    coarse: AtomicU64,
    /// The application's ZAP handler, asked by the session tasks.
    zap: std::sync::RwLock<Option<ZapHandler>>,
    /// A socket is bound at `inproc://zeromq.zap.01`.
    inproc_zap: std::sync::atomic::AtomicBool,
    /// The relay to that socket, started at the first question.
    zap_relay: std::sync::OnceLock<crate::zap::Asks>,
    /// The CURVE crypto provider of new sockets; oxmq-core's default when `None`.
    #[cfg(feature = "curve")]
    pub(crate) curve_crypto: Mutex<Option<&'static dyn oxmq_core::mechanism::curve::CurveCrypto>>,
    /// The context is terminating (`zmq_ctx_term` or `zmq_ctx_shutdown`): every call on its
    /// sockets but closing fails with `Terminated`, and no socket can be made.
    terminating: std::sync::atomic::AtomicBool,
    /// Told, while terminating, whenever a socket half has finished closing.
    closed: tokio::sync::Notify,
}

/// A ZAP handler (RFC 27): answers one request about one peer.
pub(crate) type ZapHandler =
    Arc<dyn Fn(&oxmq_core::ZapRequest) -> oxmq_core::ZapReply + Send + Sync>;

impl Shared {
    pub(crate) fn new(runtime: tokio::runtime::Handle) -> Shared {
        Shared {
            epoch: tokio::time::Instant::now(),
            runtime,
            sockets: Mutex::new(BTreeMap::new()),
            next_socket: AtomicU32::new(1),
            inproc: Mutex::new(Registry::new()),
            coarse: AtomicU64::new(0),
            zap: std::sync::RwLock::new(None),
            inproc_zap: std::sync::atomic::AtomicBool::new(false),
            zap_relay: std::sync::OnceLock::new(),
            #[cfg(feature = "curve")]
            curve_crypto: Mutex::new(None),
            terminating: std::sync::atomic::AtomicBool::new(false),
            closed: tokio::sync::Notify::new(),
        }
    }

    /// Whether the context is terminating. Socket calls read it under their half's lock,
    /// which [`Shared::terminate`] takes after raising it: a call either sees it or is
    /// woken by the termination.
    pub(crate) fn is_terminating(&self) -> bool {
        self.terminating.load(Ordering::SeqCst)
    }

    /// Starts terminating (`zmq_ctx_shutdown`): raises the flag and wakes every waiting
    /// call, which then fails with `Terminated`. With `close`, also closes every socket (with
    /// its LINGER) and ends the inproc connects still waiting for a bind, which can no longer
    /// come.
    pub(crate) fn terminate(&self, close: bool) {
        self.terminating.store(true, Ordering::SeqCst);
        for cell in self.cells() {
            // Draining wakes whatever waits on the socket.
            cell.with(|st, now| {
                if close {
                    st.half.close(now);
                }
            });
        }
        if close {
            self.end_waiting_connects();
        }
    }

    /// Waits until every socket of the context has finished closing (after
    /// [`Shared::terminate`] with `close`).
    pub(crate) async fn all_closed(&self) {
        loop {
            let notified = self.closed.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the look: a socket that finishes after it wakes this.
            notified.as_mut().enable();
            if self.cells().iter().all(|c| c.lock().half.is_closed()) {
                return;
            }
            notified.await;
        }
    }

    /// Every socket not yet reaped.
    fn cells(&self) -> Vec<Arc<SocketCell>> {
        lock(&self.sockets).values().cloned().collect()
    }

    /// Ends every inproc connect still waiting for its name to be bound, as if its peer had
    /// closed, dropping what it queued: once the context terminates no bind can come, and a
    /// socket lingering on such a link would hold the termination up for its whole LINGER
    /// (as in `oxmq-mio`; libzmq's `zmq_ctx_term` binds each pending name and closes it).
    fn end_waiting_connects(&self) {
        let waiting = lock(&self.inproc).take_all_waiting();
        let mut later = Vec::new();
        for (_, (sid, conn)) in waiting {
            if let Some(cell) = self.cell(sid) {
                cell.drive(&mut later, |h, now| h.handle_inproc_closed(conn, now));
            }
        }
        self.run_later(later);
    }

    /// Installs (or with `None` removes) the ZAP handler and tells every socket.
    pub(crate) fn set_zap_handler(&self, handler: Option<ZapHandler>) {
        *self.zap.write().unwrap_or_else(|p| p.into_inner()) = handler;
        self.zap_changed();
    }

    /// Tells every socket whether ZAP is answered now.
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

    /// Asks the closure (answered now) or the socket bound at `inproc://zeromq.zap.01`
    /// (answered later, through the relay task); with neither any more, the answer is a
    /// failed handler's (500).
    pub(crate) fn ask_zap(self: &Arc<Self>, req: oxmq_core::ZapRequest) -> crate::zap::Answer {
        use crate::zap::Answer;
        let handler = self.zap.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(h) = handler {
            return Answer::Now(h(&req));
        }
        if !self.inproc_zap.load(Ordering::Acquire) {
            return Answer::Now(oxmq_core::ZapReply::deny(500));
        }
        let relay = self
            .zap_relay
            .get_or_init(|| crate::zap::start(Arc::clone(self)));
        let (tx, rx) = tokio::sync::oneshot::channel();
        match relay.send((req, tx)) {
            Ok(()) => Answer::Later(rx),
            Err(_) => Answer::Now(oxmq_core::ZapReply::deny(500)),
        }
    }

    /// The core's time: Tokio's clock since the context was made.
    pub(crate) fn now(&self) -> Instant {
        let now = Instant::from_duration(self.epoch.elapsed());
        self.coarse.fetch_max(now.as_nanos(), Ordering::Relaxed);
        now
    }

    /// The time as last read by any task: for sends and receives, where the core uses the
    /// time only to stamp what it starts (a linger runs from `close`, which reads the clock),
    /// and a clock read per message would cost more than the message.
    pub(crate) fn coarse_now(&self) -> Instant {
        Instant::from_nanos(self.coarse.load(Ordering::Relaxed))
    }

    /// The Tokio instant of a core instant, for timers.
    pub(crate) fn deadline(&self, at: Instant) -> tokio::time::Instant {
        self.epoch + Duration::from_nanos(at.as_nanos())
    }

    /// Registers a new socket half.
    /// Lists a new socket; `None` once the context is terminating. The flag is read under
    /// the list's lock, which [`Shared::terminate`] takes after raising it: a socket made
    /// while a termination starts is either listed in time to be closed by it, or refused
    /// (else `term` would wait for a socket nobody closes).
    pub(crate) fn add_socket(self: &Arc<Self>, half: SocketHalf) -> Option<Arc<SocketCell>> {
        let id = SocketId(self.next_socket.fetch_add(1, Ordering::Relaxed));
        let cell = Arc::new(SocketCell {
            id,
            shared: Arc::clone(self),
            half: Mutex::new(HalfState {
                half,
                sessions: BTreeMap::new(),
                listeners: BTreeMap::new(),
                monitor: None,
                wakers: Vec::new(),
                dropped: false,
                bind_errors: BTreeMap::new(),
                timer_posted: None,
            }),
        });
        {
            let mut sockets = lock(&self.sockets);
            if self.is_terminating() {
                return None;
            }
            sockets.insert(id, Arc::clone(&cell));
        }
        {
            // Read under the socket's lock, after it is listed: a handler installed
            // meanwhile reaches it one way or the other.
            let mut st = cell.lock();
            let zap = self.has_zap_handler();
            st.half.set_zap_handler(zap);
        }
        Some(cell)
    }

    /// How many sockets are not yet reaped.
    #[cfg(test)]
    pub(crate) fn socket_count(&self) -> usize {
        lock(&self.sockets).len()
    }

    fn cell(&self, sid: SocketId) -> Option<Arc<SocketCell>> {
        lock(&self.sockets).get(&sid).cloned()
    }

    /// Does the work that needed other sockets' locks, none being held now.
    pub(crate) fn run_later(&self, later: Vec<Later>) {
        let mut queue: VecDeque<Later> = later.into();
        while let Some(op) = queue.pop_front() {
            let mut more = Vec::new();
            match op {
                Later::InprocConnect { sid, conn, name } => {
                    self.inproc_join(sid, conn, &name, &mut more);
                }
                Later::InprocCmd { from, cmd } => {
                    // Held while the link is being joined; no link: the peer is gone, or not
                    // joined yet (it finds the pipe's contents when it attaches the end).
                    let to = lock(&self.inproc).route(from, cmd);
                    if let Some((tsid, tconn)) = to {
                        if let Some(cell) = self.cell(tsid) {
                            cell.drive(&mut more, |h, now| {
                                h.handle_inproc_command(tconn, cmd, now);
                            });
                        }
                    }
                }
                Later::InprocClose { from } => {
                    let to = lock(&self.inproc).close(from);
                    if let Some((tsid, tconn)) = to {
                        if let Some(cell) = self.cell(tsid) {
                            cell.drive(&mut more, |h, now| h.handle_inproc_closed(tconn, now));
                        }
                    }
                }
                Later::Reap(sid) => {
                    lock(&self.sockets).remove(&sid);
                }
                Later::ZapChanged => self.zap_changed(),
            }
            queue.extend(more);
        }
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
            cell.drive(&mut self.later.borrow_mut(), f);
        }
    }

    fn send_held(&self, from: (SocketId, ConnId), held: Vec<PipeCommand>) {
        self.later
            .borrow_mut()
            .extend(held.into_iter().map(|cmd| Later::InprocCmd { from, cmd }));
    }
}

impl SocketCell {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HalfState> {
        lock(&self.half)
    }

    /// Runs `f` on the half under its lock, drains what it produced, wakes whoever waited,
    /// and does what was left for later.
    pub(crate) fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut HalfState, Instant) -> R) -> R {
        let mut later = Vec::new();
        let (r, wake) = {
            let mut st = self.lock();
            let now = self.shared.now();
            let r = f(&mut st, now);
            let wake = self.drain(&mut st, now, &mut later, None);
            (r, wake)
        };
        wake_all(wake);
        self.shared.run_later(later);
        r
    }

    /// As [`SocketCell::with`] for a send or a receive, which needs only the coarse time.
    pub(crate) fn with_coarse<R>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut HalfState, Instant) -> R,
    ) -> R {
        let mut later = Vec::new();
        let (r, wake) = {
            let mut st = self.lock();
            let now = self.shared.coarse_now();
            let r = f(&mut st, now);
            let wake = self.drain(&mut st, now, &mut later, None);
            (r, wake)
        };
        wake_all(wake);
        if !later.is_empty() {
            self.shared.run_later(later);
        }
        r
    }

    /// As [`SocketCell::with_coarse`] for a send or receive that may have to wait: when `f`
    /// answers `Pending`, the task's waker is registered under the same lock, after the drain,
    /// so the next change wakes it.
    pub(crate) fn poll_with<R>(
        self: &Arc<Self>,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut HalfState, Instant) -> Poll<R>,
    ) -> Poll<R> {
        let mut later = Vec::new();
        let (r, wake) = {
            let mut st = self.lock();
            let now = self.shared.coarse_now();
            let r = f(&mut st, now);
            let wake = self.drain(&mut st, now, &mut later, None);
            if r.is_pending() {
                st.register(cx.waker());
            }
            (r, wake)
        };
        wake_all(wake);
        if !later.is_empty() {
            self.shared.run_later(later);
        }
        r
    }

    /// A connection arrived on `listener`: its session is launched with `stream`.
    pub(crate) fn accepted(self: &Arc<Self>, listener: ListenerId, stream: Stream) {
        let mut later = Vec::new();
        let wake = {
            let mut st = self.lock();
            let now = self.shared.now();
            // Refused (closing): dropping the stream closes it.
            let Some(conn) = st
                .half
                .handle_accepted_from(listener, stream.peer_ip(), now)
            else {
                return;
            };
            self.drain(&mut st, now, &mut later, Some((conn, stream)))
        };
        wake_all(wake);
        self.shared.run_later(later);
    }

    /// Feeds the half with `f` under its lock and drains it, leaving later work in `later`.
    fn drive(self: &Arc<Self>, later: &mut Vec<Later>, f: impl FnOnce(&mut SocketHalf, Instant)) {
        let wake = {
            let mut st = self.lock();
            let now = self.shared.now();
            f(&mut st.half, now);
            self.drain(&mut st, now, later, None)
        };
        wake_all(wake);
    }

    /// Carries out what the half produced, with its lock held: actions, commands for
    /// sessions (launching new ones as tasks), monitor events, its next deadline. Returns the
    /// wakers to wake once the lock is released. `accepted` is a stream just accepted for the
    /// half, to travel with its session.
    fn drain(
        self: &Arc<Self>,
        st: &mut HalfState,
        now: Instant,
        later: &mut Vec<Later>,
        mut accepted: Option<(ConnId, Stream)>,
    ) -> Vec<Waker> {
        // Most sends and receives produce nothing to carry out: skip the queues then.
        while st.half.has_output() {
            let mut progress = false;
            while let Some(a) = st.half.poll_action() {
                progress = true;
                self.act(st, a, now, later);
            }
            while let Some((node, cmd)) = st.half.poll_command() {
                progress = true;
                match cmd {
                    ToSession::Launch(session) => {
                        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                        st.sessions.insert(node, tx);
                        let stream = match accepted.take() {
                            Some((c, s)) if session.conn() == Some(c) => Some(s),
                            other => {
                                accepted = other;
                                None
                            }
                        };
                        let opts = st.half.driver_options().clone();
                        crate::session::spawn(Arc::clone(self), *session, stream, rx, opts);
                    }
                    cmd => {
                        let last = matches!(cmd, ToSession::Destroy);
                        if let Some(tx) = st.sessions.get(&node) {
                            // A session task that has finished takes nothing more.
                            let _ = tx.send(cmd);
                        }
                        if last {
                            st.sessions.remove(&node);
                        }
                    }
                }
            }
            while let Some((conn, cmd)) = st.half.poll_inproc_command() {
                later.push(Later::InprocCmd {
                    from: (self.id, conn),
                    cmd,
                });
            }
            if !progress {
                break;
            }
        }
        while let Some(ev) = st.half.poll_monitor() {
            if let Some(q) = st.monitor.as_mut() {
                q.push_back(ev);
            }
        }
        let deadline = st.half.poll_timeout();
        if deadline != st.timer_posted {
            st.timer_posted = deadline;
            if let Some(at) = deadline {
                let cell = Arc::clone(self);
                let when = self.shared.deadline(at);
                self.shared.runtime.spawn(async move {
                    tokio::time::sleep_until(when).await;
                    cell.with(|st, now| {
                        if st.half.poll_timeout().is_some_and(|t| t <= now) {
                            st.half.handle_timeout(now);
                        }
                    });
                });
            }
        }
        // Only a socket let go of, or one a termination waits for, is looked at: the look
        // costs more than the flags.
        let terminating = self.shared.is_terminating();
        if (st.dropped || terminating) && st.half.is_closed() {
            if st.dropped {
                later.push(Later::Reap(self.id));
            }
            if terminating {
                self.shared.closed.notify_waiters();
            }
        }
        std::mem::take(&mut st.wakers)
    }

    fn act(
        self: &Arc<Self>,
        st: &mut HalfState,
        action: Action,
        now: Instant,
        later: &mut Vec<Later>,
    ) {
        let shared = &self.shared;
        match action {
            Action::Listen { listener, endpoint } => {
                let opts = st.half.driver_options().clone();
                let serial = IPC_SERIAL.fetch_add(1, Ordering::Relaxed) + 1;
                // Tokio's listeners register with the runtime's reactor.
                let opened = {
                    let _rt = shared.runtime.enter();
                    Listen::open(&endpoint, &opts, serial)
                };
                match opened {
                    Ok((listen, bound)) => {
                        st.half.handle_listening(listener, &bound, now);
                        let slot = Arc::new(ListenSlot {
                            listen: Mutex::new(Some(listen)),
                            opts,
                            task: Mutex::new(None),
                        });
                        st.listeners.insert(listener, Arc::clone(&slot));
                        let cell = Arc::clone(self);
                        let task =
                            shared
                                .runtime
                                .spawn(accept_loop(cell, listener, Arc::clone(&slot)));
                        *lock(&slot.task) = Some(task.abort_handle());
                    }
                    Err(e) => {
                        st.half.handle_bind_failed(listener, OsError::from(&e), now);
                        st.bind_errors.insert(listener, e);
                    }
                }
            }
            Action::InprocBind { listener, name } => {
                let bound = lock(&shared.inproc).bind(&name, self.id, listener);
                match bound {
                    Err(AddrInUse) => {
                        st.half
                            .handle_bind_failed(listener, OsError::AddrInUse, now);
                        st.bind_errors
                            .insert(listener, io::ErrorKind::AddrInUse.into());
                    }
                    Ok(waiting) => {
                        if name == crate::zap::ZAP_ENDPOINT {
                            shared.inproc_zap.store(true, Ordering::Release);
                            later.push(Later::ZapChanged);
                        }
                        st.half
                            .handle_listening(listener, &format!("inproc://{name}"), now);
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
                let sid = self.id;
                let mut reg = lock(&shared.inproc);
                reg.unbind(sid, listener);
                if shared.inproc_zap.load(Ordering::Acquire)
                    && !reg.is_bound(crate::zap::ZAP_ENDPOINT)
                {
                    shared.inproc_zap.store(false, Ordering::Release);
                    later.push(Later::ZapChanged);
                }
                drop(reg);
                if let Some(slot) = st.listeners.remove(&listener) {
                    slot.close();
                }
            }
            Action::InprocConnect { conn, name } => {
                later.push(Later::InprocConnect {
                    sid: self.id,
                    conn,
                    name,
                });
            }
            // The half closes only inproc links; sessions close their own streams.
            Action::Close { conn, .. } => later.push(Later::InprocClose {
                from: (self.id, conn),
            }),
            // Sessions dial, in their tasks.
            Action::Dial { .. } => {}
        }
    }
}

impl HalfState {
    /// Registers a task to wake at the next change, once per task.
    pub(crate) fn register(&mut self, waker: &Waker) {
        if !self.wakers.iter().any(|w| w.will_wake(waker)) {
            self.wakers.push(waker.clone());
        }
    }
}

fn wake_all(wakers: Vec<Waker>) {
    for w in wakers {
        w.wake();
    }
}

/// Accepts connections on a listener until it is closed.
async fn accept_loop(cell: Arc<SocketCell>, listener: ListenerId, slot: Arc<ListenSlot>) {
    loop {
        match std::future::poll_fn(|cx| slot.poll_accept(cx)).await {
            None => return,
            Some(Ok(stream)) => cell.accepted(listener, stream),
            Some(Err(e)) => {
                cell.with(|st, _| st.half.handle_accept_failed(listener, OsError::from(&e)));
                // Out of descriptors, say: let some go before trying again.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock is a bug in this crate; keep going with what is there.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
