//! The termination handshake, proven by exhaustive enumeration: for small trees, every order in
//! which commands may be delivered, interleaved with every point at which children may ask to
//! end, lingering objects may drain and linger timers may fire, ends with every object destroyed
//! exactly once and no command sent to a destroyed object.

use super::*;
use std::collections::BTreeMap;

/// One point in the enumeration.
#[derive(Clone, Debug)]
struct State {
    tree: Tree,
    now: Instant,
    in_flight: Vec<Envelope>,
    destroyed: BTreeMap<NodeId, u32>,
    lingering: BTreeSet<NodeId>,
    root_closed: bool,
    asked: BTreeSet<NodeId>,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Deliver(usize),
    CloseRoot,
    ChildAsksToEnd(NodeId),
    Drained(NodeId),
    LingerTimeout,
}

struct Shape {
    root: NodeId,
    /// Every non-root object that may ask to end by itself.
    children: Vec<NodeId>,
    linger: Linger,
}

impl State {
    fn absorb(&mut self) {
        while let Some(env) = self.tree.poll_command() {
            self.in_flight.push(env);
        }
        while let Some(ev) = self.tree.poll_event() {
            match ev {
                TreeEvent::Destroyed(id) => {
                    *self.destroyed.entry(id).or_default() += 1;
                    self.lingering.remove(&id);
                }
                TreeEvent::Linger(id, _) => {
                    self.lingering.insert(id);
                }
            }
        }
    }

    fn actions(&self, shape: &Shape) -> Vec<Action> {
        let mut out = Vec::new();
        for (i, env) in self.in_flight.iter().enumerate() {
            // Mailboxes are FIFO per sender and receiver; across pairs anything goes.
            let overtakes = self.in_flight[..i]
                .iter()
                .any(|e| e.from == env.from && e.to == env.to);
            if !overtakes {
                out.push(Action::Deliver(i));
            }
        }
        if !self.root_closed {
            out.push(Action::CloseRoot);
        }
        for &c in &shape.children {
            if self.tree.is_alive(c) && !self.asked.contains(&c) {
                out.push(Action::ChildAsksToEnd(c));
            }
        }
        for &n in &self.lingering {
            out.push(Action::Drained(n));
        }
        if self.tree.poll_timeout().is_some() {
            out.push(Action::LingerTimeout);
        }
        out
    }

    fn apply(&mut self, a: Action, shape: &Shape) {
        match a {
            Action::Deliver(i) => {
                let env = self.in_flight.remove(i);
                if let Err(e) = self.tree.deliver(env, self.now) {
                    panic!("{e:?} in {self:?}");
                }
            }
            Action::CloseRoot => {
                self.root_closed = true;
                self.tree.terminate(shape.root, shape.linger, self.now);
            }
            Action::ChildAsksToEnd(c) => {
                self.asked.insert(c);
                self.tree.terminate(c, Linger::Forever, self.now);
            }
            Action::Drained(n) => {
                self.lingering.remove(&n);
                self.tree.drained(n, self.now);
            }
            Action::LingerTimeout => {
                self.now = self.tree.poll_timeout().expect("offered only when armed");
                self.tree.handle_timeout(self.now);
                // Lingering objects whose time ran out are no longer waiting to drain.
                let still: BTreeSet<NodeId> = self
                    .lingering
                    .iter()
                    .copied()
                    .filter(|&n| {
                        self.tree
                            .nodes
                            .get(&n)
                            .is_some_and(|x| x.lingering.is_some())
                    })
                    .collect();
                self.lingering = still;
            }
        }
        self.absorb();
    }

    /// A 128-bit digest of the state, with the in-flight commands in a canonical order: only
    /// the order within each (sender, receiver) mailbox matters, so a stable sort by that pair
    /// loses nothing. (Two independent 64-bit SipHashes; a collision among the few million
    /// states explored has odds far below 2^-80.)
    fn key(&self) -> u128 {
        use std::hash::{Hash, Hasher};
        let mut in_flight: Vec<&Envelope> = self.in_flight.iter().collect();
        in_flight.sort_by_key(|e| (e.from, e.to));
        let digest = |salt: u64| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            salt.hash(&mut h);
            self.tree.nodes.hash(&mut h);
            self.now.hash(&mut h);
            in_flight.hash(&mut h);
            self.destroyed.hash(&mut h);
            self.lingering.hash(&mut h);
            self.root_closed.hash(&mut h);
            self.asked.hash(&mut h);
            h.finish()
        };
        (u128::from(digest(0x5eed)) << 64) | u128::from(digest(0xfeed))
    }
}

