//! Distribute: copy each outgoing message to every matching pipe (PUB, XPUB, XSUB upstream).
//!
//! The array holds three regions: `[0, matching)` pipes matched for the current message,
//! `[matching, active)` other writable pipes, `[active, len)` pipes that were full and wait for
//! their session to drain. A full pipe loses the message (PUB semantics) and is parked.

use super::PipeArray;
use crate::message::Message;
use crate::pipe::PipeId;

/// Fan-out to all or to matching pipes.
#[derive(Clone, Debug, Default)]
pub struct Distributor {
    pub(super) pipes: PipeArray,
    matching: usize,
    active: usize,
}

impl Distributor {
    /// An empty distributor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pipe, active.
    pub fn attach(&mut self, id: PipeId) {
        if self.pipes.push(id) {
            let last = self.pipes.len() - 1;
            self.pipes.swap(last, self.active);
            self.active += 1;
        }
    }

    /// Removes a pipe.
    pub fn detach(&mut self, id: PipeId) {
        let Some(p) = self.pipes.position(id) else {
            return;
        };
        let p = self.pipes.shrink_region(p, &mut self.matching);
        let p = self.pipes.shrink_region(p, &mut self.active);
        let last = self.pipes.len() - 1;
        self.pipes.swap(p, last);
        self.pipes.pop();
    }

    /// Puts a parked pipe back among the writable ones.
    pub fn activated(&mut self, id: PipeId) {
        if let Some(p) = self.pipes.position(id) {
            if p >= self.active {
                self.pipes.swap(p, self.active);
                self.active += 1;
            }
        }
    }

    fn deactivate_at(&mut self, p: usize) {
        let p = self.pipes.shrink_region(p, &mut self.matching);
        self.pipes.shrink_region(p, &mut self.active);
    }

    /// Marks a writable pipe as matching the message about to be sent. Idempotent.
    pub fn match_pipe(&mut self, id: PipeId) {
        if let Some(p) = self.pipes.position(id) {
            if p >= self.matching && p < self.active {
                self.pipes.swap(p, self.matching);
                self.matching += 1;
            }
        }
    }

    /// Makes every writable pipe match.
    pub fn match_all(&mut self) {
        self.matching = self.active;
    }

    /// Flips the match: the writable pipes that did not match now do, and vice versa
    /// (INVERT_MATCHING).
    pub fn reverse_match(&mut self) {
        let m = self.matching;
        let rest = self.active - m;
        for i in 0..m.min(rest) {
            self.pipes.swap(i, self.active - 1 - i);
        }
        self.matching = rest;
    }

    /// Forgets the current match.
    pub fn unmatch(&mut self) {
        self.matching = 0;
    }

    /// The pipes matched for the current message.
    pub fn matching(&self) -> &[PipeId] {
        self.pipes.slice(self.matching)
    }

    /// Whether every matching pipe can take a message (XPUB_NODROP checks before sending).
    pub fn check_hwm<F>(&self, mut can_write: F) -> bool
    where
        F: FnMut(PipeId) -> bool,
    {
        self.matching().iter().all(|id| can_write(*id))
    }

    /// Sends a copy of `msg` to each matching pipe, then forgets the match. `write` returns
    /// false when a pipe is full: that pipe loses the message and is parked. Returns how many
    /// pipes took it.
    pub fn send_to_matching<F>(&mut self, msg: &Message, mut write: F) -> usize
    where
        F: FnMut(PipeId, Message) -> bool,
    {
        let mut sent = 0;
        let mut i = 0;
        while i < self.matching {
            let id = self.pipes.get(i);
            if write(id, msg.clone()) {
                sent += 1;
                i += 1;
            } else {
                // The swap brings an unvisited matching pipe (or none) to position i.
                self.deactivate_at(i);
            }
        }
        self.unmatch();
        sent
    }

    /// Sends a copy of `msg` to every writable pipe.
    pub fn send_to_all<F>(&mut self, msg: &Message, write: F) -> usize
    where
        F: FnMut(PipeId, Message) -> bool,
    {
        self.match_all();
        self.send_to_matching(msg, write)
    }

    /// Number of pipes attached (read by tests and the simulator's holdings check).
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn len(&self) -> usize {
        self.pipes.len()
    }

    /// The writable pipes.
    #[cfg(test)]
    pub(crate) fn active(&self) -> &[PipeId] {
        self.pipes.slice(self.active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn dist(n: u64) -> Distributor {
        let mut d = Distributor::new();
        for i in 0..n {
            d.attach(PipeId(i));
        }
        d
    }

    fn sent_to(d: &mut Distributor, full: &[u64]) -> BTreeSet<u64> {
        let mut got = BTreeSet::new();
        d.send_to_matching(&Message::from("m"), |id, _| {
            if full.contains(&id.0) {
                false
            } else {
                got.insert(id.0);
                true
            }
        });
        got
    }

    #[test]
    fn sends_only_to_matching_pipes() {
        let mut d = dist(5);
        d.match_pipe(PipeId(1));
        d.match_pipe(PipeId(3));
        d.match_pipe(PipeId(3));
        assert_eq!(sent_to(&mut d, &[]), [1, 3].into());
        assert!(d.matching().is_empty(), "match is forgotten after a send");
    }

    #[test]
    fn full_pipes_lose_the_message_and_are_parked() {
        let mut d = dist(4);
        d.match_all();
        assert_eq!(sent_to(&mut d, &[0, 2]), [1, 3].into());
        assert_eq!(d.active().len(), 2);
        d.match_all();
        assert_eq!(sent_to(&mut d, &[]), [1, 3].into());
        d.activated(PipeId(2));
        d.match_pipe(PipeId(2));
        assert_eq!(sent_to(&mut d, &[]), [2].into());
    }

    #[test]
    fn reverse_match_selects_the_complement_of_writable_pipes() {
        for matched in [vec![], vec![0], vec![0, 1], vec![0, 1, 2, 3, 4], vec![4, 2]] {
            let mut d = dist(5);
            for m in &matched {
                d.match_pipe(PipeId(*m));
            }
            d.reverse_match();
            let want: BTreeSet<u64> = (0..5).filter(|i| !matched.contains(i)).collect();
            assert_eq!(sent_to(&mut d, &[]), want, "matched {matched:?}");
        }
    }

    #[test]
    fn detach_from_any_region() {
        let mut d = dist(6);
        d.match_all();
        sent_to(&mut d, &[5]);
        d.match_pipe(PipeId(1));
        d.detach(PipeId(1));
        d.detach(PipeId(5));
        d.detach(PipeId(3));
        assert_eq!(d.len(), 3);
        assert!(d.matching().is_empty());
        assert_eq!(d.send_to_all(&Message::from("x"), |_, _| true), 3);
    }
}
