//! One run of one seed: build the workload, inject the drawn faults, heal, check liveness,
//! close everything, and report.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use oxmq_core::Instant;
use rand::Rng;

use crate::oracle::{Failure, FailureKind};
use crate::profile::{Pattern, Profile};
use crate::rng::stream;
use crate::world::{Mutation, Phase, Sim};

/// What to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The seed.
    pub seed: u64,
    /// Print every event.
    pub trace: bool,
    /// A sim-only injected bug.
    pub mutation: Mutation,
    /// Force this workload instead of the drawn one.
    pub pattern: Option<Pattern>,
    /// Draw a security mechanism, credentials, a ZAP handler and impostors too.
    pub security: bool,
    /// With security: this mode instead of the drawn one.
    pub security_mode: Option<crate::security::Mode>,
    /// Force this send window on every stream instead of the profile's (a regression test
    /// replays a seed with the window it drew before a profile rule raised it).
    pub window: Option<usize>,
    /// Force the STREAM side workload on or off instead of the profile's draw (a seed that
    /// draws it replays, without it, the run it had before it could be drawn).
    pub stream: Option<bool>,
}

impl RunOptions {
    /// Seed `seed`, quietly, no injected bug.
    pub fn new(seed: u64) -> RunOptions {
        RunOptions {
            seed,
            trace: false,
            mutation: Mutation::None,
            pattern: None,
            security: false,
            security_mode: None,
            window: None,
            stream: None,
        }
    }
}

/// How a run went.
#[derive(Clone, Debug)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// The workload, if it was forced rather than drawn.
    pub forced: Option<Pattern>,
    /// Whether security was drawn (`--security`).
    pub security: bool,
    /// The security mode, if it was forced.
    pub security_mode: Option<crate::security::Mode>,
    /// The STREAM side workload, if it was forced on or off.
    pub stream: Option<bool>,
    /// What it drew.
    pub profile: Profile,
    /// The hash of every trace event.
    pub hash: u64,
    /// How many events.
    pub events: u64,
    /// Virtual time at the end.
    pub end: Instant,
    /// Received messages checked.
    pub checked: u64,
    /// Liveness obligations met.
    pub met: u64,
    /// How often the newer oracles had something to judge.
    pub coverage: crate::oracle::Coverage,
    /// The first failure.
    pub failure: Option<Failure>,
    /// The last trace events.
    pub tail: Vec<String>,
}

impl Report {
    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        let forced = self
            .forced
            .map(|p| format!(" --pattern {}", p.name()))
            .unwrap_or_default();
        let security = match (self.security, self.security_mode) {
            (_, Some(m)) => format!(" --security-mode {}", m.name()),
            (true, None) => " --security".to_owned(),
            (false, None) => String::new(),
        };
        let stream = match self.stream {
            Some(true) => " --stream on",
            Some(false) => " --stream off",
            None => "",
        };
        format!(
            "cargo run --release -p oxmq-sim -- --seed {}{forced}{security}{stream} --trace",
            self.seed
        )
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "seed {}: {}", self.seed, self.profile)?;
        writeln!(
            f,
            "  {} events, {:.3}s virtual, {} receives checked, {} obligations met, trace hash {:016x}",
            self.events,
            self.end.as_nanos() as f64 / 1e9,
            self.checked,
            self.met,
            self.hash
        )?;
        if let Some(fail) = &self.failure {
            writeln!(
                f,
                "  FAILED ({}) at {:.6}s: {}",
                fail.kind,
                fail.at.as_nanos() as f64 / 1e9,
                fail.what
            )?;
            writeln!(f, "  last events:")?;
            for line in &self.tail {
                writeln!(f, "    {line}")?;
            }
            writeln!(f, "  replay: {}", self.replay_command())?;
        }
        Ok(())
    }
}

/// Runs one seed to completion (or its first failure). Panics are caught and reported as
/// crashes.
pub fn run_seed(opts: &RunOptions) -> Report {
    let mut profile = Profile::draw(opts.seed);
    if let Some(p) = opts.pattern {
        profile.pattern = p;
    }
    if let Some(on) = opts.stream {
        profile.features.stream = on;
    }
    if opts.security || opts.security_mode.is_some() {
        profile = profile.with_security(opts.seed, opts.security_mode);
    }
    if opts.window.is_some() {
        profile.net.window = opts.window;
    }
    let mut sim = Sim::new(opts.seed, profile.net.clone(), opts.trace);
    sim.mutation = opts.mutation;
    sim.slow_readers = profile.slow_readers;
    sim.silent_crashes = profile.silent_crashes;
    sim.live_hwm = profile.features.live_hwm;
    sim.inproc = profile.features.inproc;
    sim.batch_recv = profile.features.batch_recv;
    sim.max_msg_wire = profile.max_msg_wire();
    sim.max_msg_size = profile.max_msg_size();
    sim.ready_delay = profile.sock.base.sim_ready_delay;
    sim.security = profile.security.clone();
    let outcome = catch_unwind(AssertUnwindSafe(|| drive(&mut sim, &profile)));
    if let Err(panic) = outcome {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panic".to_owned());
        let now = sim.now();
        sim.oracle.fail(FailureKind::Crash, now, what);
    }
    Report {
        seed: opts.seed,
        forced: opts.pattern,
        security: opts.security,
        security_mode: opts.security_mode,
        stream: opts.stream,
        hash: sim.trace.hash(),
        events: sim.trace.len(),
        end: sim.now(),
        checked: sim.oracle.checked,
        met: sim.oracle.met,
        coverage: sim.oracle.coverage,
        failure: sim.oracle.failure().cloned(),
        tail: sim.trace.tail().map(str::to_owned).collect(),
        profile,
    }
}

