//! Socket patterns: one module per socket type, each a state machine over its pipes.
//!
//! A pattern sees the pipes through `Core`, which owns them and records the events a driver
//! must see (a pipe has something to transmit, a pipe may take inbound messages again). The
//! public face is [`crate::socket::Socket`].

pub mod options;

mod dealer;
mod pair;
#[cfg(test)]
mod prop_tests;
mod pull;
mod push;
mod rep;
mod req;
mod router;
mod routing;
mod stream;
mod table;
#[cfg(test)]
pub(crate) mod testkit;
mod xpub;
mod xsub;

use std::collections::VecDeque;

use bytes::Bytes;

use crate::message::Message;
use crate::pipe::{Pipe, PipeId, PipeItem};
use crate::socket::{AttachError, PipePeer, RecvError, SendError, SocketEvent};
use crate::socket_type::SocketType;
use options::{OptionError, SocketOption, SocketOptions};
use table::PipeTable;

/// A pipe and what is known of the peer at its other end.
#[derive(Clone, Debug)]
pub(crate) struct PipeEntry {
    pub(crate) pipe: Pipe,
    /// `None` until the handshake with the peer completes.
    pub(crate) peer: Option<PipePeer>,
    /// The id this socket chose for the connection (CONNECT_ROUTING_ID).
    pub(crate) connect_routing_id: Option<Bytes>,
    /// The connection is gone: nothing more is written, what was received is still read,
    /// and the pipe is detached once it runs dry.
    pub(crate) closing: bool,
}

/// The state every pattern shares: options, pipes, and events for the driver.
#[derive(Clone, Debug)]
pub(crate) struct Core {
    pub(crate) options: SocketOptions,
    pub(crate) pipes: PipeTable<PipeEntry>,
    pub(crate) events: VecDeque<SocketEvent>,
    /// Closing pipes that ran dry, for the socket to detach.
    pub(crate) drained: Vec<PipeId>,
    /// The pipe the last message read came from: the simulator checks order per pipe.
    #[cfg(feature = "sim")]
    pub(crate) last_read: Option<PipeId>,
    /// The pipe the last message written went to: the simulator checks load-balancing.
    #[cfg(feature = "sim")]
    pub(crate) last_written: Option<PipeId>,
}

impl Core {
    pub(crate) fn new() -> Self {
        Core {
            options: SocketOptions::default(),
            pipes: PipeTable::default(),
            events: VecDeque::new(),
            drained: Vec::new(),
            #[cfg(feature = "sim")]
            last_read: None,
            #[cfg(feature = "sim")]
            last_written: None,
        }
    }

    /// Queues `msg` on pipe `id`, waking the session if the pipe was idle. Gives the message
    /// back if the pipe is full or gone.
    pub(crate) fn write(&mut self, id: PipeId, msg: Message) -> Result<(), Message> {
        let Some(entry) = self.pipes.get_mut(&id).filter(|e| !e.closing) else {
            return Err(msg);
        };
        if entry.pipe.write(msg)? {
            self.events.push_back(SocketEvent::OutboundReady(id));
        }
        #[cfg(feature = "sim")]
        {
            self.last_written = Some(id);
        }
        Ok(())
    }

    /// Queues a subscription change on pipe `id`.
    pub(crate) fn write_command(&mut self, id: PipeId, item: PipeItem) {
        if let Some(entry) = self.pipes.get_mut(&id).filter(|e| !e.closing) {
            if entry.pipe.write_command(item) {
                self.events.push_back(SocketEvent::OutboundReady(id));
            }
        }
    }

    /// Whether pipe `id` exists and can take a message.
    pub(crate) fn check_write(&mut self, id: PipeId) -> bool {
        self.pipes
            .get_mut(&id)
            .is_some_and(|e| !e.closing && e.pipe.check_write())
    }

    /// Takes the next received message from pipe `id`, telling the session when it may push
    /// again.
    pub(crate) fn read(&mut self, id: PipeId) -> Option<Message> {
        let entry = self.pipes.get_mut(&id)?;
        let (msg, resumed) = entry.pipe.read()?;
        #[cfg(feature = "sim")]
        {
            self.last_read = Some(id);
        }
        if entry.closing {
            if !entry.pipe.check_read() {
                self.drained.push(id);
            }
        } else if resumed {
            self.events.push_back(SocketEvent::InboundResumed(id));
        }
        Some(msg)
    }

    /// Whether pipe `id` has a received message.
    pub(crate) fn check_read(&self, id: PipeId) -> bool {
        self.pipes.get(&id).is_some_and(|e| e.pipe.check_read())
    }

    /// The peer at the end of pipe `id`.
    pub(crate) fn peer(&self, id: PipeId) -> Option<&PipePeer> {
        self.pipes.get(&id).and_then(|e| e.peer.as_ref())
    }

    /// The id this socket chose for pipe `id`'s connection, if any.
    pub(crate) fn connect_routing_id(&self, id: PipeId) -> Option<&Bytes> {
        self.pipes
            .get(&id)
            .and_then(|e| e.connect_routing_id.as_ref())
    }
}

