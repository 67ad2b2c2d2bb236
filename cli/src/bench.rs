//! `oxmq bench`: throughput and latency between two processes or hosts, in the shape of
//! libzmq's perf tools (so either side may be libzmq's): `thr-recv` is `local_thr` (PULL
//! binds and times the stream), `thr-send` is `remote_thr` (PUSH connects and sends),
//! `lat-echo` is `local_lat` (REP binds and echoes), `lat-ping` is `remote_lat` (REQ
//! connects and times each round trip). `loopback` runs both halves of each in one process.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::front::{Ctx, Sock};
use bytes::Bytes;
use clap::{Args, Subcommand};
use oxmq_core::SocketType;

use crate::{fail, Failure, SocketOpts};

#[derive(Args)]
pub(crate) struct Shape {
    /// Message size in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 64)]
    size: usize,
    /// How many messages (throughput) or round trips (latency)
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    count: u64,
    #[command(flatten)]
    opts: SocketOpts,
}

#[derive(Subcommand)]
pub(crate) enum Bench {
    /// Receive COUNT messages and report msg/s and MB/s (libzmq's local_thr; PULL binds)
    ThrRecv {
        /// Endpoint to bind, e.g. tcp://*:5555
        #[arg(long, value_name = "ENDPOINT")]
        bind: String,
        #[command(flatten)]
        shape: Shape,
    },
    /// Send COUNT messages of SIZE bytes (libzmq's remote_thr; PUSH connects)
    ThrSend {
        /// Endpoint to connect to, e.g. tcp://127.0.0.1:5555
        #[arg(long, value_name = "ENDPOINT")]
        connect: String,
        #[command(flatten)]
        shape: Shape,
    },
    /// Echo COUNT round trips (libzmq's local_lat; REP binds)
    LatEcho {
        /// Endpoint to bind
        #[arg(long, value_name = "ENDPOINT")]
        bind: String,
        #[command(flatten)]
        shape: Shape,
    },
    /// Time COUNT round trips and report percentiles (libzmq's remote_lat; REQ connects)
    LatPing {
        /// Endpoint to connect to
        #[arg(long, value_name = "ENDPOINT")]
        connect: String,
        #[command(flatten)]
        shape: Shape,
    },
    /// Both sides of a throughput and a latency run in this process, over tcp on loopback
    Loopback {
        #[command(flatten)]
        shape: Shape,
    },
}

pub(crate) fn run(ctx: &Ctx, bench: Bench) -> Result<(), Failure> {
    match bench {
        Bench::ThrRecv { bind, shape } => {
            let s = open(ctx, SocketType::Pull, &shape)?;
            s.bind(&bind)
                .map_err(|e| fail(format!("cannot bind {bind}"), e))?;
            let r = receive_stream(&s, &shape)?;
            println!("{}", r.summary());
            Ok(())
        }
        Bench::ThrSend { connect, shape } => {
            let s = open(ctx, SocketType::Push, &shape)?;
            s.connect(&connect)
                .map_err(|e| fail(format!("cannot connect to {connect}"), e))?;
            send_stream(&s, &shape)?;
            // LINGER (forever unless --linger says otherwise) holds the exit until the
            // stream is on the wire, as remote_thr's close does (on Tokio the close itself
            // waits; without it the process could exit with messages still queued).
            s.close();
            Ok(())
        }
        Bench::LatEcho { bind, shape } => {
            let s = open(ctx, SocketType::Rep, &shape)?;
            s.bind(&bind)
                .map_err(|e| fail(format!("cannot bind {bind}"), e))?;
            echo(&s, &shape)
        }
        Bench::LatPing { connect, shape } => {
            let s = open(ctx, SocketType::Req, &shape)?;
            s.connect(&connect)
                .map_err(|e| fail(format!("cannot connect to {connect}"), e))?;
            let r = ping(&s, &shape)?;
            println!("{}", r.summary());
            Ok(())
        }
        Bench::Loopback { shape } => {
            let pull = open(ctx, SocketType::Pull, &shape)?;
            let ep = pull
                .bind("tcp://127.0.0.1:*")
                .map_err(|e| fail("cannot bind", e))?;
            let push = open(ctx, SocketType::Push, &shape)?;
            push.connect(&ep).map_err(|e| fail("cannot connect", e))?;
            let r = std::thread::scope(|scope| {
                let shape = &shape;
                let sender = scope.spawn(move || send_stream(&push, shape));
                let r = receive_stream(&pull, shape);
                sender.join().expect("the sender thread")?;
                r
            })?;
            println!("{}", r.summary());

            let rep = open(ctx, SocketType::Rep, &shape)?;
            let ep = rep
                .bind("tcp://127.0.0.1:*")
                .map_err(|e| fail("cannot bind", e))?;
            let req = open(ctx, SocketType::Req, &shape)?;
            req.connect(&ep).map_err(|e| fail("cannot connect", e))?;
            let r = std::thread::scope(|scope| {
                let shape = &shape;
                let echoer = scope.spawn(move || echo(&rep, shape));
                let r = ping(&req, shape);
                echoer.join().expect("the echo thread")?;
                r
            })?;
            println!("{}", r.summary());
            Ok(())
        }
    }
}

