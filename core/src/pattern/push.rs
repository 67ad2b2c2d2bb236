//! PUSH (RFC 30): load-balance to PULL peers; blocks (WouldBlock) when none can take a message.

use super::{Core, Pattern};
use crate::message::Message;
use crate::pipe::PipeId;
use crate::sched::LoadBalancer;
use crate::socket::{AttachError, SendError};

/// The sending end of a pipeline.
#[derive(Debug, Default)]
pub(crate) struct Push {
    lb: LoadBalancer,
}

impl Pattern for Push {
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize {
        self.lb.len()
    }

    fn attach(&mut self, _core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        self.lb.attach(id);
        Ok(())
    }

    fn detach(&mut self, _core: &mut Core, id: PipeId) {
        self.lb.detach(id);
    }

    fn read_activated(&mut self, core: &mut Core, id: PipeId) {
        // RFC 30: PUSH SHALL NOT receive; anything a peer sends is discarded.
        while core.read_item(id).is_some() {}
    }

    fn write_activated(&mut self, _core: &mut Core, id: PipeId) {
        self.lb.activated(id);
    }

    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        self.lb
            .send(msg, |id, m| core.write(id, m))
            .map(drop)
            .map_err(SendError::would_block)
    }

    fn can_send(&mut self, core: &mut Core) -> bool {
        self.lb.has_out(|id| core.check_write(id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::options::SocketOption;
    use crate::socket::{RecvError, SendErrorKind};
    use crate::socket_type::SocketType::{Pull, Push};

    #[test]
    fn shall_route_to_available_peers_round_robin() {
        let mut s = socket(Push);
        let pipes: Vec<_> = (1..=3).map(|n| attach(&mut s, n, Pull)).collect();
        for i in 0..6u8 {
            s.send(vec![i].into()).unwrap();
        }
        let firsts: Vec<_> = pipes
            .iter()
            .map(|p| {
                let got = sent_msgs(&mut s, *p);
                assert_eq!(got.len(), 2, "each peer gets its turn");
                got[0].frames()[0][0]
            })
            .collect();
        let mut sorted = firsts.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2]);
    }

    #[test]
    fn shall_block_when_it_has_no_available_peers() {
        let mut s = socket(Push);
        let e = s.send(msg(&["m"])).unwrap_err();
        assert_eq!(e.kind, SendErrorKind::WouldBlock);
        assert_eq!(
            e.message,
            msg(&["m"]),
            "SHALL NOT discard messages it cannot queue"
        );
    }

    #[test]
    fn shall_consider_a_peer_available_only_when_its_queue_is_not_full() {
        let mut s = socket(Push);
        s.set_option(SocketOption::SndHwm(2)).unwrap();
        let a = attach(&mut s, 1, Pull);
        let b = attach(&mut s, 2, Pull);
        for _ in 0..4 {
            s.send(msg(&["m"])).unwrap();
        }
        assert!(!s.can_send());
        assert_eq!(
            s.send(msg(&["m"])).unwrap_err().kind,
            SendErrorKind::WouldBlock
        );
        // Draining one message from a reaches its low-water mark (1): a is available again.
        s.poll_outbound(a).unwrap();
        assert!(s.can_send());
        s.send(msg(&["again"])).unwrap();
        assert_eq!(s.pipe(a).unwrap().outbound_len(), 2);
        assert_eq!(s.pipe(b).unwrap().outbound_len(), 2);
    }

    #[test]
    fn shall_not_receive() {
        let mut s = socket(Push);
        assert_eq!(s.recv(), Err(RecvError::NotSupported));
    }
}
