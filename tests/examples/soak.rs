//! The soak scenarios of `oxmq_tests::soak` for as long as asked, on each front-end, one
//! line per scenario with what was sent, received and lost, and descriptors and memory
//! before and after.
//!
//! ```text
//! cargo run --release -p oxmq-tests --example soak -- [SECONDS per scenario] [mio|tokio|both] [SCENARIO]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use oxmq_tests::front::{Front, Mio, Tokio};
use oxmq_tests::soak::{check, run, SCENARIOS};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(60);
    let which = args.get(1).map_or("both", String::as_str);
    let only = args.get(2);
    let mut fronts: Vec<Box<dyn Front>> = Vec::new();
    if which != "tokio" {
        fronts.push(Box::new(Mio::new()));
    }
    if which != "mio" {
        fronts.push(Box::new(Tokio::new()));
    }
    let mut ok = true;
    for front in &fronts {
        for scenario in SCENARIOS {
            if only.is_some_and(|o| o != scenario) {
                continue;
            }
            let r = run(front.as_ref(), scenario, Duration::from_secs(seconds));
            println!("{r}");
            if let Err(e) = check(&r) {
                eprintln!("FAILED: {e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
