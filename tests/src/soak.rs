//! Soak scenarios over any front-end ([`Front`]), run for a chosen time: peers come and go
//! while traffic flows, and the process's open descriptors and resident memory are sampled.
//! Each scenario reports what it sent, what arrived, and what was lost where the pattern
//! allows loss (none where it does not). CI runs each for a few seconds
//! (`tests/tests/soak.rs`); `cargo run --release -p oxmq-tests --example soak` runs them for
//! minutes. Linux only (reads /proc/self).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxmq_core::{Message, SocketOption, SocketType};

use crate::front::Front;

/// This process's open descriptors.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// This process's resident set (VmRSS), in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// What one scenario did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub scenario: &'static str,
    pub front: &'static str,
    pub seconds: f64,
    /// Peer lifetimes (workers, subscribers, clients, restarts) the run went through.
    pub churns: u64,
    pub sent: u64,
    pub received: u64,
    /// Messages that never arrived, where the pattern allows loss.
    pub lost_allowed: u64,
    /// Messages that never arrived where the pattern promises delivery: must be 0.
    pub lost_forbidden: u64,
    /// Descriptors and resident memory after the warm-up, and after the scenario ended.
    pub fds_before: usize,
    pub fds_after: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// The largest resident memory seen while it ran.
    pub rss_peak_kib: u64,
    /// Resident memory and open descriptors at the end of each tenth of the run: flat
    /// figures show nothing accumulates.
    pub tenths: Vec<(u64, usize)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<22} {:<5} {:>6.0} s  churns {:>7}  sent {:>10}  received {:>10}  lost (allowed) {:>8}  lost (forbidden) {}  fds {} -> {}  RSS {} -> {} KiB (peak {})",
            self.scenario,
            self.front,
            self.seconds,
            self.churns,
            self.sent,
            self.received,
            self.lost_allowed,
            self.lost_forbidden,
            self.fds_before,
            self.fds_after,
            self.rss_before_kib,
            self.rss_after_kib,
            self.rss_peak_kib
        )?;
        if !self.tenths.is_empty() {
            let rss: Vec<String> = self.tenths.iter().map(|(r, _)| r.to_string()).collect();
            let fds: Vec<String> = self.tenths.iter().map(|(_, f)| f.to_string()).collect();
            write!(
                f,
                "\n    by tenth: RSS KiB {}  fds {}",
                rss.join(" "),
                fds.join(" ")
            )?;
        }
        Ok(())
    }
}

/// Every scenario's name, for [`run`].
pub const SCENARIOS: [&str; 4] = [
    "pushpull-workers",
    "pubsub-subscribers",
    "dealer-router-clients",
    "binder-restarts",
];

/// How the sampler is told to stop, the peak it saw, and its samples at each tenth.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<Vec<(u64, usize)>>,
}

impl Sampler {
    fn start(time: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_kib()));
        let (s, p) = (Arc::clone(&stop), Arc::clone(&peak));
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut tenths = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let rss = rss_kib();
                p.fetch_max(rss, Ordering::Relaxed);
                if tenths.len() < 10 && start.elapsed() >= time * (tenths.len() as u32 + 1) / 10 {
                    tenths.push((rss, open_fds()));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            tenths
        });
        Sampler { stop, peak, thread }
    }

    fn finish(self) -> (u64, Vec<(u64, usize)>) {
        self.stop.store(true, Ordering::Relaxed);
        let tenths = self.thread.join().unwrap_or_default();
        (self.peak.load(Ordering::Relaxed), tenths)
    }
}

/// Runs `scenario` on `front` for `time`, and reports.
pub fn run(front: &dyn Front, scenario: &str, time: Duration) -> Report {
    // A warm-up round makes the front-end's threads and buffers, so the "before" figures
    // count what a steady state holds.
    let _ = one(front, scenario, Duration::from_millis(200));
    let (fds_before, rss_before_kib) = (open_fds(), rss_kib());
    let sampler = Sampler::start(time);
    let start = Instant::now();
    let mut r = one(front, scenario, time);
    r.seconds = start.elapsed().as_secs_f64();
    (r.rss_peak_kib, r.tenths) = sampler.finish();
    // Closed sockets let go of their descriptors in the background: give them the wait
    // bound to do so, and take the first count that is back at the start's.
    let deadline = Instant::now() + crate::front::WAIT;
    while open_fds() > fds_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    r.fds_before = fds_before;
    r.fds_after = open_fds();
    r.rss_before_kib = rss_before_kib;
    r.rss_after_kib = rss_kib();
    r.front = front.name();
    r
}

