//! The inproc names of one context and the links between the sockets they joined: the
//! registry every driver keeps, written once (libzmq's `ctx_t` keeps the same: its endpoints
//! and its pending connections).
//!
//! It holds no sockets, only the driver's ids for them (`S`). Joining two sockets is the
//! driver's work, under its own locks: the connecter's
//! [`SocketBase::handle_inproc_connected`](crate::base::SocketBase::handle_inproc_connected)
//! (or the half's), then the binder's `handle_inproc_accepted`. The registry says whom to
//! join, remembers the link once made, and, while a join is under way in a threaded driver,
//! holds the pipe commands the connecter's side sends for the link, so that none is lost
//! before the binder holds its end ([`Registry::begin_join`], [`Registry::finish_join`]).
//! A threaded driver whose socket halves each sit behind a lock of their own joins through
//! [`join`], which holds the order of those steps and locks once; the driver gives it its
//! registry and its halves ([`JoinHost`]).
//!
//! ```
//! use oxmq_core::base::{ConnId, ListenerId};
//! use oxmq_core::inproc::{Connect, Registry};
//!
//! let mut reg = Registry::new();
//! // A connect before the bind waits for it.
//! assert_eq!(reg.connect("jobs", (1, ConnId(7)), false), Connect::Waits);
//! // The bind hands the waiting connects over, to be joined.
//! assert_eq!(reg.bind("jobs", 2, ListenerId(3)), Ok(vec![(1, ConnId(7))]));
//! assert_eq!(reg.finish_join((1, ConnId(7)), Some((2, ConnId(9)))), vec![]);
//! assert_eq!(reg.peer((2, ConnId(9))), Some((1, ConnId(7))));
//! // Either end's close ends the link; the other end is the one to tell.
//! assert_eq!(reg.close((1, ConnId(7))), Some((2, ConnId(9))));
//! ```

use std::collections::BTreeMap;

use crate::base::{ConnId, ListenerId, SocketHalf};
use crate::pipe::PipeCommand;
use crate::time::Instant;

/// What an inproc connect finds ([`Registry::connect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connect<S> {
    /// The name is bound by this socket's listener: join the two.
    Bound(S, ListenerId),
    /// The name is not bound yet: the connect waits in the registry, and the bind that
    /// comes hands it over.
    Waits,
    /// The name is not bound and the context is terminating, so no bind can come: end the
    /// connect as if its peer had closed.
    Ends,
}

/// The name is bound already (`EADDRINUSE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrInUse;

/// The inproc names of one context, the connects waiting for them, and the links made.
#[derive(Debug)]
pub struct Registry<S> {
    /// Name → the listener bound to it.
    bound: BTreeMap<String, (S, ListenerId)>,
    /// Name → the connects waiting for a bind, in the order they came.
    waiting: BTreeMap<String, Vec<(S, ConnId)>>,
    /// Each end of a joined connection → the other end.
    links: BTreeMap<(S, ConnId), (S, ConnId)>,
    /// Connects being joined → the pipe commands their side sent meanwhile.
    joining: BTreeMap<(S, ConnId), Vec<PipeCommand>>,
}

impl<S> Default for Registry<S> {
    fn default() -> Self {
        Registry {
            bound: BTreeMap::new(),
            waiting: BTreeMap::new(),
            links: BTreeMap::new(),
            joining: BTreeMap::new(),
        }
    }
}

impl<S: Copy + Ord> Registry<S> {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Binds `name` to `listener` of socket `at`; hands back the connects that waited for
    /// it, in order, each to be joined now (taken out of the registry).
    pub fn bind(
        &mut self,
        name: &str,
        at: S,
        listener: ListenerId,
    ) -> Result<Vec<(S, ConnId)>, AddrInUse> {
        if self.bound.contains_key(name) {
            return Err(AddrInUse);
        }
        self.bound.insert(name.to_owned(), (at, listener));
        Ok(self.waiting.remove(name).unwrap_or_default())
    }

    /// Unbinds whatever name `listener` of socket `at` holds: the name, if it held one (if
    /// not, the listener is not an inproc one).
    pub fn unbind(&mut self, at: S, listener: ListenerId) -> Option<String> {
        let name = self
            .bound
            .iter()
            .find(|(_, v)| **v == (at, listener))
            .map(|(k, _)| k.clone())?;
        self.bound.remove(&name);
        Some(name)
    }

