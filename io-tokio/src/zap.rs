//! ZAP (RFC 27) through a handler the application bound at `inproc://zeromq.zap.01`, as
//! libzmq does it: a context-wide relay task holds one DEALER connected there, sends each
//! session's request with an id of its own, and hands each answer back to the session task
//! that asked. (A handler given as a closure, [`Context::set_zap_handler`], is asked in the
//! session's task and takes precedence.)
//!
//! The relay starts at the first question and runs until the runtime shuts down.
//!
//! [`Context::set_zap_handler`]: crate::Context::set_zap_handler

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use oxmq_core::base::{BaseConfig, SocketHalf};
use oxmq_core::mechanism::take_relayed_reply;
use oxmq_core::pipe::Storage;
use oxmq_core::{Message, SocketOption, SocketType, ZapReply, ZapRequest};
use tokio::sync::{mpsc, oneshot};

use crate::shared::Shared;
use crate::Socket;

/// The endpoint libzmq's sessions ask.
pub(crate) const ZAP_ENDPOINT: &str = "zeromq.zap.01";

/// How a session hands the relay a question.
pub(crate) type Asks = mpsc::UnboundedSender<(ZapRequest, oneshot::Sender<ZapReply>)>;

/// A ZAP answer: at once (the closure, or no handler), or later from the relay.
pub(crate) enum Answer {
    Now(ZapReply),
    Later(oneshot::Receiver<ZapReply>),
}

/// Starts the relay task on the context's runtime.
pub(crate) fn start(shared: Arc<Shared>) -> Asks {
    let (tx, rx) = mpsc::unbounded_channel();
    let runtime = shared.runtime.clone();
    runtime.spawn(relay(shared, rx));
    tx
}

async fn relay(
    shared: Arc<Shared>,
    mut asks: mpsc::UnboundedReceiver<(ZapRequest, oneshot::Sender<ZapReply>)>,
) {
    let Some(dealer) = open(&shared).await else {
        return;
    };
    drop(shared);
    let mut next_id: u64 = 0;
    let mut pending: BTreeMap<u64, oneshot::Sender<ZapReply>> = BTreeMap::new();
    loop {
        tokio::select! {
            ask = asks.recv() => {
                let Some((req, answer)) = ask else { return };
                next_id += 1;
                let mut frames = vec![Bytes::new()];
                frames.extend(req.to_frames(next_id.to_string().as_bytes()));
                match dealer.try_send(Message::from_frames(frames)) {
                    Ok(()) => {
                        pending.retain(|_, a| !a.is_closed());
                        pending.insert(next_id, answer);
                    }
                    // No handler there (any more), or it cannot keep up: answer as libzmq's
                    // session does when its ZAP pipe fails.
                    Err(_) => {
                        let _ = answer.send(ZapReply::deny(500));
                    }
                }
            }
            m = dealer.recv() => {
                let Ok(m) = m else { return };
                if let Some((answer, reply)) = take_relayed_reply(&mut pending, m.frames()) {
                    let _ = answer.send(reply);
                }
            }
        }
    }
}

/// The relay's DEALER, connected to the handler's endpoint.
async fn open(shared: &Arc<Shared>) -> Option<Socket> {
    let kind = SocketType::Dealer;
    let half = SocketHalf::new(
        kind,
        BaseConfig::for_socket_type(kind),
        shared.now().as_nanos(),
        Storage::Threads,
    )
    .ok()?;
    let s = Socket::new(shared.add_socket(half)?, kind);
    s.set(SocketOption::Linger(0)).ok()?;
    s.connect(&format!("inproc://{ZAP_ENDPOINT}")).await.ok()?;
    Some(s)
}
