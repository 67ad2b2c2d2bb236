//! Subscriptions: which topic prefixes are wanted, kept in prefix tries so that matching a
//! message costs the length of its first frame, whatever the number of subscriptions.
//!
//! - [`Trie`] counts a socket's own subscriptions (SUB, XSUB): subscribing twice needs two
//!   cancels.
//! - [`MultiTrie`] holds each peer's subscriptions (PUB, XPUB): for each prefix, the pipes that
//!   want it.
//!
//! Both are built on one arena [`tree`] keyed by bytes.

mod counted;
mod per_pipe;
mod tree;

pub(crate) use counted::Trie;
pub(crate) use per_pipe::{Added, MultiTrie, Removed};