fn one(front: &dyn Front, scenario: &str, time: Duration) -> Report {
    match scenario {
        "pushpull-workers" => pushpull_workers(front, time),
        "pubsub-subscribers" => pubsub_subscribers(front, time),
        "dealer-router-clients" => dealer_router_clients(front, time),
        "binder-restarts" => binder_restarts(front, time),
        other => panic!("no scenario {other:?}; there are {SCENARIOS:?}"),
    }
}

fn numbered(n: u64) -> Message {
    Message::from(n.to_be_bytes().to_vec())
}

fn number(m: &Message) -> u64 {
    u64::from_be_bytes(m.frames()[0][..8].try_into().expect("8 bytes"))
}

/// A PUSH ventilator feeds a pool of PULL workers; every few milliseconds one worker is
/// killed (closed with what it had queued) and a new one connects. PUSH promises nothing
/// for messages queued to a worker that dies: those are the allowed loss. Each worker must
/// see its share in order (so none twice), and no more can arrive than was sent. (A set of
/// every number seen would itself grow by gigabytes in a long run and hide the figure
/// this measures.)
fn pushpull_workers(front: &dyn Front, time: Duration) -> Report {
    const WORKERS: usize = 4;
    let push = front.socket(SocketType::Push);
    push.set(SocketOption::SndHwm(100)).unwrap();
    // Short waits, so the feeder sees the end even while no worker is there.
    push.set(SocketOption::SndTimeo(100)).unwrap();
    let ep = push.bind("tcp://127.0.0.1:*").unwrap();
    let stop = AtomicBool::new(false);
    let received = AtomicU64::new(0);
    let dup = AtomicU64::new(0);
    let mut churns = 0;
    let sent = std::thread::scope(|scope| {
        let stop = &stop;
        let feeder = scope.spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Bounded waits: a send may find every worker mid-restart.
                if push.send(numbered(n)).is_ok() {
                    n += 1;
                }
            }
            n
        });
        let end = Instant::now() + time;
        while Instant::now() < end {
            let mut workers = Vec::new();
            for _ in 0..WORKERS {
                let w = front.socket(SocketType::Pull);
                w.connect(&ep).unwrap();
                workers.push(w);
            }
            // Each generation of workers reads for a while, then is replaced.
            let until = Instant::now() + Duration::from_millis(50);
            churns += workers.len() as u64;
            std::thread::scope(|inner| {
                for w in workers {
                    let (received, dup) = (&received, &dup);
                    // The worker dies (is closed) when its thread ends.
                    inner.spawn(move || {
                        let mut last = None;
                        while Instant::now() < until {
                            if let Ok(Some(m)) = w.recv_within(Duration::from_millis(5)) {
                                received.fetch_add(1, Ordering::Relaxed);
                                let k = number(&m);
                                if last.is_some_and(|l| k <= l) {
                                    dup.fetch_add(1, Ordering::Relaxed);
                                }
                                last = Some(k);
                            }
                        }
                    });
                }
            });
        }
        stop.store(true, Ordering::Relaxed);
        feeder.join().unwrap()
    });
    let received = received.load(Ordering::Relaxed);
    Report {
        scenario: "pushpull-workers",
        churns,
        sent,
        received,
        lost_allowed: sent.saturating_sub(received),
        lost_forbidden: dup.load(Ordering::Relaxed) + received.saturating_sub(sent),
        ..Report::default()
    }
}