    /// Whether `name` is bound.
    pub fn is_bound(&self, name: &str) -> bool {
        self.bound.contains_key(name)
    }

    /// Connect `from` looks for `name`: the listener to join, or it waits (unless the
    /// context is `terminating`, when no bind can come).
    pub fn connect(&mut self, name: &str, from: (S, ConnId), terminating: bool) -> Connect<S> {
        match self.bound.get(name) {
            Some(&(at, listener)) => Connect::Bound(at, listener),
            None if terminating => Connect::Ends,
            None => {
                self.waiting.entry(name.to_owned()).or_default().push(from);
                Connect::Waits
            }
        }
    }

    /// Takes every connect still waiting, with the name it waited for, in the names' order
    /// (the context terminates: each is to end as if its peer had closed).
    pub fn take_all_waiting(&mut self) -> Vec<(String, (S, ConnId))> {
        std::mem::take(&mut self.waiting)
            .into_iter()
            .flat_map(|(name, w)| w.into_iter().map(move |c| (name.clone(), c)))
            .collect()
    }

    /// Connect `from` is being joined: from now until [`Registry::finish_join`], the
    /// commands its side sends are held ([`Registry::route`]).
    pub fn begin_join(&mut self, from: (S, ConnId)) {
        self.joining.insert(from, Vec::new());
    }

    /// The join of connect `from` is over: linked to `to`, or failed (`None`). Hands back
    /// the commands held meanwhile, in order, for the driver to deliver to `to`.
    pub fn finish_join(&mut self, from: (S, ConnId), to: Option<(S, ConnId)>) -> Vec<PipeCommand> {
        let held = self.joining.remove(&from).unwrap_or_default();
        if let Some(to) = to {
            self.links.insert(from, to);
            self.links.insert(to, from);
        }
        held
    }

    /// Where a pipe command `from` sent goes: the other end, or nowhere (`None`) if it is
    /// held for a join under way, or if there is no link (the peer is gone, or not joined
    /// yet: it finds the pipe's contents when it takes the end).
    pub fn route(&mut self, from: (S, ConnId), cmd: PipeCommand) -> Option<(S, ConnId)> {
        if let Some(held) = self.joining.get_mut(&from) {
            held.push(cmd);
            return None;
        }
        self.links.get(&from).copied()
    }

    /// The other end of `from`'s link.
    pub fn peer(&self, from: (S, ConnId)) -> Option<(S, ConnId)> {
        self.links.get(&from).copied()
    }

    /// `from` closed: it stops waiting or joining, and its link ends. The other end, if
    /// there was one, is to be told (as an end of file).
    pub fn close(&mut self, from: (S, ConnId)) -> Option<(S, ConnId)> {
        for w in self.waiting.values_mut() {
            w.retain(|x| *x != from);
        }
        self.waiting.retain(|_, w| !w.is_empty());
        self.joining.remove(&from);
        let to = self.links.remove(&from)?;
        self.links.remove(&to);
        Some(to)
    }

    /// The listener `name` is bound to.
    pub fn listener(&self, name: &str) -> Option<(S, ListenerId)> {
        self.bound.get(name).copied()
    }

    /// The name `listener` of socket `at` holds.
    pub fn name_of(&self, at: S, listener: ListenerId) -> Option<&str> {
        self.bound
            .iter()
            .find(|(_, v)| **v == (at, listener))
            .map(|(k, _)| k.as_str())
    }

