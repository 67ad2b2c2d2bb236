//! The errors a send promises (libzmq's `zmq_send` and socket pages, RFC 28–31), checked
//! against the socket's pipes as they were just before the send:
//!
//! - PUSH, DEALER, REQ, PAIR never drop: a send that succeeded found a pipe with room under
//!   its SNDHWM; and they block only when no peer is available: a send that would block found
//!   no pipe at or below its low-water mark (so surely not parked at its HWM), idle and open.
//! - A conflating socket (ZMQ_CONFLATE) with a pipe never blocks either: its newest message
//!   replaces an unsent one.
//! - PUB never blocks: at a subscriber's HWM it drops (RFC 29), so every send succeeds.
//! - ROUTER never blocks and drops what it cannot route, unless ROUTER_MANDATORY: then it
//!   reports host-unreachable for an unknown routing id and would-block at a full pipe.
//! - STREAM (libzmq's `stream_t::xsend`) decides at the routing id: host-unreachable for an
//!   id it has no pipe for, would-block when that pipe is full; so a send that succeeded had
//!   a pipe, and with no pipe at all a send is unreachable, never would-block.
//! - Only REQ reports a bad state (a second request without REQ_RELAXED), only ROUTER and
//!   STREAM host-unreachable, and a closing socket reports that it is terminated.

use oxmq_core::socket::SendErrorKind;
use oxmq_core::{PipeId, SocketType};

/// The queue length at or below which a writer blocked at `hwm` surely writes again: its
/// reader reports its reads every libzmq 4.3 `pipe_t::compute_lwm(hwm)` messages (half the
/// HWM, rounded up), so once that many were read from a full queue the writer knows. Written
/// out here rather than taken from the core, so that a wrong step in the core shows.
fn low_water_mark(hwm: usize) -> usize {
    hwm - hwm.div_ceil(2)
}

/// One pipe as a send saw it.
#[derive(Clone, Copy, Debug)]
pub struct PipeState {
    /// Which pipe.
    pub id: PipeId,
    /// Messages waiting to be transmitted.
    pub outbound: usize,
    /// Messages waiting to be read (a closing pipe always has some: it detaches once dry).
    pub inbound: usize,
}

/// A socket just before a send.
#[derive(Clone, Debug)]
pub struct SendView {
    /// Its type.
    pub kind: SocketType,
    /// ZMQ_ROUTER_MANDATORY.
    pub mandatory: bool,
    /// Whether its close began.
    pub closing: bool,
    /// Its SNDHWM (0: none).
    pub sndhwm: usize,
    /// ZMQ_CONFLATE: its pipes keep only the newest message each way, and a send never
    /// blocks (it replaces an unsent message instead).
    pub conflate: bool,
    /// ZMQ_XPUB_NODROP (XPUB): at a subscriber's HWM a send fails with would-block instead
    /// of dropping.
    pub nodrop: bool,
    /// Its pipes, in id order.
    pub pipes: Vec<PipeState>,
}

impl SendView {
    /// Some pipe has room under its SNDHWM (a necessary condition for queueing a message).
    fn has_room(&self) -> bool {
        self.pipes
            .iter()
            .any(|p| self.sndhwm == 0 || p.outbound < self.sndhwm)
    }

    /// Whether a send may replace an unsent message instead of blocking (CONFLATE, with a
    /// pipe to put it in).
    fn replaces(&self) -> bool {
        self.conflate && !self.pipes.is_empty()
    }

    /// A pipe that is surely in the rotation: idle both ways (so not closing) and at or
    /// below its low-water mark (so not parked at its HWM).
    pub fn available(&self) -> Option<PipeId> {
        let lwm = low_water_mark(self.sndhwm);
        self.pipes
            .iter()
            .find(|p| p.inbound == 0 && (self.sndhwm == 0 || p.outbound <= lwm))
            .map(|p| p.id)
    }

    /// Whether the load-balancer's rotation over these pipes is exactly round-robin: every
    /// pipe is available.
    pub fn all_available(&self) -> bool {
        let lwm = low_water_mark(self.sndhwm);
        self.pipes
            .iter()
            .all(|p| p.inbound == 0 && (self.sndhwm == 0 || p.outbound <= lwm))
    }
}