/// Explores every reachable state; returns how many distinct states and endings it saw.
fn explore(start: State, shape: &Shape, all_nodes: &[NodeId]) -> (usize, usize) {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    let mut endings = 0;
    while let Some(s) = stack.pop() {
        if !seen.insert(s.key()) {
            continue;
        }
        for (id, n) in &s.destroyed {
            assert_eq!(*n, 1, "{id:?} destroyed {n} times");
        }
        let actions = s.actions(shape);
        if actions.is_empty() {
            endings += 1;
            assert!(s.tree.is_empty(), "stuck with live objects: {s:?}");
            for id in all_nodes {
                assert_eq!(s.destroyed.get(id), Some(&1), "{id:?} in {s:?}");
            }
            continue;
        }
        for a in actions {
            let mut next = s.clone();
            next.apply(a, shape);
            stack.push(next);
        }
    }
    (seen.len(), endings)
}

/// A socket with one session per entry; `true` gives that session an engine.
/// Sessions marked in `pending` hold messages to flush when told to end.
fn run(sessions: &[bool], pending: &[bool], linger: Linger) -> (usize, usize) {
    let (mut tree, root) = Tree::new();
    let mut children = Vec::new();
    for (i, &with_engine) in sessions.iter().enumerate() {
        let s = tree.launch(root).unwrap();
        children.push(s);
        if pending[i] {
            tree.set_pending(s, true, Instant::ZERO);
        }
        if with_engine {
            children.push(tree.launch(s).unwrap());
        }
    }
    let mut all = children.clone();
    all.push(root);
    let shape = Shape {
        root,
        children,
        linger,
    };
    let mut start = State {
        tree,
        now: Instant::ZERO,
        in_flight: Vec::new(),
        destroyed: BTreeMap::new(),
        lingering: BTreeSet::new(),
        root_closed: false,
        asked: BTreeSet::new(),
    };
    start.absorb();
    explore(start, &shape, &all)
}

const LINGERS: [Linger; 3] = [
    Linger::Forever,
    Linger::For(Duration::ZERO),
    Linger::For(Duration::from_millis(100)),
];

#[test]
fn root_alone_terminates_once() {
    for linger in LINGERS {
        let (states, endings) = run(&[], &[], linger);
        assert!(states >= 2 && endings >= 1);
    }
}

#[test]
fn every_interleaving_for_up_to_three_sessions_with_engines_terminates_exactly_once() {
    // A session is one of four kinds: with or without an engine, with or without messages to
    // flush. Sessions are interchangeable, so each multiset of kinds is one tree to explore.
    let kinds = [(false, false), (false, true), (true, false), (true, true)];
    let mut total_states = 0;
    let mut trees = 0;
    for n in 0..=3usize {
        let mut pick = vec![0usize; n];
        loop {
            let sessions: Vec<bool> = pick.iter().map(|&k| kinds[k].0).collect();
            let pending: Vec<bool> = pick.iter().map(|&k| kinds[k].1).collect();
            for linger in LINGERS {
                let (states, endings) = run(&sessions, &pending, linger);
                assert!(endings > 0);
                total_states += states;
                trees += 1;
            }
            // Next non-decreasing sequence of kind indices.
            let Some(i) = (0..n).rev().find(|&i| pick[i] + 1 < kinds.len()) else {
                break;
            };
            pick[i] += 1;
            for j in i + 1..n {
                pick[j] = pick[i];
            }
        }
    }
    assert_eq!(
        trees,
        3 * (1 + 4 + 10 + 20),
        "every multiset of up to three sessions"
    );
    // The enumeration is not vacuous.
    assert!(
        total_states > 1_000_000,
        "explored only {total_states} states"
    );
}

