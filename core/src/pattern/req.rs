//! REQ (RFC 28): lock-step request then reply, round-robin over peers, with libzmq's
//! REQ_RELAXED and REQ_CORRELATE.

use bytes::Bytes;

use super::dealer::Dealer;
use super::{Core, Pattern};
use crate::message::Message;
use crate::options::{OptionError, SocketOption, SocketOptionName};
use crate::pipe::PipeId;
use crate::socket::{AttachError, RecvError, SendError, SendErrorKind};

/// Synchronous request-reply client.
#[derive(Debug)]
pub(crate) struct Req {
    dealer: Dealer,
    /// A request went out and its reply has not been received.
    awaiting_reply: bool,
    /// The peer the last request went to; replies from anyone else are dropped.
    reply_pipe: Option<PipeId>,
    /// The id of the last request (REQ_CORRELATE).
    request_id: u32,
    relaxed: bool,
    correlate: bool,
}

impl Req {
    pub(crate) fn new(seed: u32) -> Self {
        Req {
            dealer: Dealer::default(),
            awaiting_reply: false,
            reply_pipe: None,
            request_id: seed,
            relaxed: false,
            correlate: false,
        }
    }

    /// Strips the reply envelope; `None` if it is not a reply to the current request.
    fn open_reply(&self, mut msg: Message) -> Option<Message> {
        if self.correlate {
            let id = msg.pop_front()?;
            if id[..] != self.request_id.to_be_bytes() {
                return None;
            }
        }
        // RFC 28: the reply starts with the empty delimiter, then at least one data frame.
        let delimiter = msg.pop_front()?;
        delimiter.is_empty().then_some(msg)
    }
}

impl Pattern for Req {
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize {
        self.dealer.holdings()
    }

    fn attach(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        self.dealer.attach(core, id)
    }

    fn detach(&mut self, core: &mut Core, id: PipeId) {
        if self.reply_pipe == Some(id) {
            // The reply can no longer come; only REQ_RELAXED lets the application move on.
            self.reply_pipe = None;
        }
        self.dealer.detach(core, id);
    }

    fn read_activated(&mut self, core: &mut Core, id: PipeId) {
        self.dealer.read_activated(core, id);
    }

    fn write_activated(&mut self, core: &mut Core, id: PipeId) {
        self.dealer.write_activated(core, id);
    }

    fn send(&mut self, core: &mut Core, mut msg: Message) -> Result<(), SendError> {
        // RFC 28: SHALL send and then receive exactly one message at a time.
        if self.awaiting_reply && !self.relaxed {
            return Err(SendError::bad_state(msg));
        }
        let request_id = self.request_id.wrapping_add(1);
        msg.push_front(Bytes::new());
        if self.correlate {
            msg.push_front(Bytes::copy_from_slice(&request_id.to_be_bytes()));
        }
        match self.dealer.send_to(core, msg) {
            Ok(pipe) => {
                self.request_id = request_id;
                self.reply_pipe = Some(pipe);
                self.awaiting_reply = true;
                Ok(())
            }
            Err(mut back) => {
                // Undo the envelope: the application gets its own message back.
                back.pop_front();
                if self.correlate {
                    back.pop_front();
                }
                Err(SendError::would_block(back))
            }
        }
    }

    fn recv(&mut self, core: &mut Core) -> Result<Message, RecvError> {
        if !self.awaiting_reply {
            return Err(RecvError::BadState);
        }
        while let Some((pipe, msg)) = self.dealer.recv_from(core) {
            // RFC 28: accept only from the last peer a request went to; discard the rest.
            if Some(pipe) != self.reply_pipe {
                continue;
            }
            if let Some(body) = self.open_reply(msg) {
                self.awaiting_reply = false;
                self.reply_pipe = None;
                return Ok(body);
            }
        }
        Err(RecvError::WouldBlock)
    }

    fn can_send(&mut self, core: &mut Core) -> bool {
        (!self.awaiting_reply || self.relaxed) && self.dealer.can_send(core)
    }

    fn can_recv(&mut self, core: &mut Core) -> bool {
        self.awaiting_reply && self.dealer.can_recv(core)
    }

    fn check_send_start(&mut self, core: &mut Core, _first: &[u8]) -> Result<(), SendErrorKind> {
        if self.awaiting_reply && !self.relaxed {
            return Err(SendErrorKind::BadState);
        }
        if self.dealer.can_send(core) {
            Ok(())
        } else {
            Err(SendErrorKind::WouldBlock)
        }
    }

