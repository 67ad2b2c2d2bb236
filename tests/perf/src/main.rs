//! `oxmq-perf`: oxmq against libzmq, ØMQ.rs and zmq.rs, and a raw-socket ceiling, on the same
//! workloads in one run, interleaved round by round.
//!
//! ```text
//! cargo run --release -p oxmq-perf                  # 3 rounds of everything (~10 min)
//! cargo run --release -p oxmq-perf -- --quick       # 1 short round (< 1 min)
//! cargo run --release -p oxmq-perf -- --only pushpull-tcp --impls oxmq,libzmq --rounds 5
//! cargo run --release -p oxmq-perf -- --io-threads 2   # oxmq-mio and libzmq with 2 I/O threads
//! ```
//!
//! Every cell (one workload on one implementation) runs in a child process of its own. The
//! table goes to stdout and `OUT/results.md`, raw samples to `OUT/samples.tsv`, one SVG chart
//! per workload family to `OUT/*.svg` (OUT defaults to `target/oxmq-perf`).

mod blocking;
mod chart;
mod child;
mod impls;
mod nonblocking;
mod report;
mod spec;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use report::Samples;

struct Options {
    quick: bool,
    rounds: usize,
    impls: Option<Vec<String>>,
    only: Vec<String>,
    out: PathBuf,
    timeout: Duration,
    /// `--io-threads`: the I/O threads of oxmq-mio's and libzmq's contexts.
    io_threads: Option<usize>,
}

fn usage() -> ! {
    eprintln!(
        "usage: oxmq-perf [--quick] [--rounds N] [--impls ID,..] [--only KEY,..] [--out DIR] \
         [--timeout SECS] [--io-threads N]\n\
         implementations: {}\n\
         workload keys (--only matches any part): {}",
        impls::all()
            .iter()
            .map(|e| e.id())
            .collect::<Vec<_>>()
            .join(","),
        spec::plan()
            .iter()
            .map(|w| w.key())
            .collect::<Vec<_>>()
            .join(" ")
    );
    std::process::exit(2);
}

fn parse_options(args: &[String]) -> Options {
    let mut o = Options {
        quick: false,
        rounds: 3,
        impls: None,
        only: Vec::new(),
        out: PathBuf::from("target/oxmq-perf"),
        timeout: Duration::from_secs(120),
        io_threads: None,
    };
    let mut rounds = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage());
        match a.as_str() {
            "--quick" => o.quick = true,
            "--rounds" => rounds = Some(value().parse().unwrap_or_else(|_| usage())),
            "--impls" => o.impls = Some(value().split(',').map(str::to_string).collect()),
            "--only" => o.only = value().split(',').map(str::to_string).collect(),
            "--out" => o.out = PathBuf::from(value()),
            "--io-threads" => {
                o.io_threads = Some(value().parse().unwrap_or_else(|_| usage()));
            }
            "--timeout" => {
                o.timeout = Duration::from_secs(value().parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    o.rounds = rounds.unwrap_or(if o.quick { 1 } else { 3 }).max(1);
    if o.quick {
        o.timeout = o.timeout.min(Duration::from_secs(30));
    }
    o
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--cell") => child::run_cell(&args[1..]),
        Some("--zmtp-clients") => child::zmtp_clients(&args[1..]),
        Some("--help" | "-h") => usage(),
        _ => {}
    }
    let o = parse_options(&args);
    let entries: Vec<_> = impls::all()
        .into_iter()
        .filter(|e| {
            o.impls
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i == e.id()))
        })
        .collect();
    let plan: Vec<_> = spec::plan()
        .into_iter()
        .filter(|w| o.only.is_empty() || o.only.iter().any(|k| w.key().contains(k.as_str())))
        .collect();
    if entries.is_empty() || plan.is_empty() {
        usage();
    }
    let started = Instant::now();
    let mut samples = Samples::default();
    for round in 0..o.rounds {
        for (wi, &w) in plan.iter().enumerate() {
            let count = w.count(o.quick);
            // Rotate the order each round so no implementation always runs first.
            for k in 0..entries.len() {
                let e = &entries[(k + round + wi) % entries.len()];
                if !e.supports(w) {
                    continue;
                }
                let tag = format!("{round}-{wi}-{}", e.id());
                let shown = match run_cell(e.id(), w, count, &tag, &o) {
                    Ok(results) => {
                        let mut shown = Vec::new();
                        for (key, v) in results {
                            if let Some(m) = spec::Metric::from_key(&key) {
                                shown.push(format!("{} {}", m.show(v), m.unit()));
                                samples.add(w, m, e.id(), v);
                            }
                        }
                        shown.join(", ")
                    }
                    Err(why) => {
                        samples.fail(w, e.id(), &why);
                        format!("FAILED: {why}")
                    }
                };
                eprintln!(
                    "[round {}/{}] {:<34} {:<22} {}",
                    round + 1,
                    o.rounds,
                    w.to_string(),
                    e.name(),
                    shown
                );
            }
        }
    }
    let names: Vec<(&str, &str)> = entries.iter().map(|e| (e.id(), e.name())).collect();
    let md = report::markdown(&plan, &names, &samples, o.rounds, o.quick, o.io_threads);
    println!("{md}");
    std::fs::create_dir_all(&o.out).expect("create the output directory");
    std::fs::write(o.out.join("results.md"), &md).expect("write results.md");
    std::fs::write(o.out.join("samples.tsv"), samples.tsv()).expect("write samples.tsv");
    for (file, svg) in chart::all(&plan, &names, &samples) {
        std::fs::write(o.out.join(file), svg).expect("write a chart");
    }
    eprintln!(
        "done in {:.0} s; wrote {}",
        started.elapsed().as_secs_f64(),
        o.out.display()
    );
}

/// Runs one cell in a child process, killing it after `timeout`.
fn run_cell(
    id: &str,
    w: spec::Workload,
    count: usize,
    tag: &str,
    o: &Options,
) -> Result<Vec<(String, f64)>, String> {
    let timeout = o.timeout;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    if let Some(n) = o.io_threads {
        command.env(spec::IO_THREADS_ENV, n.to_string());
    }
    let mut child = command
        .args(["--cell", id, &w.key(), &count.to_string(), tag])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(format!("timed out after {} s", timeout.as_secs()));
    };
    if let Some(results) = out.lines().find_map(child::parse_result) {
        if status.success() {
            return Ok(results);
        }
    }
    // A panic's message is the line after "panicked at".
    let lines: Vec<&str> = err.lines().collect();
    let why = lines
        .iter()
        .position(|l| l.contains("panicked at"))
        .and_then(|i| lines.get(i + 1))
        .or(lines.last())
        .copied()
        .unwrap_or("no output");
    Err(format!("{status}: {why}"))
}
