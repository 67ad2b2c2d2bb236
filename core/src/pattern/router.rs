//! ROUTER (RFC 28): every peer has a routing id; received messages are prefixed with it and
//! sent messages are routed by their first frame. libzmq's ROUTER_MANDATORY and
//! ROUTER_HANDOVER included.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::routing::RoutingTable;
use super::{Batch, Core, Pattern};
use crate::message::Message;
use crate::options::{OptionError, SocketOption, SocketOptionName};
use crate::pipe::PipeId;
use crate::sched::FairQueue;
use crate::socket::{AttachError, RecvError, SendError, SendErrorKind, SocketEvent};

/// Explicitly addressed request-reply server.
#[derive(Debug)]
pub(crate) struct Router {
    fq: FairQueue,
    routes: RoutingTable,
    /// Draining pipes whose routing id a reconnected peer took over: what they still hold
    /// came from that peer, and is delivered under its id.
    labels: BTreeMap<PipeId, Bytes>,
    mandatory: bool,
    handover: bool,
}

impl Router {
    pub(crate) fn new(seed: u32) -> Self {
        Router {
            fq: FairQueue::new(),
            routes: RoutingTable::new(seed),
            labels: BTreeMap::new(),
            mandatory: false,
            handover: false,
        }
    }

    /// The routing id a message from `pipe` comes up under: a draining pipe's label, else
    /// the pipe's route. Every attached pipe has one; the fallback never shows.
    fn routing_id_of(&self, pipe: PipeId) -> Bytes {
        self.labels
            .get(&pipe)
            .or_else(|| self.routes.id(pipe))
            .cloned()
            .unwrap_or_default()
    }

    /// Gives pipe `id` its routing id: CONNECT_ROUTING_ID, else the peer's Identity, else a
    /// generated one (libzmq's `identify_peer`).
    fn identify(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        let chosen = core
            .connect_routing_id(id)
            .or_else(|| core.peer(id).and_then(|p| p.routing_id.as_ref()))
            .cloned();
        let routing_id = match chosen {
            None => self.routes.generate(),
            Some(rid) => {
                if let Some(old) = self.routes.pipe(&rid) {
                    // A reconnecting peer may find its old, terminated pipe still draining.
                    let old_closing = core.pipes.get(&old).is_some_and(|e| e.closing);
                    if !self.handover && !old_closing {
                        return Err(AttachError::DuplicateRoutingId(rid));
                    }
                    if old_closing {
                        // Replies go to the new connection; what the old one still holds is
                        // delivered under the id it came with.
                        self.routes.remove_pipe(old);
                        self.labels.insert(old, rid.clone());
                    } else {
                        // Handover: the old connection keeps a fresh anonymous id until it
                        // closes (libzmq's temporary id).
                        let fresh = self.routes.generate();
                        self.routes.insert(fresh, old);
                        core.events.push_back(SocketEvent::ClosePipe(old));
                    }
                }
                rid
            }
        };
        self.routes.insert(routing_id, id);
        Ok(())
    }
}

impl Pattern for Router {
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize {
        self.fq.len().max(self.routes.len()).max(self.labels.len())
    }

    fn attach(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        self.fq.attach(id);
        // A pending pipe is named by CONNECT_ROUTING_ID now, or by its peer once ready.
        let named = core.connect_routing_id(id).is_some() || core.peer(id).is_some();
        if named {
            if let Err(e) = self.identify(core, id) {
                self.fq.detach(id);
                return Err(e);
            }
        }
        Ok(())
    }

    fn peer_ready(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        // A pipe keeps the id it was first given, across reconnects.
        if self.routes.id(id).is_some() {
            return Ok(());
        }
        self.identify(core, id)
    }

    fn detach(&mut self, _core: &mut Core, id: PipeId) {
        self.routes.remove_pipe(id);
        self.labels.remove(&id);
        self.fq.detach(id);
    }

