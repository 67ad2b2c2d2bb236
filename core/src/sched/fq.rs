//! Fair-queue: round-robin over the pipes that have a message waiting (PULL, DEALER, ROUTER,
//! REP, SUB, XPUB…). Each received message is whole, so the rotation moves on after each one.

use super::PipeArray;
use crate::message::Message;
use crate::pipe::PipeId;

/// Round-robin over readable pipes.
#[derive(Clone, Debug, Default)]
pub struct FairQueue {
    pub(super) pipes: PipeArray,
    active: usize,
    current: usize,
}

impl FairQueue {
    /// An empty fair-queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pipe, inactive until it is [`activated`](Self::activated) by an arriving message.
    pub fn attach(&mut self, id: PipeId) {
        self.pipes.push(id);
    }

    /// Removes a pipe.
    pub fn detach(&mut self, id: PipeId) {
        let Some(p) = self.pipes.position(id) else {
            return;
        };
        let p = self.pipes.shrink_region(p, &mut self.active);
        let last = self.pipes.len() - 1;
        self.pipes.swap(p, last);
        self.pipes.pop();
        self.fix_current();
    }

    /// Marks a pipe readable (its inbound queue went from empty to non-empty).
    pub fn activated(&mut self, id: PipeId) {
        if let Some(p) = self.pipes.position(id) {
            if p >= self.active {
                self.pipes.swap(p, self.active);
                self.active += 1;
            }
        }
    }

    fn deactivate(&mut self, id: PipeId) {
        if let Some(p) = self.pipes.position(id) {
            self.pipes.shrink_region(p, &mut self.active);
            self.fix_current();
        }
    }

    fn fix_current(&mut self) {
        if self.current >= self.active {
            self.current = 0;
        }
    }

    /// Takes the next message in rotation. `read` returns `None` for an empty pipe, which is
    /// then deactivated until its next message arrives.
    pub fn recv<F>(&mut self, mut read: F) -> Option<(PipeId, Message)>
    where
        F: FnMut(PipeId) -> Option<Message>,
    {
        while self.active > 0 {
            let id = self.pipes.get(self.current);
            match read(id) {
                Some(msg) => {
                    self.current = (self.current + 1) % self.active;
                    return Some((id, msg));
                }
                None => self.deactivate(id),
            }
        }
        None
    }

    /// Whether some pipe has a message; deactivates the empty ones met on the way.
    pub fn has_in<F>(&mut self, mut can_read: F) -> bool
    where
        F: FnMut(PipeId) -> bool,
    {
        while self.active > 0 {
            let id = self.pipes.get(self.current);
            if can_read(id) {
                return true;
            }
            self.deactivate(id);
        }
        false
    }

    /// Number of pipes attached.
    pub fn len(&self) -> usize {
        self.pipes.len()
    }

    /// Whether no pipe is attached.
    pub fn is_empty(&self) -> bool {
        self.pipes.len() == 0
    }

    /// The pipes believed readable.
    pub fn active(&self) -> &[PipeId] {
        self.pipes.slice(self.active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, VecDeque};

    fn queues(n: u64, per: usize) -> BTreeMap<PipeId, VecDeque<Message>> {
        (0..n)
            .map(|i| {
                let q = (0..per)
                    .map(|j| Message::from(format!("{i}.{j}").into_bytes()))
                    .collect();
                (PipeId(i), q)
            })
            .collect()
    }

    #[test]
    fn takes_one_message_from_each_pipe_in_turn() {
        let mut qs = queues(3, 2);
        let mut fq = FairQueue::new();
        for id in qs.keys() {
            fq.attach(*id);
            fq.activated(*id);
        }
        let mut order = Vec::new();
        while let Some((id, _)) = fq.recv(|id| qs.get_mut(&id).and_then(VecDeque::pop_front)) {
            order.push(id.0);
        }
        assert_eq!(order.len(), 6);
        assert_eq!(&order[..3], &order[3..], "one from each before any repeats");
        assert!(fq.active().is_empty(), "drained pipes are deactivated");
    }

    #[test]
    fn inactive_pipes_are_not_polled() {
        let mut fq = FairQueue::new();
        fq.attach(PipeId(1));
        let got = fq.recv(|_| panic!("an inactive pipe must not be read"));
        assert!(got.is_none());
    }

    #[test]
    fn activation_is_idempotent_and_detach_is_safe() {
        let mut fq = FairQueue::new();
        fq.attach(PipeId(1));
        fq.attach(PipeId(2));
        fq.activated(PipeId(2));
        fq.activated(PipeId(2));
        assert_eq!(fq.active(), &[PipeId(2)]);
        fq.detach(PipeId(2));
        fq.detach(PipeId(2));
        assert!(fq.active().is_empty());
        assert_eq!(fq.len(), 1);
        assert!(!fq.has_in(|_| true));
    }
}
