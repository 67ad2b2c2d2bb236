//! SUB and XSUB's own subscriptions: a count per topic prefix, as libzmq's trie keeps them.

use super::tree::{NodeValue, PrefixTree};

impl NodeValue for u32 {
    fn is_vacant(&self) -> bool {
        *self == 0
    }
}

/// Counted prefix subscriptions: subscribing twice needs two cancels; the empty topic matches
/// every message.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trie {
    tree: PrefixTree<u32>,
    topics: usize,
}

impl Trie {
    /// An empty trie (matches nothing).
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds one subscription to `topic`. True if the topic was not subscribed before.
    pub(crate) fn add(&mut self, topic: &[u8]) -> bool {
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
    pub(crate) fn remove(&mut self, topic: &[u8]) -> bool {
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
    pub(crate) fn matches(&self, data: &[u8]) -> bool {
        self.tree.any_prefix(data, |count| *count > 0)
    }

    /// Each distinct subscribed topic, in byte order.
    pub(crate) fn for_each<F: FnMut(&[u8])>(&self, mut f: F) {
        self.tree.for_each(|key, _| f(key));
    }
}

/// What the tests inspect.
#[cfg(test)]
impl Trie {
    /// Number of distinct subscribed topics.
    pub(crate) fn len(&self) -> usize {
        self.topics
    }

    /// Whether nothing is subscribed.
    pub(crate) fn is_empty(&self) -> bool {
        self.topics == 0
    }

    /// The distinct subscribed topics, in byte order.
    pub(crate) fn topics(&self) -> Vec<bytes::Bytes> {
        let mut out = Vec::with_capacity(self.topics);
        self.for_each(|t| out.push(bytes::Bytes::copy_from_slice(t)));
        out
    }

    /// Number of nodes in use, root included (for memory checks).
    pub(crate) fn node_count(&self) -> usize {
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
