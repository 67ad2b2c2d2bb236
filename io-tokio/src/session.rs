//! Session tasks: each session half runs as one Tokio task on the application's runtime,
//! owning its stream, its `Session` and its timer, and nothing else. Its messages cross to the
//! socket in lock-free pipes; only its commands (a wake-up of a sleeping reader, a read report
//! every low-water mark, a handshake, the end of a connection) take the socket half's lock,
//! batched per round of the task.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use oxmq_core::base::{Action, ConnId};
use oxmq_core::session::{Session, ToSession};
use oxmq_core::tree::NodeId;
use oxmq_core::{DriverOptions, Instant, OsError};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Sleep;

use oxmq_net::rx::{Reads, RxPool};

use crate::net::{self, Stream};
use crate::shared::SocketCell;

thread_local! {
    /// The large receive buffers this worker thread keeps for reuse (`oxmq_net::rx`).
    static RX_POOL: std::cell::RefCell<RxPool> = std::cell::RefCell::new(RxPool::default());
}
/// What one session task may read in one poll; a session with more to read goes after the
/// other tasks. Both ends of a local stream then take turns in steps that stay in the
/// cache (as oxmq-mio's I/O threads do), instead of a writer filling its socket's kernel
/// buffer before the reader copies any of it out.
const TURN_BYTES: usize = 128 * 1024;
/// At most this many bytes go into one vectored write.
const WRITE_MAX: usize = 1024 * 1024;
/// Rounds with progress in one poll before the task lets others run.
const ROUNDS: usize = 32;

/// Starts the task of a session just launched by its socket half; `stream` is its connection
/// if a listener accepted it, `mailbox` the rest of its mailbox.
pub(crate) fn spawn(
    cell: Arc<SocketCell>,
    session: Session,
    stream: Option<Stream>,
    mailbox: UnboundedReceiver<ToSession>,
    opts: DriverOptions,
) {
    let runtime = cell.shared.runtime.clone();
    let io = match (stream, session.conn()) {
        (Some(stream), Some(id)) => Some(Conn {
            id,
            stream,
            pending: VecDeque::new(),
            read_closed: false,
            reads: Reads::default(),
            failed: false,
        }),
        _ => None,
    };
    let mut task = SessionTask {
        node: session.node(),
        cell,
        session,
        opts,
        mailbox,
        mailbox_open: true,
        io,
        dialing: None,
        sleep: None,
        armed: None,
        zap_waits: Vec::new(),
    };
    runtime.spawn(std::future::poll_fn(move |cx| task.poll(cx)));
}

/// A session's connection.
struct Conn {
    id: ConnId,
    stream: Stream,
    /// The unwritten rest of chunks taken from the engine.
    pending: VecDeque<Bytes>,
    read_closed: bool,
    /// How the next read is sized (`oxmq_net::rx`).
    reads: Reads,
    /// A write failed: the connection is reported lost once.
    failed: bool,
}

struct Dialing {
    id: ConnId,
    connect: Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>,
}

struct SessionTask {
    node: NodeId,
    cell: Arc<SocketCell>,
    session: Session,
    opts: DriverOptions,
    mailbox: UnboundedReceiver<ToSession>,
    mailbox_open: bool,
    io: Option<Conn>,
    dialing: Option<Dialing>,
    /// The session's timer, made on the runtime at its first use.
    sleep: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
    /// ZAP questions out to the handler bound at `inproc://zeromq.zap.01`.
    zap_waits: Vec<(ConnId, tokio::sync::oneshot::Receiver<oxmq_core::ZapReply>)>,
}

