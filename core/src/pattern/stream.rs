//! STREAM: raw TCP peers addressed like ROUTER's. Each received chunk comes as
//! `[routing id, bytes]`; sending `[routing id, bytes]` writes them, and an empty body closes
//! that connection. With STREAM_NOTIFY (default on) an empty body also announces a peer's
//! arrival and departure.

use std::collections::VecDeque;

use bytes::Bytes;

use super::routing::RoutingTable;
use super::{Core, Pattern};
use crate::message::Message;
use crate::options::{OptionError, SocketOption, SocketOptionName};
use crate::pipe::PipeId;
use crate::sched::FairQueue;
use crate::socket::{AttachError, RecvError, SendError, SendErrorKind, SocketEvent};

/// Raw TCP with routing ids.
#[derive(Debug)]
pub(crate) struct Stream {
    fq: FairQueue,
    routes: RoutingTable,
    notify: bool,
    /// Connect and disconnect notices, delivered before queued data.
    notices: VecDeque<Message>,
}

impl Stream {
    pub(crate) fn new(seed: u32) -> Self {
        Stream {
            fq: FairQueue::new(),
            routes: RoutingTable::new(seed),
            notify: true,
            notices: VecDeque::new(),
        }
    }

    /// A connect or disconnect notice: the routing id and an empty frame, carrying the
    /// peer's properties (`Peer-Address`) as libzmq's do.
    fn notice(&mut self, rid: Bytes, core: &Core, id: PipeId) {
        if self.notify {
            let mut m = Message::from_frames([rid, Bytes::new()]);
            m.set_properties(core.peer(id).and_then(|p| p.properties.clone()));
            self.notices.push_back(m);
        }
    }
}

impl Pattern for Stream {
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize {
        self.fq.len().max(self.routes.len())
    }

    fn attach(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        // A raw peer sends no Identity; only CONNECT_ROUTING_ID can name it.
        let rid = match core.connect_routing_id(id).cloned() {
            Some(rid) if self.routes.pipe(&rid).is_some() => {
                return Err(AttachError::DuplicateRoutingId(rid))
            }
            Some(rid) => rid,
            None => {
                // As libzmq's stream `identify_peer`: the id made up for the newest peer is
                // also what ZMQ_ROUTING_ID reads back on this socket (its tests rely on it).
                let rid = self.routes.generate();
                core.options.routing_id = Some(rid.clone());
                rid
            }
        };
        self.routes.insert(rid.clone(), id);
        self.fq.attach(id);
        if core.peer(id).is_some() {
            self.notice(rid, core, id);
        }
        Ok(())
    }

    fn peer_ready(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        // Each (re)connection of a pending pipe is announced.
        if let Some(rid) = self.routes.id(id).cloned() {
            self.notice(rid, core, id);
        }
        Ok(())
    }

    fn detach(&mut self, core: &mut Core, id: PipeId) {
        if let Some(rid) = self.routes.remove_pipe(id) {
            self.notice(rid, core, id);
        }
        self.fq.detach(id);
    }

    fn read_activated(&mut self, _core: &mut Core, id: PipeId) {
        self.fq.activated(id);
    }

    fn write_activated(&mut self, _core: &mut Core, _id: PipeId) {}

