//! The arena prefix tree under both subscription tries: bytes of a topic spell a path from the
//! root, and each node holds a value for the prefix it ends.
//!
//! Nodes live in one `Vec` and refer to each other by index, so no operation recurses (a
//! long topic from the network cannot overflow the stack) and dropping a trie is flat. Children
//! are kept sorted by byte: lookups are a binary search, iteration is in byte order and thus
//! deterministic, and matching costs O(topic length).

/// A value stored at a trie node that can tell when the node holds nothing.
pub(super) trait NodeValue: Default {
    fn is_vacant(&self) -> bool;
}

#[derive(Clone, Debug, Default)]
struct Node<V> {
    value: V,
    /// (byte, child index), sorted by byte.
    children: Vec<(u8, u32)>,
    parent: u32,
    byte: u8,
}

/// An arena prefix tree keyed by bytes. Node 0 is the root (the empty prefix).
#[derive(Clone, Debug)]
pub(super) struct PrefixTree<V> {
    nodes: Vec<Node<V>>,
    free: Vec<u32>,
}

impl<V: NodeValue> Default for PrefixTree<V> {
    fn default() -> Self {
        PrefixTree {
            nodes: vec![Node::default()],
            free: Vec::new(),
        }
    }
}

const ROOT: u32 = 0;

impl<V: NodeValue> PrefixTree<V> {
    fn child(&self, node: u32, byte: u8) -> Option<u32> {
        let children = &self.nodes[node as usize].children;
        children
            .binary_search_by_key(&byte, |c| c.0)
            .ok()
            .map(|i| children[i].1)
    }

    /// The node for `key`, if it exists.
    pub(super) fn find(&self, key: &[u8]) -> Option<u32> {
        key.iter().try_fold(ROOT, |n, b| self.child(n, *b))
    }

    /// The node for `key`, created along with any missing ancestors.
    pub(super) fn find_or_insert(&mut self, key: &[u8]) -> u32 {
        let mut node = ROOT;
        for &byte in key {
            node = match self.nodes[node as usize]
                .children
                .binary_search_by_key(&byte, |c| c.0)
            {
                Ok(i) => self.nodes[node as usize].children[i].1,
                Err(i) => {
                    let new = self.alloc(node, byte);
                    self.nodes[node as usize].children.insert(i, (byte, new));
                    new
                }
            };
        }
        node
    }

    fn alloc(&mut self, parent: u32, byte: u8) -> u32 {
        let node = Node {
            value: V::default(),
            children: Vec::new(),
            parent,
            byte,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                // A trie with 2^32 nodes would need far more memory than any host has.
                let i = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
                self.nodes.push(node);
                i
            }
        }
    }

    pub(super) fn value(&self, node: u32) -> &V {
        &self.nodes[node as usize].value
    }

    pub(super) fn value_mut(&mut self, node: u32) -> &mut V {
        &mut self.nodes[node as usize].value
    }

    /// Whether `node` is live: the root, or linked from its parent.
    fn is_linked(&self, node: u32) -> bool {
        let n = &self.nodes[node as usize];
        node == ROOT || self.child(n.parent, n.byte) == Some(node)
    }

    /// Frees `node` and its ancestors while they hold nothing and have no children. A node
    /// already freed is left alone.
    pub(super) fn prune(&mut self, mut node: u32) {
        if !self.is_linked(node) {
            return;
        }
        while node != ROOT {
            let n = &self.nodes[node as usize];
            if !n.value.is_vacant() || !n.children.is_empty() {
                return;
            }
            let (parent, byte) = (n.parent, n.byte);
            let siblings = &mut self.nodes[parent as usize].children;
            if let Ok(i) = siblings.binary_search_by_key(&byte, |c| c.0) {
                siblings.remove(i);
            }
            self.nodes[node as usize] = Node::default();
            self.free.push(node);
            node = parent;
        }
    }

    /// Calls `f` on the value of every node on the path spelled by `data`: the root (empty
    /// prefix), then each prefix of `data` that exists. Stops early if `f` returns true and
    /// reports whether it did.
    pub(super) fn any_prefix<F>(&self, data: &[u8], mut f: F) -> bool
    where
        F: FnMut(&V) -> bool,
    {
        let mut node = ROOT;
        if f(self.value(node)) {
            return true;
        }
        for &byte in data {
            match self.child(node, byte) {
                Some(c) => node = c,
                None => return false,
            }
            if f(self.value(node)) {
                return true;
            }
        }
        false
    }

    /// Visits every node holding something, in byte order of its key.
    pub(super) fn for_each<F>(&self, mut f: F)
    where
        F: FnMut(&[u8], &V),
    {
        let mut key = Vec::new();
        // (node, depth of node): the key of a node is the first `depth` bytes of `key`.
        let mut stack = vec![(ROOT, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            key.truncate(depth.saturating_sub(1));
            let n = &self.nodes[node as usize];
            if node != ROOT {
                key.push(n.byte);
            }
            if !n.value.is_vacant() {
                f(&key, &n.value);
            }
            for &(_, c) in n.children.iter().rev() {
                stack.push((c, depth + 1));
            }
        }
    }

    /// Mutably visits every node holding something, in byte order of its key, then prunes the
    /// ones left vacant.
    pub(super) fn retain_each<F>(&mut self, mut f: F)
    where
        F: FnMut(&[u8], &mut V),
    {
        let mut key = Vec::new();
        let mut vacated = Vec::new();
        let mut stack = vec![(ROOT, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            key.truncate(depth.saturating_sub(1));
            let n = &mut self.nodes[node as usize];
            if node != ROOT {
                key.push(n.byte);
            }
            if !n.value.is_vacant() {
                f(&key, &mut n.value);
                if n.value.is_vacant() {
                    vacated.push(node);
                }
            }
            for &(_, c) in n.children.iter().rev() {
                stack.push((c, depth + 1));
            }
        }
        // Children were visited after parents, so prune deepest first.
        for node in vacated.into_iter().rev() {
            self.prune(node);
        }
    }

    /// Number of live nodes, the root included.
    #[cfg(test)]
    pub(super) fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}
