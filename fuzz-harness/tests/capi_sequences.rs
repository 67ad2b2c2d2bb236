//! The C API under seeded random call sequences (the `capi` fuzz target's checks, with a
//! generator instead of the fuzzer's bytes): `OXMQ_CAPI_SEQ_SEEDS=3000` for a longer run.

#[test]
fn random_call_sequences_never_panic_and_fail_with_an_errno() {
    let seeds: u64 = std::env::var("OXMQ_CAPI_SEQ_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    for seed in 1..=seeds {
        eprintln!("seed {seed}");
        oxmq_fuzz_harness::capi_seeded(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 300);
    }
}
