//! A fixed sweep CI runs: every seed must pass every oracle.

use oxmq_sim::{run_seed, RunOptions};

#[test]
fn a_fixed_sweep_passes() {
    let mut failed = Vec::new();
    for seed in 0..300 {
        let report = run_seed(&RunOptions::new(seed));
        if report.failure.is_some() {
            eprint!("{report}");
            failed.push(seed);
        }
    }
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
}
