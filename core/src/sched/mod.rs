//! Pipe schedulers shared by the socket patterns: a [`Rotation`] that serves as load-balance
//! ([`LoadBalancer`]) and fair-queue ([`FairQueue`]), and distribute ([`Distributor`]).
//!
//! Each keeps its pipes in one array with the active ones at the front; activating or
//! deactivating a pipe swaps it across the boundary, and positions are found through an O(1)
//! index, so every step is O(1) whatever the number of pipes. Schedulers hold only ids: the
//! caller passes closures that touch the pipes, which keeps them testable alone and free of
//! borrow tangles.

mod dist;
mod fq;
pub(crate) mod index;
mod lb;
mod rotation;

pub use dist::Distributor;
pub use fq::FairQueue;
pub use lb::LoadBalancer;
pub use rotation::Rotation;

use crate::pipe::PipeId;
use index::IdIndex;

/// An array of pipe ids with an index from id to position, reordered only by swaps.
#[derive(Clone, Debug, Default)]
pub(crate) struct PipeArray {
    items: Vec<PipeId>,
    pos: IdIndex,
}

impl PipeArray {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The id at `i`. Callers index below their region bounds, which never exceed `len`.
    pub(crate) fn get(&self, i: usize) -> PipeId {
        self.items[i]
    }

    pub(crate) fn position(&self, id: PipeId) -> Option<usize> {
        self.pos.get(id)
    }

    pub(crate) fn slice(&self, end: usize) -> &[PipeId] {
        &self.items[..end]
    }

    /// Appends `id` at the end; false if it is already present.
    pub(crate) fn push(&mut self, id: PipeId) -> bool {
        if self.pos.contains(id) {
            return false;
        }
        self.pos.insert(id, self.items.len());
        self.items.push(id);
        true
    }

    pub(crate) fn swap(&mut self, i: usize, j: usize) {
        if i == j {
            return;
        }
        self.items.swap(i, j);
        self.pos.insert(self.items[i], i);
        self.pos.insert(self.items[j], j);
    }

    /// Removes the last element, which the caller has swapped into place.
    pub(crate) fn pop(&mut self) {
        if let Some(id) = self.items.pop() {
            self.pos.remove(id);
        }
    }

    /// Moves the element at `p` out of the region `[0, *bound)` by swapping it with the
    /// region's last element, and returns its new position.
    pub(crate) fn shrink_region(&mut self, p: usize, bound: &mut usize) -> usize {
        if p < *bound {
            *bound -= 1;
            self.swap(p, *bound);
            *bound
        } else {
            p
        }
    }
}

#[cfg(test)]
impl PipeArray {
    /// Panics unless every position index agrees with the array.
    pub(crate) fn assert_consistent(&self) {
        assert_eq!(self.items.len(), self.pos.len());
        for (i, id) in self.items.iter().enumerate() {
            assert_eq!(self.pos.get(*id), Some(i), "index of {id}");
        }
    }
}

#[cfg(test)]
mod prop_tests {
    use super::*;
    use crate::message::Message;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Clone, Debug)]
    enum Op {
        Attach(u64),
        Detach(u64),
        Activate(u64),
        /// One scheduling step (a send or a receive); pipes in the set refuse.
        Send(BTreeSet<u64>),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        let id = 0u64..8;
        prop::collection::vec(
            prop_oneof![
                id.clone().prop_map(Op::Attach),
                id.clone().prop_map(Op::Detach),
                id.clone().prop_map(Op::Activate),
                prop::collection::btree_set(id, 0..4).prop_map(Op::Send),
            ],
            0..100,
        )
    }

    fn set(ids: &[PipeId]) -> BTreeSet<u64> {
        ids.iter().map(|p| p.0).collect()
    }

    /// Runs `ops` on a rotation and on a model of it. `Op::Send` takes one `step`, in which
    /// the pipes in the set refuse; it returns the pipe that accepted.
    fn rotation_matches_a_model<const ATTACH_ACTIVE: bool>(
        ops: Vec<Op>,
        step: impl Fn(&mut Rotation<ATTACH_ACTIVE>, &BTreeSet<u64>) -> Option<PipeId>,
    ) -> Result<(), TestCaseError> {
        let mut r = Rotation::<ATTACH_ACTIVE>::new();
        let (mut attached, mut active) = (BTreeSet::new(), BTreeSet::new());
        for op in ops {
            match op {
                Op::Attach(i) => {
                    if attached.insert(i) && ATTACH_ACTIVE {
                        active.insert(i);
                    }
                    r.attach(PipeId(i));
                }
                Op::Detach(i) => {
                    attached.remove(&i);
                    active.remove(&i);
                    r.detach(PipeId(i));
                }
                Op::Activate(i) => {
                    if attached.contains(&i) {
                        active.insert(i);
                    }
                    r.activated(PipeId(i));
                }
                Op::Send(refusing) => {
                    let got = step(&mut r, &refusing);
                    let takers: BTreeSet<u64> = active.difference(&refusing).copied().collect();
                    match got {
                        Some(id) => prop_assert!(takers.contains(&id.0)),
                        None => prop_assert!(takers.is_empty()),
                    }
                    // Only pipes that refused may have left the rotation.
                    let now = set(r.active());
                    prop_assert!(active.difference(&now).all(|i| refusing.contains(i)));
                    active = now;
                }
            }
            r.pipes.assert_consistent();
            prop_assert_eq!(set(r.active()), active.clone());
            prop_assert_eq!(r.len(), attached.len());
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn load_balancer_matches_a_model(ops in ops()) {
            rotation_matches_a_model(ops, |lb: &mut LoadBalancer, full| {
                lb.send(Message::from("m"), |id, m| if full.contains(&id.0) { Err(m) } else { Ok(()) })
                    .ok()
            })?;
        }

        #[test]
        fn fair_queue_matches_a_model(ops in ops()) {
            rotation_matches_a_model(ops, |fq: &mut FairQueue, empty| {
                fq.recv(|id| (!empty.contains(&id.0)).then(|| Message::from("m")))
                    .map(|(id, _)| id)
            })?;
        }

        #[test]
        fn distributor_matches_a_model(ops in ops()) {
            let mut d = Distributor::new();
            let (mut attached, mut active) = (BTreeSet::new(), BTreeSet::new());
            for op in ops {
                match op {
                    Op::Attach(i) => {
                        if attached.insert(i) {
                            active.insert(i);
                        }
                        d.attach(PipeId(i));
                    }
                    Op::Detach(i) => {
                        attached.remove(&i);
                        active.remove(&i);
                        d.detach(PipeId(i));
                    }
                    Op::Activate(i) => {
                        if attached.contains(&i) {
                            active.insert(i);
                        }
                        d.activated(PipeId(i));
                    }
                    Op::Send(full) => {
                        let mut took = BTreeSet::new();
                        d.send_to_all(&Message::from("m"), |id, _| {
                            let ok = !full.contains(&id.0);
                            if ok {
                                took.insert(id.0);
                            }
                            ok
                        });
                        prop_assert_eq!(&took, &active.difference(&full).copied().collect());
                        active = took;
                    }
                }
                d.pipes.assert_consistent();
                prop_assert_eq!(set(d.active()), active.clone());
                prop_assert!(d.matching().is_empty());
            }
        }
    }
}
