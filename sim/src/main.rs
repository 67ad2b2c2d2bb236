//! `oxmq-sim`: sweep seeds, replay one, or check that runs are deterministic.
//!
//! ```text
//! cargo run --release -p oxmq-sim -- --seeds 2000 [--from 1]   # sweep
//! cargo run --release -p oxmq-sim -- --seed 42 [--trace]        # replay one
//! cargo run --release -p oxmq-sim -- --seed 42 --check-determinism
//! cargo run --release -p oxmq-sim -- --seeds 2000 --security   # PLAIN, CURVE, ZAP, impostors
//! cargo run --release -p oxmq-sim -- --seed 656 --stream off    # without the STREAM side workload
//! ```

use std::process::ExitCode;
use std::time::Instant as WallClock;

use oxmq_sim::profile::Pattern;
use oxmq_sim::{run_seed, RunOptions};

struct Args {
    seed: Option<u64>,
    seeds: Option<u64>,
    from: u64,
    trace: bool,
    check_determinism: bool,
    pattern: Option<Pattern>,
    keep_going: bool,
    security: bool,
    security_mode: Option<oxmq_sim::security::Mode>,
    stream: Option<bool>,
}

const USAGE: &str = "usage: oxmq-sim [--seed N | --seeds COUNT [--from START]] [--trace] \
[--check-determinism] [--pattern pipeline|pubsub|reqrep|router|pair] [--keep-going] \
[--security | --security-mode null|null+zap|plain+zap|curve+zap|curve] [--stream on|off]";

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seed: None,
        seeds: None,
        from: 0,
        trace: false,
        check_determinism: false,
        pattern: None,
        keep_going: false,
        security: false,
        security_mode: None,
        stream: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seed" => a.seed = Some(num("--seed")?),
            "--seeds" => a.seeds = Some(num("--seeds")?),
            "--from" => a.from = num("--from")?,
            "--trace" => a.trace = true,
            "--check-determinism" => a.check_determinism = true,
            "--keep-going" => a.keep_going = true,
            "--security" => a.security = true,
            "--security-mode" => {
                let name = it.next();
                a.security_mode = Some(
                    name.as_deref()
                        .and_then(oxmq_sim::security::Mode::from_name)
                        .ok_or(format!("unknown security mode {name:?}"))?,
                )
            }
            "--stream" => {
                a.stream = match it.next().as_deref() {
                    Some("on") => Some(true),
                    Some("off") => Some(false),
                    other => return Err(format!("--stream takes on or off, not {other:?}")),
                }
            }
            "--pattern" => {
                let name = it.next();
                a.pattern = Some(
                    Pattern::ALL
                        .into_iter()
                        .find(|p| Some(p.name()) == name.as_deref())
                        .ok_or(format!("unknown pattern {name:?}"))?,
                )
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let options = |seed: u64, trace: bool| RunOptions {
        seed,
        trace,
        pattern: args.pattern,
        security: args.security,
        security_mode: args.security_mode,
        stream: args.stream,
        ..RunOptions::new(seed)
    };
    if let Some(seed) = args.seed.or(if args.seeds.is_none() {
        // A fresh seed, always printed.
        Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        )
    } else {
        None
    }) {
        println!("seed {seed}");
        let report = run_seed(&options(seed, args.trace));
        print!("{report}");
        if args.check_determinism {
            let again = run_seed(&options(seed, false));
            if again.hash != report.hash {
                println!(
                    "NOT DETERMINISTIC: trace hash {:016x} then {:016x}",
                    report.hash, again.hash
                );
                return ExitCode::FAILURE;
            }
            println!("deterministic: trace hash {:016x} twice", report.hash);
        }
        return if report.failure.is_some() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    let count = args.seeds.unwrap_or(0);
    let started = WallClock::now();
    let mut failures = 0u64;
    let mut coverage = oxmq_sim::oracle::Coverage::default();
    let mut next_progress = 100;
    let mut swept = 0u64;
    for (i, seed) in (args.from..args.from + count).enumerate() {
        let report = run_seed(&options(seed, false));
        coverage += report.coverage;
        swept += 1;
        if args.check_determinism {
            let again = run_seed(&options(seed, false));
            if again.hash != report.hash {
                println!("seed {seed}: NOT DETERMINISTIC");
                failures += 1;
                if !args.keep_going {
                    break;
                }
            }
        }
        if report.failure.is_some() {
            failures += 1;
            print!("{report}");
            if !args.keep_going {
                break;
            }
        }
        let done = i as u64 + 1;
        if done == next_progress || done == count {
            next_progress += 100;
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "{done}/{count} seeds, {failures} failed, {:.1} seeds/s",
                done as f64 / secs.max(1e-9)
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "swept seeds {}..{}: {failures} failed in {secs:.1}s ({:.1} seeds/s)",
        args.from,
        args.from + swept,
        swept as f64 / secs.max(1e-9)
    );
    println!("oracle coverage: {coverage}");
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
