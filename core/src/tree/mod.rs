//! The object tree and its termination handshake.
//!
//! A socket owns its sessions and listeners; a session owns its engine. Ending any of them is a
//! handshake, as in libzmq's `own_t`: a child asks its owner with `TermReq`; the owner answers
//! with `Term`; the child ends its own children the same way, lingers while it still has
//! messages to flush (up to LINGER), and then acknowledges with `TermAck` and is destroyed. A
//! child's `TermReq` and its owner's `Term` may cross; the tree still ends every object exactly
//! once.
//!
//! Commands travel through mailboxes: [`Tree::poll_command`] hands the driver each command and
//! [`Tree::deliver`] takes it back, in whatever order the driver likes. A single-threaded
//! driver delivers them in FIFO order at once; the simulator and the tests reorder them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::time::Instant;

/// An object in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// How long pending outbound messages may hold up termination (ZMQ_LINGER).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Linger {
    /// Wait until every message is flushed (LINGER = −1, libzmq's default).
    Forever,
    /// Wait at most this long; zero drops pending messages at once.
    For(Duration),
}

impl Linger {
    /// From libzmq's integer milliseconds: negative means forever.
    pub fn from_millis(ms: i64) -> Linger {
        match u64::try_from(ms) {
            Ok(ms) => Linger::For(Duration::from_millis(ms)),
            Err(_) => Linger::Forever,
        }
    }
}

/// A command between two objects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Child → owner: "please end me".
    TermReq(NodeId),
    /// Owner → child: "end now", with the linger to honour.
    Term(Linger),
    /// Child → owner: "I have ended".
    TermAck,
}

/// A command in flight.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// What it says.
    pub command: Command,
}

/// What the tree tells its driver.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TreeEvent {
    /// The object must flush its outbound messages and report [`Tree::drained`]; the tree
    /// gives up waiting when the linger runs out.
    Linger(NodeId, Linger),
    /// The object has ended: free what it holds (pipes, connections). Sent once per object.
    Destroyed(NodeId),
}

/// Why a delivery was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryError {
    /// The receiver no longer exists. The handshake never causes this; it means a driver bug.
    DeadReceiver(Envelope),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Node {
    owner: Option<NodeId>,
    owned: BTreeSet<NodeId>,
    /// Has a `Term` begun (for the root: has it been closed)?
    terminating: bool,
    /// Has this object already asked its owner to end it?
    term_requested: bool,
    /// `TermAck`s still owed to us by children we told to end.
    term_acks: usize,
    /// Whether the object has outbound messages that linger protects.
    has_pending: bool,
    /// Set while lingering: the linger in force and, if finite, its deadline.
    lingering: Option<Option<Instant>>,
    /// The linger we pass down to our own children once we proceed.
    child_linger: Linger,
}

/// One socket's object tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tree {
    nodes: BTreeMap<NodeId, Node>,
    /// The finite linger deadlines, ordered: neither `poll_timeout` nor `handle_timeout`
    /// scans the nodes (a socket half asks for its next deadline after every message).
    deadlines: BTreeSet<(Instant, NodeId)>,
    next_id: u32,
    outbox: VecDeque<Envelope>,
    events: VecDeque<TreeEvent>,
}

impl Tree {
    /// A tree holding only its root (the socket).
    pub fn new() -> (Tree, NodeId) {
        let mut t = Tree {
            nodes: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            next_id: 0,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        };
        let root = t.insert(None);
        (t, root)
    }

    fn insert(&mut self, owner: Option<NodeId>) -> NodeId {
        let id = NodeId(self.next_id);
        self.next_id += 1;
        self.nodes.insert(
            id,
            Node {
                owner,
                owned: BTreeSet::new(),
                terminating: false,
                term_requested: false,
                term_acks: 0,
                has_pending: false,
                lingering: None,
                child_linger: Linger::For(Duration::ZERO),
            },
        );
        id
    }

    /// Adds a child under `owner` (a session under the socket, an engine under a session).
    /// If the owner is already ending, the child is told to end at once.
    pub fn launch(&mut self, owner: NodeId) -> Option<NodeId> {
        let o = self.nodes.get(&owner)?;
        let terminating = o.terminating;
        let linger = o.child_linger;
        let child = self.insert(Some(owner));
        let o = self.nodes.get_mut(&owner).expect("checked above");
        if terminating {
            o.term_acks += 1;
            self.send(owner, child, Command::Term(linger));
        } else {
            o.owned.insert(child);
        }
        Some(child)
    }

    /// Whether `node` still exists.
    pub fn is_alive(&self, node: NodeId) -> bool {
        self.nodes.contains_key(&node)
    }

    /// Whether `node` has begun to end.
    pub fn is_terminating(&self, node: NodeId) -> bool {
        self.nodes.get(&node).is_some_and(|n| n.terminating)
    }