    fn read_activated(&mut self, _core: &mut Core, id: PipeId) {
        self.fq.activated(id);
    }

    fn write_activated(&mut self, _core: &mut Core, _id: PipeId) {}

    fn recv(&mut self, core: &mut Core) -> Result<Message, RecvError> {
        let (pipe, mut msg) = self
            .fq
            .recv(|id| core.read(id))
            .ok_or(RecvError::WouldBlock)?;
        // RFC 28: SHALL prefix each incoming message with the identity of its queue.
        msg.push_front(self.routing_id_of(pipe));
        Ok(msg)
    }

    fn recv_batch(&mut self, core: &mut Core, out: &mut Batch, max: usize) -> usize {
        let start = out.len();
        let n = self.fq.recv_batch(|id| core.read_many(id, out, max));
        if let Some(&(pipe, _)) = out.get(start) {
            let rid = self.routing_id_of(pipe);
            for (_, msg) in out.range_mut(start..) {
                msg.push_front(rid.clone());
            }
        }
        n
    }

    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        // RFC 28: SHALL remove the first frame and use it as the identity of a queue.
        let pipe = self.routes.pipe(&msg.frames()[0]);
        let Some(pipe) = pipe else {
            return if self.mandatory {
                Err(SendError::host_unreachable(msg))
            } else {
                Ok(())
            };
        };
        let mut body = msg;
        let Some(rid) = body.pop_front() else {
            // Only a routing id and no body: nothing to deliver.
            return Ok(());
        };
        match core.write(pipe, body) {
            Ok(()) => Ok(()),
            // RFC 28: full queue → drop, or an error if so configured; never block.
            Err(mut back) if self.mandatory => {
                back.push_front(rid);
                Err(SendError::would_block(back))
            }
            Err(_) => Ok(()),
        }
    }

    fn can_send(&mut self, core: &mut Core) -> bool {
        if !self.mandatory {
            return true;
        }
        let pipes: Vec<PipeId> = core.pipes.keys().copied().collect();
        pipes.into_iter().any(|id| core.check_write(id))
    }

    fn can_recv(&mut self, core: &mut Core) -> bool {
        self.fq.has_in(|id| core.check_read(id))
    }

    fn check_send_start(&mut self, core: &mut Core, first: &[u8]) -> Result<(), SendErrorKind> {
        // libzmq's router `xsend` looks the routing id up at the first frame: without
        // ROUTER_MANDATORY the message is dropped later if it cannot go; with it, an unknown
        // id fails now (EHOSTUNREACH) and a full pipe says wait (EAGAIN).
        if !self.mandatory {
            return Ok(());
        }
        match self.routes.pipe(first) {
            None => Err(SendErrorKind::HostUnreachable),
            Some(pipe) if core.check_write(pipe) => Ok(()),
            Some(_) => Err(SendErrorKind::WouldBlock),
        }
    }

    fn set_option(&mut self, _core: &mut Core, opt: &SocketOption) -> Result<bool, OptionError> {
        match opt {
            SocketOption::RouterMandatory(v) => self.mandatory = *v,
            SocketOption::RouterHandover(v) => self.handover = *v,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn get_option(&self, name: SocketOptionName) -> Option<SocketOption> {
        match name {
            SocketOptionName::RouterMandatory => {
                Some(SocketOption::RouterMandatory(self.mandatory))
            }
            SocketOptionName::RouterHandover => Some(SocketOption::RouterHandover(self.handover)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::options::SocketOption;
    use crate::socket::{AttachError, PipePeer, SendErrorKind, SocketEvent};
    use crate::socket_type::SocketType::{Dealer, Req, Router};
    use crate::{PipeId, Socket};
    use bytes::Bytes;

    #[test]
    fn shall_prefix_incoming_messages_with_the_identity_of_their_queue() {
        let mut s = socket(Router);
        let p = PipeId(1);
        s.attach_pipe(p, PipePeer::new(Dealer).with_routing_id("alice"))
            .unwrap();
        deliver(&mut s, p, msg(&["hi"]));
        assert_eq!(s.recv(), Ok(msg(&["alice", "hi"])));
    }

    #[test]
    fn generated_identities_are_zero_then_a_big_endian_counter() {
        let mut s = Socket::new(Router, 0x0102_0304).unwrap();
        let a = attach(&mut s, 1, Req);
        let b = attach(&mut s, 2, Req);
        deliver(&mut s, a, msg(&["", "x"]));
        deliver(&mut s, b, msg(&["", "y"]));
        let ids: Vec<Bytes> = (0..2)
            .map(|_| s.recv().unwrap().frames()[0].to_bytes())
            .collect();
        assert!(ids.contains(&Bytes::from_static(&[0, 1, 2, 3, 5])));
        assert!(ids.contains(&Bytes::from_static(&[0, 1, 2, 3, 6])));
    }

    #[test]
    fn shall_route_by_the_first_frame_and_remove_it() {
        let mut s = socket(Router);
        let a = PipeId(1);
        let b = PipeId(2);
        s.attach_pipe(a, PipePeer::new(Dealer).with_routing_id("A"))
            .unwrap();
        s.attach_pipe(b, PipePeer::new(Dealer).with_routing_id("B"))
            .unwrap();
        s.send(msg(&["B", "", "for b"])).unwrap();
        assert!(sent_msgs(&mut s, a).is_empty());
        assert_eq!(sent_msgs(&mut s, b), vec![msg(&["", "for b"])]);
    }

    #[test]
    fn shall_silently_drop_unroutable_messages_by_default() {
        let mut s = socket(Router);
        attach(&mut s, 1, Dealer);
        assert_eq!(s.send(msg(&["nobody", "x"])), Ok(()));
    }

    #[test]
    fn router_mandatory_reports_unroutable_messages() {
        let mut s = socket(Router);
        s.set_option(SocketOption::RouterMandatory(true)).unwrap();
        let e = s.send(msg(&["nobody", "x"])).unwrap_err();
        assert_eq!(e.kind, SendErrorKind::HostUnreachable);
        assert_eq!(e.message, msg(&["nobody", "x"]));
    }

    #[test]
    fn full_queue_drops_by_default_and_would_block_when_mandatory() {
        let mut s = socket(Router);
        s.set_option(SocketOption::SndHwm(1)).unwrap();
        let p = PipeId(1);
        s.attach_pipe(p, PipePeer::new(Dealer).with_routing_id("A"))
            .unwrap();
        s.send(msg(&["A", "1"])).unwrap();
        assert_eq!(s.send(msg(&["A", "2"])), Ok(()), "SHALL NOT block");
        s.set_option(SocketOption::RouterMandatory(true)).unwrap();
        let e = s.send(msg(&["A", "3"])).unwrap_err();
        assert_eq!(
            (e.kind, e.message),
            (SendErrorKind::WouldBlock, msg(&["A", "3"]))
        );
        assert!(!s.can_send());
        assert_eq!(sent_msgs(&mut s, p), vec![msg(&["1"])]);
    }

    #[test]
    fn a_duplicate_identity_is_refused_without_handover() {
        let mut s = socket(Router);
        s.attach_pipe(PipeId(1), PipePeer::new(Dealer).with_routing_id("X"))
            .unwrap();
        assert_eq!(
            s.attach_pipe(PipeId(2), PipePeer::new(Dealer).with_routing_id("X")),
            Err(AttachError::DuplicateRoutingId(Bytes::from_static(b"X")))
        );
        s.send(msg(&["X", "still old"])).unwrap();
        assert_eq!(sent_msgs(&mut s, PipeId(1)).len(), 1);
    }

    #[test]
    fn a_router_batch_gives_what_one_by_one_receives_give() {
        for pipes in [1u64, 3] {
            let got = received_in_batches_as_singly(|| {
                let mut s = socket(Router);
                for n in 1..=pipes {
                    let peer = PipePeer::new(Dealer).with_routing_id(format!("P{n}"));
                    s.attach_pipe(PipeId(n), peer).unwrap();
                    for m in ["1", "2", "3"] {
                        deliver(&mut s, PipeId(n), msg(&[m]));
                    }
                }
                s
            });
            assert_eq!(got.len(), 3 * pipes as usize);
            for (pipe, m) in got {
                assert_eq!(m.frames()[0], format!("P{}", pipe.0).as_bytes());
            }
        }
    }

    #[test]
    fn a_reconnecting_peer_reclaims_its_identity_from_a_draining_pipe() {
        let mut s = socket(Router);
        s.attach_pipe(PipeId(1), PipePeer::new(Dealer).with_routing_id("X"))
            .unwrap();
        deliver(&mut s, PipeId(1), msg(&["unread"]));
        s.terminate_pipe(PipeId(1));
        s.attach_pipe(PipeId(2), PipePeer::new(Dealer).with_routing_id("X"))
            .unwrap();
        s.send(msg(&["X", "to new"])).unwrap();
        assert_eq!(sent_msgs(&mut s, PipeId(2)), vec![msg(&["to new"])]);
        // Found by the simulator (seed 2367): the old pipe's last message came up under a
        // generated id, so its reply could never be routed back to the peer.
        assert_eq!(s.recv(), Ok(msg(&["X", "unread"])));
    }

    #[test]
    fn router_handover_gives_the_identity_to_the_new_peer() {
        let mut s = socket(Router);
        s.set_option(SocketOption::RouterHandover(true)).unwrap();
        s.attach_pipe(PipeId(1), PipePeer::new(Dealer).with_routing_id("X"))
            .unwrap();
        s.attach_pipe(PipeId(2), PipePeer::new(Dealer).with_routing_id("X"))
            .unwrap();
        assert!(events(&mut s).contains(&SocketEvent::ClosePipe(PipeId(1))));
        s.send(msg(&["X", "to new"])).unwrap();
        assert!(sent_msgs(&mut s, PipeId(1)).is_empty());
        assert_eq!(sent_msgs(&mut s, PipeId(2)), vec![msg(&["to new"])]);
    }

    #[test]
    fn connect_routing_id_names_the_outgoing_connection() {
        let mut s = socket(Router);
        s.set_option(SocketOption::ConnectRoutingId(Bytes::from_static(b"srv")))
            .unwrap();
        let rid = s.take_connect_routing_id().unwrap();
        let peer = PipePeer::new(Router)
            .with_routing_id("their-name")
            .with_connect_routing_id(rid);
        s.attach_pipe(PipeId(9), peer).unwrap();
        s.send(msg(&["srv", "x"])).unwrap();
        assert_eq!(sent_msgs(&mut s, PipeId(9)), vec![msg(&["x"])]);
    }

    #[test]
    fn probe_messages_arrive_as_empty_frames() {
        let mut w = Wire::new(Dealer, Router);
        w.a.set_option(SocketOption::ProbeRouter(true)).unwrap();
        w.a.detach_pipe(WIRE);
        w.a.attach_pipe(WIRE, PipePeer::new(Router)).unwrap();
        w.pump();
        let got = w.b.recv().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got.frames()[1], "");
    }

    #[test]
    fn router_serves_a_req_client_end_to_end() {
        let mut w = Wire::new(Req, Router);
        w.a.send(msg(&["job"])).unwrap();
        w.pump();
        let request = w.b.recv().unwrap();
        assert_eq!(request.len(), 3, "[routing id, delimiter, body]");
        let mut reply = Message::from_frames(request.frames()[..2].to_vec());
        reply.push_back("done");
        w.b.send(reply).unwrap();
        w.pump();
        assert_eq!(w.a.recv(), Ok(msg(&["done"])));
    }

    use crate::Message;
}
