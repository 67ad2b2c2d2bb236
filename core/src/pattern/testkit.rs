//! Test helpers: sockets with in-memory pipes, and a wire between two sockets.

use bytes::Bytes;

use crate::message::Message;
use crate::pipe::{PipeId, PipeItem};
use crate::socket::{PipePeer, Socket, SocketEvent};
use crate::socket_type::SocketType;

/// A message from string frames.
pub(crate) fn msg(frames: &[&str]) -> Message {
    Message::from_frames(frames.iter().map(|f| Bytes::copy_from_slice(f.as_bytes())))
}

/// A socket of `kind` with a fixed seed.
pub(crate) fn socket(kind: SocketType) -> Socket {
    Socket::new(kind, 0).expect("stable socket type")
}

/// Attaches pipe `n` to a peer of type `peer`.
pub(crate) fn attach(s: &mut Socket, n: u64, peer: SocketType) -> PipeId {
    let id = PipeId(n);
    s.attach_pipe(id, PipePeer::new(peer)).expect("attach");
    id
}

/// Delivers a message from the peer on `pipe`.
pub(crate) fn deliver(s: &mut Socket, pipe: PipeId, m: Message) {
    s.handle_inbound(pipe, PipeItem::Message(m))
        .expect("inbound");
}

/// Everything queued for transmission on `pipe`.
pub(crate) fn sent(s: &mut Socket, pipe: PipeId) -> Vec<PipeItem> {
    std::iter::from_fn(|| s.poll_outbound(pipe)).collect()
}

/// Only the messages queued for transmission on `pipe`.
pub(crate) fn sent_msgs(s: &mut Socket, pipe: PipeId) -> Vec<Message> {
    sent(s, pipe)
        .into_iter()
        .filter_map(|i| match i {
            PipeItem::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// What receives from a socket `make` builds give, each with its pipe: checks that
/// batches ([`Socket::recv_many`], two at a time) give the same, in the same order, as
/// one-by-one receives.
pub(crate) fn received_in_batches_as_singly(make: impl Fn() -> Socket) -> Vec<(PipeId, Message)> {
    let mut one = make();
    let singly: Vec<_> = std::iter::from_fn(|| {
        let m = one.recv().ok()?;
        Some((one.last_recv_pipe().expect("a pipe"), m))
    })
    .collect();
    let mut many = make();
    let mut out = std::collections::VecDeque::new();
    while many.recv_many(&mut out, 2).is_ok() {}
    assert_eq!(
        Vec::from(out),
        singly,
        "batches differ from single receives"
    );
    singly
}

/// All events so far.
pub(crate) fn events(s: &mut Socket) -> Vec<SocketEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Two sockets joined by one pipe on each side, as sessions and engines would join them.
pub(crate) struct Wire {
    pub(crate) a: Socket,
    pub(crate) b: Socket,
}

/// The pipe id each side of a [`Wire`] uses.
pub(crate) const WIRE: PipeId = PipeId(1);

impl Wire {
    pub(crate) fn new(a: SocketType, b: SocketType) -> Wire {
        let mut w = Wire {
            a: socket(a),
            b: socket(b),
        };
        w.a.attach_pipe(WIRE, PipePeer::new(b)).expect("attach a");
        w.b.attach_pipe(WIRE, PipePeer::new(a)).expect("attach b");
        w.pump();
        w
    }

    /// Moves every queued item across, both ways, until nothing moves.
    pub(crate) fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(item) = self.a.poll_outbound(WIRE) {
                self.b.handle_inbound(WIRE, item).expect("a→b");
                moved = true;
            }
            while let Some(item) = self.b.poll_outbound(WIRE) {
                self.a.handle_inbound(WIRE, item).expect("b→a");
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }
}