impl SessionTask {
    /// Moves everything that can move — commands, the dial, actions, reads, writes, timers —
    /// until nothing does; every source that could not go on has registered the task's waker.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // What this poll has read ([`TURN_BYTES`] at most).
        let mut read = 0;
        for _ in 0..ROUNDS {
            let now = self.cell.shared.now();
            let mut progress = false;
            // The mailbox, in order (rule 2).
            while self.mailbox_open {
                match self.mailbox.poll_recv(cx) {
                    Poll::Ready(Some(cmd)) => {
                        progress = true;
                        self.session.handle_command(cmd, now);
                    }
                    Poll::Ready(None) => {
                        // The socket let go of the session without a Destroy: end it.
                        self.mailbox_open = false;
                        progress = true;
                        self.session.handle_command(ToSession::Destroy, now);
                    }
                    Poll::Pending => break,
                }
            }
            if let Some(d) = self.dialing.as_mut() {
                if let Poll::Ready(r) = d.connect.as_mut().poll(cx) {
                    progress = true;
                    let id = d.id;
                    self.dialing = None;
                    match r {
                        Ok(stream) => {
                            self.session.set_peer_address(stream.peer_ip());
                            self.io = Some(Conn {
                                id,
                                stream,
                                pending: VecDeque::new(),
                                read_closed: false,
                                reads: Reads::default(),
                                failed: false,
                            });
                            self.session.handle_dial_result(Ok(()), now);
                        }
                        Err(e) => self.session.handle_dial_result(Err(OsError::from(&e)), now),
                    }
                }
            }
            while let Some(action) = self.session.poll_action() {
                progress = true;
                self.act(action);
            }
            if let Some(io) = self.io.as_mut() {
                // Read while the session has room, straight into the engine's buffer; a full
                // pipe stops reading (back-pressure) until the socket's read report comes in
                // through the mailbox.
                let session = &mut self.session;
                RX_POOL.with_borrow_mut(|pool| {
                    while !io.read_closed && session.wants_input() && read < TURN_BYTES {
                        let Some((rx, len)) = io.reads.prepare(session, pool, TURN_BYTES - read)
                        else {
                            break;
                        };
                        let r = io.stream.poll_read_into(cx, rx, len);
                        match r {
                            Poll::Ready(Ok(0)) => {
                                io.read_closed = true;
                                session.handle_eof(now);
                            }
                            Poll::Ready(Ok(n)) => {
                                read += n;
                                io.reads.done(n, len);
                                session.handle_read(now);
                            }
                            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                            Poll::Ready(Err(_)) => {
                                io.read_closed = true;
                                session.handle_eof(now);
                            }
                            Poll::Pending => break,
                        }
                        progress = true;
                    }
                    io.reads.settle(session);
                });
            }
            if let Some(io) = self.io.as_mut() {
                if (self.session.take_transmit_ready() || !io.pending.is_empty()) && !io.failed {
                    progress |= flush(io, &mut self.session, now, cx);
                }
                // Likewise the list of chunks being written, once written.
                if !io.reads.big_reads && io.pending.is_empty() && io.pending.capacity() > 0 {
                    io.pending = VecDeque::new();
                }
            }
            // The application's ZAP handler answers here, in the session's task; a handler
            // bound at `inproc://zeromq.zap.01` answers later, through the context's relay.
            while let Some((conn, req)) = self.session.poll_zap_request() {
                progress = true;
                match self.cell.shared.ask_zap(req) {
                    crate::zap::Answer::Now(reply) => {
                        self.session.handle_zap_reply(conn, reply, now);
                    }
                    crate::zap::Answer::Later(rx) => self.zap_waits.push((conn, rx)),
                }
            }
            let mut i = 0;
            while i < self.zap_waits.len() {
                match Pin::new(&mut self.zap_waits[i].1).poll(cx) {
                    Poll::Ready(r) => {
                        progress = true;
                        let (conn, _) = self.zap_waits.remove(i);
                        // A relay that went away answers as a failed handler.
                        let reply = r.unwrap_or_else(|_| oxmq_core::ZapReply::deny(500));
                        self.session.handle_zap_reply(conn, reply, now);
                    }
                    Poll::Pending => i += 1,
                }
            }
            let mut cmds = Vec::new();
            while let Some(cmd) = self.session.poll_command() {
                cmds.push(cmd);
            }
            if !cmds.is_empty() {
                progress = true;
                let node = self.node;
                self.cell.with(|st, now| {
                    for cmd in cmds {
                        st.half.handle_command(node, cmd, now);
                    }
                });
            }
            if self.session.poll_timeout().is_some_and(|t| t <= now) {
                progress = true;
                self.session.handle_timeout(now);
            }
            if progress {
                continue;
            }
            // Rule 6: done once finished and drained.
            if self.session.is_finished() {
                return Poll::Ready(());
            }
            // Out of turn with bytes still to read (the stream was not read to pending, so
            // nothing else will wake the task): after the other tasks.
            if read >= TURN_BYTES
                && self.session.wants_input()
                && self.io.as_ref().is_some_and(|io| !io.read_closed)
            {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match self.session.poll_timeout() {
                Some(t) => {
                    let when = self.cell.shared.deadline(t);
                    let sleep = self
                        .sleep
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(when)));
                    if self.armed != Some(t) {
                        self.armed = Some(t);
                        sleep.as_mut().reset(when);
                    }
                    if sleep.as_mut().poll(cx).is_ready() {
                        continue;
                    }
                }
                None => self.armed = None,
            }
            return Poll::Pending;
        }
        // Busy: let other tasks run, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Dial { conn, endpoint } => {
                self.io = None;
                self.dialing = Some(Dialing {
                    id: conn,
                    connect: net::dial(endpoint, self.opts.clone()),
                });
            }
            Action::Close { conn, last_bytes } => {
                if self.dialing.as_ref().is_some_and(|d| d.id == conn) {
                    self.dialing = None;
                }
                if self.io.as_ref().is_some_and(|io| io.id == conn) {
                    let io = self.io.take().expect("checked above");
                    if !io.failed {
                        finish_writes(io, last_bytes);
                    }
                }
            }
            _ => {}
        }
    }
}