/// Injects the profile's faults, all within the fault phase; crashed hosts come back
/// before it ends (at the latest when everything heals).
fn schedule_faults(sim: &mut Sim, p: &Profile) {
    let mut r = stream(sim.seed, "faults");
    let hosts = sim.host_count();
    let end = p.fault_phase.as_nanos() as u64;
    let at = |r: &mut rand_chacha::ChaCha8Rng| Instant::from_nanos(r.random_range(0..end));
    let cap = |t: Instant| t.min(Instant::from_nanos(end));
    for _ in 0..p.faults.crashes {
        let h = r.random_range(0..hosts);
        let t = at(&mut r);
        let down = Duration::from_nanos(r.random_range(1..=p.faults.down_max.as_nanos() as u64));
        sim.crash_at(h, t);
        sim.restart_at(h, cap(t + down));
    }
    for _ in 0..p.faults.partitions {
        let a = r.random_range(0..hosts);
        let b = r.random_range(0..hosts);
        let t = at(&mut r);
        let len =
            Duration::from_nanos(r.random_range(1..=p.faults.partition_max.as_nanos() as u64));
        sim.partition(a, b, t, cap(t + len));
    }
    for _ in 0..p.faults.resets {
        let t = at(&mut r);
        let pick = r.random();
        sim.reset_at(t, pick);
    }
    if p.features.stalls {
        // Their own stream: the faults above keep their draws.
        let mut r = stream(sim.seed, "stalls");
        for h in 0..hosts {
            for _ in 0..r.random_range(0..3) {
                let t = at(&mut r);
                let len = Duration::from_millis(r.random_range(50..1500));
                sim.stall_at(h, t, cap(t + len) - t);
            }
        }
    }
}

fn drive(sim: &mut Sim, p: &Profile) {
    // A failure ends the run where it happened, so the trace's tail shows its cause.
    macro_rules! run_until {
        ($t:expr) => {
            sim.run_until($t);
            if sim.oracle.failure().is_some() {
                return;
            }
        };
    }
    crate::workload::build(sim, p);
    schedule_faults(sim, p);
    let mut t = Instant::ZERO + p.fault_phase;
    run_until!(t);
    let healed = t;
    // Heal: no more faults; every partition ends, every host runs.
    sim.set_phase(Phase::Settle);
    sim.heal_all();
    t = t + p.settle_bound();
    run_until!(t);
    sim.check_connected(healed);
    if sim.oracle.failure().is_some() {
        return;
    }
    sim.oracle.settled = Some((sim.now(), p.probe_bound()));
    sim.set_phase(Phase::Probe);
    t = t + p.probe_window();
    run_until!(t);
    sim.set_phase(Phase::Quiet);
    // Every obligation's deadline has passed by now.
    t = t + p.request_timeout() + p.probe_bound() * 4;
    run_until!(t);
    sim.check_requeues_delivered();
    sim.check_sessions_ended();
    obligations_met(sim, "probe");
    let now = sim.now();
    sim.oracle.check_newest_last(now);
    // Closes begun before healing with LINGER forever could drain since.
    sim.check_closes(p.close_slack(), Some(healed));
    if sim.oracle.failure().is_some() {
        return;
    }
    // Fresh sockets queue a burst and close; their peers stay open while LINGER delivers.
    sim.set_phase(Phase::Linger);
    t = t + p.linger_phase();
    run_until!(t);
    obligations_met(sim, "linger");
    sim.set_phase(Phase::Shutdown);
    // The applications closed their sockets; now each host's context terminates.
    for h in 0..sim.host_count() {
        sim.terminate_context(h);
    }
    t = t + p.linger_bound() + p.settle_bound();
    run_until!(t);
    let now = sim.now();
    sim.check_closes(p.close_slack(), Some(now));
    if sim.oracle.failure().is_none() && !sim.all_closed() {
        sim.oracle.fail(
            FailureKind::Liveness,
            now,
            "a socket never finished closing",
        );
    }
}

/// Every obligation's deadline has passed: any still pending is a liveness failure.
fn obligations_met(sim: &mut Sim, phase: &str) {
    let now = sim.now();
    sim.oracle.check_deadlines(now);
    if sim.oracle.pending() > 0 && sim.oracle.failure().is_none() {
        let n = sim.oracle.pending();
        sim.oracle.fail(
            FailureKind::Liveness,
            now,
            format!("{n} obligations still pending after the {phase} phase"),
        );
    }
}
