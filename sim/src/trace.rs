//! The run's trace: every event, hashed as it happens, the last few kept for a failure report.

use std::collections::VecDeque;

use oxmq_core::Instant;

use crate::rng::fnv1a;

/// How many trailing events a failure report shows.
pub const TAIL: usize = 30;

/// A running hash of every event, with the most recent ones kept.
#[derive(Debug)]
pub struct Trace {
    hash: u64,
    events: u64,
    tail: VecDeque<String>,
    /// Print every event as it happens (`--trace`).
    pub echo: bool,
}

impl Trace {
    /// An empty trace.
    pub fn new(echo: bool) -> Trace {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            events: 0,
            tail: VecDeque::with_capacity(TAIL + 1),
            echo,
        }
    }

    /// Records one event at `now`.
    pub fn record(&mut self, now: Instant, what: std::fmt::Arguments<'_>) {
        let line = format!("{:>10.6}s {what}", now.as_nanos() as f64 / 1e9);
        self.hash = (self.hash ^ fnv1a(line.as_bytes())).wrapping_mul(0x0000_0100_0000_01b3);
        self.events += 1;
        if self.echo {
            println!("{line}");
        }
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    /// The hash of every event so far: equal hashes mean equal runs.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many events were recorded.
    pub fn len(&self) -> u64 {
        self.events
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// The last events, oldest first.
    pub fn tail(&self) -> impl Iterator<Item = &str> {
        self.tail.iter().map(String::as_str)
    }
}
