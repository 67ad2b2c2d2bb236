//! A fixed sweep with security on (`--security`): PLAIN and CURVE sessions, with and without
//! a ZAP handler that answers late and sometimes refuses, impostors with wrong passwords and
//! keys, all under the faults. Every seed must pass every oracle, and each security oracle
//! must have had something to judge.

use oxmq_sim::oracle::Coverage;
use oxmq_sim::security::Mode;
use oxmq_sim::{run_seed, RunOptions};

#[test]
fn a_fixed_sweep_with_security_passes() {
    let mut failed = Vec::new();
    let mut coverage = Coverage::default();
    let mut modes = std::collections::BTreeSet::new();
    for seed in 0..300 {
        let report = run_seed(&RunOptions {
            security: true,
            ..RunOptions::new(seed)
        });
        coverage += report.coverage;
        modes.insert(report.profile.security.mode);
        if report.failure.is_some() {
            eprint!("{report}");
            failed.push(seed);
        }
    }
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
    assert_eq!(modes.len(), 5, "every mode drawn: {modes:?}");
    assert!(modes.contains(&Mode::CurveNoZap));
    let c = coverage;
    assert!(c.zap_requests > 100 && c.zap_refusals > 10, "{c}");
    assert!(c.impostors > 50 && c.refusals_reported > 10, "{c}");
    assert!(c.user_ids > 1000 && c.curve_bytes > 1_000_000, "{c}");
    assert!(
        c.clear_heads > 1000,
        "the plaintext scan finds heads in clear: {c}"
    );
    assert!(
        c.no_handler_refusals > 0,
        "PLAIN servers without a handler refuse: {c}"
    );
}

#[test]
fn without_security_a_seed_runs_as_before() {
    // Security draws from its own streams and is off unless asked for: the same seed without
    // it gives the same run as ever (sim/tests/determinism.rs pins the hashes' stability).
    for seed in [3, 11] {
        let plain = run_seed(&RunOptions::new(seed));
        assert!(!plain.profile.security.on());
        let secured = run_seed(&RunOptions {
            security: true,
            ..RunOptions::new(seed)
        });
        assert_eq!(plain.profile.pattern, secured.profile.pattern);
        assert_eq!(
            secured.hash,
            run_seed(&RunOptions {
                security: true,
                ..RunOptions::new(seed)
            })
            .hash,
            "a secured run is deterministic"
        );
    }
}
