//! The routing-id table ROUTER and STREAM share: id ↔ pipe, and the generator for peers that
//! bring no id of their own.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::generated_routing_id;
use crate::pipe::PipeId;

/// Routing id ↔ pipe, both ways, plus the id generator.
#[derive(Clone, Debug)]
pub(crate) struct RoutingTable {
    by_id: BTreeMap<Bytes, PipeId>,
    by_pipe: BTreeMap<PipeId, Bytes>,
    next: u32,
}

impl RoutingTable {
    /// A table whose generated ids count up from `seed` (libzmq starts at a random value).
    pub(crate) fn new(seed: u32) -> Self {
        RoutingTable {
            by_id: BTreeMap::new(),
            by_pipe: BTreeMap::new(),
            next: seed,
        }
    }

    /// How many entries the larger of its two directions holds (simulator hook).
    #[cfg(feature = "sim")]
    pub(crate) fn len(&self) -> usize {
        self.by_id.len().max(self.by_pipe.len())
    }

    /// A fresh `0x00` + u32 id that no pipe holds.
    pub(crate) fn generate(&mut self) -> Bytes {
        loop {
            self.next = self.next.wrapping_add(1);
            let id = generated_routing_id(self.next);
            // Peers may pick 5-byte ids starting with 0x00 themselves; skip those in use.
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    pub(crate) fn pipe(&self, id: &[u8]) -> Option<PipeId> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn id(&self, pipe: PipeId) -> Option<&Bytes> {
        self.by_pipe.get(&pipe)
    }

    /// Binds `id` to `pipe`, replacing any binding either had.
    pub(crate) fn insert(&mut self, id: Bytes, pipe: PipeId) {
        self.remove_pipe(pipe);
        if let Some(old) = self.by_id.insert(id.clone(), pipe) {
            self.by_pipe.remove(&old);
        }
        self.by_pipe.insert(pipe, id);
    }

    pub(crate) fn remove_pipe(&mut self, pipe: PipeId) -> Option<Bytes> {
        let id = self.by_pipe.remove(&pipe)?;
        self.by_id.remove(&id);
        Some(id)
    }
}
