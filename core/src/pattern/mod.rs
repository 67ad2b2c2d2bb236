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
use crate::options::{OptionError, SocketOption, SocketOptionName};
use crate::pipe::{Activation, PipeCommand, PipeEnd, PipeId, PipeItem};
use crate::socket::{AttachError, PipePeer, RecvError, SendError, SendErrorKind, SocketEvent};
use crate::socket_type::SocketType;
use options::SocketOptions;
use table::PipeTable;

/// Messages taken for the application in one go, each with the pipe it came from.
pub(crate) type Batch = VecDeque<(PipeId, Message)>;

/// A pipe and what is known of the peer at its other end.
#[derive(Debug)]
pub(crate) struct PipeEntry {
    /// The socket's end.
    pub(crate) pipe: PipeEnd,
    /// The session's end, when the socket hosts it itself ([`crate::Socket::attach_pipe`]):
    /// commands between the two ends are then delivered at once, and surface as
    /// [`SocketEvent`]s for the driver that stands in for the session.
    pub(crate) local: Option<PipeEnd>,
    /// `None` until the handshake with the peer completes.
    pub(crate) peer: Option<PipePeer>,
    /// The id this socket chose for the connection (CONNECT_ROUTING_ID).
    pub(crate) connect_routing_id: Option<Bytes>,
    /// The connection is gone: nothing more is written, what was received is still read,
    /// and the pipe is detached once it runs dry.
    pub(crate) closing: bool,
    /// An inproc pipe's share of the peer's HWMs (out: its RCVHWM, in: its SNDHWM), added
    /// to ours whenever they change (libzmq's HWM boost): inproc's HWM each way is the
    /// writer's SNDHWM plus the reader's RCVHWM.
    pub(crate) boost: Option<(usize, usize)>,
}

