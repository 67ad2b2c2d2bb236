//! REP (RFC 28): fair-queue requests, keep each one's envelope, send the reply back along it.

use super::{Core, Pattern};
use crate::message::{Frame, Message};
use crate::pipe::PipeId;
use crate::sched::FairQueue;
use crate::socket::{AttachError, RecvError, SendError, SendErrorKind};

/// Synchronous request-reply server.
#[derive(Debug, Default)]
pub(crate) struct Rep {
    fq: FairQueue,
    /// Set between a request received and its reply sent: the requester and its envelope
    /// (routing frames and the empty delimiter).
    pending: Option<(PipeId, Vec<Frame>)>,
}

/// Splits a request into its envelope (up to and including the first empty frame) and body.
/// `None` if there is no delimiter or nothing after it. The body keeps the connection's
/// properties (`User-Id`, ZAP metadata, `Socket-Type`): in libzmq every frame carries them.
fn split_envelope(msg: Message) -> Option<(Vec<Frame>, Message)> {
    let properties = msg.properties().cloned();
    let mut frames = msg.into_frames();
    let delimiter = frames.iter().position(|f| f.is_empty())?;
    if delimiter + 1 == frames.len() {
        return None;
    }
    let mut body = Message::from_frames(frames.split_off(delimiter + 1));
    body.set_properties(properties);
    Some((frames, body))
}

impl Pattern for Rep {
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize {
        self.fq.len()
    }

    fn attach(&mut self, _core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        self.fq.attach(id);
        Ok(())
    }

    fn detach(&mut self, _core: &mut Core, id: PipeId) {
        self.fq.detach(id);
    }

    fn read_activated(&mut self, _core: &mut Core, id: PipeId) {
        self.fq.activated(id);
    }

    fn write_activated(&mut self, _core: &mut Core, _id: PipeId) {}

    fn recv(&mut self, core: &mut Core) -> Result<Message, RecvError> {
        // RFC 28: SHALL receive and then send exactly one message at a time.
        if self.pending.is_some() {
            return Err(RecvError::BadState);
        }
        while let Some((pipe, msg)) = self.fq.recv(|id| core.read(id)) {
            // A request without a delimiter is malformed; libzmq drops it and moves on.
            if let Some((envelope, body)) = split_envelope(msg) {
                self.pending = Some((pipe, envelope));
                return Ok(body);
            }
        }
        Err(RecvError::WouldBlock)
    }

    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        let Some((pipe, envelope)) = self.pending.take() else {
            return Err(SendError::bad_state(msg));
        };
        let mut frames = envelope;
        frames.extend(msg.into_frames());
        // RFC 28: SHALL silently discard the reply if the peer is gone; SHALL NOT block.
        let _ = core.write(pipe, Message::from_frames(frames));
        Ok(())
    }

    fn can_send(&mut self, _core: &mut Core) -> bool {
        self.pending.is_some()
    }

    fn check_send_start(&mut self, _core: &mut Core, _first: &[u8]) -> Result<(), SendErrorKind> {
        // A reply never blocks: it is dropped if its requester is gone or full.
        if self.pending.is_some() {
            Ok(())
        } else {
            Err(SendErrorKind::BadState)
        }
    }

    fn can_recv(&mut self, core: &mut Core) -> bool {
        self.pending.is_none() && self.fq.has_in(|id| core.check_read(id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::socket::{RecvError, SendErrorKind};
    use crate::socket_type::SocketType::{Dealer, Rep, Req};

    #[test]
    fn shall_remove_and_store_the_envelope_and_pass_the_data_frames() {
        let mut s = socket(Rep);
        let p = attach(&mut s, 1, Dealer);
        deliver(&mut s, p, msg(&["hop2", "hop1", "", "body1", "body2"]));
        assert_eq!(s.recv(), Ok(msg(&["body1", "body2"])));
        s.send(msg(&["answer"])).unwrap();
        assert_eq!(
            sent_msgs(&mut s, p),
            vec![msg(&["hop2", "hop1", "", "answer"])],
            "SHALL prepend the address envelope and delimiter"
        );
    }

    #[test]
    fn shall_deliver_the_reply_back_to_the_originating_peer() {
        let mut s = socket(Rep);
        let a = attach(&mut s, 1, Req);
        let b = attach(&mut s, 2, Req);
        deliver(&mut s, b, msg(&["", "from b"]));
        assert_eq!(s.recv(), Ok(msg(&["from b"])));
        s.send(msg(&["to b"])).unwrap();
        assert!(sent_msgs(&mut s, a).is_empty());
        assert_eq!(sent_msgs(&mut s, b), vec![msg(&["", "to b"])]);
    }

    #[test]
    fn shall_receive_and_then_send_exactly_one_message_at_a_time() {
        let mut s = socket(Rep);
        let p = attach(&mut s, 1, Req);
        assert_eq!(
            s.send(msg(&["x"])).unwrap_err().kind,
            SendErrorKind::BadState
        );
        deliver(&mut s, p, msg(&["", "1"]));
        deliver(&mut s, p, msg(&["", "2"]));
        assert_eq!(s.recv(), Ok(msg(&["1"])));
        assert_eq!(s.recv(), Err(RecvError::BadState), "reply owed first");
        s.send(msg(&["r1"])).unwrap();
        assert_eq!(s.recv(), Ok(msg(&["2"])));
    }

    #[test]
    fn shall_silently_discard_the_reply_if_the_peer_is_gone() {
        let mut s = socket(Rep);
        let p = attach(&mut s, 1, Req);
        deliver(&mut s, p, msg(&["", "q"]));
        s.recv().unwrap();
        s.detach_pipe(p);
        assert_eq!(s.send(msg(&["r"])), Ok(()));
        assert!(!s.can_send(), "and is ready to receive again");
    }

    #[test]
    fn shall_receive_requests_with_fair_queuing() {
        let mut s = socket(Rep);
        let a = attach(&mut s, 1, Req);
        let b = attach(&mut s, 2, Req);
        deliver(&mut s, a, msg(&["", "a1"]));
        deliver(&mut s, a, msg(&["", "a2"]));
        deliver(&mut s, b, msg(&["", "b1"]));
        let mut got = Vec::new();
        while let Ok(m) = s.recv() {
            got.push(m);
            s.send(msg(&["ok"])).unwrap();
        }
        assert_eq!(got.len(), 3);
        assert!(got[..2].contains(&msg(&["b1"])));
    }

    #[test]
    fn the_request_body_keeps_the_connection_properties() {
        let mut s = socket(Rep);
        let p = attach(&mut s, 1, Req);
        let mut meta = crate::codec::Metadata::new();
        meta.push("User-Id", "alice").unwrap();
        let mut m = msg(&["", "q"]);
        m.set_properties(Some(std::sync::Arc::new(meta)));
        deliver(&mut s, p, m);
        let got = s.recv().unwrap();
        assert_eq!(got.property("User-Id").map(|v| &v[..]), Some(&b"alice"[..]));
    }

    #[test]
    fn requests_without_a_delimiter_are_dropped() {
        let mut s = socket(Rep);
        let p = attach(&mut s, 1, Dealer);
        deliver(&mut s, p, msg(&["no", "delimiter"]));
        deliver(&mut s, p, msg(&["id", ""]));
        deliver(&mut s, p, msg(&["", "good"]));
        assert_eq!(s.recv(), Ok(msg(&["good"])));
    }
}
