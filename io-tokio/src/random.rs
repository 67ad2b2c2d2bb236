//! The operating system's CSPRNG as the core's random source: each connection's CURVE keys,
//! cookie keys and nonces come from it.

use oxmq_core::{RandomSource, SecureRandom};

/// Reads the operating system's CSPRNG (`getrandom(2)` on Linux).
struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        // The kernel's source does not fail once the system has booted; there is no safe
        // fallback for key material, so a failure stops the thread rather than weaken keys.
        if let Err(e) = getrandom::fill(dst) {
            panic!("the operating system's random source failed: {e}");
        }
    }
}

/// The operating system's CSPRNG as a [`RandomSource`]: the source every socket of this
/// front-end hands its connections, and one for drawing CURVE key pairs
/// (`oxmq_core::mechanism::curve::generate_keypair(os_random().stream().as_mut())`).
pub fn os_random() -> RandomSource {
    RandomSource::new(|| Box::new(OsRandom))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ() {
        let source = os_random();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        source.stream().fill_bytes(&mut a);
        source.stream().fill_bytes(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0; 32]);
    }
}
