//! ZAP (RFC 27) through a handler the application bound at `inproc://zeromq.zap.01`, as
//! libzmq does it: a context-wide relay thread holds one DEALER connected there, sends each
//! session's request with an id of its own, and posts each answer back to the I/O thread
//! that runs the session. (A handler given as a closure, [`Context::set_zap_handler`], is
//! asked directly on the I/O thread and takes precedence.)
//!
//! [`Context::set_zap_handler`]: crate::Context::set_zap_handler

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use oxmq_core::base::{BaseConfig, ConnId, SocketHalf};
use oxmq_core::context::SocketId;
use oxmq_core::mechanism::take_relayed_reply;
use oxmq_core::pipe::Storage;
use oxmq_core::tree::NodeId;
use oxmq_core::{Message, SocketOption, SocketType, ZapReply, ZapRequest};

use crate::shared::{IoCmd, Shared};
use crate::{Error, Socket};

/// The endpoint libzmq's sessions ask.
pub(crate) const ZAP_ENDPOINT: &str = "zeromq.zap.01";

/// A question from a session on I/O thread `io`.
pub(crate) struct Ask {
    pub(crate) io: usize,
    pub(crate) key: (SocketId, NodeId),
    pub(crate) conn: ConnId,
    pub(crate) req: ZapRequest,
}

/// How long an unanswered question is remembered: the handshake has long timed out by then.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// How long the relay sleeps between looks while it waits for answers, and while idle
/// between looks for the context's termination.
const ANSWER_POLL: Duration = Duration::from_millis(5);
const IDLE_POLL: Duration = Duration::from_millis(200);

/// The relay thread: runs until the context terminates.
pub(crate) fn run(shared: Arc<Shared>, asks: Receiver<Ask>) {
    let Ok(dealer) = open(&shared) else {
        return;
    };
    let mut next_id: u64 = 0;
    let mut pending: BTreeMap<u64, (Ask, StdInstant)> = BTreeMap::new();
    loop {
        if shared.is_terminating() {
            return;
        }
        // Take the questions, waiting for one while none is out.
        let first = if pending.is_empty() {
            match asks.recv_timeout(IDLE_POLL) {
                Ok(a) => Some(a),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            None
        };
        for ask in first
            .into_iter()
            .chain(std::iter::from_fn(|| asks.try_recv().ok()))
        {
            next_id += 1;
            let mut frames = vec![Bytes::new()];
            frames.extend(ask.req.to_frames(next_id.to_string().as_bytes()));
            match dealer.send_dontwait(Message::from_frames(frames)) {
                Ok(()) => {
                    pending.insert(next_id, (ask, StdInstant::now()));
                }
                // No handler there (any more), or it cannot keep up: answer as libzmq's
                // session does when its ZAP pipe fails.
                Err(_) => answer(&shared, ask, ZapReply::deny(500)),
            }
        }
        // Read the answers that came.
        match dealer.recv_timeout(ANSWER_POLL) {
            Ok(m) => {
                if let Some(((ask, _), reply)) = take_relayed_reply(&mut pending, m.frames()) {
                    answer(&shared, ask, reply);
                }
            }
            Err(Error::WouldBlock) => {}
            Err(_) => return,
        }
        let now = StdInstant::now();
        pending.retain(|_, (_, at)| now.duration_since(*at) < FORGET_AFTER);
    }
}

fn answer(shared: &Shared, ask: Ask, reply: ZapReply) {
    shared.post(
        ask.io,
        IoCmd::ZapReply {
            key: ask.key,
            conn: ask.conn,
            reply,
        },
    );
}

/// The relay's DEALER, connected to the handler's endpoint.
fn open(shared: &Arc<Shared>) -> Result<Socket, Error> {
    let kind = SocketType::Dealer;
    let now = shared.now();
    let half = SocketHalf::new(
        kind,
        BaseConfig::for_socket_type(kind),
        now.as_nanos(),
        Storage::Threads,
    )
    .map_err(|_| Error::NotSupported)?;
    let cell = shared.add_socket(half);
    shared
        .open_sockets
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let s = Socket::new(Arc::clone(shared), cell, kind);
    s.set(SocketOption::Linger(0))?;
    s.connect(&format!("inproc://{ZAP_ENDPOINT}"))?;
    Ok(s)
}
