//! Time as an input: a monotonic instant the driver hands in.
//!
//! The core never reads a clock. Drivers convert their clock (a real `std::time::Instant`, the
//! simulator's virtual clock, a fuzzer's byte) into an [`Instant`] counted from an epoch of
//! their choosing, and pass it to every `handle_*` call that may arm or fire a timer.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point on the driver's monotonic clock, in nanoseconds since the driver's epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The driver's epoch.
    pub const ZERO: Instant = Instant(0);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// An instant `d` after the epoch (saturating at the far future).
    pub fn from_duration(d: Duration) -> Self {
        Instant(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(d))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// A small table of timers indexed by an enum-like key, as quinn keeps them: one slot per
/// timer kind, and `next()` is their minimum.
#[derive(Clone, Debug)]
pub struct TimerTable<const N: usize> {
    deadlines: [Option<Instant>; N],
}

impl<const N: usize> Default for TimerTable<N> {
    fn default() -> Self {
        TimerTable {
            deadlines: [None; N],
        }
    }
}

impl<const N: usize> TimerTable<N> {
    /// Arms timer `slot` to fire at `at`, replacing any earlier deadline.
    pub fn set(&mut self, slot: usize, at: Instant) {
        self.deadlines[slot] = Some(at);
    }

    /// Disarms timer `slot`.
    pub fn stop(&mut self, slot: usize) {
        self.deadlines[slot] = None;
    }

    /// Whether timer `slot` is armed.
    pub fn is_set(&self, slot: usize) -> bool {
        self.deadlines[slot].is_some()
    }

    /// The deadline of timer `slot`.
    pub fn get(&self, slot: usize) -> Option<Instant> {
        self.deadlines[slot]
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns timer `slot` if it is due at `now`.
    pub fn take_expired(&mut self, slot: usize, now: Instant) -> bool {
        match self.deadlines[slot] {
            Some(at) if at <= now => {
                self.deadlines[slot] = None;
                true
            }
            _ => false,
        }
    }

    /// Disarms every timer.
    pub fn clear(&mut self) {
        self.deadlines = [None; N];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_minimum_armed_deadline() {
        let mut t = TimerTable::<3>::default();
        assert_eq!(t.next(), None);
        t.set(0, Instant::from_nanos(50));
        t.set(2, Instant::from_nanos(20));
        assert_eq!(t.next(), Some(Instant::from_nanos(20)));
        assert!(!t.take_expired(2, Instant::from_nanos(19)));
        assert!(t.take_expired(2, Instant::from_nanos(20)));
        assert_eq!(t.next(), Some(Instant::from_nanos(50)));
    }

    #[test]
    fn instant_arithmetic_saturates() {
        let far = Instant::from_nanos(u64::MAX - 1) + Duration::from_secs(1);
        assert_eq!(far.as_nanos(), u64::MAX);
        assert_eq!(Instant::ZERO - far, Duration::ZERO);
    }
}
