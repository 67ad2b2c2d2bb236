//! The socket's pipes: O(1) lookup by id on the per-message paths, ordered iteration for the
//! rare whole-socket walks.

use crate::pipe::PipeId;
use crate::sched::index::IdIndex;

/// Pipes by id. Entries live in a vector (removal swaps the last one into the gap); an
/// [`IdIndex`] finds them. `keys` walks them in id order, so iteration is deterministic and
/// independent of the swap history.
#[derive(Clone, Debug)]
pub(crate) struct PipeTable<T> {
    entries: Vec<(PipeId, T)>,
    index: IdIndex,
    /// Where the last `get_mut` found its entry: a socket with one peer, or one writing a
    /// multi-frame message, asks for the same pipe again and again. Only a guess, checked
    /// against the entry's id before use, so it never needs to be kept right.
    hint: usize,
}

impl<T> Default for PipeTable<T> {
    fn default() -> Self {
        PipeTable {
            entries: Vec::new(),
            index: IdIndex::default(),
            hint: 0,
        }
    }
}

impl<T> PipeTable<T> {
    pub(crate) fn contains_key(&self, id: &PipeId) -> bool {
        self.index.contains(*id)
    }

    pub(crate) fn get(&self, id: &PipeId) -> Option<&T> {
        self.index.get(*id).map(|i| &self.entries[i].1)
    }

    pub(crate) fn get_mut(&mut self, id: &PipeId) -> Option<&mut T> {
        let i = match self.entries.get(self.hint) {
            Some((k, _)) if k == id => self.hint,
            _ => {
                let i = self.index.get(*id)?;
                self.hint = i;
                i
            }
        };
        Some(&mut self.entries[i].1)
    }

    /// Adds or replaces the entry for `id`.
    pub(crate) fn insert(&mut self, id: PipeId, value: T) {
        match self.index.get(id) {
            Some(i) => self.entries[i].1 = value,
            None => {
                self.index.insert(id, self.entries.len());
                self.entries.push((id, value));
            }
        }
    }

    pub(crate) fn remove(&mut self, id: &PipeId) -> Option<T> {
        let i = self.index.remove(*id)?;
        let (_, value) = self.entries.swap_remove(i);
        if let Some((moved, _)) = self.entries.get(i) {
            self.index.insert(*moved, i);
        }
        Some(value)
    }

    /// The ids, in ascending order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &PipeId> {
        let mut ids: Vec<&PipeId> = self.entries.iter().map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_get_and_ordered_keys() {
        let mut t = PipeTable::default();
        for i in [5u64, 1, 9, 3] {
            t.insert(PipeId(i), i * 10);
        }
        assert_eq!(t.remove(&PipeId(1)), Some(10));
        assert_eq!(t.remove(&PipeId(1)), None);
        assert_eq!(
            t.get(&PipeId(3)),
            Some(&30),
            "moved by the swap, still found"
        );
        *t.get_mut(&PipeId(9)).unwrap() += 1;
        assert_eq!(t.get(&PipeId(9)), Some(&91));
        let keys: Vec<u64> = t.keys().map(|k| k.0).collect();
        assert_eq!(keys, [3, 5, 9]);
        assert!(t.contains_key(&PipeId(5)) && !t.contains_key(&PipeId(1)));
    }

    #[test]
    fn get_mut_is_right_after_the_entry_it_last_found_moves_or_goes() {
        let mut t = PipeTable::default();
        for i in [1u64, 2, 3] {
            t.insert(PipeId(i), i * 10);
        }
        assert_eq!(t.get_mut(&PipeId(1)).copied(), Some(10));
        // 3 is swapped into 1's place, where the last lookup found 1.
        assert_eq!(t.remove(&PipeId(1)), Some(10));
        assert_eq!(t.get_mut(&PipeId(1)), None);
        assert_eq!(t.get_mut(&PipeId(3)).copied(), Some(30));
        assert_eq!(t.get_mut(&PipeId(2)).copied(), Some(20));
        // The last entry found is removed with nothing to swap in: the guess points past
        // the end.
        t.remove(&PipeId(2));
        assert_eq!(t.get_mut(&PipeId(2)), None);
        assert_eq!(t.get_mut(&PipeId(3)).copied(), Some(30));
        t.insert(PipeId(2), 21);
        assert_eq!(t.get_mut(&PipeId(2)).copied(), Some(21));
    }
}
