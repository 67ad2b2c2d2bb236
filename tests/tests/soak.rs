//! Every soak scenario for a couple of seconds on each front-end: traffic flows while peers
//! come and go, no promise is broken, and the descriptors come back to where they started.
//! Longer runs: `cargo run --release -p oxmq-tests --example soak -- SECONDS`.

use std::time::Duration;

use oxmq_tests::front::{Front, Mio, Tokio};
use oxmq_tests::soak::{check, run, SCENARIOS};

fn soak(front: &dyn Front) {
    let mut failures = Vec::new();
    for scenario in SCENARIOS {
        let r = run(front, scenario, Duration::from_secs(2));
        println!("{r}");
        if let Err(e) = check(&r) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One test, the front-ends in turn: descriptors and memory are the process's, so nothing
/// else may run beside a scenario.
#[test]
fn soak_on_both_front_ends() {
    soak(&Mio::new());
    soak(&Tokio::new());
}
