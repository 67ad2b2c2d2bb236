//! One seed, many independent random streams.
//!
//! Every component (the network, the fault injector, each host, each socket) draws from its
//! own ChaCha stream, keyed by the run's seed and the component's name. Adding a host or a
//! socket therefore never shifts another component's draws.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random stream of one component.
pub type SimRng = ChaCha8Rng;

/// The ChaCha stream named `label` under `seed`.
pub fn stream(seed: u64, label: &str) -> SimRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a(label.as_bytes()));
    rng
}

/// FNV-1a, 64 bits: a stable hash (std's hasher may change between Rust releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// True with probability `p`.
pub fn chance(rng: &mut SimRng, p: f64) -> bool {
    p > 0.0 && rng.random_bool(p.min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a1: u64 = stream(7, "host/1").random();
        let a2: u64 = stream(7, "host/1").random();
        let b: u64 = stream(7, "host/2").random();
        let c: u64 = stream(8, "host/1").random();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }
}