#[test]
fn term_req_crossing_the_owners_term_is_ignored_not_doubled() {
    let (mut t, root) = Tree::new();
    let s = t.launch(root).unwrap();
    let now = Instant::ZERO;
    t.terminate(s, Linger::Forever, now); // TermReq in flight
    t.terminate(root, Linger::Forever, now); // Term to s in flight
    let req = t.poll_command().unwrap();
    let term = t.poll_command().unwrap();
    assert_eq!(req.command, Command::TermReq(s));
    assert_eq!(term.command, Command::Term(Linger::Forever));
    t.deliver(req, now).unwrap(); // owner already ending: ignored
    assert!(t.poll_command().is_none(), "no second Term");
    t.deliver(term, now).unwrap();
    let ack = t.poll_command().unwrap();
    assert_eq!(ack.command, Command::TermAck);
    t.deliver(ack, now).unwrap();
    assert!(t.is_empty());
    let events: Vec<TreeEvent> = std::iter::from_fn(|| t.poll_event()).collect();
    assert_eq!(
        events,
        vec![TreeEvent::Destroyed(s), TreeEvent::Destroyed(root)]
    );
}

#[test]
fn linger_waits_for_drain_then_ends_children() {
    let (mut t, root) = Tree::new();
    let session = t.launch(root).unwrap();
    let engine = t.launch(session).unwrap();
    let now = Instant::ZERO;
    t.set_pending(session, true, now);
    t.terminate(root, Linger::Forever, now);
    let term = t.poll_command().unwrap();
    t.deliver(term, now).unwrap();
    assert_eq!(
        t.poll_event(),
        Some(TreeEvent::Linger(session, Linger::Forever))
    );
    assert!(
        t.poll_command().is_none(),
        "the engine keeps running while we linger"
    );
    assert!(t.is_alive(engine));
    assert_eq!(t.poll_timeout(), None, "forever has no deadline");
    t.drained(session, now);
    let term_engine = t.poll_command().unwrap();
    assert_eq!(term_engine.to, engine);
}

#[test]
fn finite_linger_expires_with_a_stuck_peer() {
    let (mut t, root) = Tree::new();
    let session = t.launch(root).unwrap();
    let _engine = t.launch(session).unwrap();
    t.set_pending(session, true, Instant::ZERO);
    t.terminate(root, Linger::For(Duration::from_millis(250)), Instant::ZERO);
    let term = t.poll_command().unwrap();
    let at = Instant::ZERO + Duration::from_millis(10);
    t.deliver(term, at).unwrap();
    assert_eq!(t.poll_timeout(), Some(at + Duration::from_millis(250)));
    t.handle_timeout(at + Duration::from_millis(249));
    assert!(t.poll_command().is_none());
    t.handle_timeout(at + Duration::from_millis(250));
    // Linger over: the engine is told to end, and the tree winds down.
    let mut steps = 0;
    while let Some(env) = t.poll_command() {
        t.deliver(env, at).unwrap();
        steps += 1;
    }
    assert!(t.is_empty());
    assert_eq!(
        steps, 3,
        "Term to the engine, its TermAck, the session's TermAck"
    );
}

#[test]
fn zero_linger_drops_at_once() {
    let (mut t, root) = Tree::new();
    let session = t.launch(root).unwrap();
    t.set_pending(session, true, Instant::ZERO);
    t.terminate(root, Linger::For(Duration::ZERO), Instant::ZERO);
    while let Some(env) = t.poll_command() {
        t.deliver(env, Instant::ZERO).unwrap();
    }
    assert!(t.is_empty());
    let events: Vec<TreeEvent> = std::iter::from_fn(|| t.poll_event()).collect();
    assert!(!events.iter().any(|e| matches!(e, TreeEvent::Linger(..))));
}

#[test]
fn a_child_launched_while_its_owner_ends_is_ended_too() {
    let (mut t, root) = Tree::new();
    let session = t.launch(root).unwrap();
    t.terminate(root, Linger::Forever, Instant::ZERO);
    let late = t.launch(session).unwrap();
    while let Some(env) = t.poll_command() {
        t.deliver(env, Instant::ZERO).unwrap();
    }
    assert!(!t.is_alive(late));
    assert!(t.is_empty());
}
