//! The context: the sockets of one process-like scope, joined over inproc without ZMTP, and
//! terminated together. Still no I/O: TCP and IPC actions pass through to the driver.
//!
//! ```
//! use oxmq_core::base::BaseConfig;
//! use oxmq_core::context::Context;
//! use oxmq_core::{Instant, Message, SocketType};
//!
//! let now = Instant::ZERO;
//! let mut ctx = Context::new();
//! let push = ctx.socket(SocketType::Push, BaseConfig::default(), 1).unwrap();
//! let pull = ctx.socket(SocketType::Pull, BaseConfig::default(), 2).unwrap();
//! // Connect before bind works on inproc too.
//! ctx.get_mut(push).unwrap().connect("inproc://jobs", now).unwrap();
//! ctx.get_mut(push).unwrap().send(Message::from("job 1"), now).unwrap();
//! ctx.get_mut(pull).unwrap().bind("inproc://jobs", now).unwrap();
//! ctx.pump(now);
//! assert_eq!(ctx.get_mut(pull).unwrap().recv(now), Ok(Message::from("job 1")));
//! ```

use std::collections::{BTreeMap, VecDeque};

use crate::base::{Action, BaseConfig, ConnId, ListenerId, SocketBase};
use crate::inproc::{Connect, Registry};
use crate::socket::UnsupportedSocketType;
use crate::socket_type::SocketType;
use crate::time::Instant;

/// A socket in a context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u32);

/// Why the context refused to make a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketError {
    /// The socket type is not implemented.
    Unsupported(SocketType),
    /// The context is terminating (ETERM).
    Terminated,
}

impl std::fmt::Display for SocketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SocketError::Unsupported(t) => write!(f, "{t} sockets are not supported"),
            SocketError::Terminated => f.write_str("context terminated"),
        }
    }
}

impl std::error::Error for SocketError {}