/// Checks a send's result against what the socket type promises; an error says what broke.
pub fn check_send(
    sock: u64,
    v: &SendView,
    result: Result<(), SendErrorKind>,
) -> Result<(), String> {
    use SendErrorKind::*;
    use SocketType::*;
    let kind = v.kind;
    let err = result.err();
    let wrong = |what: &str| Err(format!("s{sock} ({kind}): {what}"));
    if v.closing {
        return match err {
            Some(Terminated) => Ok(()),
            _ => wrong(&format!(
                "a send after close returned {result:?}, not Terminated"
            )),
        };
    }
    match (kind, err) {
        (_, Some(Terminated)) => wrong("a send before close reported Terminated"),
        (Push | Dealer | Req | Pair, None) if !v.has_room() && !v.replaces() => {
            wrong(&if v.pipes.is_empty() {
                "a send succeeded with no pipe at all: the message was dropped (it must block)"
                    .to_owned()
            } else {
                format!(
                    "a send succeeded though all {} pipes were at SNDHWM {}: the message was \
                 dropped (it must block)",
                    v.pipes.len(),
                    v.sndhwm
                )
            })
        }
        (Push | Dealer | Req | Pair, Some(WouldBlock)) => match v.available() {
            Some(p) => wrong(&format!(
                "a send would block though pipe {} was idle and below its low-water mark",
                p.0
            )),
            None => Ok(()),
        },
        (Req, Some(BadState)) => Ok(()),
        (Push | Dealer | Pair | Req, None) => Ok(()),
        (Pub, None) => Ok(()),
        (Pub, Some(e)) => wrong(&format!("PUB never blocks or fails (it drops), got {e:?}")),
        (Router, None) => Ok(()),
        (Router, Some(HostUnreachable | WouldBlock)) if v.mandatory => Ok(()),
        (Router, Some(e)) => wrong(&format!(
            "ROUTER without ROUTER_MANDATORY drops what it cannot route, got {e:?}"
        )),
        (Stream, None | Some(WouldBlock)) if v.pipes.is_empty() => wrong(&format!(
            "with no pipe at all a send gave {result:?}: no routing id can be known \
             (host-unreachable)"
        )),
        (Stream, None | Some(HostUnreachable | WouldBlock)) => Ok(()),
        // XPUB_NODROP: only a subscriber's full pipe blocks, so with every pipe idle and
        // below its low-water mark the send cannot block (which pipes match is not known
        // here; the liveness of what it then sends is checked by the subscribers).
        (XPub, Some(WouldBlock)) if v.nodrop && !v.all_available() => Ok(()),
        (XPub, Some(WouldBlock)) if v.nodrop => {
            wrong("XPUB_NODROP blocked though every pipe was idle and below its low-water mark")
        }
        (XPub, Some(e)) => wrong(&format!(
            "XPUB without XPUB_NODROP never blocks or fails (it drops), got {e:?}"
        )),
        (_, Some(e)) => wrong(&format!("unexpected send error {e:?}")),
        (_, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(kind: SocketType, outs: &[usize]) -> SendView {
        SendView {
            kind,
            mandatory: false,
            closing: false,
            sndhwm: 2,
            conflate: false,
            nodrop: false,
            pipes: outs
                .iter()
                .enumerate()
                .map(|(i, &outbound)| PipeState {
                    id: PipeId(i as u64 + 1),
                    outbound,
                    inbound: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn the_low_water_mark_is_libzmqs() {
        // HWM less compute_lwm ((hwm + 1) / 2, whatever the HWM).
        assert_eq!(low_water_mark(0), 0);
        assert_eq!(low_water_mark(1), 0);
        assert_eq!(low_water_mark(5), 2);
        assert_eq!(low_water_mark(2048), 1024);
        assert_eq!(low_water_mark(5000), 2500);
        assert_eq!(low_water_mark(11_024), 5512);
    }

    #[test]
    fn push_blocks_at_hwm_and_never_drops() {
        use SendErrorKind::*;
        let full = view(SocketType::Push, &[2, 2]);
        assert!(check_send(1, &full, Err(WouldBlock)).is_ok());
        assert!(check_send(1, &full, Ok(()))
            .unwrap_err()
            .contains("dropped"));
        let idle = view(SocketType::Push, &[2, 0]);
        assert!(check_send(1, &idle, Ok(())).is_ok());
        assert!(check_send(1, &idle, Err(WouldBlock)).is_err());
        // Between the marks a pipe may still be parked: blocking is allowed.
        let parked = view(SocketType::Push, &[2, 2, 2]);
        assert!(check_send(1, &parked, Err(WouldBlock)).is_ok());
        assert!(check_send(1, &view(SocketType::Pair, &[]), Err(WouldBlock)).is_ok());
    }

    #[test]
    fn a_conflating_socket_replaces_rather_than_blocks() {
        let mut full = view(SocketType::Dealer, &[2]);
        assert!(check_send(1, &full, Ok(())).is_err());
        full.conflate = true;
        assert!(check_send(1, &full, Ok(())).is_ok());
        let mut none = view(SocketType::Dealer, &[]);
        none.conflate = true;
        assert!(check_send(1, &none, Ok(())).is_err());
    }

    #[test]
    fn pub_and_router_never_block_unless_mandatory() {
        use SendErrorKind::*;
        assert!(check_send(1, &view(SocketType::Pub, &[2]), Err(WouldBlock)).is_err());
        let mut r = view(SocketType::Router, &[]);
        assert!(check_send(1, &r, Err(HostUnreachable)).is_err());
        r.mandatory = true;
        assert!(check_send(1, &r, Err(HostUnreachable)).is_ok());
        r.closing = true;
        assert!(check_send(1, &r, Err(Terminated)).is_ok());
    }

    #[test]
    fn stream_is_unreachable_without_a_pipe() {
        use SendErrorKind::*;
        let none = view(SocketType::Stream, &[]);
        assert!(check_send(1, &none, Err(HostUnreachable)).is_ok());
        assert!(check_send(1, &none, Ok(())).is_err());
        assert!(check_send(1, &none, Err(WouldBlock)).is_err());
        let one = view(SocketType::Stream, &[2]);
        assert!(check_send(1, &one, Err(WouldBlock)).is_ok());
        assert!(check_send(1, &one, Err(BadState)).is_err());
    }
}
