//! DEALER (RFC 28): load-balance out, fair-queue in, never drops; WouldBlock when no peer can
//! take a message.

use super::{Batch, Core, Pattern};
use crate::message::Message;
use crate::pipe::PipeId;
use crate::sched::{FairQueue, LoadBalancer};
use crate::socket::{AttachError, RecvError, SendError};

/// Asynchronous request-reply client; also the engine room of REQ.
#[derive(Debug, Default)]
pub(crate) struct Dealer {
    lb: LoadBalancer,
    fq: FairQueue,
}

impl Dealer {
    /// Sends to the next available peer, telling which one took it.
    pub(crate) fn send_to(&mut self, core: &mut Core, msg: Message) -> Result<PipeId, Message> {
        self.lb.send(msg, |id, m| core.write(id, m))
    }

    /// Receives the next message in fair-queue order, telling which peer sent it.
    pub(crate) fn recv_from(&mut self, core: &mut Core) -> Option<(PipeId, Message)> {
        self.fq.recv(|id| core.read(id))
    }
}

impl Pattern for Dealer {
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize {
        self.lb.len().max(self.fq.len())
    }

    fn attach(&mut self, _core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        self.lb.attach(id);
        self.fq.attach(id);
        Ok(())
    }

    fn detach(&mut self, _core: &mut Core, id: PipeId) {
        self.lb.detach(id);
        self.fq.detach(id);
    }

    fn read_activated(&mut self, _core: &mut Core, id: PipeId) {
        self.fq.activated(id);
    }

    fn write_activated(&mut self, _core: &mut Core, id: PipeId) {
        self.lb.activated(id);
    }

    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        self.send_to(core, msg)
            .map(drop)
            .map_err(SendError::would_block)
    }

    fn recv(&mut self, core: &mut Core) -> Result<Message, RecvError> {
        self.recv_from(core)
            .map(|(_, m)| m)
            .ok_or(RecvError::WouldBlock)
    }

    fn recv_batch(&mut self, core: &mut Core, out: &mut Batch, max: usize) -> usize {
        self.fq.recv_batch(|id| core.read_many(id, out, max))
    }

    fn can_send(&mut self, core: &mut Core) -> bool {
        self.lb.has_out(|id| core.check_write(id))
    }

    fn can_recv(&mut self, core: &mut Core) -> bool {
        self.fq.has_in(|id| core.check_read(id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::options::SocketOption;
    use crate::socket::{RecvError, SendErrorKind};
    use crate::socket_type::SocketType::{Dealer, Rep, Router};
    use crate::PipeId;

    #[test]
    fn a_dealer_batch_gives_what_one_by_one_receives_give() {
        for pipes in [1, 3] {
            let got = received_in_batches_as_singly(|| {
                let mut s = socket(Dealer);
                for n in 1..=pipes {
                    let p = attach(&mut s, n, Router);
                    for m in ["1", "2", "3"] {
                        deliver(&mut s, p, msg(&["", m]));
                    }
                }
                s
            });
            assert_eq!(got.len(), 3 * pipes as usize);
        }
    }

    #[test]
    fn shall_route_outgoing_round_robin_without_modifying() {
        let mut s = socket(Dealer);
        let a = attach(&mut s, 1, Router);
        let b = attach(&mut s, 2, Router);
        s.send(msg(&["x", "y"])).unwrap();
        s.send(msg(&["z"])).unwrap();
        let (mut ga, mut gb) = (sent_msgs(&mut s, a), sent_msgs(&mut s, b));
        ga.append(&mut gb);
        ga.sort_by_key(|m| m.len());
        assert_eq!(ga, vec![msg(&["z"]), msg(&["x", "y"])]);
    }

    #[test]
    fn shall_block_and_not_accept_messages_with_no_available_peer() {
        let mut s = socket(Dealer);
        s.set_option(SocketOption::SndHwm(1)).unwrap();
        assert_eq!(
            s.send(msg(&["m"])).unwrap_err().kind,
            SendErrorKind::WouldBlock
        );
        let p = attach(&mut s, 1, Rep);
        s.send(msg(&["1"])).unwrap();
        let e = s.send(msg(&["2"])).unwrap_err();
        assert_eq!(
            (e.kind, e.message),
            (SendErrorKind::WouldBlock, msg(&["2"]))
        );
        assert_eq!(sent_msgs(&mut s, p), vec![msg(&["1"])]);
    }

    #[test]
    fn shall_receive_with_fair_queuing_unmodified() {
        let mut s = socket(Dealer);
        let a = attach(&mut s, 1, Router);
        let b = attach(&mut s, 2, Router);
        deliver(&mut s, a, msg(&["", "from a"]));
        deliver(&mut s, a, msg(&["", "from a again"]));
        deliver(&mut s, b, msg(&["from b"]));
        let got: Vec<_> = std::iter::from_fn(|| s.recv().ok()).collect();
        assert_eq!(got.len(), 3);
        assert!(got[..2].contains(&msg(&["from b"])));
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn shall_destroy_the_queue_when_the_peer_disconnects() {
        let mut s = socket(Dealer);
        let a = attach(&mut s, 1, Router);
        attach(&mut s, 2, Router);
        deliver(&mut s, a, msg(&["lost"]));
        assert!(s.detach_pipe(a));
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
        for _ in 0..3 {
            s.send(msg(&["m"])).unwrap();
        }
        assert_eq!(s.pipe(PipeId(2)).unwrap().outbound_len(), 3);
    }

    #[test]
    fn probe_router_sends_an_empty_message_to_each_new_peer() {
        let mut s = socket(Dealer);
        s.set_option(SocketOption::ProbeRouter(true)).unwrap();
        let p = attach(&mut s, 1, Router);
        assert_eq!(sent_msgs(&mut s, p), vec![msg(&[""])]);
    }
}