/// A PUB publishes to subscribers that join, read a while and leave. PUB drops what a
/// subscriber was not there (or not subscribed yet) to get: allowed. What a subscriber gets
/// must be its topic only, in order, without duplicates.
fn pubsub_subscribers(front: &dyn Front, time: Duration) -> Report {
    let publisher = front.socket(SocketType::Pub);
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let stop = AtomicBool::new(false);
    let received = AtomicU64::new(0);
    let wrong = AtomicU64::new(0);
    let mut churns = 0;
    let sent = std::thread::scope(|scope| {
        let stop = &stop;
        let feeder = scope.spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut body = b"A".to_vec();
                body.extend_from_slice(&n.to_be_bytes());
                publisher.send(Message::from(body)).unwrap();
                publisher.send(Message::from(b"B-other".to_vec())).unwrap();
                n += 1;
                if n.is_multiple_of(64) {
                    // Pacing, so subscribers are not simply drowned (PUB drops at HWM).
                    std::thread::yield_now();
                }
            }
            n
        });
        let end = Instant::now() + time;
        while Instant::now() < end {
            std::thread::scope(|inner| {
                for _ in 0..3 {
                    let (received, wrong) = (&received, &wrong);
                    let s = front.socket(SocketType::Sub);
                    s.subscribe(b"A").unwrap();
                    s.connect(&ep).unwrap();
                    inner.spawn(move || {
                        let until = Instant::now() + Duration::from_millis(50);
                        let mut last = None;
                        while Instant::now() < until {
                            if let Ok(Some(m)) = s.recv_within(Duration::from_millis(5)) {
                                let f = &m.frames()[0];
                                if f.len() != 9 || f[0] != b'A' {
                                    wrong.fetch_add(1, Ordering::Relaxed);
                                    continue;
                                }
                                let k = u64::from_be_bytes(f[1..9].try_into().unwrap());
                                if last.is_some_and(|l| k <= l) {
                                    wrong.fetch_add(1, Ordering::Relaxed);
                                }
                                last = Some(k);
                                received.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
            churns += 3;
        }
        stop.store(true, Ordering::Relaxed);
        feeder.join().unwrap()
    });
    Report {
        scenario: "pubsub-subscribers",
        churns,
        sent,
        received: received.load(Ordering::Relaxed),
        // Each publication goes to whoever is subscribed at the time: no loss to count.
        lost_allowed: 0,
        lost_forbidden: wrong.load(Ordering::Relaxed),
        ..Report::default()
    }
}

/// A ROUTER echoes; DEALER clients connect, make a few requests each waiting for its reply,
/// and close. A client that waited for its replies must have every one: no loss allowed.
fn dealer_router_clients(front: &dyn Front, time: Duration) -> Report {
    let router = front.socket(SocketType::Router);
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let stop = AtomicBool::new(false);
    let mut churns = 0;
    let (mut sent, mut received, mut lost) = (0u64, 0u64, 0u64);
    std::thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(m)) = router.recv_within(Duration::from_millis(10)) {
                    let _ = router.send(m);
                }
            }
        });
        let end = Instant::now() + time;
        while Instant::now() < end {
            let client = front.socket(SocketType::Dealer);
            client.connect(&ep).unwrap();
            for k in 0..5u64 {
                sent += 1;
                client.send(numbered(k)).unwrap();
                match client.recv() {
                    Ok(m) if number(&m) == k => received += 1,
                    _ => lost += 1,
                }
            }
            churns += 1;
        }
        stop.store(true, Ordering::Relaxed);
    });
    Report {
        scenario: "dealer-router-clients",
        churns,
        sent,
        received,
        lost_allowed: 0,
        lost_forbidden: lost,
        ..Report::default()
    }
}

/// A PULL binder restarts (closes, binds again at its address) while a PUSH keeps sending
/// through its reconnects. What was in flight to a binder that closed is the allowed loss;
/// what arrives must be in order, without duplicates.
fn binder_restarts(front: &dyn Front, time: Duration) -> Report {
    let push = front.socket(SocketType::Push);
    push.set(SocketOption::ReconnectIvl(10)).unwrap();
    let mut ep = String::from("tcp://127.0.0.1:*");
    let mut churns = 0;
    let (mut sent, mut received, mut wrong) = (0u64, 0u64, 0u64);
    let mut last = None;
    let end = Instant::now() + time;
    let mut connected = false;
    while Instant::now() < end {
        let pull = front.socket(SocketType::Pull);
        // The old listener closes in the background: bind again once its port is free.
        let deadline = Instant::now() + crate::front::WAIT;
        let bound = loop {
            match pull.bind(&ep) {
                Ok(b) => break b,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("cannot bind {ep} again: {e}"),
            }
        };
        ep = bound;
        if !connected {
            push.connect(&ep).unwrap();
            connected = true;
        }
        // Traffic until this binder has had its share, then it restarts.
        let until = Instant::now() + Duration::from_millis(100);
        while Instant::now() < until {
            for _ in 0..16 {
                if push.send(numbered(sent)).is_ok() {
                    sent += 1;
                }
            }
            while let Ok(Some(m)) = pull.recv_within(Duration::from_millis(1)) {
                let k = number(&m);
                if last.is_some_and(|l| k <= l) {
                    wrong += 1;
                }
                last = Some(k);
                received += 1;
            }
        }
        churns += 1;
    }
    Report {
        scenario: "binder-restarts",
        churns,
        sent,
        received,
        lost_allowed: sent.saturating_sub(received),
        lost_forbidden: wrong,
        ..Report::default()
    }
}

/// Reports whether `r` kept the promises: something flowed, nothing forbidden was lost, and
/// the descriptors came back to where they started.
pub fn check(r: &Report) -> Result<(), String> {
    if r.received == 0 {
        return Err(format!("{r}: nothing arrived"));
    }
    if r.lost_forbidden > 0 {
        return Err(format!("{r}: broke a promise"));
    }
    if r.fds_after > r.fds_before {
        return Err(format!("{r}: descriptors leaked"));
    }
    Ok(())
}
