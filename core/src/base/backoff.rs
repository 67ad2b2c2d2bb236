//! Reconnect intervals: RECONNECT_IVL plus jitter, doubling up to RECONNECT_IVL_MAX, as libzmq
//! computes them. The jitter's randomness is an input.

use std::time::Duration;

/// The reconnect schedule of one connecting session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// A schedule starting at `base` (RECONNECT_IVL) and doubling up to `max`
    /// (RECONNECT_IVL_MAX; no doubling unless `max` is above `base`).
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            current: base,
        }
    }

    /// The wait before the next attempt: the current interval plus a jitter below the base
    /// interval drawn from `random`; then the interval doubles, capped at the maximum.
    pub fn next_wait(&mut self, random: u64) -> Duration {
        let base_ms = u64::try_from(self.base.as_millis()).unwrap_or(u64::MAX);
        let jitter = if base_ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(random % base_ms)
        };
        let wait = self.current.saturating_add(jitter);
        if self.max > self.base {
            self.current = self.current.saturating_mul(2).min(self.max);
        }
        wait
    }

    /// Back to the base interval, after a connection succeeded.
    pub fn reset(&mut self) {
        self.current = self.base;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_the_maximum_with_jitter_below_the_base() {
        let mut b = Backoff::new(ms(100), ms(800));
        let waits: Vec<Duration> = (0..6).map(|_| b.next_wait(0)).collect();
        assert_eq!(
            waits,
            [ms(100), ms(200), ms(400), ms(800), ms(800), ms(800)]
        );
        let mut b = Backoff::new(ms(100), ms(800));
        assert_eq!(b.next_wait(99), ms(199));
        assert_eq!(b.next_wait(100), ms(200), "jitter is below the base");
        b.reset();
        assert_eq!(b.next_wait(0), ms(100));
    }

    #[test]
    fn without_a_larger_maximum_the_interval_stays() {
        let mut b = Backoff::new(ms(100), Duration::ZERO);
        for _ in 0..5 {
            assert_eq!(b.next_wait(7), ms(107));
        }
    }
}