    fn recv(&mut self, core: &mut Core) -> Result<Message, RecvError> {
        if let Some(notice) = self.notices.pop_front() {
            return Ok(notice);
        }
        let (pipe, mut msg) = self
            .fq
            .recv(|id| core.read(id))
            .ok_or(RecvError::WouldBlock)?;
        // Every attached pipe has a routing id; the fallback never shows.
        msg.push_front(self.routes.id(pipe).cloned().unwrap_or_default());
        Ok(msg)
    }

    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        let Some(pipe) = self.routes.pipe(&msg.frames()[0]) else {
            return Err(SendError::host_unreachable(msg));
        };
        let mut body = msg;
        let Some(rid) = body.pop_front() else {
            // A routing id alone: nothing to write.
            return Ok(());
        };
        if body.byte_len() == 0 {
            // An empty body asks to close the connection. libzmq's `xsend` has decided at
            // the routing id, before the body: a full (or closing) pipe refuses the close
            // too, as `check_send_start` does.
            if !core.check_write(pipe) {
                body.push_front(rid);
                return Err(SendError::would_block(body));
            }
            core.events.push_back(SocketEvent::ClosePipe(pipe));
            return Ok(());
        }
        core.write(pipe, body).map_err(|mut back| {
            back.push_front(rid);
            SendError::would_block(back)
        })
    }

    fn can_send(&mut self, _core: &mut Core) -> bool {
        true
    }

    fn check_send_start(&mut self, core: &mut Core, first: &[u8]) -> Result<(), SendErrorKind> {
        // As libzmq's stream `xsend`: the peer must exist, and have room, at the first frame.
        match self.routes.pipe(first) {
            None => Err(SendErrorKind::HostUnreachable),
            Some(pipe) if core.check_write(pipe) => Ok(()),
            Some(_) => Err(SendErrorKind::WouldBlock),
        }
    }

    fn can_recv(&mut self, core: &mut Core) -> bool {
        !self.notices.is_empty() || self.fq.has_in(|id| core.check_read(id))
    }

    fn set_option(&mut self, _core: &mut Core, opt: &SocketOption) -> Result<bool, OptionError> {
        match opt {
            SocketOption::StreamNotify(v) => self.notify = *v,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn get_option(&self, name: SocketOptionName) -> Option<SocketOption> {
        (name == SocketOptionName::StreamNotify).then_some(SocketOption::StreamNotify(self.notify))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::options::SocketOption;
    use crate::socket::{PipePeer, RecvError, SendErrorKind, SocketEvent};
    use crate::socket_type::SocketType::Stream;
    use crate::{Message, PipeId};
    use bytes::Bytes;

    #[test]
    fn announces_peers_and_prefixes_their_bytes_with_a_routing_id() {
        let mut s = socket(Stream);
        let p = attach(&mut s, 1, Stream);
        let hello = s.recv().unwrap();
        assert_eq!(hello.len(), 2);
        assert_eq!(hello.frames()[1], "", "connect notice");
        let rid = hello.frames()[0].to_bytes();
        assert_eq!(rid.len(), 5);
        // libzmq: ZMQ_ROUTING_ID reads back the id made up for the newest peer.
        assert_eq!(
            s.get_option(crate::options::SocketOptionName::RoutingId),
            Ok(SocketOption::RoutingId(rid.clone()))
        );
        deliver(&mut s, p, msg(&["raw bytes"]));
        assert_eq!(
            s.recv(),
            Ok(Message::from_frames([
                rid.clone(),
                Bytes::from_static(b"raw bytes")
            ]))
        );
        s.send(Message::from_frames([
            rid.clone(),
            Bytes::from_static(b"reply"),
        ]))
        .unwrap();
        assert_eq!(sent_msgs(&mut s, p), vec![msg(&["reply"])]);
        s.detach_pipe(p);
        assert_eq!(s.recv(), Ok(Message::from_frames([rid, Bytes::new()])));
    }

    #[test]
    fn an_empty_body_closes_the_connection() {
        let mut s = socket(Stream);
        let p = PipeId(3);
        s.attach_pipe(p, PipePeer::new(Stream).with_connect_routing_id("c"))
            .unwrap();
        s.send(msg(&["c", ""])).unwrap();
        assert_eq!(events(&mut s), vec![SocketEvent::ClosePipe(p)]);
    }

    #[test]
    fn a_close_at_a_full_pipe_would_block_as_its_routing_id_does() {
        // libzmq's xsend decides at the routing id, before it sees the (empty) body.
        let mut s = socket(Stream);
        s.set_option(SocketOption::SndHwm(1)).unwrap();
        let p = PipeId(3);
        s.attach_pipe(p, PipePeer::new(Stream).with_connect_routing_id("c"))
            .unwrap();
        s.send(msg(&["c", "fills the pipe"])).unwrap();
        assert_eq!(s.check_send_start(b"c"), Err(SendErrorKind::WouldBlock));
        let e = s.send(msg(&["c", ""])).unwrap_err();
        assert_eq!(
            (e.kind, e.message),
            (SendErrorKind::WouldBlock, msg(&["c", ""]))
        );
        assert!(!events(&mut s).contains(&SocketEvent::ClosePipe(p)));
    }

    #[test]
    fn unknown_routing_id_is_unreachable() {
        let mut s = socket(Stream);
        assert_eq!(
            s.send(msg(&["who", "x"])).unwrap_err().kind,
            SendErrorKind::HostUnreachable
        );
    }

    #[test]
    fn stream_notify_off_suppresses_notices() {
        let mut s = socket(Stream);
        s.set_option(SocketOption::StreamNotify(false)).unwrap();
        let p = attach(&mut s, 1, Stream);
        s.detach_pipe(p);
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
    }
}