/// The state every pattern shares: options, pipes, and events for the driver.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) options: SocketOptions,
    pub(crate) pipes: PipeTable<PipeEntry>,
    pub(crate) events: VecDeque<SocketEvent>,
    /// Commands from the socket's ends of pipes whose session end is elsewhere.
    pub(crate) outbox: VecDeque<(PipeId, PipeCommand)>,
    /// Closing pipes that ran dry, for the socket to detach.
    pub(crate) drained: Vec<PipeId>,
    /// The pipe the last message read came from: a driver that takes messages ahead drops
    /// those of an endpoint it disconnects, and the simulator checks order per pipe.
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
            outbox: VecDeque::new(),
            drained: Vec::new(),
            last_read: None,
            #[cfg(feature = "sim")]
            last_written: None,
        }
    }

    /// Sends the commands the socket's end of pipe `id` produced to the session's end: at
    /// once, as events, when the socket hosts that end; through the outbox otherwise.
    pub(crate) fn route(&mut self, id: PipeId) {
        let Some(entry) = self.pipes.get_mut(&id) else {
            return;
        };
        while let Some(cmd) = entry.pipe.poll_command() {
            let Some(local) = entry.local.as_mut() else {
                self.outbox.push_back((id, cmd));
                continue;
            };
            match local.handle_command(cmd) {
                Activation::Read => self.events.push_back(SocketEvent::OutboundReady(id)),
                Activation::Write if !entry.closing => {
                    self.events.push_back(SocketEvent::InboundResumed(id));
                }
                _ => {}
            }
        }
    }

    /// Queues `msg` on pipe `id`, waking the session if it sleeps. Gives the message back if
    /// the pipe is full or gone.
    pub(crate) fn write(&mut self, id: PipeId, msg: Message) -> Result<(), Message> {
        let Some(entry) = self.pipes.get_mut(&id).filter(|e| !e.closing) else {
            return Err(msg);
        };
        entry.pipe.write(msg)?;
        entry.pipe.flush();
        if entry.pipe.has_commands() {
            self.route(id);
        }
        #[cfg(feature = "sim")]
        {
            self.last_written = Some(id);
        }
        Ok(())
    }

    /// Queues a subscription change on pipe `id` (never refused).
    pub(crate) fn write_command(&mut self, id: PipeId, item: PipeItem) {
        if let Some(entry) = self.pipes.get_mut(&id).filter(|e| !e.closing) {
            // Only messages can be refused, and this is not one.
            let _ = entry.pipe.write_item(item);
            entry.pipe.flush();
            self.route(id);
        }
    }

    /// Whether pipe `id` exists and can take a message.
    pub(crate) fn check_write(&mut self, id: PipeId) -> bool {
        self.pipes
            .get_mut(&id)
            .is_some_and(|e| !e.closing && e.pipe.check_write())
    }

    /// Takes the next item from pipe `id`, whatever it is (XPUB reads subscriptions this
    /// way). `None` puts the pipe to sleep until its next [`Pattern::read_activated`], and
    /// marks a closing pipe drained.
    pub(crate) fn read_item(&mut self, id: PipeId) -> Option<PipeItem> {
        let entry = self.pipes.get_mut(&id)?;
        let item = entry.pipe.read();
        let dry = entry.closing && item.is_none();
        let commands = entry.pipe.has_commands();
        if dry {
            self.mark_drained(id);
        }
        if commands {
            self.route(id);
        }
        item
    }

    fn mark_drained(&mut self, id: PipeId) {
        if !self.drained.contains(&id) {
            self.drained.push(id);
        }
    }

    /// Takes the next received message from pipe `id`. Subscription changes, which only a
    /// publisher reads, are passed over.
    pub(crate) fn read(&mut self, id: PipeId) -> Option<Message> {
        loop {
            if let PipeItem::Message(msg) = self.read_item(id)? {
                self.last_read = Some(id);
                if self.pipes.get(&id).is_some_and(|e| e.closing) {
                    // A closing pipe goes as soon as no message is left to read.
                    self.check_read(id);
                }
                return Some(msg);
            }
        }
    }

    /// Takes up to `max` received messages from pipe `id` into `out`, as that many
    /// [`read`](Self::read)s would, looking the pipe up once: subscription changes are passed
    /// over, the pipe's reports to its writer are routed after the lot, and a closing pipe
    /// left empty is marked drained. Stops early when the pipe is empty, without putting its
    /// reader to sleep: a reader that keeps up with its writer would otherwise cost the
    /// writer a wake-up per batch. The next receive that finds nothing, one message at a
    /// time, is the look that sleeps.
    pub(crate) fn read_many(&mut self, id: PipeId, out: &mut Batch, max: usize) -> usize {
        let Some(entry) = self.pipes.get_mut(&id) else {
            return 0;
        };
        let mut n = 0;
        while n < max {
            match entry.pipe.try_read() {
                Some(PipeItem::Message(msg)) => {
                    out.push_back((id, msg));
                    n += 1;
                }
                Some(_) => {}
                None => break,
            }
        }
        let (closing, commands) = (entry.closing, entry.pipe.has_commands());
        if commands {
            self.route(id);
        }
        if n > 0 {
            self.last_read = Some(id);
        }
        if closing {
            // Marks it drained if nothing is left to read.
            self.check_read(id);
        }
        n
    }

    /// Whether pipe `id` has a received message (subscription changes waiting in front of it
    /// are passed over). `false` puts the pipe to sleep, and marks a closing pipe drained.
    pub(crate) fn check_read(&mut self, id: PipeId) -> bool {
        loop {
            let Some(entry) = self.pipes.get_mut(&id) else {
                return false;
            };
            match entry.pipe.peek() {
                Some(PipeItem::Message(_)) => return true,
                Some(_) => {
                    self.read_item(id);
                }
                None => {
                    if entry.closing {
                        self.mark_drained(id);
                    }
                    return false;
                }
            }
        }
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
    /// The most pipe ids any one of the pattern's per-pipe collections holds (schedulers,
    /// routing tables). Simulator hook: each lets go of a pipe as the pipe ends, so none
    /// ever holds more ids than the socket has pipes.
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize;

    /// Whether a receive would hand `msg` up now: a SUB filters by its subscriptions as it
    /// hands a message up (libzmq's `xsub_t::xrecv` matches there), so a driver that took
    /// messages ahead drops those an unsubscribe has since excluded.
    fn admits(&self, _core: &Core, _msg: &Message) -> bool {
        true
    }

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
    /// A pipe had its session write to it while the socket's end slept: messages (or
    /// subscription changes) wait there.
    fn read_activated(&mut self, core: &mut Core, id: PipeId);
    /// A pipe's outbound queue drained to its low-water mark after refusing a write.
    fn write_activated(&mut self, core: &mut Core, id: PipeId);
    /// Sends one message from the application.
    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        let _ = core;
        Err(SendError::not_supported(msg))
    }
    /// Takes up to `max` messages for the application at once, each with its pipe, where
    /// the pattern can do so in the order `max` [`recv`](Self::recv)s would give them;
    /// returns how many it took (0: let `recv` take them one by one, the default).
    fn recv_batch(&mut self, core: &mut Core, out: &mut Batch, max: usize) -> usize {
        let _ = (core, out, max);
        0
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
    /// Whether a message whose first frame is `first` may be started now: what libzmq's
    /// `xsend` decides when a message's first frame arrives, before the rest is given. Only
    /// `WouldBlock` is worth waiting on. By default: a pattern that can send at all starts a
    /// message whenever [`Pattern::can_send`] says it could send one.
    fn check_send_start(&mut self, core: &mut Core, first: &[u8]) -> Result<(), SendErrorKind> {
        let _ = first;
        if self.can_send(core) {
            Ok(())
        } else {
            Err(SendErrorKind::WouldBlock)
        }
    }
    /// A pattern-specific option. `Ok(false)` means the pattern does not know it.
    fn set_option(&mut self, core: &mut Core, opt: &SocketOption) -> Result<bool, OptionError> {
        let _ = (core, opt);
        Ok(false)
    }
    /// The value of a pattern-specific option; `None` if the pattern does not have it.
    fn get_option(&self, name: SocketOptionName) -> Option<SocketOption> {
        let _ = name;
        None
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
    let subscribe = match first.first() {
        Some(1) => true,
        Some(0) => false,
        _ => return None,
    };
    let topic = match first.as_shared() {
        Some(b) => b.slice(1..),
        None => Bytes::copy_from_slice(&first[1..]),
    };
    Some((subscribe, topic))
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
