//! Soak: an oxmq-mio PULL bound on tcp://127.0.0.1 serving libzmq PUSH client lifetimes that
//! each connect, send one message and close (LINGER 1 s), for a given time. Every few seconds
//! it prints what it received and its own open descriptors and resident memory, which must stay
//! flat; at the end it checks that every message sent arrived and every session ended.
//!
//! ```text
//! cargo run --release -p oxmq-tests --example churn_soak -- [SECONDS] [CLIENT_THREADS]
//! ```
//!
//! The clients run in a child process (this program again, with `--clients`), so the figures
//! are the server's alone. Not run by CI; Linux only (it reads /proc/self).

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use oxmq_core::SocketType;
use oxmq_mio::Context;

/// How often the server prints its figures.
const REPORT_EVERY: Duration = Duration::from_secs(5);
/// How long the end waits for the last messages and sessions; a failure bound.
const DRAIN: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--clients") {
        return clients(&args[1..]);
    }
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(180);
    let threads: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    server(Duration::from_secs(seconds), threads)
}

/// This process's open descriptors.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// This process's resident set (VmRSS), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn server(duration: Duration, threads: usize) -> ExitCode {
    let ctx = Context::new().expect("context");
    let pull = ctx.socket(SocketType::Pull).expect("socket");
    let endpoint = pull.bind("tcp://127.0.0.1:*").expect("bind");
    let (fds0, rss0) = (open_fds(), rss_kib());
    println!(
        "churn soak: {}s, {threads} client threads, PULL at {endpoint}",
        duration.as_secs()
    );
    println!("start: fds {fds0}, rss {rss0} KiB");

    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([
            "--clients",
            &endpoint,
            &duration.as_secs().to_string(),
            &threads.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("client process");

    let start = Instant::now();
    let mut next_report = start + REPORT_EVERY;
    let mut received: u64 = 0;
    let report = |received: u64, sessions: usize| {
        println!(
            "t={:>4}s received {received:>8} sessions {sessions:>4} fds {:>5} rss {:>7} KiB",
            start.elapsed().as_secs(),
            open_fds(),
            rss_kib()
        );
    };
    while start.elapsed() < duration {
        if pull.recv_timeout(Duration::from_millis(100)).is_ok() {
            received += 1;
        }
        if Instant::now() >= next_report {
            report(received, pull.session_count());
            next_report += REPORT_EVERY;
        }
    }

    // The clients stop on their own at the deadline and report how many they sent.
    let out = child.stdout.take().expect("piped");
    let sent: u64 = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("sent ").and_then(|n| n.trim().parse().ok()))
        .unwrap_or(0);
    let status = child.wait().expect("client process");
    let drain_until = Instant::now() + DRAIN;
    while received < sent && Instant::now() < drain_until {
        if pull.recv_timeout(Duration::from_millis(100)).is_ok() {
            received += 1;
        }
    }
    while (pull.session_count() > 0 || open_fds() > fds0) && Instant::now() < drain_until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (sessions, fds, rss) = (pull.session_count(), open_fds(), rss_kib());
    println!(
        "end: {sent} lifetimes sent a message, {received} received; sessions {sessions}, \
         fds {fds} (start {fds0}), rss {rss} KiB (start {rss0} KiB)"
    );
    if !status.success() || received != sent || sessions != 0 || fds > fds0 {
        println!("FAILED");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The child: `threads` threads running PUSH lifetimes against the endpoint until the
/// deadline, then `sent N` on stdout.
fn clients(args: &[String]) -> ExitCode {
    let (Some(endpoint), Some(seconds), Some(threads)) = (
        args.first().cloned(),
        args.get(1).and_then(|a| a.parse::<u64>().ok()),
        args.get(2).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: churn_soak --clients ENDPOINT SECONDS THREADS");
        return ExitCode::FAILURE;
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let mut sent = 0u64;
                while Instant::now() < deadline {
                    // Its own context, terminated at the end: the lifetime is over (message
                    // written or linger run out, stream closed) before the next begins.
                    let zctx = zmq::Context::new();
                    let push = zctx.socket(zmq::PUSH).expect("libzmq socket");
                    push.set_linger(1000).expect("linger");
                    push.connect(&endpoint).expect("connect");
                    let body = format!("{t}-{sent}");
                    if push.send(body.as_bytes(), zmq::DONTWAIT).is_ok() {
                        sent += 1;
                    }
                    drop(push);
                    drop(zctx);
                }
                sent
            })
        })
        .collect();
    let sent: u64 = workers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
    println!("sent {sent}");
    ExitCode::SUCCESS
}