    /// Every connect waiting for a bind, with the name it waits for.
    pub fn waiting(&self) -> impl Iterator<Item = (&str, (S, ConnId))> + '_ {
        self.waiting
            .iter()
            .flat_map(|(name, w)| w.iter().map(move |c| (name.as_str(), *c)))
    }

    /// Whether `from` is being joined.
    pub fn is_joining(&self, from: (S, ConnId)) -> bool {
        self.joining.contains_key(&from)
    }

    /// Socket `at`'s links: each of its ends with the other end.
    pub fn links_of(&self, at: S) -> Vec<((S, ConnId), (S, ConnId))> {
        self.links
            .range((at, ConnId(0))..=(at, ConnId(u64::MAX)))
            .map(|(k, v)| (*k, *v))
            .collect()
    }

    /// Socket `at` is gone without closing its connections one by one (a crash): its names,
    /// its connects waiting or joining, and its links go. Hands back each link it had, its
    /// own end first: the other end is to be told (as an end of file).
    pub fn forget(&mut self, at: S) -> Vec<((S, ConnId), (S, ConnId))> {
        self.bound.retain(|_, v| v.0 != at);
        for w in self.waiting.values_mut() {
            w.retain(|x| x.0 != at);
        }
        self.waiting.retain(|_, w| !w.is_empty());
        self.joining.retain(|k, _| k.0 != at);
        let links = self.links_of(at);
        for (mine, peer) in &links {
            self.links.remove(mine);
            self.links.remove(peer);
        }
        links
    }

    /// Whether any connection is linked.
    pub fn has_links(&self) -> bool {
        !self.links.is_empty()
    }

    /// Whether `conn` of socket `at` is an inproc connection: linked, joining or waiting.
    pub fn is_conn(&self, at: S, conn: ConnId) -> bool {
        let c = (at, conn);
        self.links.contains_key(&c)
            || self.joining.contains_key(&c)
            || self.waiting.values().any(|w| w.contains(&c))
    }

    /// Whether `listener` of socket `at` holds an inproc name.
    pub fn is_listener(&self, at: S, listener: ListenerId) -> bool {
        self.bound.values().any(|v| *v == (at, listener))
    }
}

/// What a threaded driver lends [`join`]: its registry and its socket halves, each behind
/// the driver's own locks, which `join` never holds two of at once, except the registry's
/// inside one half's (as [`JoinHost::drive`]'s closure may take it).
pub trait JoinHost {
    /// The driver's id for a socket.
    type Socket: Copy + Ord;

    /// Runs `f` on the registry under its lock, with whether the context has begun to
    /// terminate, read under that lock: a termination that raises its flag and then sweeps
    /// the registry under the lock finds a connect either waiting or already refused.
    fn with_registry<R>(&self, f: impl FnOnce(&mut Registry<Self::Socket>, bool) -> R) -> R;

    /// Reads socket `s`'s half under its lock; `None` once the socket is gone.
    fn inspect<R>(&self, s: Self::Socket, f: impl FnOnce(&SocketHalf) -> R) -> Option<R>;

    /// Runs `f` on socket `s`'s half under its lock and then carries out what the half
    /// produced, as every call into a half is followed; does nothing once the socket is
    /// gone.
    fn drive(&self, s: Self::Socket, f: impl FnOnce(&mut SocketHalf, Instant));

    /// The link between `a` and `b` exists: both halves hold their ends of its pipe.
    fn linked(&self, a: (Self::Socket, ConnId), b: (Self::Socket, ConnId)) {
        let _ = (a, b);
    }

    /// Delivers to `from`'s peer, in order and once no lock is held, the pipe commands
    /// `from`'s side sent while the join was under way.
    fn send_held(&self, from: (Self::Socket, ConnId), held: Vec<PipeCommand>);
}