/// How long a closed connection may take to write what its session had already encoded.
const CLOSE_FLUSH: std::time::Duration = std::time::Duration::from_secs(10);

/// Hands a closing connection's unwritten bytes (taken from the engine, and its last ones)
/// to a task of their own that writes them all, then drops the stream. The session's LINGER
/// ended with those bytes out of the engine; writing only what the socket took at once cut
/// the stream short — mid-frame, when a write was partial — and a peer lost the end of it.
fn finish_writes(io: Conn, last_bytes: Bytes) {
    let mut bufs: VecDeque<Bytes> = io.pending;
    bufs.push_back(last_bytes);
    bufs.retain(|b| !b.is_empty());
    if bufs.is_empty() {
        return;
    }
    let mut stream = io.stream;
    tokio::spawn(async move {
        let all = async {
            while let Some(mut b) = bufs.pop_front() {
                while !b.is_empty() {
                    let n = std::future::poll_fn(|cx| {
                        stream.poll_write_vectored(cx, &[IoSlice::new(&b)])
                    })
                    .await?;
                    if n == 0 {
                        return Err(io::Error::from(io::ErrorKind::WriteZero));
                    }
                    let _ = b.split_to(n);
                }
            }
            Ok::<(), io::Error>(())
        };
        let _ = tokio::time::timeout(CLOSE_FLUSH, all).await;
    });
}

/// Writes what the engine has, up to would-block, and tells the session what is left over
/// (its LINGER waits for that too); true if anything happened.
fn flush(io: &mut Conn, session: &mut Session, now: Instant, cx: &mut Context<'_>) -> bool {
    let wrote = write_out(io, session, now, cx);
    session.set_unwritten(io.pending.iter().map(Bytes::len).sum(), now);
    wrote
}

fn write_out(io: &mut Conn, session: &mut Session, now: Instant, cx: &mut Context<'_>) -> bool {
    let mut wrote = false;
    loop {
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
        let mut slices = [IoSlice::new(&[]); 64];
        let mut k = 0;
        for (slot, b) in slices.iter_mut().zip(&io.pending) {
            *slot = IoSlice::new(b);
            k += 1;
        }
        match io.stream.poll_write_vectored(cx, &slices[..k]) {
            Poll::Ready(Ok(n)) if n > 0 => {
                wrote = true;
                let mut n = n;
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
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(_) => {
                // Failed (or wrote nothing): the connection is lost.
                io.pending.clear();
                io.failed = true;
                session.handle_eof(now);
                return true;
            }
            Poll::Pending => return wrote,
        }
    }
}
