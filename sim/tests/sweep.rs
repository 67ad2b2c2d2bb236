//! A fixed sweep CI runs: every seed must pass every oracle, and the sweep must exercise
//! the checks that only some seeds reach.

use oxmq_sim::oracle::Coverage;
use oxmq_sim::{run_seed, RunOptions};

#[test]
fn a_fixed_sweep_passes() {
    let mut failed = Vec::new();
    let mut seen = Coverage::default();
    for seed in 0..300 {
        let report = run_seed(&RunOptions::new(seed));
        if report.failure.is_some() {
            eprint!("{report}");
            failed.push(seed);
        }
        seen += report.coverage;
    }
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
    // A workload that stopped reaching these would leave their oracles idle.
    assert!(seen.readiness > 0, "no send or receive checked against ZMQ_EVENTS");
    assert!(seen.first_frames > 0, "no send checked against its first frame");
    assert!(seen.out_of_turn > 0, "no REQ/REP send out of turn");
    assert!(seen.refused > 0, "no send on SUB or PULL, nor option, refused");
    assert!(seen.nodrop_held > 0, "no message held at XPUB_NODROP");
}
