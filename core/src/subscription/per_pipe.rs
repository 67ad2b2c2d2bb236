//! Per-pipe subscriptions for XPUB and PUB (libzmq's mtrie): for each topic prefix, the set of
//! pipes subscribed to it. A pipe subscribes to a topic at most once; the pattern decides what
//! a duplicate means (XPUB_VERBOSE).

use std::collections::BTreeSet;

use super::tree::{NodeValue, PrefixTree};
use crate::pipe::PipeId;

impl NodeValue for BTreeSet<PipeId> {
    fn is_vacant(&self) -> bool {
        self.is_empty()
    }
}

/// Topic prefix → set of subscribed pipes.
#[derive(Clone, Debug, Default)]
pub(crate) struct MultiTrie {
    tree: PrefixTree<BTreeSet<PipeId>>,
}

/// What [`MultiTrie::add`] changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Added {
    /// The topic had no subscriber before this pipe.
    FirstForTopic,
    /// The topic already had other subscribers; this pipe was added.
    NewForPipe,
    /// This pipe was already subscribed to the topic.
    Duplicate,
}

/// What [`MultiTrie::remove`] changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Removed {
    /// This pipe was the topic's last subscriber.
    LastForTopic,
    /// The pipe was removed; other pipes remain subscribed.
    OthersRemain,
    /// The pipe was not subscribed to the topic.
    NotSubscribed,
}

impl MultiTrie {
    /// An empty trie.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Subscribes `pipe` to `topic`.
    pub(crate) fn add(&mut self, topic: &[u8], pipe: PipeId) -> Added {
        let node = self.tree.find_or_insert(topic);
        let set = self.tree.value_mut(node);
        let first = set.is_empty();
        if !set.insert(pipe) {
            Added::Duplicate
        } else if first {
            Added::FirstForTopic
        } else {
            Added::NewForPipe
        }
    }

    /// Unsubscribes `pipe` from `topic`.
    pub(crate) fn remove(&mut self, topic: &[u8], pipe: PipeId) -> Removed {
        let Some(node) = self.tree.find(topic) else {
            return Removed::NotSubscribed;
        };
        let set = self.tree.value_mut(node);
        if !set.remove(&pipe) {
            return Removed::NotSubscribed;
        }
        if set.is_empty() {
            self.tree.prune(node);
            Removed::LastForTopic
        } else {
            Removed::OthersRemain
        }
    }

    /// Removes every subscription of `pipe`; `f(topic, was_last)` is called for each, in byte
    /// order, telling whether no pipe is left on that topic. Cost: the size of the trie.
    pub(crate) fn remove_pipe<F>(&mut self, pipe: PipeId, mut f: F)
    where
        F: FnMut(&[u8], bool),
    {
        self.tree.retain_each(|topic, set| {
            if set.remove(&pipe) {
                f(topic, set.is_empty());
            }
        });
    }

    /// Calls `f` for every pipe with a subscription that is a prefix of `data` (a pipe may be
    /// reported more than once if several of its topics match). Cost: O(len(data)) plus the
    /// pipes reported.
    pub(crate) fn match_pipes<F: FnMut(PipeId)>(&self, data: &[u8], mut f: F) {
        self.tree.any_prefix(data, |set| {
            set.iter().for_each(|p| f(*p));
            false
        });
    }
}

/// What the tests inspect.
#[cfg(test)]
impl MultiTrie {
    /// Whether any pipe has a subscription matching `data`.
    pub(crate) fn matches(&self, data: &[u8]) -> bool {
        self.tree.any_prefix(data, |set| !set.is_empty())
    }

    /// Whether no pipe is subscribed to anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.tree.node_count() == 1 && self.tree.value(0).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PipeId = PipeId(1);
    const B: PipeId = PipeId(2);

    fn matched(t: &MultiTrie, data: &[u8]) -> BTreeSet<PipeId> {
        let mut s = BTreeSet::new();
        t.match_pipes(data, |p| {
            s.insert(p);
        });
        s
    }

    #[test]
    fn add_reports_first_new_and_duplicate() {
        let mut t = MultiTrie::new();
        assert_eq!(t.add(b"t", A), Added::FirstForTopic);
        assert_eq!(t.add(b"t", B), Added::NewForPipe);
        assert_eq!(t.add(b"t", A), Added::Duplicate);
        assert_eq!(t.remove(b"t", A), Removed::OthersRemain);
        assert_eq!(t.remove(b"t", A), Removed::NotSubscribed);
        assert_eq!(t.remove(b"t", B), Removed::LastForTopic);
        assert!(t.is_empty());
    }

    #[test]
    fn matching_collects_pipes_of_every_prefix() {
        let mut t = MultiTrie::new();
        t.add(b"", A);
        t.add(b"ab", B);
        assert_eq!(matched(&t, b"abc"), [A, B].into());
        assert_eq!(matched(&t, b"a"), [A].into());
        assert!(t.matches(b"zzz"));
        t.remove(b"", A);
        assert!(!t.matches(b"zzz"));
    }

    #[test]
    fn remove_pipe_reports_topics_left_without_subscribers() {
        let mut t = MultiTrie::new();
        t.add(b"a", A);
        t.add(b"b", A);
        t.add(b"b", B);
        t.add(b"ba", A);
        let mut seen = Vec::new();
        t.remove_pipe(A, |topic, last| seen.push((topic.to_vec(), last)));
        assert_eq!(
            seen,
            vec![
                (b"a".to_vec(), true),
                (b"b".to_vec(), false),
                (b"ba".to_vec(), true)
            ]
        );
        assert_eq!(matched(&t, b"bab"), [B].into());
        t.remove_pipe(B, |_, _| {});
        assert!(t.is_empty());
    }

    #[test]
    fn remove_pipe_prunes_nested_topics_once() {
        let mut t = MultiTrie::new();
        t.add(b"b", A);
        t.add(b"ba", A);
        t.add(b"\0", B);
        t.remove_pipe(A, |_, _| {});
        assert_eq!(
            matched(&t, b"\0x"),
            [B].into(),
            "a sibling survives the pruning"
        );
        t.add(b"c", A);
        t.add(b"cd", A);
        assert_eq!(matched(&t, b"cde"), [A].into());
        assert_eq!(matched(&t, b"\0"), [B].into());
    }
}