fn open<'c>(ctx: &'c Ctx, kind: SocketType, shape: &Shape) -> Result<Sock<'c>, Failure> {
    let s = ctx
        .socket(kind)
        .map_err(|e| fail("cannot create socket", e))?;
    shape.opts.apply(&s)?;
    Ok(s)
}

/// A live progress line on a terminal's standard error, at most once a second.
struct Progress {
    on: bool,
    last: Instant,
    start: Instant,
}

impl Progress {
    fn new() -> Progress {
        let now = Instant::now();
        Progress {
            on: std::io::stderr().is_terminal(),
            last: now,
            start: now,
        }
    }

    fn tick(&mut self, done: u64, total: u64, what: &str) {
        if !self.on || !done.is_multiple_of(1024) {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < Duration::from_secs(1) {
            return;
        }
        self.last = now;
        let rate = done as f64 / now.duration_since(self.start).as_secs_f64();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r  {done}/{total} {what}, {rate:.0}/s   ");
        let _ = err.flush();
    }

    fn done(&self) {
        if self.on {
            let _ = writeln!(std::io::stderr().lock());
        }
    }
}

/// A throughput run's outcome.
struct Throughput {
    count: u64,
    size: usize,
    elapsed: Duration,
}

impl Throughput {
    fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        let rate = self.count as f64 / secs;
        let mbytes = rate * self.size as f64 / 1e6;
        format!(
            "throughput: {} messages of {} B in {:.3} s: {:.0} msg/s, {:.1} MB/s ({:.1} Mb/s)",
            self.count,
            self.size,
            secs,
            rate,
            mbytes,
            mbytes * 8.0
        )
    }
}

/// Times the stream from its first message, as local_thr does.
fn receive_stream(s: &Sock<'_>, shape: &Shape) -> Result<Throughput, Failure> {
    let first = s.recv().map_err(|e| fail("receive failed", e))?;
    check_size(first.byte_len(), shape.size)?;
    let start = Instant::now();
    let mut progress = Progress::new();
    for n in 1..shape.count {
        let m = s.recv().map_err(|e| fail("receive failed", e))?;
        check_size(m.byte_len(), shape.size)?;
        progress.tick(n, shape.count, "messages");
    }
    progress.done();
    Ok(Throughput {
        count: shape.count,
        size: shape.size,
        elapsed: start.elapsed(),
    })
}

fn check_size(got: usize, want: usize) -> Result<(), Failure> {
    if got == want {
        Ok(())
    } else {
        Err(Failure(format!(
            "a message of {got} B arrived, --size says {want} B"
        )))
    }
}

fn send_stream(s: &Sock<'_>, shape: &Shape) -> Result<(), Failure> {
    let body = Bytes::from(vec![0u8; shape.size]);
    for _ in 0..shape.count {
        s.send(body.clone()).map_err(|e| fail("send failed", e))?;
    }
    Ok(())
}

fn echo(s: &Sock<'_>, shape: &Shape) -> Result<(), Failure> {
    for _ in 0..shape.count {
        let m = s.recv().map_err(|e| fail("receive failed", e))?;
        s.send(m).map_err(|e| fail("send failed", e))?;
    }
    Ok(())
}

/// A latency run's round trips, sorted.
struct Latency {
    size: usize,
    rtts: Vec<Duration>,
}

impl Latency {
    fn at(&self, q: f64) -> f64 {
        let i = ((self.rtts.len() as f64 - 1.0) * q).round() as usize;
        self.rtts[i].as_secs_f64() * 1e6
    }

    fn summary(&self) -> String {
        if self.rtts.is_empty() {
            return "latency: no round trips".into();
        }
        let total: Duration = self.rtts.iter().sum();
        let mean = total.as_secs_f64() * 1e6 / self.rtts.len() as f64;
        format!(
            "latency: {} round trips of {} B: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs; mean {:.1} µs (one way {:.1} µs, libzmq's remote_lat figure)",
            self.rtts.len(),
            self.size,
            self.at(0.5),
            self.at(0.9),
            self.at(0.99),
            self.at(1.0),
            mean,
            mean / 2.0
        )
    }
}

fn ping(s: &Sock<'_>, shape: &Shape) -> Result<Latency, Failure> {
    let body = Bytes::from(vec![0u8; shape.size]);
    let mut rtts = Vec::with_capacity(usize::try_from(shape.count).unwrap_or(0));
    let mut progress = Progress::new();
    for n in 0..shape.count {
        let t = Instant::now();
        s.send(body.clone()).map_err(|e| fail("send failed", e))?;
        let m = s.recv().map_err(|e| fail("receive failed", e))?;
        rtts.push(t.elapsed());
        check_size(m.byte_len(), shape.size)?;
        progress.tick(n + 1, shape.count, "round trips");
    }
    progress.done();
    rtts.sort_unstable();
    Ok(Latency {
        size: shape.size,
        rtts,
    })
}
