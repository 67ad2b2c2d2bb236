//! What ZeroMQ promises, checked as the run goes: safety on every receive, liveness against
//! deadlines once the network has healed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use oxmq_core::{Instant, PipeId};

use crate::msg::Payload;

/// How a run failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureKind {
    /// A panic: an invariant of the core (or of the simulator) broke.
    Crash,
    /// Something ZeroMQ promises never happens did happen.
    Safety,
    /// Something that must happen after healing did not happen in time.
    Liveness,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailureKind::Crash => "crash",
            FailureKind::Safety => "safety",
            FailureKind::Liveness => "liveness",
        })
    }
}

/// A failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Which kind.
    pub kind: FailureKind,
    /// When (virtual time).
    pub at: Instant,
    /// What was seen.
    pub what: String,
}

/// Who must receive a message for it to count as delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Exactly one receiver in the group (PUSH, DEALER, REQ load-balance).
    One,
    /// Each receiver on its own (PUB distributes).
    Each,
}

/// The checks and their state.
#[derive(Debug, Default)]
pub struct Oracle {
    failure: Option<Failure>,
    /// (receiver or 0 for a global scope, sender, seq) seen.
    seen: BTreeSet<(u64, u64, u64)>,
    /// (receiver, pipe, sender) → last seq: order is per pipe.
    last: BTreeMap<(u64, u64, u64), u64>,
    /// Liveness obligations: name → deadline.
    due: BTreeMap<String, Instant>,
    /// Live SUB sockets and their subscriptions, for the PUB/SUB liveness check.
    pub subscribers: BTreeMap<u64, Vec<String>>,
    /// How many receives were checked.
    pub checked: u64,
    /// How many obligations were met.
    pub met: u64,
}

impl Oracle {
    /// The first failure, if any.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Records a failure (only the first one counts).
    pub fn fail(&mut self, kind: FailureKind, at: Instant, what: impl Into<String>) {
        if self.failure.is_none() {
            self.failure = Some(Failure {
                kind,
                at,
                what: what.into(),
            });
        }
    }

    /// Decodes a received message's frames, failing on a split or mixed multipart.
    pub fn decode(&mut self, at: Instant, who: &str, frames: &[bytes::Bytes]) -> Option<Payload> {
        match Payload::decode(frames) {
            Ok(p) => Some(p),
            Err(e) => {
                self.fail(FailureKind::Safety, at, format!("{who}: {e}"));
                None
            }
        }
    }

    /// Checks one received message: never twice (within `scope`), and in order per pipe.
    pub fn received(
        &mut self,
        at: Instant,
        receiver: u64,
        pipe: Option<PipeId>,
        p: &Payload,
        scope: Scope,
    ) {
        self.checked += 1;
        let owner = match scope {
            Scope::One => 0,
            Scope::Each => receiver,
        };
        if !self.seen.insert((owner, p.sender, p.seq)) {
            self.fail(
                FailureKind::Safety,
                at,
                format!(
                    "duplicate: socket {receiver} got message {}:{} again",
                    p.sender, p.seq
                ),
            );
        }
        let Some(pipe) = pipe else {
            self.fail(
                FailureKind::Safety,
                at,
                format!("socket {receiver} received a message from no pipe"),
            );
            return;
        };
        if let Some(prev) = self.last.insert((receiver, pipe.0, p.sender), p.seq) {
            if prev >= p.seq {
                self.fail(
                    FailureKind::Safety,
                    at,
                    format!(
                        "out of order on pipe {}: socket {receiver} got {}:{} after {}:{prev}",
                        pipe.0, p.sender, p.seq, p.sender
                    ),
                );
            }
        }
    }

    /// Something named `what` must happen by `deadline`.
    pub fn expect(&mut self, what: String, deadline: Instant) {
        self.due.entry(what).or_insert(deadline);
    }

    /// Whether `what` is still awaited.
    pub fn is_expected(&self, what: &str) -> bool {
        self.due.contains_key(what)
    }

    /// `what` happened at `at`; late is a liveness failure.
    pub fn fulfil(&mut self, what: &str, at: Instant) {
        if let Some(deadline) = self.due.remove(what) {
            self.met += 1;
            if at > deadline {
                let late = at - deadline;
                self.fail(
                    FailureKind::Liveness,
                    at,
                    format!("{what}: {late:?} past its deadline"),
                );
            }
        }
    }

    /// Fails on the first obligation whose deadline passed by `now`.
    pub fn check_deadlines(&mut self, now: Instant) {
        if let Some((what, deadline)) = self
            .due
            .iter()
            .filter(|(_, d)| **d < now)
            .min_by_key(|(_, d)| **d)
        {
            let what = format!(
                "{what}: not done by its deadline {:.3}s",
                deadline.as_nanos() as f64 / 1e9
            );
            self.fail(FailureKind::Liveness, now, what);
        }
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }

    /// How many obligations are pending.
    pub fn pending(&self) -> usize {
        self.due.len()
    }
}

/// Milliseconds, for brevity.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