    fn set_option(&mut self, _core: &mut Core, opt: &SocketOption) -> Result<bool, OptionError> {
        match opt {
            SocketOption::ReqRelaxed(v) => self.relaxed = *v,
            SocketOption::ReqCorrelate(v) => self.correlate = *v,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn get_option(&self, name: SocketOptionName) -> Option<SocketOption> {
        match name {
            SocketOptionName::ReqRelaxed => Some(SocketOption::ReqRelaxed(self.relaxed)),
            SocketOptionName::ReqCorrelate => Some(SocketOption::ReqCorrelate(self.correlate)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::options::SocketOption;
    use crate::socket::{RecvError, SendErrorKind};
    use crate::socket_type::SocketType::{Rep, Req, Router};

    #[test]
    fn shall_prefix_outgoing_messages_with_an_empty_delimiter() {
        let mut s = socket(Req);
        let p = attach(&mut s, 1, Router);
        s.send(msg(&["hello"])).unwrap();
        assert_eq!(sent_msgs(&mut s, p), vec![msg(&["", "hello"])]);
    }

    #[test]
    fn shall_route_requests_round_robin() {
        let mut s = socket(Req);
        let a = attach(&mut s, 1, Rep);
        let b = attach(&mut s, 2, Rep);
        s.send(msg(&["1"])).unwrap();
        let first = if sent_msgs(&mut s, a).is_empty() {
            b
        } else {
            a
        };
        let second = if first == a { b } else { a };
        deliver(&mut s, first, msg(&["", "r1"]));
        assert_eq!(s.recv(), Ok(msg(&["r1"])));
        s.send(msg(&["2"])).unwrap();
        assert_eq!(sent_msgs(&mut s, second), vec![msg(&["", "2"])]);
    }

    #[test]
    fn shall_block_on_sending_when_it_has_no_peers() {
        let mut s = socket(Req);
        let e = s.send(msg(&["q"])).unwrap_err();
        assert_eq!(e.kind, SendErrorKind::WouldBlock);
        assert_eq!(e.message, msg(&["q"]), "the envelope is taken off again");
        s.set_option(SocketOption::ReqCorrelate(true)).unwrap();
        assert_eq!(s.send(msg(&["q"])).unwrap_err().message, msg(&["q"]));
    }

    #[test]
    fn shall_send_and_then_receive_exactly_one_message_at_a_time() {
        let mut s = socket(Req);
        let p = attach(&mut s, 1, Rep);
        assert_eq!(s.recv(), Err(RecvError::BadState), "no request yet");
        s.send(msg(&["1"])).unwrap();
        assert_eq!(
            s.send(msg(&["2"])).unwrap_err().kind,
            SendErrorKind::BadState
        );
        assert!(!s.can_send());
        deliver(&mut s, p, msg(&["", "reply"]));
        assert_eq!(s.recv(), Ok(msg(&["reply"])));
        assert_eq!(s.recv(), Err(RecvError::BadState));
        s.send(msg(&["2"])).unwrap();
    }

    #[test]
    fn shall_accept_replies_only_from_the_last_peer_it_sent_to() {
        let mut s = socket(Req);
        let a = attach(&mut s, 1, Rep);
        let b = attach(&mut s, 2, Rep);
        s.send(msg(&["q"])).unwrap();
        let (to, other) = if sent_msgs(&mut s, a).is_empty() {
            (b, a)
        } else {
            (a, b)
        };
        deliver(&mut s, other, msg(&["", "impostor"]));
        assert_eq!(
            s.recv(),
            Err(RecvError::WouldBlock),
            "SHALL discard silently"
        );
        deliver(&mut s, to, msg(&["", "genuine"]));
        assert_eq!(s.recv(), Ok(msg(&["genuine"])));
    }

    #[test]
    fn replies_without_a_delimiter_are_discarded() {
        let mut s = socket(Req);
        let p = attach(&mut s, 1, Router);
        s.send(msg(&["q"])).unwrap();
        deliver(&mut s, p, msg(&["no delimiter"]));
        deliver(&mut s, p, msg(&[""]));
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
        deliver(&mut s, p, msg(&["", "ok"]));
        assert_eq!(s.recv(), Ok(msg(&["ok"])));
    }

    #[test]
    fn req_relaxed_allows_a_new_request_before_the_reply() {
        let mut s = socket(Req);
        s.set_option(SocketOption::ReqRelaxed(true)).unwrap();
        let p = attach(&mut s, 1, Rep);
        s.send(msg(&["1"])).unwrap();
        s.send(msg(&["2"])).unwrap();
        assert_eq!(sent_msgs(&mut s, p).len(), 2);
        deliver(&mut s, p, msg(&["", "r"]));
        assert_eq!(s.recv(), Ok(msg(&["r"])));
    }

    #[test]
    fn req_correlate_tags_requests_and_drops_stale_replies() {
        let mut s = Socket::new(Req, 41).unwrap();
        s.set_option(SocketOption::ReqRelaxed(true)).unwrap();
        s.set_option(SocketOption::ReqCorrelate(true)).unwrap();
        let p = attach(&mut s, 1, Router);
        s.send(msg(&["first"])).unwrap();
        s.send(msg(&["second"])).unwrap();
        let out = sent_msgs(&mut s, p);
        assert_eq!(out[0].frames()[0], &42u32.to_be_bytes()[..]);
        assert_eq!(out[1].frames()[0], &43u32.to_be_bytes()[..]);
        assert_eq!(out[1].frames()[1], "");
        let reply = |id: u32, body: &'static str| {
            Message::from_frames([
                Bytes::copy_from_slice(&id.to_be_bytes()),
                Bytes::new(),
                body.into(),
            ])
        };
        deliver(&mut s, p, reply(42, "stale"));
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
        deliver(&mut s, p, reply(43, "fresh"));
        assert_eq!(s.recv(), Ok(msg(&["fresh"])));
    }

    #[test]
    fn req_rep_round_trip() {
        let mut w = Wire::new(Req, Rep);
        for i in 0..3 {
            let q = format!("q{i}");
            w.a.send(msg(&[&q])).unwrap();
            w.pump();
            assert_eq!(w.b.recv(), Ok(msg(&[&q])));
            w.b.send(msg(&["r", &q])).unwrap();
            w.pump();
            assert_eq!(w.a.recv(), Ok(msg(&["r", &q])));
        }
    }

    use crate::{Message, Socket};
    use bytes::Bytes;
}