/// A socket type's behaviour. Every method has the socket's shared [`Core`] at hand.
pub(crate) trait Pattern: std::fmt::Debug + Send {
    /// A pipe was added to `core.pipes`, its peer known or not yet. An error makes the socket
    /// remove it again.
    fn attach(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError>;
    /// The handshake on a pipe attached earlier completed; `core.peer(id)` is now known.
    fn peer_ready(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        let _ = (core, id);
        Ok(())
    }
    /// A pipe whose peer was known got a new peer: the session reconnected (libzmq's
    /// `xhiccuped`). Whatever the old peer learned over the pipe, the new one must learn again.
    fn hiccuped(&mut self, core: &mut Core, id: PipeId) {
        let _ = (core, id);
    }
    /// A pipe is about to be removed from `core.pipes`.
    fn detach(&mut self, core: &mut Core, id: PipeId);
    /// A pipe's inbound queue went from empty to non-empty.
    fn read_activated(&mut self, core: &mut Core, id: PipeId);
    /// A pipe's outbound queue drained to its low-water mark after refusing a write.
    fn write_activated(&mut self, core: &mut Core, id: PipeId);
    /// Sends one message from the application.
    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        let _ = core;
        Err(SendError::not_supported(msg))
    }
    /// Receives one message for the application.
    fn recv(&mut self, core: &mut Core) -> Result<Message, RecvError> {
        let _ = core;
        Err(RecvError::NotSupported)
    }
    /// Whether `send` would not block (ZMQ_POLLOUT).
    fn can_send(&mut self, core: &mut Core) -> bool {
        let _ = core;
        false
    }
    /// Whether `recv` would not block (ZMQ_POLLIN).
    fn can_recv(&mut self, core: &mut Core) -> bool {
        let _ = core;
        false
    }
    /// A message from the peer, before it is queued: `None` means the pattern consumed it
    /// (a ZMTP 3.0 subscription message, or traffic the pattern discards).
    fn filter_inbound(&mut self, core: &mut Core, id: PipeId, msg: Message) -> Option<Message> {
        let _ = (core, id);
        Some(msg)
    }
    /// A subscription change from the peer (ZMTP 3.1 SUBSCRIBE / CANCEL). Ignored by default.
    fn subscription(&mut self, core: &mut Core, id: PipeId, subscribe: bool, topic: Bytes) {
        let _ = (core, id, subscribe, topic);
    }
    /// A pattern-specific option. `Ok(false)` means the pattern does not know it.
    fn set_option(&mut self, core: &mut Core, opt: &SocketOption) -> Result<bool, OptionError> {
        let _ = (core, opt);
        Ok(false)
    }
}

/// The pattern for a socket type; `None` for the draft types, not built yet.
pub(crate) fn for_type(kind: SocketType, seed: u32) -> Option<Box<dyn Pattern>> {
    Some(match kind {
        SocketType::Pair => Box::new(pair::Pair::default()),
        SocketType::Pub => Box::new(xpub::XPub::new(true)),
        SocketType::XPub => Box::new(xpub::XPub::new(false)),
        SocketType::Sub => Box::new(xsub::XSub::new(true)),
        SocketType::XSub => Box::new(xsub::XSub::new(false)),
        SocketType::Req => Box::new(req::Req::new(seed)),
        SocketType::Rep => Box::new(rep::Rep::default()),
        SocketType::Dealer => Box::new(dealer::Dealer::default()),
        SocketType::Router => Box::new(router::Router::new(seed)),
        SocketType::Push => Box::new(push::Push::default()),
        SocketType::Pull => Box::new(pull::Pull::default()),
        SocketType::Stream => Box::new(stream::Stream::new(seed)),
        _ => return None,
    })
}

/// Splits a ZMTP 3.0 subscription message (`\x01topic` / `\x00topic` in the first frame) into
/// (subscribe?, topic). Other messages give `None`.
pub(crate) fn parse_subscription(msg: &Message) -> Option<(bool, Bytes)> {
    let first = &msg.frames()[0];
    match first.first() {
        Some(1) => Some((true, first.slice(1..))),
        Some(0) => Some((false, first.slice(1..))),
        _ => None,
    }
}

/// The ZMTP 3.0 / API form of a subscription change: `\x01topic` or `\x00topic`.
pub(crate) fn subscription_message(subscribe: bool, topic: &[u8]) -> Message {
    let mut v = Vec::with_capacity(topic.len() + 1);
    v.push(u8::from(subscribe));
    v.extend_from_slice(topic);
    Message::from(v)
}

/// The routing id a ROUTER or STREAM generates: `0x00` then a big-endian u32 counter.
pub(crate) fn generated_routing_id(counter: u32) -> Bytes {
    let mut v = Vec::with_capacity(5);
    v.push(0);
    v.extend_from_slice(&counter.to_be_bytes());
    Bytes::from(v)
}
