//! Randomness as an input. The core draws no global randomness: a driver hands in a
//! [`RandomSource`], which gives each connection its own [`SecureRandom`] stream — an
//! operating-system CSPRNG in the shells, a seeded stream in the simulator. CURVE takes its
//! short-term keys, cookie keys and long nonces from it.

use std::sync::Arc;

/// A stream of random bytes. For CURVE it must be cryptographically secure: keys and nonces
/// come from it.
pub trait SecureRandom: Send {
    /// Fills `dst` with random bytes.
    fn fill_bytes(&mut self, dst: &mut [u8]);
}

/// Where connections get their randomness: a shared handle that opens one stream per
/// connection.
#[derive(Clone)]
pub struct RandomSource(Arc<dyn Fn() -> Box<dyn SecureRandom> + Send + Sync>);

impl RandomSource {
    /// A source that calls `open` for each new connection's stream.
    pub fn new(open: impl Fn() -> Box<dyn SecureRandom> + Send + Sync + 'static) -> Self {
        RandomSource(Arc::new(open))
    }

    /// A fresh stream for one connection.
    pub fn stream(&self) -> Box<dyn SecureRandom> {
        (self.0)()
    }

    /// Whether both handles open streams from the same source.
    pub fn same_as(&self, other: &RandomSource) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for RandomSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RandomSource")
    }
}

/// Reads the operating system's CSPRNG (`getrandom(2)` on Linux).
#[cfg(feature = "os-random")]
struct OsRandom;

#[cfg(feature = "os-random")]
impl SecureRandom for OsRandom {
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        // The kernel's source does not fail once the system has booted; there is no safe
        // fallback for key material, so a failure stops the thread rather than weaken keys.
        if let Err(e) = getrandom::fill(dst) {
            panic!("the operating system's random source failed: {e}");
        }
    }
}

/// The operating system's CSPRNG as a [`RandomSource`], for a driver to hand its sockets
/// (feature `os-random`), and for drawing CURVE key pairs
/// (`mechanism::curve::generate_keypair(os_random().stream().as_mut())`).
#[cfg(feature = "os-random")]
pub fn os_random() -> RandomSource {
    RandomSource::new(|| Box::new(OsRandom))
}

/// A seeded, deterministic, NOT secure stream (SplitMix64) for the core's own tests.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct TestRandom(pub u64);

#[cfg(test)]
impl SecureRandom for TestRandom {
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
impl RandomSource {
    /// Test streams: each connection seeded from a shared counter starting at `seed`.
    pub(crate) fn for_tests(seed: u64) -> RandomSource {
        let next = std::sync::atomic::AtomicU64::new(seed);
        RandomSource::new(move || {
            let s = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::new(TestRandom(s.wrapping_mul(0x2545_F491_4F6C_DD1D)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "os-random")]
    #[test]
    fn os_streams_differ() {
        let source = os_random();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        source.stream().fill_bytes(&mut a);
        source.stream().fill_bytes(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0; 32]);
    }

    #[test]
    fn each_connection_gets_its_own_stream_and_seeds_replay() {
        let draw = |source: &RandomSource| {
            let mut b = [0u8; 16];
            source.stream().fill_bytes(&mut b);
            b
        };
        let a = RandomSource::for_tests(7);
        let b = RandomSource::for_tests(7);
        let first = draw(&a);
        assert_ne!(first, draw(&a), "a second connection draws other bytes");
        assert_eq!(first, draw(&b), "the same seed replays");
        assert!(a.same_as(&a.clone()) && !a.same_as(&b));
        let mut t = TestRandom(1);
        let mut odd = [0u8; 5];
        t.fill_bytes(&mut odd);
        assert_ne!(odd, [0; 5]);
    }
}
