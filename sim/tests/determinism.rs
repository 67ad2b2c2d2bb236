//! The same seed gives the same run, event for event.

use oxmq_sim::{run_seed, RunOptions};

#[test]
fn the_same_seed_gives_the_same_trace_hash() {
    for seed in [0, 1, 7, 42, 1234, 99_999] {
        let a = run_seed(&RunOptions::new(seed));
        let b = run_seed(&RunOptions::new(seed));
        assert_eq!(a.hash, b.hash, "seed {seed} is not deterministic");
        assert_eq!(a.events, b.events);
        assert!(a.events > 100, "seed {seed} did almost nothing: {a}");
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let hashes: std::collections::BTreeSet<u64> = (0..20)
        .map(|s| run_seed(&RunOptions::new(s)).hash)
        .collect();
    assert_eq!(hashes.len(), 20);
}