    /// Number of live objects.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether every object, the root included, has ended.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Sets the linger `node` passes to a child that asks to end (ZMQ_LINGER for a socket whose
    /// sessions are disconnected one by one). Its own termination brings its own linger.
    pub fn set_linger(&mut self, node: NodeId, linger: Linger) {
        if let Some(n) = self.nodes.get_mut(&node) {
            if !n.terminating {
                n.child_linger = linger;
            }
        }
    }

    /// Says whether `node` holds outbound messages that its linger protects.
    pub fn set_pending(&mut self, node: NodeId, pending: bool, now: Instant) {
        if let Some(n) = self.nodes.get_mut(&node) {
            n.has_pending = pending;
        }
        if !pending {
            self.drained(node, now);
        }
    }

    /// `node` has flushed everything it lingered for.
    pub fn drained(&mut self, node: NodeId, _now: Instant) {
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        n.has_pending = false;
        if let Some(lingering) = n.lingering.take() {
            if let Some(at) = lingering {
                self.deadlines.remove(&(at, node));
            }
            self.proceed(node);
        }
    }

    /// `node` wants to end (its connection failed, it was disconnected, the root was closed).
    /// The root ends with `linger` passed to its children; others ask their owner.
    pub fn terminate(&mut self, node: NodeId, linger: Linger, now: Instant) {
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        if n.terminating || n.term_requested {
            return;
        }
        match n.owner {
            None => self.process_term(node, linger, now),
            Some(owner) => {
                n.term_requested = true;
                self.send(node, owner, Command::TermReq(node));
            }
        }
    }

    /// The next command for the driver to deliver.
    pub fn poll_command(&mut self) -> Option<Envelope> {
        self.outbox.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<TreeEvent> {
        self.events.pop_front()
    }

    /// The earliest linger deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Ends the lingering of every object whose linger ran out by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(n) = self.nodes.get_mut(&id) {
                n.lingering = None;
            }
            self.proceed(id);
        }
    }

    /// Delivers one command taken from [`Tree::poll_command`].
    pub fn deliver(&mut self, env: Envelope, now: Instant) -> Result<(), DeliveryError> {
        if !self.nodes.contains_key(&env.to) {
            return Err(DeliveryError::DeadReceiver(env));
        }
        match env.command {
            Command::TermReq(child) => self.process_term_req(env.to, child),
            Command::Term(linger) => self.process_term(env.to, linger, now),
            Command::TermAck => {
                let n = self.nodes.get_mut(&env.to).expect("checked above");
                // Every TermAck answers a Term we counted.
                n.term_acks = n.term_acks.saturating_sub(1);
                self.check_term_acks(env.to);
            }
        }
        Ok(())
    }

    fn send(&mut self, from: NodeId, to: NodeId, command: Command) {
        self.outbox.push_back(Envelope { from, to, command });
    }

    fn process_term_req(&mut self, owner: NodeId, child: NodeId) {
        let o = self.nodes.get_mut(&owner).expect("caller checked");
        // Ending already: the child was (or will be) sent a Term with all the others.
        if o.terminating {
            return;
        }
        // Not ours any more: a Term to it is already on its way.
        if !o.owned.remove(&child) {
            return;
        }
        o.term_acks += 1;
        let linger = o.child_linger;
        self.send(owner, child, Command::Term(linger));
    }

    fn process_term(&mut self, node: NodeId, linger: Linger, now: Instant) {
        let n = self.nodes.get_mut(&node).expect("caller checked");
        if n.terminating {
            return;
        }
        n.terminating = true;
        n.child_linger = linger;
        if n.has_pending {
            let deadline = match linger {
                Linger::Forever => None,
                Linger::For(d) if d.is_zero() => {
                    n.has_pending = false;
                    return self.proceed(node);
                }
                Linger::For(d) => Some(now + d),
            };
            n.lingering = Some(deadline);
            if let Some(at) = deadline {
                self.deadlines.insert((at, node));
            }
            self.events.push_back(TreeEvent::Linger(node, linger));
            return;
        }
        self.proceed(node);
    }

    /// After lingering (or without it): end every child, then wait for their acks.
    fn proceed(&mut self, node: NodeId) {
        let n = self.nodes.get_mut(&node).expect("caller checked");
        let children = std::mem::take(&mut n.owned);
        n.term_acks += children.len();
        let linger = n.child_linger;
        for child in children {
            self.send(node, child, Command::Term(linger));
        }
        self.check_term_acks(node);
    }

    fn check_term_acks(&mut self, node: NodeId) {
        let n = &self.nodes[&node];
        if !n.terminating || n.lingering.is_some() || n.term_acks > 0 {
            return;
        }
        let owner = n.owner;
        self.nodes.remove(&node);
        self.events.push_back(TreeEvent::Destroyed(node));
        if let Some(owner) = owner {
            self.send(node, owner, Command::TermAck);
        }
    }
}

#[cfg(test)]
mod tests;