/// Sockets, their inproc names, and the links between them.
#[derive(Debug, Default)]
pub struct Context {
    sockets: BTreeMap<SocketId, SocketBase>,
    next_id: u32,
    /// The inproc names, the connects waiting for them and the links made.
    inproc: Registry<SocketId>,
    /// Actions for the driver (TCP and IPC).
    actions: VecDeque<(SocketId, Action)>,
    terminating: bool,
    /// Reused by `pump` for its walk over the sockets.
    scratch_ids: Vec<SocketId>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Context::default()
    }

    /// A new socket of `kind`; `seed` feeds its randomness.
    pub fn socket(
        &mut self,
        kind: SocketType,
        config: BaseConfig,
        seed: u64,
    ) -> Result<SocketId, SocketError> {
        if self.terminating {
            return Err(SocketError::Terminated);
        }
        let s = SocketBase::new(kind, config, seed)
            .map_err(|UnsupportedSocketType(t)| SocketError::Unsupported(t))?;
        let id = SocketId(self.next_id);
        self.next_id += 1;
        self.sockets.insert(id, s);
        Ok(id)
    }

    /// A socket, for the application's calls. Call [`Context::pump`] after using it.
    pub fn get_mut(&mut self, id: SocketId) -> Option<&mut SocketBase> {
        self.sockets.get_mut(&id)
    }

    /// The ids of every socket, in order.
    pub fn socket_ids(&self) -> Vec<SocketId> {
        self.sockets.keys().copied().collect()
    }

    /// A socket, to look at.
    pub fn get(&self, id: SocketId) -> Option<&SocketBase> {
        self.sockets.get(&id)
    }

    /// Forgets a socket whose close has finished.
    pub fn reap(&mut self, id: SocketId) -> bool {
        if self.sockets.get(&id).is_some_and(SocketBase::is_closed) {
            self.sockets.remove(&id);
            return true;
        }
        false
    }

    /// Begins terminating: every socket is closed (honouring its linger) and no new socket
    /// may be made. Operations on closed sockets fail with `Terminated`.
    ///
    /// An inproc connect still waiting for its name to be bound ends as if its peer had
    /// closed, dropping what it queued: no bind can come any more, and a socket lingering on
    /// it would keep the context from terminating. (libzmq's `zmq_ctx_term` binds a
    /// throwaway socket to each pending name and closes it, to the same end.)
    pub fn terminate(&mut self, now: Instant) {
        self.terminating = true;
        for s in self.sockets.values_mut() {
            s.close(now);
        }
        // A connect the closes ended is ignored here (its `Close` is routed below); one whose
        // `InprocConnect` is not routed yet ends there, `terminating` being raised.
        for (_, (id, conn)) in self.inproc.take_all_waiting() {
            if let Some(s) = self.sockets.get_mut(&id) {
                s.handle_eof(conn, now);
            }
        }
        self.pump(now);
    }

    /// Whether termination began and every socket has finished closing.
    pub fn is_terminated(&self) -> bool {
        self.terminating && self.sockets.values().all(SocketBase::is_closed)
    }

    /// The next TCP/IPC action for the driver, with the socket it belongs to.
    pub fn poll_action(&mut self) -> Option<(SocketId, Action)> {
        self.actions.pop_front()
    }

    /// Whether any inproc connection exists (items may move between sockets on any call).
    pub fn has_inproc_links(&self) -> bool {
        self.inproc.has_links()
    }

    /// Whether [`Context::poll_action`] has something.
    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Routes inproc actions and moves inproc items until nothing moves.
    pub fn pump(&mut self, now: Instant) {
        let mut ids = std::mem::take(&mut self.scratch_ids);
        loop {
            let mut progress = false;
            ids.clear();
            ids.extend(self.sockets.keys().copied());
            for id in &ids {
                while let Some(a) = self.sockets.get_mut(id).and_then(SocketBase::poll_action) {
                    progress = true;
                    self.route(*id, a, now);
                }
            }
            for id in &ids {
                progress |= self.route_pipe_commands(*id, now);
            }
            if !progress {
                self.scratch_ids = ids;
                return;
            }
        }
    }

    fn route(&mut self, id: SocketId, action: Action, now: Instant) {
        match action {
            Action::InprocBind { listener, name } => {
                let Some(s) = self.sockets.get_mut(&id) else {
                    return;
                };
                let Ok(waiting) = self.inproc.bind(&name, id, listener) else {
                    s.handle_bind_failed(listener, crate::error::OsError::AddrInUse, now);
                    return;
                };
                s.handle_listening(listener, &format!("inproc://{name}"), now);
                for (cid, conn) in waiting {
                    self.join(cid, conn, id, listener, now);
                }
            }
            Action::InprocConnect { conn, name } => {
                match self.inproc.connect(&name, (id, conn), self.terminating) {
                    Connect::Bound(bid, listener) => self.join(id, conn, bid, listener, now),
                    // Terminating: no bind can come (see `terminate`).
                    Connect::Ends => {
                        if let Some(s) = self.sockets.get_mut(&id) {
                            s.handle_eof(conn, now);
                        }
                    }
                    Connect::Waits => {}
                }
            }
            Action::CloseListener { listener } if self.inproc.is_listener(id, listener) => {
                self.inproc.unbind(id, listener);
            }
            Action::Close { conn, .. } if self.inproc.is_conn(id, conn) => {
                if let Some(peer) = self.inproc.close((id, conn)) {
                    if let Some(p) = self.sockets.get_mut(&peer.0) {
                        p.handle_eof(peer.1, now);
                    }
                }
            }
            other => self.actions.push_back((id, other)),
        }
    }

    /// Joins a connecting socket to a bound one: the connecter's pipe (which may already
    /// hold messages sent before the bind) passes its far end to the binder's pattern, so
    /// the two patterns share one pipe, as in libzmq.
    fn join(
        &mut self,
        cid: SocketId,
        conn: ConnId,
        bid: SocketId,
        listener: ListenerId,
        now: Instant,
    ) {
        let (Some(c), Some(b)) = (self.sockets.get(&cid), self.sockets.get(&bid)) else {
            return;
        };
        let (cpeer, bpeer) = (c.inproc_peer(), b.inproc_peer());
        if self
            .sockets
            .get(&bid)
            .is_none_or(|b| !b.accepts_on(listener))
        {
            // The binder is closing: the connect fails like a refused dial.
            if let Some(c) = self.sockets.get_mut(&cid) {
                c.handle_eof(conn, now);
            }
            return;
        }
        // The connecter refused the binder (an incompatible type): it closed its side.
        let Some(end) = self
            .sockets
            .get_mut(&cid)
            .and_then(|c| c.handle_inproc_connected(conn, bpeer, now))
        else {
            return;
        };
        let accepted = self
            .sockets
            .get_mut(&bid)
            .and_then(|b| b.handle_inproc_accepted(listener, cpeer, end, now));
        match accepted {
            Some(bconn) => {
                // Joined in one step: nothing was held meanwhile.
                self.inproc.finish_join((cid, conn), Some((bid, bconn)));
            }
            None => {
                if let Some(c) = self.sockets.get_mut(&cid) {
                    c.handle_eof(conn, now);
                }
            }
        }
    }

    /// Carries the pipe commands of `id`'s inproc connections to their peers.
    fn route_pipe_commands(&mut self, id: SocketId, now: Instant) -> bool {
        let mut progress = false;
        while let Some((conn, cmd)) = self
            .sockets
            .get_mut(&id)
            .and_then(SocketBase::poll_inproc_command)
        {
            progress = true;
            let Some((pid, pconn)) = self.inproc.peer((id, conn)) else {
                continue; // the peer is gone
            };
            if let Some(p) = self.sockets.get_mut(&pid) {
                p.handle_inproc_command(pconn, cmd, now);
            }
        }
        progress
    }
}

#[cfg(test)]
mod tests;
