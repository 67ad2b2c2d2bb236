//! An O(1) index from pipe ids to positions, for the schedulers' hot paths.
//!
//! Open addressing with linear probing and backward-shift deletion over a fixed
//! multiplicative hash. It is never iterated, so nothing about its layout can reach
//! behaviour: lookups are all it offers.

use crate::pipe::PipeId;

#[derive(Clone, Debug, Default)]
pub(crate) struct IdIndex {
    /// `None` = empty slot. The length is zero or a power of two.
    slots: Vec<Option<(PipeId, usize)>>,
    len: usize,
}

impl IdIndex {
    fn home(&self, id: PipeId) -> usize {
        // Fibonacci hashing: the top bits of the product, as many as the table needs.
        let bits = self.slots.len().trailing_zeros();
        (id.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    fn find(&self, id: PipeId) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(id);
        loop {
            match self.slots[i] {
                Some((k, _)) if k == id => return Ok(i),
                Some(_) => i = (i + 1) & mask,
                None => return Err(i),
            }
        }
    }

    pub(crate) fn get(&self, id: PipeId) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        self.find(id)
            .ok()
            .and_then(|i| self.slots[i].map(|(_, v)| v))
    }

    /// Number of ids held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn contains(&self, id: PipeId) -> bool {
        self.get(id).is_some()
    }

    /// Sets the value for `id`, adding it if absent.
    pub(crate) fn insert(&mut self, id: PipeId, value: usize) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        match self.find(id) {
            Ok(i) => self.slots[i] = Some((id, value)),
            Err(i) => {
                self.slots[i] = Some((id, value));
                self.len += 1;
            }
        }
    }

    pub(crate) fn remove(&mut self, id: PipeId) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mut hole = self.find(id).ok()?;
        let value = self.slots[hole].take().map(|(_, v)| v);
        self.len -= 1;
        // Backward shift: pull later members of the probe run into the hole when their home
        // slot does not lie strictly between the hole and them.
        let mask = self.slots.len() - 1;
        let mut i = (hole + 1) & mask;
        while let Some((k, _)) = self.slots[i] {
            let home = self.home(k);
            let dist_home = i.wrapping_sub(home) & mask;
            let dist_hole = i.wrapping_sub(hole) & mask;
            if dist_home >= dist_hole {
                self.slots[hole] = self.slots[i].take();
                hole = i;
            }
            i = (i + 1) & mask;
        }
        value
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(8);
        let old = std::mem::replace(&mut self.slots, vec![None; cap]);
        self.len = 0;
        for (k, v) in old.into_iter().flatten() {
            self.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((0u8..3, 0u64..64, 0usize..100), 0..400)) {
            let mut idx = IdIndex::default();
            let mut model = BTreeMap::new();
            for (op, k, v) in ops {
                // Keys spread over the whole u64 range too.
                let id = PipeId(k.wrapping_mul(0x0123_4567_89AB_CDEF));
                match op {
                    0 => { idx.insert(id, v); model.insert(id, v); }
                    1 => { prop_assert_eq!(idx.remove(id), model.remove(&id)); }
                    _ => {}
                }
                for k in 0..64u64 {
                    let id = PipeId(k.wrapping_mul(0x0123_4567_89AB_CDEF));
                    prop_assert_eq!(idx.get(id), model.get(&id).copied());
                }
            }
        }
    }
}
