//! Subscription prefix tries: a counted [`Trie`] (SUB/XSUB's own subscriptions) over a shared
//! arena prefix tree that [`crate::mtrie`] reuses for XPUB's per-pipe subscriptions.
//!
//! Nodes live in one `Vec` and refer to each other by index, so no operation recurses (a
//! long topic from the network cannot overflow the stack) and dropping a trie is flat. Children
//! are kept sorted by byte: lookups are a binary search, iteration is in byte order and thus
//! deterministic, and matching costs O(topic length).

use bytes::Bytes;

/// A value stored at a trie node that can tell when the node holds nothing.
pub(crate) trait NodeValue: Default {
    fn is_vacant(&self) -> bool;
}

impl NodeValue for u32 {
    fn is_vacant(&self) -> bool {
        *self == 0
    }
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
pub(crate) struct PrefixTree<V> {
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
    pub(crate) fn find(&self, key: &[u8]) -> Option<u32> {
        key.iter().try_fold(ROOT, |n, b| self.child(n, *b))
    }

    /// The node for `key`, created along with any missing ancestors.
    pub(crate) fn find_or_insert(&mut self, key: &[u8]) -> u32 {
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

    pub(crate) fn value(&self, node: u32) -> &V {
        &self.nodes[node as usize].value
    }

    pub(crate) fn value_mut(&mut self, node: u32) -> &mut V {
        &mut self.nodes[node as usize].value
    }

    /// Whether `node` is live: the root, or linked from its parent.
    fn is_linked(&self, node: u32) -> bool {
        let n = &self.nodes[node as usize];
        node == ROOT || self.child(n.parent, n.byte) == Some(node)
    }

    /// Frees `node` and its ancestors while they hold nothing and have no children. A node
    /// already freed is left alone.
    pub(crate) fn prune(&mut self, mut node: u32) {
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
    pub(crate) fn any_prefix<F>(&self, data: &[u8], mut f: F) -> bool
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
    pub(crate) fn for_each<F>(&self, mut f: F)
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
    pub(crate) fn retain_each<F>(&mut self, mut f: F)
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
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}

/// Counted prefix subscriptions: subscribing twice needs two cancels; the empty topic matches
/// every message.
#[derive(Clone, Debug, Default)]
pub struct Trie {
    tree: PrefixTree<u32>,
    topics: usize,
}

impl Trie {
    /// An empty trie (matches nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one subscription to `topic`. True if the topic was not subscribed before.
    pub fn add(&mut self, topic: &[u8]) -> bool {
        let node = self.tree.find_or_insert(topic);
        let count = self.tree.value_mut(node);
        *count = count.saturating_add(1);
        let first = *count == 1;
        if first {
            self.topics += 1;
        }
        first
    }

    /// Removes one subscription to `topic`. True if that was its last one; false if it is
    /// still subscribed or never was.
    pub fn remove(&mut self, topic: &[u8]) -> bool {
        let Some(node) = self.tree.find(topic) else {
            return false;
        };
        let count = self.tree.value_mut(node);
        if *count == 0 {
            return false;
        }
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.topics -= 1;
        self.tree.prune(node);
        true
    }

    /// Whether some subscribed topic is a prefix of `data`.
    pub fn matches(&self, data: &[u8]) -> bool {
        self.tree.any_prefix(data, |count| *count > 0)
    }

    /// How many times `topic` is subscribed.
    pub fn count(&self, topic: &[u8]) -> u32 {
        self.tree.find(topic).map_or(0, |n| *self.tree.value(n))
    }

    /// Number of distinct subscribed topics.
    pub fn len(&self) -> usize {
        self.topics
    }

    /// Whether nothing is subscribed.
    pub fn is_empty(&self) -> bool {
        self.topics == 0
    }

    /// Each distinct subscribed topic, in byte order.
    pub fn for_each<F: FnMut(&[u8])>(&self, mut f: F) {
        self.tree.for_each(|key, _| f(key));
    }

    /// The distinct subscribed topics, in byte order.
    pub fn topics(&self) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(self.topics);
        self.for_each(|t| out.push(Bytes::copy_from_slice(t)));
        out
    }

    /// Number of nodes in use, root included (for memory checks).
    pub fn node_count(&self) -> usize {
        self.tree.node_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_trie_matches_nothing_and_empty_topic_matches_all() {
        let mut t = Trie::new();
        assert!(!t.matches(b""));
        assert!(!t.matches(b"abc"));
        assert!(t.add(b""));
        assert!(t.matches(b""));
        assert!(t.matches(b"anything"));
    }

    #[test]
    fn matches_by_prefix_only() {
        let mut t = Trie::new();
        t.add(b"ab");
        assert!(t.matches(b"ab"));
        assert!(t.matches(b"abc"));
        assert!(!t.matches(b"a"));
        assert!(!t.matches(b"b"));
        assert!(!t.matches(b"xab"));
    }

    #[test]
    fn subscriptions_are_counted() {
        let mut t = Trie::new();
        assert!(t.add(b"x"));
        assert!(!t.add(b"x"));
        assert!(!t.remove(b"x"));
        assert!(t.matches(b"x1"));
        assert!(t.remove(b"x"));
        assert!(!t.matches(b"x1"));
        assert!(
            !t.remove(b"x"),
            "cancelling what is not subscribed is a no-op"
        );
        assert!(t.is_empty());
    }

    #[test]
    fn removal_prunes_but_keeps_other_topics() {
        let mut t = Trie::new();
        t.add(b"abc");
        t.add(b"abd");
        t.add(b"a");
        assert!(t.remove(b"abc"));
        assert!(t.matches(b"abd"));
        assert!(t.matches(b"a"));
        assert!(!t.remove(b"ab"), "an interior node is not a subscription");
        assert!(t.remove(b"abd"));
        assert!(t.remove(b"a"));
        assert_eq!(t.node_count(), 1, "only the root is left");
    }

    #[test]
    fn iteration_is_in_byte_order() {
        let mut t = Trie::new();
        for topic in [&b"b"[..], b"", b"ab", b"a", b"\xff", b"ba"] {
            t.add(topic);
        }
        let topics = t.topics();
        let want: Vec<&[u8]> = vec![b"", b"a", b"ab", b"b", b"ba", b"\xff"];
        assert_eq!(topics.iter().map(|b| &b[..]).collect::<Vec<_>>(), want);
        assert_eq!(t.len(), 6);
    }

    #[test]
    fn long_topics_do_not_recurse() {
        let mut t = Trie::new();
        let long = vec![7u8; 200_000];
        t.add(&long);
        assert!(t.matches(&long));
        assert_eq!(t.topics().len(), 1);
        assert!(t.remove(&long));
        assert_eq!(t.node_count(), 1);
    }

    #[test]
    fn freed_nodes_are_reused() {
        let mut t = Trie::new();
        t.add(b"abcdef");
        t.remove(b"abcdef");
        t.add(b"uvwxyz");
        assert_eq!(t.node_count(), 7);
        assert!(t.matches(b"uvwxyz!"));
        assert!(!t.matches(b"abcdef"));
    }
}
