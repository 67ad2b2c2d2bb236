//! PAIR (RFC 31): exactly one peer; messages both ways, blocking at HWM.

use super::{Batch, Core, Pattern};
use crate::message::Message;
use crate::pipe::PipeId;
use crate::socket::{AttachError, RecvError, SendError};

/// An exclusive pair.
#[derive(Debug, Default)]
pub(crate) struct Pair {
    pipe: Option<PipeId>,
}

impl Pattern for Pair {
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize {
        usize::from(self.pipe.is_some())
    }

    fn attach(&mut self, _core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        // RFC 31: a PAIR is connected to at most one peer; libzmq refuses later ones.
        if self.pipe.is_some() {
            return Err(AttachError::AlreadyPaired);
        }
        self.pipe = Some(id);
        Ok(())
    }

    fn detach(&mut self, _core: &mut Core, id: PipeId) {
        if self.pipe == Some(id) {
            self.pipe = None;
        }
    }

    fn read_activated(&mut self, _core: &mut Core, _id: PipeId) {}

    fn write_activated(&mut self, _core: &mut Core, _id: PipeId) {}

    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        let Some(id) = self.pipe else {
            return Err(SendError::would_block(msg));
        };
        core.write(id, msg).map_err(SendError::would_block)
    }

    fn recv(&mut self, core: &mut Core) -> Result<Message, RecvError> {
        self.pipe
            .and_then(|id| core.read(id))
            .ok_or(RecvError::WouldBlock)
    }

    fn recv_batch(&mut self, core: &mut Core, out: &mut Batch, max: usize) -> usize {
        self.pipe.map_or(0, |id| core.read_many(id, out, max))
    }

    fn can_send(&mut self, core: &mut Core) -> bool {
        self.pipe.is_some_and(|id| core.check_write(id))
    }

    fn can_recv(&mut self, core: &mut Core) -> bool {
        self.pipe.is_some_and(|id| core.check_read(id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::options::SocketOption;
    use crate::socket::{AttachError, PipePeer, RecvError, SendErrorKind};
    use crate::socket_type::SocketType::Pair;
    use crate::PipeId;

    #[test]
    fn a_pair_batch_gives_what_one_by_one_receives_give() {
        let got = received_in_batches_as_singly(|| {
            let mut s = socket(Pair);
            let p = attach(&mut s, 1, Pair);
            for m in ["1", "2", "3"] {
                deliver(&mut s, p, msg(&[m]));
            }
            s
        });
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn shall_not_accept_more_than_one_peer() {
        let mut s = socket(Pair);
        attach(&mut s, 1, Pair);
        assert_eq!(
            s.attach_pipe(PipeId(2), PipePeer::new(Pair)),
            Err(AttachError::AlreadyPaired)
        );
        assert_eq!(s.pipe_ids().count(), 1, "the refused pipe is not kept");
    }

    #[test]
    fn may_pair_again_after_the_peer_disconnects() {
        let mut s = socket(Pair);
        attach(&mut s, 1, Pair);
        assert!(s.detach_pipe(PipeId(1)));
        attach(&mut s, 2, Pair);
        s.send(msg(&["x"])).unwrap();
        assert_eq!(sent_msgs(&mut s, PipeId(2)), vec![msg(&["x"])]);
    }

    #[test]
    fn shall_deliver_messages_both_ways_unmodified() {
        let mut w = Wire::new(Pair, Pair);
        w.a.send(msg(&["a", "b"])).unwrap();
        w.b.send(msg(&["c"])).unwrap();
        w.pump();
        assert_eq!(w.b.recv(), Ok(msg(&["a", "b"])));
        assert_eq!(w.a.recv(), Ok(msg(&["c"])));
        assert_eq!(w.a.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn shall_block_on_sending_when_it_has_no_peer() {
        let mut s = socket(Pair);
        let e = s.send(msg(&["kept"])).unwrap_err();
        assert_eq!(e.kind, SendErrorKind::WouldBlock);
        assert_eq!(e.message, msg(&["kept"]));
        assert!(!s.can_send());
    }

    #[test]
    fn shall_not_discard_messages_at_hwm() {
        let mut s = socket(Pair);
        s.set_option(SocketOption::SndHwm(1)).unwrap();
        let p = attach(&mut s, 1, Pair);
        s.send(msg(&["1"])).unwrap();
        let e = s.send(msg(&["2"])).unwrap_err();
        assert_eq!(e.kind, SendErrorKind::WouldBlock);
        assert_eq!(sent_msgs(&mut s, p), vec![msg(&["1"])]);
        s.send(e.message).unwrap();
        assert_eq!(sent_msgs(&mut s, p), vec![msg(&["2"])]);
    }
}
