//! `zmq_proxy` and `zmq_proxy_steerable` as futures: messages move both ways between two
//! sockets, each side read only while the other can take a message (as libzmq's proxy), so
//! a blocked side leaves the other's messages queued in their socket, never in the proxy.

use std::future::poll_fn;
use std::task::Poll;

pub use oxmq_core::proxy::ProxyStats;
use oxmq_core::proxy::{ProxyCommand, ProxySteering};
use oxmq_core::{Message, SocketType};

use crate::{Error, Socket};

/// Moves messages both ways between `frontend` and `backend`, copying each to `capture` if
/// given (best effort, as libzmq), until a socket fails (`zmq_proxy`; QUEUE, FORWARDER and
/// STREAMER are this with ROUTER/DEALER, XSUB/XPUB and PULL/PUSH). A side that cannot
/// receive (PUSH, PUB) is only written to.
///
/// Cancel-safe: dropping the future stops the proxy between messages; a message is taken
/// from one side only when the other can take it at once.
pub async fn proxy(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
) -> Result<(), Error> {
    run(frontend, backend, capture, None).await.map(|_| ())
}

/// [`proxy`], steered by commands on `control`: `PAUSE`, `RESUME`, `TERMINATE` and
/// `STATISTICS` (answered with eight 8-byte counters, see [`ProxyStats`]). A REP control
/// socket gets an empty reply to the other commands, to keep its lock-step. Returns the
/// counters on `TERMINATE`, which it obeys even while a side is blocked.
pub async fn proxy_steerable(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: &Socket,
) -> Result<ProxyStats, Error> {
    run(frontend, backend, capture, Some(control)).await
}

/// What one wait of the proxy produced.
enum Step {
    Control(Message),
    FrontToBack(Message),
    BackToFront(Message),
}

fn receives(s: &Socket) -> bool {
    !matches!(s.socket_type(), SocketType::Push | SocketType::Pub)
}

async fn run(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: Option<&Socket>,
) -> Result<ProxyStats, Error> {
    let mut steer = ProxySteering::default();
    let (front_reads, back_reads) = (receives(frontend), receives(backend));
    // Which direction is looked at first, alternating, so a busy side cannot starve the
    // other.
    let mut back_first = false;
    loop {
        back_first = !back_first;
        let step = poll_fn(|cx| {
            if let Some(c) = control {
                if let Poll::Ready(r) = c.poll_recv(cx) {
                    return Poll::Ready(r.map(Step::Control));
                }
            }
            if steer.paused {
                return Poll::Pending;
            }
            let forward = |cx: &mut std::task::Context<'_>, back_to_front: bool| {
                let (from, to, reads) = if back_to_front {
                    (backend, frontend, back_reads)
                } else {
                    (frontend, backend, front_reads)
                };
                if !reads || to.poll_writable(cx).is_pending() {
                    return Poll::Pending;
                }
                from.poll_recv(cx).map(|r| {
                    r.map(|m| {
                        if back_to_front {
                            Step::BackToFront(m)
                        } else {
                            Step::FrontToBack(m)
                        }
                    })
                })
            };
            if let Poll::Ready(r) = forward(cx, back_first) {
                return Poll::Ready(r);
            }
            forward(cx, !back_first)
        })
        .await?;
        let (msg, to, front_to_back) = match step {
            Step::Control(cmd) => {
                let c = control.expect("a control message comes from the control socket");
                let (cmd, reply) = steer.control(&cmd, c.socket_type() == SocketType::Rep);
                if let Some(reply) = reply {
                    c.send(reply).await?;
                }
                if cmd == ProxyCommand::Terminate {
                    return Ok(steer.stats);
                }
                continue;
            }
            Step::FrontToBack(m) => (m, backend, true),
            Step::BackToFront(m) => (m, frontend, false),
        };
        let bytes = msg.byte_len() as u64;
        if let Some(c) = capture {
            let _ = c.try_send(msg.clone());
        }
        // The side was writable a moment ago: this completes at once unless a peer left.
        to.send(msg).await?;
        steer.stats.record(front_to_back, bytes);
    }
}