/// Joins inproc connect `from` to the socket bound at `name`, or leaves it waiting for the
/// bind, or ends it if the context terminates: the connecter's pipe (which may already hold
/// messages sent before the bind) hands its far end to the binder's pattern, as in libzmq.
///
/// The steps, each under one lock:
/// 1. the registry: whom to join ([`Registry::connect`]);
/// 2. the binder's half: its peer description, and whether it still accepts on that
///    listener (a closing binder refuses the connect like a refused dial);
/// 3. the registry: from here on, commands the connecter's side sends for the link are held
///    ([`Registry::begin_join`]), as a reader's report sent before the binder holds its end
///    would otherwise be lost;
/// 4. the connecter's half: it takes its end of the link and hands over the far end
///    ([`SocketHalf::handle_inproc_connected`]), or refuses the binder and closes;
/// 5. the binder's half: it takes the far end ([`SocketHalf::handle_inproc_accepted`]) and,
///    still under its lock, the registry records the link ([`Registry::finish_join`]), so a
///    send on the new pipe, which takes that lock, cannot wake the connecter before the link
///    exists;
/// 6. the commands held meanwhile go to the binder ([`JoinHost::send_held`]); if the binder
///    refused, the connecter is told its connect ended.
pub fn join<H: JoinHost>(host: &H, from: (H::Socket, ConnId), name: &str) {
    let (sid, conn) = from;
    let ended = |h: &mut SocketHalf, now| h.handle_inproc_closed(conn, now);
    let (bsid, listener) = match host.with_registry(|reg, ending| reg.connect(name, from, ending)) {
        Connect::Bound(bsid, listener) => (bsid, listener),
        Connect::Waits => return,
        Connect::Ends => return host.drive(sid, ended),
    };
    if host.inspect(sid, |_| ()).is_none() {
        return;
    }
    let Some((bpeer, accepts)) = host.inspect(bsid, |h| (h.inproc_peer(), h.accepts_on(listener)))
    else {
        return;
    };
    if !accepts {
        return host.drive(sid, ended);
    }
    host.with_registry(|reg, _| reg.begin_join(from));
    let mut handed = None;
    host.drive(sid, |h, now| {
        let cpeer = h.inproc_peer();
        handed = h
            .handle_inproc_connected(conn, bpeer, now)
            .map(|end| (cpeer, end));
    });
    // The connecter refused the binder (it closed its side already), or is gone.
    let Some((cpeer, end)) = handed else {
        host.with_registry(|reg, _| reg.finish_join(from, None));
        return;
    };
    let mut joined = None;
    host.drive(bsid, |h, now| {
        let bconn = h.handle_inproc_accepted(listener, cpeer, end, now);
        let held = host.with_registry(|reg, _| reg.finish_join(from, bconn.map(|b| (bsid, b))));
        joined = Some((bconn, held));
    });
    // A binder gone meanwhile refuses like one that did not accept.
    let (bconn, held) = joined.unwrap_or_else(|| {
        (
            None,
            host.with_registry(|reg, _| reg.finish_join(from, None)),
        )
    });
    match bconn {
        Some(bconn) => {
            host.linked(from, (bsid, bconn));
            host.send_held(from, held);
        }
        None => host.drive(sid, ended),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: ListenerId = ListenerId(1);

    #[test]
    fn a_name_binds_once_and_again_after_unbind() {
        let mut reg = Registry::new();
        assert_eq!(reg.bind("a", 1, L), Ok(vec![]));
        assert_eq!(reg.bind("a", 2, L), Err(AddrInUse));
        assert!(reg.is_bound("a") && reg.is_listener(1, L) && !reg.is_listener(2, L));
        assert_eq!(reg.unbind(2, L), None, "not its name");
        assert_eq!(reg.unbind(1, L), Some("a".to_owned()));
        assert!(!reg.is_bound("a"));
        assert_eq!(reg.bind("a", 2, L), Ok(vec![]));
    }

    #[test]
    fn connects_wait_in_order_for_their_name_only() {
        let mut reg = Registry::new();
        assert_eq!(reg.connect("a", (1, ConnId(1)), false), Connect::Waits);
        assert_eq!(reg.connect("b", (1, ConnId(2)), false), Connect::Waits);
        assert_eq!(reg.connect("a", (3, ConnId(1)), false), Connect::Waits);
        assert!(reg.is_conn(3, ConnId(1)));
        assert_eq!(
            reg.bind("a", 9, L),
            Ok(vec![(1, ConnId(1)), (3, ConnId(1))])
        );
        assert!(!reg.is_conn(3, ConnId(1)), "handed over");
        assert_eq!(
            reg.connect("a", (4, ConnId(1)), false),
            Connect::Bound(9, L)
        );
        assert_eq!(
            reg.take_all_waiting(),
            vec![("b".to_owned(), (1, ConnId(2)))]
        );
        assert_eq!(reg.connect("c", (5, ConnId(1)), true), Connect::Ends);
        assert!(
            !reg.is_conn(5, ConnId(1)),
            "a connect that ends does not wait"
        );
    }

    #[test]
    fn commands_sent_while_joining_are_held_and_handed_back_in_order() {
        let mut reg = Registry::new();
        let (c, b) = ((1, ConnId(1)), (2, ConnId(5)));
        reg.begin_join(c);
        assert!(reg.is_conn(1, ConnId(1)));
        assert_eq!(reg.route(c, PipeCommand::ActivateRead), None);
        assert_eq!(reg.route(c, PipeCommand::ActivateWrite(4)), None);
        assert_eq!(
            reg.finish_join(c, Some(b)),
            vec![PipeCommand::ActivateRead, PipeCommand::ActivateWrite(4)]
        );
        assert_eq!(reg.route(c, PipeCommand::ActivateRead), Some(b));
        assert_eq!(reg.route(b, PipeCommand::ActivateRead), Some(c));
    }

    #[test]
    fn a_failed_join_links_nothing() {
        let mut reg = Registry::new();
        let c = (1, ConnId(1));
        reg.begin_join(c);
        assert_eq!(reg.route(c, PipeCommand::ActivateRead), None);
        assert_eq!(reg.finish_join(c, None), vec![PipeCommand::ActivateRead]);
        assert_eq!(reg.peer(c), None);
        assert!(!reg.is_conn(1, ConnId(1)));
    }

    #[test]
    fn a_socket_forgotten_takes_its_names_connects_and_links_along() {
        let mut reg = Registry::new();
        reg.bind("a", 1, L).unwrap();
        assert_eq!(reg.connect("b", (1, ConnId(2)), false), Connect::Waits);
        reg.begin_join((1, ConnId(3)));
        reg.finish_join((1, ConnId(4)), Some((2, ConnId(9))));
        reg.finish_join((3, ConnId(1)), Some((2, ConnId(8))));
        assert_eq!(reg.name_of(1, L), Some("a"));
        assert_eq!(reg.links_of(1), vec![((1, ConnId(4)), (2, ConnId(9)))]);
        assert_eq!(reg.forget(1), vec![((1, ConnId(4)), (2, ConnId(9)))]);
        assert_eq!(reg.listener("a"), None);
        assert_eq!(reg.waiting().count(), 0);
        assert!(!reg.is_joining((1, ConnId(3))));
        assert_eq!(reg.peer((2, ConnId(9))), None);
        assert_eq!(
            reg.peer((2, ConnId(8))),
            Some((3, ConnId(1))),
            "others' links stay"
        );
    }

    #[test]
    fn a_close_ends_the_link_waiting_or_joining() {
        let mut reg = Registry::new();
        let (c, b) = ((1, ConnId(1)), (2, ConnId(5)));
        reg.finish_join(c, Some(b));
        assert_eq!(reg.close(b), Some(c));
        assert_eq!(reg.peer(c), None);
        assert_eq!(reg.close(c), None, "already ended");
        assert_eq!(reg.connect("a", c, false), Connect::Waits);
        assert_eq!(reg.close(c), None);
        assert_eq!(reg.bind("a", 2, L), Ok(vec![]), "it waits no more");
        reg.begin_join(c);
        reg.close(c);
        assert!(!reg.is_conn(1, ConnId(1)));
    }

    type Link = ((u32, ConnId), (u32, ConnId));

    /// A single-threaded [`JoinHost`]: halves in a map, the registry beside them.
    #[derive(Default)]
    struct Host {
        halves: std::cell::RefCell<BTreeMap<u32, SocketHalf>>,
        reg: std::cell::RefCell<Registry<u32>>,
        terminating: bool,
        /// Connects to join, and inproc commands to route, once the drive is over.
        joins: std::cell::RefCell<Vec<((u32, ConnId), String)>>,
        commands: std::cell::RefCell<Vec<((u32, ConnId), PipeCommand)>>,
        linked: std::cell::RefCell<Vec<Link>>,
        closed: std::cell::RefCell<Vec<(u32, ConnId)>>,
    }

    impl JoinHost for Host {
        type Socket = u32;

        fn with_registry<R>(&self, f: impl FnOnce(&mut Registry<u32>, bool) -> R) -> R {
            f(&mut self.reg.borrow_mut(), self.terminating)
        }

        fn inspect<R>(&self, s: u32, f: impl FnOnce(&SocketHalf) -> R) -> Option<R> {
            self.halves.borrow().get(&s).map(f)
        }

        fn drive(&self, s: u32, f: impl FnOnce(&mut SocketHalf, Instant)) {
            let mut halves = self.halves.borrow_mut();
            let Some(h) = halves.get_mut(&s) else {
                return;
            };
            f(h, Instant::ZERO);
            while let Some(a) = h.poll_action() {
                match a {
                    crate::base::Action::InprocBind { listener, name } => {
                        let waiting = self.reg.borrow_mut().bind(&name, s, listener);
                        h.handle_listening(listener, &format!("inproc://{name}"), Instant::ZERO);
                        let mut joins = self.joins.borrow_mut();
                        joins.extend(waiting.unwrap().into_iter().map(|c| (c, name.clone())));
                    }
                    crate::base::Action::InprocConnect { conn, name } => {
                        self.joins.borrow_mut().push(((s, conn), name));
                    }
                    crate::base::Action::Close { conn, .. } => {
                        assert_eq!(self.reg.borrow_mut().close((s, conn)), None, "no peer here");
                        self.closed.borrow_mut().push((s, conn));
                    }
                    other => panic!("not an inproc action: {other:?}"),
                }
            }
            while let Some((conn, cmd)) = h.poll_inproc_command() {
                self.commands.borrow_mut().push(((s, conn), cmd));
            }
        }

        fn linked(&self, a: (u32, ConnId), b: (u32, ConnId)) {
            self.linked.borrow_mut().push((a, b));
        }

        fn send_held(&self, from: (u32, ConnId), held: Vec<PipeCommand>) {
            let mut commands = self.commands.borrow_mut();
            commands.extend(held.into_iter().map(|cmd| (from, cmd)));
        }
    }

    impl Host {
        fn socket(&self, id: u32, kind: crate::SocketType) {
            let half = SocketHalf::new(
                kind,
                crate::base::BaseConfig::default(),
                u64::from(id),
                crate::pipe::Storage::Local,
            )
            .unwrap();
            self.halves.borrow_mut().insert(id, half);
        }

        /// Joins what waits to be joined and routes the commands, until nothing moves.
        fn settle(&self) {
            loop {
                let joins = std::mem::take(&mut *self.joins.borrow_mut());
                let commands = std::mem::take(&mut *self.commands.borrow_mut());
                if joins.is_empty() && commands.is_empty() {
                    return;
                }
                for (from, name) in joins {
                    join(self, from, &name);
                }
                for (from, cmd) in commands {
                    let to = self.reg.borrow_mut().route(from, cmd);
                    if let Some((s, conn)) = to {
                        self.drive(s, |h, now| h.handle_inproc_command(conn, cmd, now));
                    }
                }
            }
        }
    }

    #[test]
    fn join_links_a_connect_made_before_and_after_the_bind() {
        let host = Host::default();
        host.socket(1, crate::SocketType::Pull);
        host.socket(2, crate::SocketType::Push);
        host.socket(3, crate::SocketType::Push);
        // 2 connects and sends before anyone binds; 3 connects after the bind.
        host.drive(2, |h, now| h.connect("inproc://jobs", now).unwrap());
        host.settle();
        assert_eq!(host.reg.borrow().waiting().count(), 1);
        host.drive(2, |h, now| {
            h.send(crate::Message::from("early"), now).unwrap()
        });
        host.drive(1, |h, now| {
            h.bind("inproc://jobs", now).unwrap();
        });
        host.drive(3, |h, now| h.connect("inproc://jobs", now).unwrap());
        host.settle();
        assert_eq!(host.linked.borrow().len(), 2, "both connects linked");
        assert_eq!(host.reg.borrow().waiting().count(), 0);
        host.drive(3, |h, now| {
            h.send(crate::Message::from("late"), now).unwrap()
        });
        host.settle();
        let mut got = Vec::new();
        host.drive(1, |h, now| {
            while let Ok(m) = h.recv(now) {
                got.push(m);
            }
        });
        got.sort_by(|a, b| a.frames().cmp(b.frames()));
        assert_eq!(
            got,
            [crate::Message::from("early"), crate::Message::from("late")]
        );
    }

    #[test]
    fn join_ends_a_connect_that_would_wait_once_the_context_terminates() {
        let host = Host {
            terminating: true,
            ..Host::default()
        };
        host.socket(2, crate::SocketType::Push);
        host.drive(2, |h, now| h.connect("inproc://jobs", now).unwrap());
        assert_eq!(host.inspect(2, |h| h.link_count()), Some(1));
        host.settle();
        assert_eq!(host.reg.borrow().waiting().count(), 0, "nothing waits");
        assert!(host.linked.borrow().is_empty());
        assert_eq!(host.closed.borrow().len(), 1, "the connect ended");
        assert_eq!(host.closed.borrow()[0].0, 2);
    }
}
