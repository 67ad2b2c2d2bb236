//! Fair-queue: round-robin over the pipes that have a message waiting (PULL, DEALER, ROUTER,
//! REP, SUB, XPUB…). Each received message is whole, so the rotation moves on after each one.

use super::Rotation;
use crate::message::Message;
use crate::pipe::PipeId;

/// Round-robin over readable pipes: a new pipe waits in the array until it is
/// [`activated`](Rotation::activated) by an arriving message.
pub type FairQueue = Rotation<false>;

impl FairQueue {
    /// Takes the next message in rotation. `read` returns `None` for an empty pipe, which is
    /// then deactivated until its next message arrives.
    pub fn recv<F>(&mut self, mut read: F) -> Option<(PipeId, Message)>
    where
        F: FnMut(PipeId) -> Option<Message>,
    {
        self.step((), |id, ()| read(id).ok_or(())).ok()
    }

    /// Takes a batch with `read_many` from the pipe in the rotation when it is the only one
    /// (round-robin would take its messages in a row anyway); returns what `read_many`
    /// took, or 0 with no pipe or several in the rotation. A pipe found empty is left for
    /// [`recv`](Self::recv) to deactivate.
    pub(crate) fn recv_batch<F>(&self, read_many: F) -> usize
    where
        F: FnOnce(PipeId) -> usize,
    {
        self.sole().map_or(0, read_many)
    }

    /// Whether some pipe has a message; deactivates the empty ones met on the way.
    pub fn has_in<F>(&mut self, can_read: F) -> bool
    where
        F: FnMut(PipeId) -> bool,
    {
        self.any_ready(can_read)
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
