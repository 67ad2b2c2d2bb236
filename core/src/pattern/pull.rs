//! PULL (RFC 30): fair-queue from PUSH peers.

use super::{Batch, Core, Pattern};
use crate::message::Message;
use crate::pipe::PipeId;
use crate::sched::FairQueue;
use crate::socket::{AttachError, RecvError, SendErrorKind};

/// The receiving end of a pipeline.
#[derive(Debug, Default)]
pub(crate) struct Pull {
    fq: FairQueue,
}

impl Pattern for Pull {
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
        self.fq
            .recv(|id| core.read(id))
            .map(|(_, m)| m)
            .ok_or(RecvError::WouldBlock)
    }

    fn recv_batch(&mut self, core: &mut Core, out: &mut Batch, max: usize) -> usize {
        self.fq.recv_batch(|id| core.read_many(id, out, max))
    }

    fn can_recv(&mut self, core: &mut Core) -> bool {
        self.fq.has_in(|id| core.check_read(id))
    }

    fn check_send_start(&mut self, _core: &mut Core, _first: &[u8]) -> Result<(), SendErrorKind> {
        Err(SendErrorKind::NotSupported)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::options::SocketOption;
    use crate::pipe::{PipeCommand, PipeEnd};
    use crate::socket::{InboundError, PipePeer, RecvError, SendErrorKind, Socket, SocketEvent};
    use crate::socket_type::SocketType::{Pull, Push};
    use crate::{PipeId, PipeItem};
    use std::collections::VecDeque;

    #[test]
    fn shall_receive_from_peers_using_fair_queuing() {
        let mut s = socket(Pull);
        let a = attach(&mut s, 1, Push);
        let b = attach(&mut s, 2, Push);
        for m in ["a1", "a2", "a3"] {
            deliver(&mut s, a, msg(&[m]));
        }
        deliver(&mut s, b, msg(&["b1"]));
        let got: Vec<_> = std::iter::from_fn(|| s.recv().ok()).collect();
        assert_eq!(got.len(), 4);
        assert!(
            got[..2].contains(&msg(&["b1"])),
            "b is not starved by a: {got:?}"
        );
        let a_order: Vec<_> = got.iter().filter(|m| m != &&msg(&["b1"])).collect();
        assert_eq!(
            a_order,
            [&msg(&["a1"]), &msg(&["a2"]), &msg(&["a3"])],
            "per-peer order"
        );
    }

    /// A PULL with pipes 1 and 2 from PUSH peers, given `a` on 1 and `b` on 2.
    fn pull_with(a: &[&str], b: &[&str]) -> Socket {
        let mut s = socket(Pull);
        let (p1, p2) = (attach(&mut s, 1, Push), attach(&mut s, 2, Push));
        for m in a {
            deliver(&mut s, p1, msg(&[m]));
        }
        for m in b {
            deliver(&mut s, p2, msg(&[m]));
        }
        s
    }

    #[test]
    fn a_batch_receive_gives_what_one_by_one_receives_give() {
        for (a, b) in [
            (&["a1", "a2", "a3"][..], &["b1", "b2"][..]),
            (&["a1", "a2", "a3"][..], &[][..]),
            (&[][..], &["b1"][..]),
        ] {
            let got = received_in_batches_as_singly(|| pull_with(a, b));
            assert_eq!(got.len(), a.len() + b.len());
        }
    }

    /// A PULL at RCVHWM 2 whose one peer delivered "1" and "2" and was refused "3".
    fn full_pull() -> (Socket, PipeId) {
        let mut s = socket(Pull);
        s.set_option(SocketOption::RcvHwm(2)).unwrap();
        let p = attach(&mut s, 1, Push);
        deliver(&mut s, p, msg(&["1"]));
        deliver(&mut s, p, msg(&["2"]));
        assert_eq!(
            s.handle_inbound(p, PipeItem::Message(msg(&["3"]))),
            Err(InboundError::Full(msg(&["3"])))
        );
        (s, p)
    }

    #[test]
    fn a_batch_from_the_only_peer_reports_its_reads() {
        let (mut s, p) = full_pull();
        let mut out = VecDeque::new();
        assert_eq!(s.recv_many(&mut out, 10), Ok(2));
        assert_eq!(Vec::from(out), [(p, msg(&["1"])), (p, msg(&["2"]))]);
        assert_eq!(events(&mut s), vec![SocketEvent::InboundResumed(p)]);
        deliver(&mut s, p, msg(&["3"]));
        let mut out = VecDeque::new();
        assert_eq!(s.recv_many(&mut out, 10), Ok(1));
        assert_eq!(s.last_recv_pipe(), Some(p));
    }

    /// The point of a batch: it stops at the end of what the pipe holds with the reader
    /// awake, so the session's next write owes it no wake-up; the receive that finds
    /// nothing is the one that sleeps, and the write after that wakes it.
    #[test]
    fn a_batch_leaves_the_reader_awake_and_an_empty_receive_puts_it_to_sleep() {
        let mut s = socket(Pull);
        let p = PipeId(1);
        let mut session = s.attach_session_pipe(p, PipePeer::new(Push)).unwrap();
        let write = |session: &mut PipeEnd, m: &str| {
            session.write(msg(&[m])).unwrap();
            session.flush();
            std::iter::from_fn(|| session.poll_command()).collect::<Vec<_>>()
        };
        assert_eq!(write(&mut session, "1"), [PipeCommand::ActivateRead]);
        s.handle_pipe_command(p, PipeCommand::ActivateRead);
        let mut out = VecDeque::new();
        assert_eq!(s.recv_many(&mut out, 10), Ok(1));
        assert_eq!(write(&mut session, "2"), [], "the reader is awake");
        assert_eq!(s.recv_many(&mut out, 10), Ok(1));
        assert_eq!(s.recv_many(&mut out, 10), Err(RecvError::WouldBlock));
        assert_eq!(write(&mut session, "3"), [PipeCommand::ActivateRead]);
    }

    #[test]
    fn a_batch_that_empties_a_closing_pipe_lets_it_go() {
        let mut s = pull_with(&["a1", "a2"], &[]);
        let p = PipeId(1);
        assert!(s.terminate_pipe(p));
        assert!(s.has_pipe(p), "its messages are still to be read");
        let mut out = VecDeque::new();
        assert_eq!(s.recv_many(&mut out, 10), Ok(2));
        assert!(!s.has_pipe(p), "read out, it goes at once, as after recv");
    }

    #[test]
    fn shall_not_send() {
        let mut s = socket(Pull);
        attach(&mut s, 1, Push);
        assert_eq!(
            s.send(msg(&["x"])).unwrap_err().kind,
            SendErrorKind::NotSupported
        );
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn inbound_queue_pushes_back_at_rcvhwm_and_resumes() {
        let (mut s, p) = full_pull();
        assert_eq!(s.recv(), Ok(msg(&["1"])));
        assert_eq!(events(&mut s), vec![SocketEvent::InboundResumed(p)]);
        deliver(&mut s, p, msg(&["3"]));
    }

    #[test]
    fn conflate_keeps_only_the_latest_message() {
        let mut s = socket(Pull);
        s.set_option(SocketOption::Conflate(true)).unwrap();
        let p = attach(&mut s, 1, Push);
        for m in ["old", "older", "latest"] {
            deliver(&mut s, p, msg(&[m]));
        }
        assert_eq!(s.recv(), Ok(msg(&["latest"])));
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn push_pull_pipeline_end_to_end() {
        let mut w = Wire::new(Push, Pull);
        for i in 0..10u8 {
            w.a.send(vec![i].into()).unwrap();
        }
        w.pump();
        for i in 0..10u8 {
            assert_eq!(w.b.recv(), Ok(vec![i].into()));
        }
    }
}
