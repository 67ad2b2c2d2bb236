//! A fixed sweep CI runs: every seed must pass every oracle, and the oracles that need their
//! workload drawn must have had something to judge.

use oxmq_sim::oracle::Coverage;
use oxmq_sim::{run_seed, RunOptions};

#[test]
fn a_fixed_sweep_passes() {
    let mut failed = Vec::new();
    let mut coverage = Coverage::default();
    for seed in 0..300 {
        let report = run_seed(&RunOptions::new(seed));
        coverage += report.coverage;
        if report.failure.is_some() {
            eprint!("{report}");
            failed.push(seed);
        }
    }
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
    // The STREAM side workload ran, and each of its oracles judged something.
    let c = coverage;
    assert!(c.stream_bytes > 0, "no STREAM bytes verified: {c}");
    assert!(c.stream_notices > 0, "no STREAM notices seen: {c}");
    assert!(c.stream_closes > 0, "no STREAM close by an empty body: {c}");
    assert!(c.stream_unreachable > 0, "no STREAM send refused: {c}");
    // And the checks only some seeds reach.
    assert!(
        c.readiness > 0,
        "no send or receive checked against ZMQ_EVENTS: {c}"
    );
    assert!(
        c.first_frames > 0,
        "no send checked against its first frame: {c}"
    );
    assert!(c.out_of_turn > 0, "no REQ/REP send out of turn: {c}");
    assert!(
        c.refused > 0,
        "no send on SUB or PULL, nor option, refused: {c}"
    );
    assert!(c.nodrop_held > 0, "no message held at XPUB_NODROP: {c}");
    assert!(
        c.blocked_at_large_hwm > 0,
        "no send blocked at an HWM above 2048 (flood): {c}"
    );
    assert!(
        c.named_replies > 0,
        "no reply checked under a CONNECT_ROUTING_ID (router clients): {c}"
    );
    assert!(
        c.taken_ahead > 0,
        "no message taken ahead by a batched receive (batch-recv): {c}"
    );
    assert!(
        c.inverted > 0,
        "no message delivered under INVERT_MATCHING (invert-matching): {c}"
    );
    assert!(
        c.upstream > 0,
        "no message an XSUB sent upstream handed up by its publisher (upstream): {c}"
    );
    assert!(
        c.manual_grants > 0,
        "no subscription granted by an XPUB_MANUAL proxy (xpub-manual): {c}"
    );
    assert!(
        c.refiltered > 0,
        "no subscription change while a SUB held messages taken ahead: {c}"
    );
    assert!(
        c.endpoint_events > 0,
        "no monitor event owed for a listener or an accepted connection: {c}"
    );
}
