//! The simulated world: a virtual clock, hosts running `SocketBase`s, and a network of byte
//! streams between them that the fault injector can reset, partition and crash.
//!
//! The clock jumps to the next event: the earliest of the queued events (ties broken by the
//! order they were queued) and the sockets' own timers (`poll_timeout`). Every socket input is
//! followed by a drain of its outputs (monitor events, actions, bytes to write), in that order,
//! until nothing moves; then the host's application gets a chance to read.
//!
//! Streams behave like TCP: each direction is a FIFO of segments; a write is cut at random
//! offsets into segments that leave at the link's bandwidth and arrive after its latency
//! (with jitter, never overtaking). With a window, a direction holding that many unread bytes
//! stops its writer (the driver leaves `poll_transmit` alone) until the reader catches up,
//! so back-pressure reaches the sender's engine and pipes. A partition holds segments (TCP
//! retransmits) until it heals; a reset or a crash delivers RST; a dial to an unreachable host
//! retries its SYN with backoff and then fails with ETIMEDOUT, to a host without a listener
//! with ECONNREFUSED.
//!
//! inproc needs no network: `world/inproc.rs` joins the sockets of one host through their
//! mailboxes. `world/backpressure.rs` holds the HWM checks, live HWM changes, and the bound on what
//! a socket whose application stopped receiving may read.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use oxmq_core::base::{Action, BaseConfig, CommandFault, ConnId, ListenerId, SocketBase};
use oxmq_core::monitor::MonitorEvent;
use oxmq_core::pipe::PipeCommand;
use oxmq_core::socket::SendErrorKind;
use oxmq_core::tree::Linger;
use oxmq_core::OsError;
use oxmq_core::{Instant, Message, PipeId, SocketOption, SocketOptionName, SocketType};
use rand::Rng;

use crate::oracle::api::{check_send, PipeState, SendView};
use crate::oracle::{FailureKind, Oracle, SockInfo};
use crate::rng::{chance, stream, SimRng};
use crate::trace::Trace;

mod backpressure;
mod endpoints;
mod holdings;
mod inproc;
mod intruder;
mod requeue;
mod security;
mod takeahead;

use backpressure::StallRead;
use inproc::InprocEv;
pub use intruder::Offence;
use intruder::{Intruder, Victim};
pub use security::IMPOSTOR_MARK;
use takeahead::take_batch;

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Faults are injected.
    Faults,
    /// Faults stopped and the network healed; connections re-form.
    Settle,
    /// Probes are sent; each must arrive within the liveness bound.
    Probe,
    /// Senders stop; queues drain.
    Quiet,
    /// Some applications open a fresh socket, queue a burst and close it at once; its peers
    /// stay open, and LINGER must deliver what it protects.
    Linger,
    /// Every socket is closed.
    Shutdown,
}

/// A sim-only fault in the driver itself, to show the oracles fire (never in the core).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mutation {
    /// No injected bug.
    #[default]
    None,
    /// The first probe message an application receives is dropped on the way up.
    DropFirstProbe,
    /// The first probe message an application receives is handed up twice.
    DuplicateFirstProbe,
    /// The driver panics on the first probe message (a crash, caught and reported).
    PanicOnFirstProbe,
    /// When the network heals, every connection is reset and every dial refused from then on.
    NeverReconnect,
    /// In the core, every pipe report of reads (`ActivateWrite`) between a socket and its
    /// sessions is lost.
    LoseReadReports,
    /// In the core, every pipe wake-up (`ActivateRead`) between a socket and its sessions is
    /// lost.
    LoseReadWakeups,
    /// In the core, a session's term ack (`Drained`, its answer to the order to linger) is
    /// lost.
    LoseTermAcks,
    /// In the core, every report of reads between a socket and its sessions counts one
    /// message too few.
    ShortReadCounts,
    /// The driver hands a connection's bytes to its socket even when `wants_input` says the
    /// socket's queue is full (back-pressure never reaches the network).
    IgnoreWantsInput,
    /// The first probe message a ROUTER receives from a PROBE_ROUTER peer is handed up twice.
    DuplicateRouterProbe,
    /// The first probe message a ROUTER receives from a PROBE_ROUTER peer is lost on the way
    /// up.
    DropRouterProbe,
    /// A conflating socket keeps back the newest message and hands up the one before it (as
    /// a conflate that kept an older message instead of the last would).
    ConflateKeepsOlder,
    /// Every wake-up (`ActivateRead`) between the two sockets of an inproc connection is
    /// lost in the driver's mailboxes.
    LoseInprocWakeups,
    /// An inproc join tells the connecting socket that the bound one has HWMs of a million,
    /// so their pipe takes far more than SNDHWM + RCVHWM.
    InprocHwmInflated,
    /// A live change of SNDHWM or RCVHWM never reaches the socket (as if the core kept the
    /// old HWMs on the pipes that exist).
    HwmChangeLost,
    /// The XSUB/XPUB proxy forwards a subscription to everything ("") upstream in place of
    /// the first subscription it relays.
    ProxyWidensSubscriptions,
    /// The XSUB/XPUB proxy never relays a cancelled subscription upstream.
    ProxyDropsCancels,
    /// The driver loses every HANDSHAKE_FAILED_PROTOCOL monitor event (as a core that drops
    /// a protocol-breaking peer without telling the monitor would).
    LoseProtocolFailureEvents,
    /// The driver never closes a connection whose peer broke the protocol when the core
    /// asks it to (the peer keeps its connection).
    KeepIntrudersConnected,
    /// The ZAP handler's 400s become acceptances (as a server that ignores a denial).
    ZapDenyIgnored,
    /// The ZAP handler accepts a known PLAIN user whatever the password (as a PLAIN server
    /// that lets a wrong password in).
    ZapPasswordUnchecked,
    /// The driver accepts every peer at once, before its handler has answered (as a
    /// handshake that goes on before the ZAP reply); the real answer comes later.
    ZapAnswersBeforeAsking,
    /// The driver strips the properties (User-Id, ZAP metadata) from every message it hands
    /// up (as a core that never attaches them).
    PropertiesLost,
    /// The driver loses every HANDSHAKE_FAILED_AUTH monitor event.
    LoseAuthFailureEvents,
    /// Every disconnect drops what was queued for its endpoint (the driver sets LINGER 0
    /// just before it, as a disconnect that ignored LINGER would).
    DisconnectDropsQueued,
    /// Every disconnect lets its connections linger for ever (the driver sets LINGER -1
    /// just before it, as a disconnect that ignored a finite LINGER would).
    DisconnectLingersForever,
    /// Terminating a host's context leaves its inproc connects waiting for a bind (as a
    /// `zmq_ctx_term` that waited for one would): a socket lingering on such a queue never
    /// finishes closing.
    TermKeepsWaitingConnects,
    /// The driver drops a socket as soon as its half has finished closing, with its
    /// sessions' last commands still in their mailboxes (the simulator's own driver did,
    /// until 6e7521a): their connections are never closed.
    ReapBeforeSessions,
}

/// The network's shape, drawn per seed.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// One-way latency range of a link (each link draws its own).
    pub latency: (Duration, Duration),
    /// Extra random delay per segment, up to this much (order is kept regardless).
    pub jitter: Duration,
    /// Bandwidth range of a link in bytes per second.
    pub bandwidth: (u64, u64),
    /// A write is cut into at most this many segments.
    pub max_split: usize,
    /// Chance that an accept is refused (a full backlog).
    pub refuse: f64,
    /// First SYN retry interval (doubling) and how many retries before ETIMEDOUT.
    pub syn_retry: (Duration, u32),
    /// The most bytes one direction of a stream holds (in flight, or arrived and unread)
    /// before the writer's send buffer counts as full; `None`: unlimited.
    pub window: Option<usize>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            latency: (Duration::from_micros(50), Duration::from_millis(5)),
            jitter: Duration::from_micros(500),
            bandwidth: (1_000_000, 1_000_000_000),
            max_split: 4,
            refuse: 0.0,
            syn_retry: (Duration::from_millis(200), 3),
            window: None,
        }
    }
}

impl NetConfig {
    /// The longest a dial can take to give up: every SYN retry, plus a round trip.
    pub fn dial_bound(&self) -> Duration {
        let (first, n) = self.syn_retry;
        first * ((1u32 << n) - 1) + self.latency.1 * 2 + self.jitter * 2
    }
}

/// An application: the code running on one host, owning its sockets.
pub trait App {
    /// The host (re)booted: open sockets, bind, connect. All earlier state is gone.
    fn start(&mut self, cx: &mut Cx<'_>);
    /// A wake-up asked for with [`Cx::wake_in`].
    fn tick(&mut self, cx: &mut Cx<'_>);
    /// One of the host's sockets had input: receive what is there.
    fn readable(&mut self, cx: &mut Cx<'_>);
    /// The run moved to `phase`.
    fn phase(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        let _ = (cx, phase);
    }
    /// The host crashed: forget everything (sockets are already gone).
    fn crashed(&mut self);
    /// Liveness and safety checks at the end of a phase.
    fn check(&mut self, cx: &mut Cx<'_>, phase: Phase) {
        let _ = (cx, phase);
    }
}

/// One host: an address, whether it is up, and its application's random stream.
#[derive(Debug)]
pub struct Host {
    /// Its IP address.
    pub addr: String,
    /// Whether it runs (false between a crash and its restart).
    pub up: bool,
    /// How many times it booted.
    pub incarnation: u32,
    rng: SimRng,
    socks: Vec<usize>,
    opened: u64,
}

#[derive(Debug)]
struct Slot {
    host: usize,
    kind: SocketType,
    base: Option<SocketBase>,
    close: Option<(Instant, Linger)>,
    closed_at: Option<Instant>,
    /// Its half has finished closing (its sessions may still be taking their last
    /// commands), and the world has checked it then.
    terminated: bool,
}

#[derive(Debug)]
enum Seg {
    Data(Bytes),
    Fin,
    Rst,
}

#[derive(Debug, Default)]
struct Dir {
    queue: VecDeque<(Instant, Seg)>,
    /// Data bytes in `queue`: what counts against the window.
    bytes: usize,
    /// The latest arrival queued: later segments never overtake it.
    floor: Instant,
    /// When the link is next free to send (bandwidth).
    busy: Instant,
    wake: bool,
}

#[derive(Debug)]
struct End {
    sock: usize,
    conn: ConnId,
    open: bool,
    /// Its host crashed and told nobody: the peer learns only by writing once the host is
    /// back (RST), or from its heartbeats.
    dead: bool,
}

#[derive(Debug)]
struct Stream {
    ends: [End; 2],
    /// `dirs[i]` carries bytes toward `ends[i]`.
    dirs: [Dir; 2],
    hosts: [usize; 2],
    reset: bool,
    /// When it was accepted.
    opened: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Link {
    latency: Duration,
    bytes_per_sec: u64,
}

#[derive(Debug)]
enum Ev {
    Wake {
        stream: u64,
        to: usize,
    },
    DialArrive {
        sock: usize,
        conn: ConnId,
        endpoint: String,
        attempt: u32,
    },
    DialResult {
        sock: usize,
        conn: ConnId,
        result: Result<(u64, usize), OsError>,
    },
    Tick {
        host: usize,
        incarnation: u32,
        /// Which of the host's applications asked (see [`Cx::slot`]).
        slot: usize,
    },
    Crash(usize),
    Restart(usize),
    Partition(usize, usize),
    Heal(usize, usize),
    Reset(u64),
    /// A socket's send buffer on some connection has room again.
    Writable(usize),
    /// Host `h`'s application stops receiving until `until`.
    Stall {
        host: usize,
        until: Instant,
    },
    /// Host `h`'s application may receive again.
    Unstall(usize),
    /// An inproc connect meets the socket bound to its name.
    InprocJoin {
        connecter: usize,
        conn: ConnId,
        binder: usize,
        listener: ListenerId,
    },
    /// Something from an inproc peer reaches socket `to`'s mailbox.
    Inproc {
        to: usize,
        conn: ConnId,
        what: InprocEv,
    },
    /// The ZAP handler's answer about socket `sock`'s connection `conn`.
    ZapReply {
        sock: usize,
        conn: ConnId,
        reply: oxmq_core::ZapReply,
    },
}

/// The whole simulated world.
pub struct Sim {
    /// The run's seed.
    pub seed: u64,
    now: Instant,
    seq: u64,
    queue: BTreeMap<(Instant, u64), Ev>,
    hosts: Vec<Host>,
    apps: Vec<Option<Box<dyn App>>>,
    socks: Vec<Slot>,
    streams: BTreeMap<u64, Stream>,
    next_stream: u64,
    ends: BTreeMap<(usize, ConnId), (u64, usize)>,
    /// Dials in progress; true once the socket cancelled it.
    dialing: BTreeMap<(usize, ConnId), bool>,
    listeners: BTreeMap<String, (usize, ListenerId)>,
    next_port: u16,
    partitions: BTreeSet<(usize, usize)>,
    links: BTreeMap<(usize, usize), Link>,
    stalled: BTreeSet<(u64, usize)>,
    /// Listeners the application unbound that have not closed yet.
    unbound: BTreeSet<(usize, ListenerId)>,
    /// Connections whose writer stopped at a full window, with bytes perhaps still to go.
    tx_blocked: BTreeSet<(usize, ConnId)>,
    net_rng: SimRng,
    net: NetConfig,
    phase: Phase,
    /// The checks.
    pub oracle: Oracle,
    /// Every event.
    pub trace: Trace,
    /// The sim-only injected bug, if any.
    pub mutation: Mutation,
    /// During the fault phase applications read only on their ticks, a few messages at once.
    pub slow_readers: bool,
    /// A crashed host's peers are not told (no RST) until they write to it after it rebooted.
    pub silent_crashes: bool,
    mutated: bool,
    duplicate: Option<(u64, Message, Option<PipeId>)>,
    /// Per socket, the newest message a `ConflateKeepsOlder` driver keeps back.
    held_back: BTreeMap<u64, (Message, Option<PipeId>)>,
    /// Endpoints each socket connected to, and when.
    connects: BTreeMap<(usize, String), Instant>,
    /// The endpoint each connection was dialed to.
    dialed: BTreeMap<(usize, ConnId), String>,
    /// Connections a disconnect ended with a finite LINGER: when it began and how long it
    /// lets them write (libzmq's `term_endpoint` terminates the session with the socket's
    /// LINGER as it stands).
    disconnected: BTreeMap<(usize, ConnId), (Instant, Duration)>,
    /// Timer firings at one instant: a guard against a timer that never clears.
    spin: (Instant, u32),
    /// Applications change SNDHWM / RCVHWM on live sockets during the faults.
    pub live_hwm: bool,
    /// Peers on one host connect over inproc (the workloads put some on one host).
    pub inproc: bool,
    /// Receives take ahead, as the threaded front-ends' do (see `takeahead`).
    pub batch_recv: bool,
    /// Per socket, what its receives took ahead and the application has not had yet.
    ahead: BTreeMap<usize, VecDeque<(PipeId, Message)>>,
    /// Pipes each socket's disconnects let go of.
    let_go: BTreeSet<(usize, PipeId)>,
    /// The last listener that closed at each tcp or ipc endpoint (see `endpoints`).
    closed_listeners: BTreeMap<String, (usize, ListenerId)>,
    /// When accepts fail (EMFILE), drawn here.
    accept_rng: SimRng,
    /// The HWM values a live change draws from.
    pub hwm_choices: Vec<usize>,
    /// The largest a workload message can be on the wire, in bytes.
    pub max_msg_wire: usize,
    /// Per socket, the SNDHWM and RCVHWM its pipes are held to: the current ones, or higher
    /// ones set earlier while some pipe still holds more than a lowered HWM allows (libzmq
    /// drops nothing when an HWM is lowered; the queue drains down to it).
    hwm_allow: BTreeMap<usize, (usize, usize)>,
    /// Per socket, the SNDHWM and RCVHWM its application set (at open, or since).
    hwm_set: BTreeMap<usize, (usize, usize)>,
    /// Hosts whose application stopped receiving, until when.
    stalled_hosts: BTreeMap<usize, Instant>,
    /// What each connection of a stalled host read from the network since the stall began.
    stall_reads: BTreeMap<(usize, ConnId), StallRead>,
    /// Each host's inproc registry (the one the drivers keep): its names, the connects
    /// waiting for them, the joins under way and the links made. inproc is one process's
    /// (one host's) business: a crash takes the names with it.
    registries: BTreeMap<usize, oxmq_core::inproc::Registry<usize>>,
    /// Hosts whose context was terminated (see `Sim::terminate_context`).
    terminated: BTreeSet<usize>,
    /// The pipe each end of an inproc connection reads and writes, for the HWM check.
    inproc_pipes: BTreeMap<(usize, ConnId), PipeId>,
    /// The last read count each inproc connection end reported to its writer, since the
    /// last HWM change that end handled.
    inproc_reports: BTreeMap<(usize, ConnId), u64>,
    /// Every inproc connection end a socket has had (connects, and links it accepted).
    inproc_seen: BTreeSet<(usize, ConnId)>,
    /// Ends of file on their way to an inproc connection end's mailbox: the peer has gone,
    /// and the socket learns it when one arrives.
    inproc_eofs: BTreeMap<(usize, ConnId), u32>,
    /// Each end of an inproc pipe (socket, pipe) → the other end, for as long as both
    /// sockets live (a pipe outlives its connection while it has unread messages).
    inproc_ends: BTreeMap<(usize, PipeId), (usize, PipeId)>,
    /// Every inproc pipe of a live socket.
    inproc_pipe_ids: BTreeSet<(usize, PipeId)>,
    /// Wake-ups (`ActivateRead`) on their way to a reader's mailbox, per (socket, pipe):
    /// until one arrives, the reader's pattern does not know its pipe has messages.
    inproc_wakes: BTreeMap<(usize, PipeId), u32>,
    /// Per inproc connection end, the most its outbound queue may hold: the largest sum of
    /// the writer's SNDHWM and the reader's RCVHWM so far (libzmq's inproc pipe HWM).
    inproc_hwm: BTreeMap<(usize, ConnId), usize>,
    /// When the last event queued for each socket's mailbox arrives: a mailbox is FIFO.
    mailbox_floor: BTreeMap<usize, Instant>,
    /// Sockets that break the protocol, by socket.
    intruders: BTreeMap<usize, Intruder>,
    /// Bytes each intruder wrote per connection.
    intruder_tx: BTreeMap<(usize, ConnId), u64>,
    /// What the victims read on each intruder's stream.
    victims: BTreeMap<u64, Victim>,
    /// Each socket's monitor events so far, by kind.
    monitor_counts: BTreeMap<(usize, oxmq_core::monitor::MonitorEventKind), u64>,
    /// Monitor events each socket owes for what the world did (see `endpoints`).
    owed_events: BTreeMap<usize, Vec<(oxmq_core::monitor::MonitorEventKind, String)>>,
    /// The MAXMSGSIZE the workload's sockets set (with intruders).
    pub max_msg_size: Option<u64>,
    /// Queues connect sessions kept across a reconnection, owed to a later connection.
    requeued: BTreeMap<(usize, PipeId), requeue::Requeued>,
    /// Streams an application expects to close, with the obligation their close fulfils.
    close_watch: BTreeMap<u64, String>,
    /// How long an engine holds the peer's handshake (`BaseConfig::sim_ready_delay`).
    pub ready_delay: Duration,
    /// How long a command waits in a mailbox (another thread's scheduling), drawn here.
    mailbox_rng: SimRng,
    /// The run's mechanism, credentials and ZAP handler.
    pub security: crate::security::Security,
    sec: security::SecState,
}

impl Sim {
    /// An empty world for `seed`.
    pub fn new(seed: u64, net: NetConfig, echo: bool) -> Sim {
        Sim {
            seed,
            now: Instant::ZERO,
            seq: 0,
            queue: BTreeMap::new(),
            hosts: Vec::new(),
            apps: Vec::new(),
            socks: Vec::new(),
            streams: BTreeMap::new(),
            next_stream: 1,
            ends: BTreeMap::new(),
            dialing: BTreeMap::new(),
            listeners: BTreeMap::new(),
            next_port: 40000,
            partitions: BTreeSet::new(),
            links: BTreeMap::new(),
            stalled: BTreeSet::new(),
            tx_blocked: BTreeSet::new(),
            unbound: BTreeSet::new(),
            net_rng: stream(seed, "net"),
            net,
            phase: Phase::Faults,
            oracle: Oracle::default(),
            trace: Trace::new(echo),
            mutation: Mutation::None,
            slow_readers: false,
            silent_crashes: false,
            mutated: false,
            duplicate: None,
            held_back: BTreeMap::new(),
            spin: (Instant::ZERO, 0),
            connects: BTreeMap::new(),
            dialed: BTreeMap::new(),
            disconnected: BTreeMap::new(),
            live_hwm: false,
            inproc: false,
            batch_recv: false,
            ahead: BTreeMap::new(),
            let_go: BTreeSet::new(),
            closed_listeners: BTreeMap::new(),
            accept_rng: stream(seed, "accept-failures"),
            hwm_choices: vec![1, 2, 5, 100, 1000],
            max_msg_wire: 1024,
            hwm_allow: BTreeMap::new(),
            hwm_set: BTreeMap::new(),
            stalled_hosts: BTreeMap::new(),
            stall_reads: BTreeMap::new(),
            registries: BTreeMap::new(),
            terminated: BTreeSet::new(),
            inproc_pipes: BTreeMap::new(),
            inproc_seen: BTreeSet::new(),
            inproc_reports: BTreeMap::new(),
            inproc_eofs: BTreeMap::new(),
            inproc_ends: BTreeMap::new(),
            inproc_pipe_ids: BTreeSet::new(),
            inproc_wakes: BTreeMap::new(),
            inproc_hwm: BTreeMap::new(),
            mailbox_floor: BTreeMap::new(),
            intruders: BTreeMap::new(),
            intruder_tx: BTreeMap::new(),
            victims: BTreeMap::new(),
            monitor_counts: BTreeMap::new(),
            owed_events: BTreeMap::new(),
            max_msg_size: None,
            close_watch: BTreeMap::new(),
            requeued: BTreeMap::new(),
            ready_delay: Duration::ZERO,
            mailbox_rng: stream(seed, "mailboxes"),
            security: crate::security::Security::default(),
            sec: security::SecState::default(),
        }
    }

    /// Virtual now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The network's shape.
    pub fn net(&self) -> &NetConfig {
        &self.net
    }

    /// How many hosts there are.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Whether host `h` is up.
    pub fn host_up(&self, h: usize) -> bool {
        self.hosts[h].up
    }

    /// The address of host `h`.
    pub fn addr(&self, h: usize) -> &str {
        &self.hosts[h].addr
    }

    /// Adds a host running `app`; it boots at `at`.
    pub fn add_host(&mut self, app: Box<dyn App>, at: Instant) -> usize {
        let h = self.hosts.len();
        self.hosts.push(Host {
            addr: format!("10.0.{}.{}", h / 250, h % 250 + 1),
            up: false,
            incarnation: 0,
            rng: stream(self.seed, &format!("host/{h}")),
            socks: Vec::new(),
            opened: 0,
        });
        self.apps.push(Some(app));
        self.schedule(at, Ev::Restart(h));
        h
    }

    fn schedule(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at.max(self.now), self.seq), ev);
    }

    /// Records a trace event.
    pub fn log(&mut self, what: std::fmt::Arguments<'_>) {
        self.trace.record(self.now, what);
    }

    // ----- faults ----------------------------------------------------------------------------

    /// Host `h` crashes at `at`, losing every socket and connection.
    pub fn crash_at(&mut self, h: usize, at: Instant) {
        self.schedule(at, Ev::Crash(h));
    }

    /// Host `h` boots again at `at` (no-op if it is up).
    pub fn restart_at(&mut self, h: usize, at: Instant) {
        self.schedule(at, Ev::Restart(h));
    }

    /// Hosts `a` and `b` cannot reach each other from `from` until `until`.
    pub fn partition(&mut self, a: usize, b: usize, from: Instant, until: Instant) {
        self.schedule(from, Ev::Partition(a, b));
        self.schedule(until, Ev::Heal(a, b));
    }

    /// At `at`, one live connection (chosen by `pick`) is reset.
    pub fn reset_at(&mut self, at: Instant, pick: u64) {
        self.schedule(at, Ev::Reset(pick));
    }

    /// Ends every partition, stops refusing connections and boots every crashed host, now.
    pub fn heal_all(&mut self) {
        self.net.refuse = 0.0;
        let parts: Vec<(usize, usize)> = self.partitions.iter().copied().collect();
        for (a, b) in parts {
            self.heal(a, b);
        }
        for h in 0..self.hosts.len() {
            if !self.hosts[h].up {
                self.restart(h);
            }
        }
        if self.mutation == Mutation::NeverReconnect {
            self.log(format_args!(
                "MUTATION: every connection reset, every dial refused"
            ));
            self.net.refuse = 1.0;
            let live: Vec<u64> = self.streams.keys().copied().collect();
            for st in live {
                self.reset_stream(st);
            }
        }
    }

    /// Moves to `phase` and tells every application.
    pub fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.log(format_args!("phase {phase:?}"));
        for h in 0..self.hosts.len() {
            if self.hosts[h].up {
                self.with_app(h, |app, cx| app.phase(cx, phase));
            }
        }
    }

    /// Runs every application's end-of-phase checks.
    pub fn check_apps(&mut self, phase: Phase) {
        for h in 0..self.hosts.len() {
            self.with_app(h, |app, cx| app.check(cx, phase));
        }
    }

    // ----- the event loop --------------------------------------------------------------------

    fn next_timer(&self) -> Option<Instant> {
        self.socks
            .iter()
            .filter_map(|s| s.base.as_ref().and_then(SocketBase::poll_timeout))
            .min()
    }

    /// Runs events up to `until` (or the first failure); the clock ends at `until`.
    pub fn run_until(&mut self, until: Instant) {
        while self.oracle.failure().is_none() {
            let ev_at = self.queue.first_key_value().map(|(k, _)| k.0);
            let timer_at = self.next_timer();
            // An obligation is checked the moment its deadline passes.
            if let Some(d) = self.oracle.next_deadline() {
                let d = d + Duration::from_nanos(1);
                if d <= until
                    && !matches!(ev_at, Some(e) if e <= d)
                    && !matches!(timer_at, Some(t) if t <= d)
                {
                    self.now = self.now.max(d);
                    self.oracle.check_deadlines(self.now);
                    continue;
                }
            }
            let next = match (ev_at, timer_at) {
                (Some(e), Some(t)) => e.min(t),
                (e, t) => match e.or(t) {
                    Some(x) => x,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if timer_at.is_some_and(|t| t <= ev_at.unwrap_or(Instant::from_nanos(u64::MAX))) {
                self.fire_timers();
            } else if let Some((_, ev)) = self.queue.pop_first() {
                self.handle(ev);
            }
        }
        if self.oracle.failure().is_none() {
            self.now = self.now.max(until);
        }
    }

    fn fire_timers(&mut self) {
        if self.spin.0 == self.now {
            self.spin.1 += 1;
            if self.spin.1 > 10_000 {
                let now = self.now;
                self.oracle.fail(
                    FailureKind::Liveness,
                    now,
                    "a socket's timer stays due after handle_timeout (busy loop)",
                );
                return;
            }
        } else {
            self.spin = (self.now, 0);
        }
        let now = self.now;
        let due: Vec<usize> = (0..self.socks.len())
            .filter(|&s| {
                self.socks[s]
                    .base
                    .as_ref()
                    .and_then(SocketBase::poll_timeout)
                    .is_some_and(|t| t <= now)
            })
            .collect();
        let mut hosts = BTreeSet::new();
        for s in due {
            if let Some(b) = self.socks[s].base.as_mut() {
                b.handle_timeout(now);
            }
            self.settle(s);
            hosts.insert(self.socks[s].host);
        }
        for h in hosts {
            self.notify(h);
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Wake { stream, to } => self.wake(stream, to),
            Ev::DialArrive {
                sock,
                conn,
                endpoint,
                attempt,
            } => self.dial_arrive(sock, conn, endpoint, attempt),
            Ev::DialResult { sock, conn, result } => self.dial_result(sock, conn, result),
            Ev::Tick {
                host,
                incarnation,
                slot,
            } => {
                if self.hosts[host].up && self.hosts[host].incarnation == incarnation {
                    self.with_app(host, |app, cx| {
                        cx.slot = slot;
                        app.tick(cx)
                    });
                    if self.live_hwm && self.phase == Phase::Faults {
                        self.change_hwm(host);
                    }
                    let budget = if self.stalled_hosts.contains_key(&host) {
                        0
                    } else if self.reads_slowly() {
                        self.hosts[host].rng.random_range(0..4)
                    } else {
                        usize::MAX
                    };
                    self.with_app_reading(host, budget, |app, cx| app.readable(cx));
                }
            }
            Ev::Crash(h) => self.crash(h),
            Ev::Restart(h) => self.restart(h),
            Ev::Partition(a, b) => {
                let key = (a.min(b), a.max(b));
                if a != b && self.partitions.insert(key) {
                    self.log(format_args!("partition h{} | h{}", key.0, key.1));
                }
            }
            Ev::Heal(a, b) => self.heal(a, b),
            Ev::Reset(pick) => self.reset(pick),
            Ev::Writable(s) => {
                if self.socks[s].base.is_some() {
                    self.settle(s);
                    let h = self.socks[s].host;
                    self.notify(h);
                }
            }
            Ev::Stall { host, until } => {
                if self.hosts[host].up && self.phase == Phase::Faults {
                    self.log(format_args!("h{host} stops receiving"));
                    self.stalled_hosts.insert(host, until);
                    self.schedule(until, Ev::Unstall(host));
                }
            }
            Ev::InprocJoin {
                connecter,
                conn,
                binder,
                listener,
            } => self.inproc_join(connecter, conn, binder, listener),
            Ev::Inproc { to, conn, what } => self.inproc_deliver(to, conn, what),
            Ev::ZapReply { sock, conn, reply } => self.zap_reply(sock, conn, reply),
            Ev::Unstall(host) => {
                if self.stalled_hosts.remove(&host).is_some() {
                    self.log(format_args!("h{host} receives again"));
                    self.stall_reads.retain(|k, _| self.socks[k.0].host != host);
                    self.notify(host);
                }
            }
        }
    }

    fn with_app(&mut self, h: usize, f: impl FnOnce(&mut Box<dyn App>, &mut Cx<'_>)) {
        self.with_app_reading(h, usize::MAX, f);
    }

    fn with_app_reading(
        &mut self,
        h: usize,
        budget: usize,
        f: impl FnOnce(&mut Box<dyn App>, &mut Cx<'_>),
    ) {
        let Some(mut app) = self.apps[h].take() else {
            return;
        };
        {
            let mut cx = Cx {
                sim: self,
                host: h,
                budget,
                slot: 0,
            };
            f(&mut app, &mut cx);
        }
        self.apps[h] = Some(app);
        self.unstall();
    }

    fn notify(&mut self, h: usize) {
        if self.hosts[h].up {
            let stalled = self.stalled_hosts.contains_key(&h);
            let budget = if stalled || self.reads_slowly() {
                0
            } else {
                usize::MAX
            };
            self.with_app_reading(h, budget, |app, cx| app.readable(cx));
        }
    }

    fn reads_slowly(&self) -> bool {
        self.slow_readers && self.phase == Phase::Faults
    }

    /// Wakes directions that waited for a reader that now wants input.
    fn unstall(&mut self) {
        if self.stalled.is_empty() {
            return;
        }
        let ready: Vec<(u64, usize)> = self
            .stalled
            .iter()
            .copied()
            .filter(|&(st, to)| {
                let Some(s) = self.streams.get(&st) else {
                    return true;
                };
                let e = &s.ends[to];
                self.socks[e.sock]
                    .base
                    .as_ref()
                    .map(|b| b.wants_input(e.conn))
                    .unwrap_or(true)
            })
            .collect();
        for (st, to) in ready {
            self.stalled.remove(&(st, to));
            self.schedule(self.now, Ev::Wake { stream: st, to });
        }
    }

    // ----- sockets ---------------------------------------------------------------------------

    /// Drains a socket's outputs until nothing moves.
    fn settle(&mut self, s: usize) {
        let now = self.now;
        loop {
            // Once the half has finished closing, its sessions have all been told to end:
            // what they still do is close their connections, never write.
            let Some(terminated) = self.socks[s].base.as_ref().map(|b| b.is_terminated()) else {
                return;
            };
            if terminated && !self.socks[s].terminated {
                self.on_terminated(s);
            }
            let base = self.socks[s].base.as_mut().expect("checked above");
            let monitor: Vec<MonitorEvent> = std::iter::from_fn(|| base.poll_monitor()).collect();
            let zap: Vec<(ConnId, oxmq_core::ZapRequest)> =
                std::iter::from_fn(|| base.poll_zap_request()).collect();
            let actions: Vec<Action> = std::iter::from_fn(|| base.poll_action()).collect();
            let refused = base.take_refused();
            let mut commands: Vec<(ConnId, PipeCommand)> =
                std::iter::from_fn(|| base.poll_inproc_command()).collect();
            // The driver contract: once every queue is taken, the socket says it has no
            // output (a threaded driver that trusts `has_output` would otherwise spin).
            let stuck = base.has_output();
            let mut ready: Vec<ConnId> =
                std::iter::from_fn(|| base.poll_transmit_ready()).collect();
            // Connections that stopped at a full window go on once it has room.
            let blocked: Vec<ConnId> = self
                .tx_blocked
                .range((s, ConnId(0))..=(s, ConnId(u64::MAX)))
                .map(|k| k.1)
                .collect();
            for conn in blocked {
                if self.tx_room(s, conn) > 0 {
                    self.tx_blocked.remove(&(s, conn));
                    if !ready.contains(&conn) {
                        ready.push(conn);
                    }
                }
            }
            let rooms: Vec<(ConnId, usize)> =
                ready.iter().map(|&c| (c, self.tx_room(s, c))).collect();
            let base = self.socks[s].base.as_mut().expect("checked above");
            let mut writes = Vec::new();
            let mut full = Vec::new();
            for (conn, mut room) in rooms {
                // What one round takes is one write, however the encoder chunked it (as a
                // vectored write would be): the network's draws do not follow the chunks.
                let mut chunks = Vec::new();
                loop {
                    if room == 0 {
                        full.push(conn);
                        break;
                    }
                    let Some(b) = base.poll_transmit(conn, now) else {
                        break;
                    };
                    room = room.saturating_sub(b.len());
                    chunks.push(b);
                }
                match chunks.len() {
                    0 => {}
                    1 => writes.push((conn, chunks.pop().expect("one chunk"))),
                    _ => writes.push((conn, Bytes::from(chunks.concat()))),
                }
            }
            // Taking bytes pumps the socket: a lingering close may have finished meanwhile and
            // asked for its connections to be closed. Those go after the bytes taken.
            let late: Vec<Action> = std::iter::from_fn(|| base.poll_action()).collect();
            commands.extend(std::iter::from_fn(|| base.poll_inproc_command()));
            let closed = if self.mutation == Mutation::ReapBeforeSessions {
                base.is_terminated()
            } else {
                base.is_closed()
            };
            let more = base.has_transmit_ready();
            if stuck {
                let what = format!("s{s}: has_output said yes with every queue taken");
                self.oracle.fail(FailureKind::Safety, now, what);
            }
            for conn in full {
                self.tx_blocked.insert((s, conn));
            }
            for m in &monitor {
                self.log(format_args!(
                    "s{s} monitor {:?} {} {}",
                    m.kind, m.endpoint, m.value
                ));
                if m.kind == oxmq_core::monitor::MonitorEventKind::HandshakeFailedAuth
                    && self.mutation == Mutation::LoseAuthFailureEvents
                {
                    self.log(format_args!("s{s} MUTATION: {:?} lost", m.kind));
                    continue;
                }
                self.monitor_seen(s, m.kind);
                self.security_event(s, m.kind, m.value);
            }
            for (conn, req) in zap {
                self.zap_asked(s, conn, req);
            }
            // Taking bytes may also have delivered commands that gave a connection more to
            // write (a handshake answered late): that is progress too.
            let progress = !actions.is_empty()
                || !writes.is_empty()
                || !late.is_empty()
                || !commands.is_empty()
                || more;
            for (conn, cmd) in commands {
                self.inproc_command(s, conn, cmd);
            }
            for conn in refused {
                self.refused(s, conn);
            }
            for a in actions {
                self.act(s, a);
            }
            for (conn, b) in writes {
                if terminated {
                    let what = format!(
                        "s{s} ({}) wrote {} bytes on c{} after it had finished closing",
                        self.socks[s].kind,
                        b.len(),
                        conn.0
                    );
                    self.oracle.fail(FailureKind::Safety, now, what);
                }
                if let Some(&(st, side)) = self.ends.get(&(s, conn)) {
                    let b = self.intruder_writes(s, conn, b);
                    self.scan_wire(s, conn, &b);
                    self.check_linger_write(s, conn, b.len());
                    self.write(st, side, Seg::Data(b));
                }
            }
            for a in late {
                self.act(s, a);
            }
            // After the actions: the event of a listener's close comes with its action.
            for m in &monitor {
                self.event_reported(s, m);
            }
            if closed {
                self.on_closed(s);
                return;
            }
            if !progress {
                self.check_hwm(s);
                self.check_requeued(s);
                self.check_events(s);
                self.check_holdings(s);
                return;
            }
        }
    }

    /// How many more bytes socket `s` may write on `conn` before its send buffer is full
    /// (`usize::MAX` without a window, or once nobody reads the other end).
    fn tx_room(&self, s: usize, conn: ConnId) -> usize {
        let Some(window) = self.net.window else {
            return usize::MAX;
        };
        let Some(&(st, side)) = self.ends.get(&(s, conn)) else {
            return usize::MAX;
        };
        let Some(stream) = self.streams.get(&st) else {
            return usize::MAX;
        };
        let to = 1 - side;
        if stream.reset || !stream.ends[to].open {
            return usize::MAX;
        }
        window.saturating_sub(stream.dirs[to].bytes)
    }

    /// Socket `s`'s half has finished closing: every session it owned must have ended its
    /// lingering and been told to end; only then may the socket end (as libzmq's reaper
    /// waits for each term ack), or `zmq_ctx_term` could return while a session still owes
    /// its queue to the wire.
    fn on_terminated(&mut self, s: usize) {
        let now = self.now;
        self.socks[s].terminated = true;
        let Some(base) = self.socks[s].base.as_ref() else {
            return;
        };
        let left = base.sessions_not_ended();
        self.oracle.coverage.sessions_ending_at_close += base.session_count() as u64;
        if left > 0 {
            let what = format!(
                "s{s} ({}) finished closing while {left} of its sessions had not been told to \
                 end",
                self.socks[s].kind
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    fn on_closed(&mut self, s: usize) {
        let now = self.now;
        // The pump that finished the close may have reported more after this settle took
        // the monitor's queue: the last of it is MONITOR_STOPPED.
        if let Some(base) = self.socks[s].base.as_mut() {
            let rest: Vec<MonitorEvent> = std::iter::from_fn(|| base.poll_monitor()).collect();
            for m in &rest {
                self.log(format_args!(
                    "s{s} monitor {:?} {} {}",
                    m.kind, m.endpoint, m.value
                ));
                self.monitor_seen(s, m.kind);
            }
        }
        self.check_monitor_stopped(s);
        self.check_nothing_left_open(s);
        let slot = &mut self.socks[s];
        slot.base = None;
        slot.closed_at = Some(now);
        let started = slot.close.map(|c| c.0);
        self.log(format_args!("s{s} closed (close began {started:?})"));
        self.listeners.retain(|_, v| v.0 != s);
        self.unbound.retain(|v| v.0 != s);
        self.owed_events.remove(&s);
        self.forget_ahead(s);
        self.forget_inproc(s);
        let finished = close_finishes(s);
        self.oracle.fulfil(&finished, now);
        self.oracle.fq.forget(s as u64);
        self.oracle.lb.interrupt(s as u64);
    }

    /// zmq_close's promise, with the reaper's: once a socket has finished closing, it holds
    /// no connection and no dial in progress (every session ended completely).
    fn check_nothing_left_open(&mut self, s: usize) {
        let open: Vec<u64> = self
            .ends
            .range((s, ConnId(0))..=(s, ConnId(u64::MAX)))
            .map(|(k, _)| k.1 .0)
            .chain(
                self.dialing
                    .range((s, ConnId(0))..=(s, ConnId(u64::MAX)))
                    .filter(|(_, cancelled)| !**cancelled)
                    .map(|(k, _)| k.1 .0),
            )
            .collect();
        if open.is_empty() {
            return;
        }
        let what = format!(
            "s{s} ({}) finished closing with connections still open or dialing: {open:?}",
            self.socks[s].kind
        );
        let now = self.now;
        self.oracle.fail(FailureKind::Safety, now, what);
    }

    /// LINGER's promise: once a closing socket's linger ran out, it puts no more bytes on the
    /// wire (what it wrote before may still be in flight, as with TCP); nor does a connection
    /// a disconnect ended, once the LINGER it was ended with ran out.
    fn check_linger_write(&mut self, s: usize, conn: ConnId, len: usize) {
        let closed = match self.socks[s].close {
            Some((began, Linger::For(linger))) => Some((began, linger, "its")),
            _ => None,
        };
        let disconnected = self
            .disconnected
            .get(&(s, conn))
            .map(|&(began, linger)| (began, linger, "its disconnect's"));
        for (began, linger, whose) in [closed, disconnected].into_iter().flatten() {
            let expired = began + linger;
            if self.now <= expired {
                continue;
            }
            let what = format!(
                "s{s} ({}) wrote {len} bytes on c{} at {:.6}s, after {whose} LINGER {linger:?} \
                 ran out at {:.6}s",
                self.socks[s].kind,
                conn.0,
                self.now.as_nanos() as f64 / 1e9,
                expired.as_nanos() as f64 / 1e9
            );
            let now = self.now;
            self.oracle.fail(FailureKind::Safety, now, what);
            return;
        }
    }

    /// zmq_getsockopt's promise: an option reads back as it was set (write-only ones, such
    /// as SUBSCRIBE, excepted).
    fn check_read_back(
        &mut self,
        s: u64,
        set: &SocketOption,
        got: Result<SocketOption, oxmq_core::OptionError>,
    ) {
        if set.name().is_write_only() {
            return;
        }
        self.oracle.coverage.options_read_back += 1;
        if got.as_ref() != Ok(set) {
            let what = format!("s{s}: {set:?} was set, and reads back as {got:?}");
            self.oracle.fail(FailureKind::Safety, self.now, what);
        }
    }

    /// Checks a send's result against the errors the API promises, and which pipe a
    /// load-balanced message went to.
    fn check_send(
        &mut self,
        s: u64,
        view: &SendView,
        result: Result<(), SendErrorKind>,
        to: Option<PipeId>,
    ) {
        let now = self.now;
        let cov = &mut self.oracle.coverage;
        cov.sends += 1;
        if result.is_err() && view.pipes.iter().all(|p| p.outbound >= view.sndhwm) {
            cov.blocked_at_hwm += 1;
            if view.sndhwm > 2048 {
                cov.blocked_at_large_hwm += 1;
            }
        }
        if let Err(what) = check_send(s, view, result) {
            self.oracle.fail(FailureKind::Safety, now, what);
            return;
        }
        let balanced = matches!(
            view.kind,
            SocketType::Push | SocketType::Dealer | SocketType::Req
        );
        if !balanced {
            return;
        }
        if result.is_ok() && view.kind == SocketType::Req {
            if let Some(to) = to {
                self.oracle.req_sent(s, to);
            }
        }
        match to.filter(|_| result.is_ok() && view.all_available() && !view.pipes.is_empty()) {
            Some(to) => {
                let pipes: Vec<PipeId> = view.pipes.iter().map(|p| p.id).collect();
                if pipes.len() > 1 {
                    self.oracle.coverage.balanced += 1;
                }
                if let Err(what) = self.oracle.lb.sent(s, pipes, to) {
                    self.oracle.fail(FailureKind::Safety, now, what);
                }
            }
            None => self.oracle.lb.interrupt(s),
        }
    }

    fn act(&mut self, s: usize, a: Action) {
        let now = self.now;
        match a {
            Action::Listen { listener, endpoint } => {
                let mut ep = endpoint.to_string();
                if ep.ends_with(":*") {
                    self.next_port += 1;
                    ep = format!("{}:{}", &ep[..ep.len() - 2], self.next_port);
                }
                let taken = self.listeners.get(&ep).copied();
                if let Some(old) = taken.filter(|t| self.unbound.contains(t)) {
                    // libzmq closes an unbound listener's socket as it processes the unbind
                    // (`stream_listener_base_t::process_term`); only its sessions linger.
                    let what = format!(
                        "s{s} bind {ep} failed with EADDRINUSE: s{}'s listener {} was unbound \
                         but still holds the address (it waits for its sessions' LINGER)",
                        old.0, old.1 .0
                    );
                    self.oracle.fail(FailureKind::Safety, now, what);
                }
                if taken.is_some() {
                    self.bind_failed(s, listener, &ep);
                } else {
                    let base = self.socks[s].base.as_mut().expect("acting socket is alive");
                    base.handle_listening(listener, &ep, now);
                    self.listening(s, listener, &ep);
                    self.log(format_args!("s{s} listening {ep}"));
                    self.listeners.insert(ep, (s, listener));
                }
            }
            Action::CloseListener { listener } => {
                self.check_listener_close(s, listener);
                if let Some(ep) = self.bound_at(s, listener) {
                    self.owe_event(s, oxmq_core::monitor::MonitorEventKind::Closed, &ep);
                    if !ep.starts_with("inproc://") {
                        self.close_fails(s, &ep);
                        self.closed_listeners.insert(ep, (s, listener));
                    }
                }
                self.listeners.retain(|_, v| *v != (s, listener));
                self.unbound.remove(&(s, listener));
                let h = self.socks[s].host;
                if let Some(r) = self.registries.get_mut(&h) {
                    r.unbind(s, listener);
                }
            }
            Action::Dial { conn, endpoint } => {
                let ep = endpoint.to_string();
                self.log(format_args!("s{s} dial c{} {ep}", conn.0));
                self.intruder_dials(s);
                self.impostor_dials(s);
                self.dialing.insert((s, conn), false);
                self.dialed.insert((s, conn), ep.clone());
                let from = self.socks[s].host;
                let lat = match self.host_of(&ep) {
                    Some(to) => self.link(from, to).latency,
                    None => Duration::ZERO,
                };
                self.schedule(
                    now + lat,
                    Ev::DialArrive {
                        sock: s,
                        conn,
                        endpoint: ep,
                        attempt: 0,
                    },
                );
            }
            Action::InprocBind { listener, name } => self.inproc_bind(s, listener, name),
            Action::InprocConnect { conn, name } => self.inproc_connect(s, conn, name),
            Action::Close { conn, .. } if self.is_inproc(s, conn) => self.inproc_close(s, conn),
            Action::Close { conn, .. }
                if self.mutation == Mutation::KeepIntrudersConnected
                    && self.intruder_peer(s, conn) =>
            {
                self.log(format_args!("s{s} MUTATION: c{} stays open", conn.0));
            }
            Action::Close { conn, last_bytes } => {
                if let Some(c) = self.dialing.get_mut(&(s, conn)) {
                    *c = true;
                    return;
                }
                self.log(format_args!(
                    "s{s} close c{} (+{} bytes)",
                    conn.0,
                    last_bytes.len()
                ));
                if let Some((st, side)) = self.ends.remove(&(s, conn)) {
                    if !last_bytes.is_empty() {
                        let last_bytes = self.intruder_writes(s, conn, last_bytes);
                        self.scan_wire(s, conn, &last_bytes);
                        self.check_linger_write(s, conn, last_bytes.len());
                        self.write(st, side, Seg::Data(last_bytes));
                    }
                    self.write(st, side, Seg::Fin);
                    self.close_end(st, side);
                }
            }
        }
    }

    /// Socket `s`'s pattern refused the peer of `conn` (a second PAIR peer, a duplicate
    /// routing id): the peer may have sent or queued messages for that connection, which are
    /// lost, as with libzmq, and LINGER cannot deliver them.
    fn refused(&mut self, s: usize, conn: ConnId) {
        let Some(peer) = self.peer_sock(s, conn) else {
            return;
        };
        self.log(format_args!("s{s} c{} refused its peer s{peer}", conn.0));
        let now = self.now;
        self.oracle.refused_by_peer(peer as u64, now);
    }

    /// The socket at the other end of socket `s`'s connection `conn` (tcp or inproc).
    fn peer_sock(&self, s: usize, conn: ConnId) -> Option<usize> {
        if let Some((peer, _)) = self.inproc_peer(s, conn) {
            return Some(peer);
        }
        let &(st, side) = self.ends.get(&(s, conn))?;
        self.streams.get(&st).map(|x| x.ends[1 - side].sock)
    }

    /// Our side of a stream is gone: nothing more is read there.
    fn close_end(&mut self, st: u64, side: usize) {
        if let Some(what) = self.close_watch.remove(&st) {
            let now = self.now;
            self.oracle.fulfil(&what, now);
        }
        self.intruder_dropped(st, side);
        let Some(stream) = self.streams.get_mut(&st) else {
            return;
        };
        stream.ends[side].open = false;
        stream.dirs[side].queue.clear();
        stream.dirs[side].bytes = 0;
        let writer = &stream.ends[1 - side];
        let (writer, open) = ((writer.sock, writer.conn), writer.open);
        if !open {
            self.streams.remove(&st);
        } else if self.tx_blocked.contains(&writer) {
            // Nobody reads this end any more: the writer's blocked bytes go (nowhere) now,
            // as a real writer would find out on its next write.
            let now = self.now;
            self.schedule(now, Ev::Writable(writer.0));
        }
    }

    fn host_of(&self, endpoint: &str) -> Option<usize> {
        let rest = endpoint.strip_prefix("tcp://")?;
        let host = rest.rsplit_once(':')?.0;
        self.hosts.iter().position(|h| h.addr == host)
    }

    fn link(&mut self, a: usize, b: usize) -> Link {
        let key = (a.min(b), a.max(b));
        if let Some(l) = self.links.get(&key) {
            return *l;
        }
        let mut rng = stream(self.seed, &format!("link/{}/{}", key.0, key.1));
        let (lo, hi) = self.net.latency;
        let lat = rng.random_range(lo.as_nanos() as u64..=hi.as_nanos().max(lo.as_nanos()) as u64);
        let (blo, bhi) = self.net.bandwidth;
        let l = Link {
            latency: Duration::from_nanos(lat),
            bytes_per_sec: rng.random_range(blo..=bhi.max(blo)),
        };
        self.links.insert(key, l);
        l
    }

    fn partitioned(&self, a: usize, b: usize) -> bool {
        self.partitions.contains(&(a.min(b), a.max(b)))
    }

    /// Queues a segment from `from`'s side toward the other end.
    fn write(&mut self, st: u64, from: usize, seg: Seg) {
        let now = self.now;
        let to = 1 - from;
        let Some(stream) = self.streams.get(&st) else {
            return;
        };
        if !stream.ends[to].open || (stream.reset && !matches!(seg, Seg::Rst)) {
            // Bytes for a host that crashed silently and came back draw an RST.
            let (dead, back) = (stream.ends[to].dead, self.hosts[stream.hosts[to]].up);
            if dead && back && !stream.reset && stream.ends[from].open {
                self.log(format_args!("stream {st}: peer rebooted, RST"));
                if let Some(stream) = self.streams.get_mut(&st) {
                    stream.reset = true;
                }
                self.write(st, to, Seg::Rst);
            }
            return;
        }
        let link = self.link(stream.hosts[0], stream.hosts[1]);
        let mut pieces = Vec::new();
        match seg {
            Seg::Data(b) if b.len() > 1 && self.net.max_split > 1 => {
                let n = self
                    .net_rng
                    .random_range(1..=self.net.max_split.min(b.len()));
                let mut cuts: Vec<usize> = (1..n)
                    .map(|_| self.net_rng.random_range(1..b.len()))
                    .collect();
                cuts.sort_unstable();
                cuts.dedup();
                let mut at = 0;
                for c in cuts.into_iter().chain([b.len()]) {
                    pieces.push(Seg::Data(b.slice(at..c)));
                    at = c;
                }
            }
            s => pieces.push(s),
        }
        let jitter = self.net.jitter.as_nanos() as u64;
        for p in pieces {
            let len = match &p {
                Seg::Data(b) => b.len() as u64,
                _ => 0,
            };
            let j = if jitter > 0 {
                self.net_rng.random_range(0..=jitter)
            } else {
                0
            };
            let stream = self.streams.get_mut(&st).expect("looked up above");
            let dir = &mut stream.dirs[to];
            let tx = Duration::from_nanos(len.saturating_mul(1_000_000_000) / link.bytes_per_sec);
            dir.busy = dir.busy.max(now) + tx;
            let arrival = (dir.busy + link.latency + Duration::from_nanos(j)).max(dir.floor);
            dir.floor = arrival;
            dir.bytes += len as usize;
            dir.queue.push_back((arrival, p));
        }
        self.ensure_wake(st, to);
    }

    fn ensure_wake(&mut self, st: u64, to: usize) {
        let Some(stream) = self.streams.get_mut(&st) else {
            return;
        };
        let dir = &mut stream.dirs[to];
        if dir.wake {
            return;
        }
        if let Some(&(at, _)) = dir.queue.front() {
            dir.wake = true;
            self.schedule(at, Ev::Wake { stream: st, to });
        }
    }

    fn wake(&mut self, st: u64, to: usize) {
        let now = self.now;
        let Some(stream) = self.streams.get_mut(&st) else {
            return;
        };
        stream.dirs[to].wake = false;
        let hosts = stream.hosts;
        let sock = stream.ends[to].sock;
        if self.partitioned(hosts[0], hosts[1]) {
            return;
        }
        while let Some(stream) = self.streams.get_mut(&st) {
            let end = &stream.ends[to];
            let (s, conn) = (end.sock, end.conn);
            if !end.open {
                break;
            }
            let dir = &mut stream.dirs[to];
            match dir.queue.front() {
                None => break,
                Some((at, _)) if *at > now => {
                    self.ensure_wake(st, to);
                    break;
                }
                Some(_) => {}
            }
            let Some(base) = self.socks[s].base.as_mut() else {
                break;
            };
            let heeded = self.mutation != Mutation::IgnoreWantsInput;
            if matches!(dir.queue.front(), Some((_, Seg::Data(_))))
                && heeded
                && !base.wants_input(conn)
            {
                if self.stalled.insert((st, to)) {
                    self.trace.record(
                        now,
                        format_args!("s{s} c{} queue full: stop reading", conn.0),
                    );
                }
                break;
            }
            let (_, seg) = dir.queue.pop_front().expect("front checked");
            if let Seg::Data(b) = &seg {
                dir.bytes -= b.len();
            }
            // Nothing more to read now: the connection went quiet, and the session gives its
            // buffers back, as io-mio's and io-tokio's do after a read that did not fill.
            let quiet = dir.queue.front().is_none_or(|(at, _)| *at > now);
            let mut read = 0;
            let mut broken = None;
            match seg {
                Seg::Data(b) => {
                    self.trace
                        .record(now, format_args!("s{s} c{} <- {} bytes", conn.0, b.len()));
                    base.handle_input(conn, &b, now);
                    if quiet {
                        base.shrink_idle(conn);
                    }
                    read = b.len();
                }
                Seg::Fin | Seg::Rst => {
                    self.trace
                        .record(now, format_args!("s{s} c{} <- {seg:?}", conn.0));
                    broken = Some(());
                }
            }
            let was = broken.and_then(|()| self.before_break(s, conn));
            if broken.is_some() {
                let base = self.socks[s].base.as_mut().expect("checked above");
                base.handle_eof(conn, now);
            }
            self.settle(s);
            if let Some(was) = was {
                self.after_break(s, conn, was);
            }
            if read > 0 {
                self.check_stalled_read(s, conn, read);
                self.check_intruded(st, s, conn, read);
            }
        }
        // The reader made room: a writer stopped at the window may go on.
        if let Some(stream) = self.streams.get(&st) {
            let w = &stream.ends[1 - to];
            let key = (w.sock, w.conn);
            if self.tx_blocked.contains(&key) && self.tx_room(key.0, key.1) > 0 {
                self.schedule(now, Ev::Writable(key.0));
            }
        }
        let h = self.socks[sock].host;
        self.notify(h);
    }

    fn dial_arrive(&mut self, s: usize, conn: ConnId, ep: String, attempt: u32) {
        let now = self.now;
        match self.dialing.get(&(s, conn)) {
            None => return,
            Some(true) => {
                self.dialing.remove(&(s, conn));
                return;
            }
            Some(false) => {}
        }
        let from = self.socks[s].host;
        let Some(to) = self.host_of(&ep) else {
            self.schedule(
                now,
                Ev::DialResult {
                    sock: s,
                    conn,
                    result: Err(OsError::ConnectionRefused),
                },
            );
            return;
        };
        let lat = self.link(from, to).latency;
        if !self.hosts[to].up || self.partitioned(from, to) {
            let (first, retries) = self.net.syn_retry;
            let ev = if attempt < retries {
                Ev::DialArrive {
                    sock: s,
                    conn,
                    endpoint: ep,
                    attempt: attempt + 1,
                }
            } else {
                Ev::DialResult {
                    sock: s,
                    conn,
                    result: Err(OsError::TimedOut),
                }
            };
            self.schedule(now + first * (1 << attempt), ev);
            return;
        }
        let refused = chance(&mut self.net_rng, self.net.refuse);
        let listener = self.listeners.get(&ep).copied();
        self.dial_at_closed(&ep);
        let failed = listener.is_some_and(|(ls, lid)| !refused && self.accept_fails(ls, lid, &ep));
        if failed {
            self.settle(listener.expect("checked").0);
        }
        let accepted = match listener {
            Some((ls, lid)) if !refused && !failed => self.socks[ls]
                .base
                .as_mut()
                .and_then(|b| b.handle_accepted(lid, now))
                .map(|pconn| (ls, pconn)),
            _ => None,
        };
        if let Some((ls, _)) = accepted {
            self.owe_event(ls, oxmq_core::monitor::MonitorEventKind::Accepted, &ep);
        }
        let Some((ls, pconn)) = accepted else {
            self.log(format_args!("s{s} c{} refused by {ep}", conn.0));
            self.schedule(
                now + lat,
                Ev::DialResult {
                    sock: s,
                    conn,
                    result: Err(OsError::ConnectionRefused),
                },
            );
            return;
        };
        let st = self.next_stream;
        self.next_stream += 1;
        let answered = now + lat;
        let mut stream = Stream {
            ends: [
                End {
                    sock: s,
                    conn,
                    open: true,
                    dead: false,
                },
                End {
                    sock: ls,
                    conn: pconn,
                    open: true,
                    dead: false,
                },
            ],
            dirs: [Dir::default(), Dir::default()],
            hosts: [from, to],
            reset: false,
            opened: self.now,
        };
        self.security_accepted(s, ls);
        // The acceptor's first bytes must not reach the dialer before its SYN-ACK.
        stream.dirs[0].floor = answered;
        self.streams.insert(st, stream);
        self.ends.insert((ls, pconn), (st, 1));
        self.log(format_args!(
            "s{s} c{} -> s{ls} c{} accepted (stream {st})",
            conn.0, pconn.0
        ));
        self.schedule(
            answered,
            Ev::DialResult {
                sock: s,
                conn,
                result: Ok((st, 0)),
            },
        );
        self.settle(ls);
        let h = self.socks[ls].host;
        self.notify(h);
    }

    fn dial_result(&mut self, s: usize, conn: ConnId, result: Result<(u64, usize), OsError>) {
        let now = self.now;
        let cancelled = self.dialing.remove(&(s, conn)) != Some(false);
        let alive = self.socks[s].base.is_some();
        match result {
            Ok((st, side)) => {
                if cancelled || !alive {
                    self.write(st, side, Seg::Rst);
                    self.close_end(st, side);
                    return;
                }
                self.ends.insert((s, conn), (st, side));
                self.log(format_args!("s{s} c{} connected", conn.0));
                let base = self.socks[s].base.as_mut().expect("alive checked");
                base.handle_dial_result(conn, Ok(()), now);
                let known = base.conns().any(|c| c == conn);
                self.settle(s);
                if !known {
                    if let Some((st, side)) = self.ends.remove(&(s, conn)) {
                        self.write(st, side, Seg::Fin);
                        self.close_end(st, side);
                    }
                }
            }
            Err(e) => {
                if cancelled || !alive {
                    return;
                }
                self.log(format_args!(
                    "s{s} c{} dial failed errno {}",
                    conn.0,
                    e.errno()
                ));
                let base = self.socks[s].base.as_mut().expect("alive checked");
                base.handle_dial_result(conn, Err(e), now);
                self.settle(s);
            }
        }
        let h = self.socks[s].host;
        self.notify(h);
    }

    fn crash(&mut self, h: usize) {
        if !self.hosts[h].up {
            return;
        }
        self.log(format_args!("crash h{h}"));
        self.hosts[h].up = false;
        let socks = std::mem::take(&mut self.hosts[h].socks);
        for s in socks {
            if self.socks[s].base.take().is_none() {
                continue;
            }
            let ends: Vec<((usize, ConnId), (u64, usize))> = self
                .ends
                .range((s, ConnId(0))..=(s, ConnId(u64::MAX)))
                .map(|(k, v)| (*k, *v))
                .collect();
            for (k, (st, side)) in ends {
                self.ends.remove(&k);
                if self.silent_crashes {
                    if let Some(stream) = self.streams.get_mut(&st) {
                        stream.ends[side].dead = true;
                    }
                } else {
                    self.write(st, side, Seg::Rst);
                }
                self.close_end(st, side);
            }
            self.dialing.retain(|k, _| k.0 != s);
            self.tx_blocked.retain(|k| k.0 != s);
            self.listeners.retain(|_, v| v.0 != s);
            self.unbound.retain(|v| v.0 != s);
            self.owed_events.remove(&s);
            self.forget_ahead(s);
            self.stalled
                .retain(|(st, to)| self.streams.get(st).is_some_and(|x| x.ends[*to].sock != s));
            self.forget_inproc(s);
        }
        if let Some(app) = self.apps[h].as_mut() {
            app.crashed();
        }
    }

    fn restart(&mut self, h: usize) {
        if self.hosts[h].up {
            return;
        }
        self.hosts[h].up = true;
        self.hosts[h].incarnation += 1;
        let inc = self.hosts[h].incarnation;
        self.log(format_args!("boot h{h} (incarnation {inc})"));
        self.with_app(h, |app, cx| app.start(cx));
    }

    fn heal(&mut self, a: usize, b: usize) {
        let key = (a.min(b), a.max(b));
        if !self.partitions.remove(&key) {
            return;
        }
        self.log(format_args!("heal h{} | h{}", key.0, key.1));
        let now = self.now;
        let sts: Vec<u64> = self
            .streams
            .iter()
            .filter(|(_, s)| (s.hosts[0].min(s.hosts[1]), s.hosts[0].max(s.hosts[1])) == key)
            .map(|(k, _)| *k)
            .collect();
        let lat = self.link(a, b).latency;
        for st in sts {
            for to in 0..2 {
                if let Some(stream) = self.streams.get_mut(&st) {
                    let dir = &mut stream.dirs[to];
                    // Held segments are retransmitted now and arrive a latency later.
                    for (at, _) in dir.queue.iter_mut() {
                        *at = (*at).max(now + lat);
                    }
                    dir.floor = dir.floor.max(now + lat);
                    dir.wake = false;
                }
                self.ensure_wake(st, to);
            }
        }
    }

    fn reset(&mut self, pick: u64) {
        let live: Vec<u64> = self
            .streams
            .iter()
            .filter(|(_, s)| !s.reset && s.ends.iter().all(|e| e.open))
            .map(|(k, _)| *k)
            .collect();
        if live.is_empty() {
            return;
        }
        let st = live[(pick % live.len() as u64) as usize];
        self.reset_stream(st);
    }

    fn reset_stream(&mut self, st: u64) {
        let Some(stream) = self.streams.get(&st) else {
            return;
        };
        if stream.reset || !stream.ends.iter().all(|e| e.open) {
            return;
        }
        self.log(format_args!("reset stream {st}"));
        let stream = self.streams.get_mut(&st).expect("listed above");
        stream.reset = true;
        for to in 0..2 {
            let dir = &mut stream.dirs[to];
            dir.queue.clear();
            dir.bytes = 0;
            dir.floor = Instant::ZERO;
        }
        self.write(st, 0, Seg::Rst);
        self.write(st, 1, Seg::Rst);
    }

    /// Every socket that is still open and not closing.
    pub fn open_sockets(&self) -> Vec<usize> {
        (0..self.socks.len())
            .filter(|&s| self.socks[s].base.is_some() && self.socks[s].close.is_none())
            .collect()
    }

    /// Closes socket `s` as its application would.
    pub fn close_socket(&mut self, s: usize) {
        let now = self.now;
        let Some(base) = self.socks[s].base.as_ref() else {
            return;
        };
        let linger = base.config().linger;
        if self.socks[s].close.is_some() {
            return;
        }
        self.socks[s].close = Some((now, linger));
        self.log(format_args!("s{s} close (linger {linger:?})"));
        if let Some(base) = self.socks[s].base.as_mut() {
            base.close(now);
        }
        self.settle(s);
    }

    /// Checks every close that began by now: with a finite LINGER it finished within LINGER
    /// plus `slack`; with LINGER forever, if it began before `forever_since`, it finished by
    /// now (queues could drain since healing).
    pub fn check_closes(&mut self, slack: Duration, forever_before: Option<Instant>) {
        let now = self.now;
        for s in 0..self.socks.len() {
            let slot = &self.socks[s];
            let Some((began, linger)) = slot.close else {
                continue;
            };
            let done = slot.closed_at;
            let crashed = slot.base.is_none() && done.is_none();
            if crashed {
                continue;
            }
            let deadline = match linger {
                Linger::For(d) => began + d + slack,
                Linger::Forever => match forever_before {
                    Some(t) if began < t => now,
                    _ => continue,
                },
            };
            let late = match done {
                Some(at) => at > deadline,
                None => now >= deadline,
            };
            if late {
                let kind = slot.kind;
                self.oracle.fail(
                    FailureKind::Liveness,
                    now,
                    format!(
                        "close of s{s} ({kind}, linger {linger:?}) began at {began:?}, \
                         not done by {deadline:?} (done: {done:?})"
                    ),
                );
                return;
            }
        }
    }

    /// Connections re-form: every endpoint that a still-open socket connected to before
    /// `before` has a live connection (a stream open at both ends, not reset), or, over
    /// inproc, waits for a name its host never bound.
    pub fn check_connected(&mut self, before: Instant) {
        let now = self.now;
        let live = |s: usize, ep: &str| {
            let inproc = self
                .inproc_links_of(s)
                .iter()
                .any(|(k, _)| self.dialed.get(k).is_some_and(|d| d == ep));
            let unbound = self.registries.get(&self.socks[s].host).is_some_and(|r| {
                r.waiting()
                    .any(|(_, k)| k.0 == s && self.dialed.get(&k).is_some_and(|d| d == ep))
            });
            inproc
                || unbound
                || self.ends.iter().any(|(&(es, conn), &(st, _))| {
                    es == s
                        && self.dialed.get(&(s, conn)).is_some_and(|d| d == ep)
                        && self
                            .streams
                            .get(&st)
                            .is_some_and(|x| !x.reset && x.ends.iter().all(|e| e.open))
                })
        };
        let down = self.connects.iter().find(|((s, ep), at)| {
            let slot = &self.socks[*s];
            **at < before && slot.base.is_some() && slot.close.is_none() && !live(*s, ep)
        });
        if let Some(((s, ep), at)) = down {
            let what = format!(
                "s{s} ({}) has no connection to {ep} (connected at {:.3}s), though the \
                 network healed",
                self.socks[*s].kind,
                at.as_nanos() as f64 / 1e9
            );
            self.oracle.fail(FailureKind::Liveness, now, what);
        }
    }

    /// Whether every socket whose close began has finished.
    pub fn all_closed(&self) -> bool {
        self.socks
            .iter()
            .all(|s| s.base.is_none() || s.close.is_none())
    }
}

/// What an application may do: its host's view of the world.
pub struct Cx<'a> {
    sim: &'a mut Sim,
    host: usize,
    /// How many more messages the application reads in this turn.
    budget: usize,
    /// Which of the host's applications runs, when several share it.
    slot: usize,
}

impl Cx<'_> {
    /// Virtual now.
    pub fn now(&self) -> Instant {
        self.sim.now
    }

    /// This host.
    pub fn host(&self) -> usize {
        self.host
    }

    /// Which of the host's applications runs (0 unless several share the host): a tick
    /// goes back to the application that asked for it.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// Runs the host's application number `slot` from now on (for a host that runs several).
    pub fn set_slot(&mut self, slot: usize) {
        self.slot = slot;
    }

    /// The sim-only injected bug, for the applications that play one.
    pub fn mutation(&self) -> Mutation {
        self.sim.mutation
    }

    /// Whether peers on one host connect over inproc.
    pub fn inproc(&self) -> bool {
        self.sim.inproc
    }

    /// This host's address.
    pub fn addr(&self) -> String {
        self.sim.hosts[self.host].addr.clone()
    }

    /// Host `h`'s address.
    pub fn addr_of(&self, h: usize) -> String {
        self.sim.hosts[h].addr.clone()
    }

    /// This host's boot count.
    pub fn incarnation(&self) -> u32 {
        self.sim.hosts[self.host].incarnation
    }

    /// The run's phase.
    pub fn phase(&self) -> Phase {
        self.sim.phase
    }

    /// The host's random stream.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.sim.hosts[self.host].rng
    }

    /// The checks.
    pub fn oracle(&mut self) -> &mut Oracle {
        &mut self.sim.oracle
    }

    /// Records a trace event.
    pub fn log(&mut self, what: std::fmt::Arguments<'_>) {
        self.sim.log(what);
    }

    /// Opens a socket on this host. Its seed comes from the host's own named stream.
    pub fn open(
        &mut self,
        kind: SocketType,
        mut config: BaseConfig,
        options: &[SocketOption],
    ) -> u64 {
        config.sim_command_fault = match self.sim.mutation {
            Mutation::LoseReadReports => CommandFault::LoseReadReports,
            Mutation::LoseReadWakeups => CommandFault::LoseReadWakeups,
            Mutation::LoseTermAcks => CommandFault::LoseTermAcks,
            Mutation::ShortReadCounts => CommandFault::ShortReadCounts,
            _ => CommandFault::None,
        };
        let h = self.host;
        let host = &mut self.sim.hosts[h];
        host.opened += 1;
        let label = format!("host/{h}/boot/{}/sock/{}", host.incarnation, host.opened);
        let seed: u64 = stream(self.sim.seed, &label).random();
        config.sim_mailbox_shuffle = config.sim_mailbox_shuffle.map(|s| s ^ seed);
        let mut base = SocketBase::new(kind, config, seed).expect("workloads use stable types");
        let s = self.sim.socks.len();
        for o in options {
            if let Err(e) = base.socket_mut().set_option(o.clone()) {
                panic!("workload set an option {o:?} that {kind} refuses: {e}");
            }
            let got = base.socket().get_option(o.name());
            self.sim.check_read_back(s as u64, o, got);
        }
        let o = base.socket().options();
        self.sim.hwm_set.insert(s, (o.sndhwm, o.rcvhwm));
        self.sim.socks.push(Slot {
            host: h,
            kind,
            base: Some(base),
            close: None,
            closed_at: None,
            terminated: false,
        });
        self.sim.hosts[h].socks.push(s);
        self.sim.log(format_args!("h{h} open s{s} {kind}"));
        let mandatory = options.contains(&SocketOption::RouterMandatory(true));
        self.sim.oracle.opened(
            s as u64,
            SockInfo {
                host: h,
                kind,
                mandatory,
            },
        );
        s as u64
    }

    /// Socket `s` as the application sees it: gone once its half has closed, while its
    /// sessions may still be finishing.
    fn base(&mut self, s: u64) -> Option<&mut SocketBase> {
        self.sim.socks[s as usize]
            .base
            .as_mut()
            .filter(|b| !b.is_terminated())
    }

    /// Socket `s`'s open tcp connections dialled to `ep`: each stream, and when the peer
    /// accepted it.
    pub fn open_streams(&self, s: u64, ep: &str) -> Vec<(u64, Instant)> {
        let s = s as usize;
        self.sim
            .ends
            .range((s, ConnId(0))..=(s, ConnId(u64::MAX)))
            .filter(|(k, _)| self.sim.dialed.get(k).is_some_and(|d| d == ep))
            .filter_map(|(_, &(st, _))| self.sim.streams.get(&st).map(|x| (st, x)))
            .filter(|(_, x)| !x.reset && x.ends.iter().all(|e| e.open))
            .map(|(st, x)| (st, x.opened))
            .collect()
    }

    /// How many times socket `s` has dialed `ep`, in all.
    pub fn dials(&self, s: u64, ep: &str) -> usize {
        let s = s as usize;
        self.sim
            .dialed
            .range((s, ConnId(0))..=(s, ConnId(u64::MAX)))
            .filter(|(_, d)| *d == ep)
            .count()
    }

    /// Whether stream `st` is open at both ends.
    pub fn stream_open(&self, st: u64) -> bool {
        self.sim
            .streams
            .get(&st)
            .is_some_and(|x| !x.reset && x.ends.iter().all(|e| e.open))
    }

    /// Obligation `what`, due by `deadline`, is met when either end of stream `st` closes.
    pub fn expect_close(&mut self, st: u64, what: String, deadline: Instant) {
        self.sim.oracle.expect(what.clone(), deadline);
        self.sim.close_watch.insert(st, what);
    }

    /// The run's security settings.
    pub fn security(&self) -> &crate::security::Security {
        &self.sim.security
    }

    /// Socket `s` is an impostor of `kind` (call before it connects).
    pub fn impostor(&mut self, s: u64, kind: crate::security::Impostor) {
        self.sim.impostor(s as usize, kind);
    }

    /// Socket `s` will be a PLAIN server without a ZAP handler (call before it binds).
    pub fn decoy_server(&mut self, s: u64) {
        self.sim.decoy_server(s as usize);
    }

    /// Socket `s` breaks the protocol with `offence` from now on (see [`Offence`]).
    pub fn intrude(&mut self, s: u64, offence: Offence) {
        self.sim.intrude(s as usize, offence);
    }

    /// The MAXMSGSIZE the workload's sockets set, if any.
    pub fn max_msg_size(&self) -> Option<u64> {
        self.sim.max_msg_size
    }

    /// Binds socket `s`.
    pub fn bind(&mut self, s: u64, ep: &str) {
        let now = self.now();
        self.log(format_args!("s{s} bind {ep}"));
        self.sim.secure(s as usize, true);
        if let Some(b) = self.base(s) {
            b.bind(ep, now).expect("workload endpoints are valid");
        }
        self.sim.settle(s as usize);
    }

    /// Connects socket `s`.
    pub fn connect(&mut self, s: u64, ep: &str) {
        let now = self.now();
        self.log(format_args!("s{s} connect {ep}"));
        self.sim.connects.insert((s as usize, ep.to_owned()), now);
        self.sim.secure(s as usize, false);
        if let Some(b) = self.base(s) {
            b.connect(ep, now).expect("workload endpoints are valid");
        }
        self.sim.settle(s as usize);
    }

    /// Disconnects socket `s` from `ep` (ENOENT is only logged).
    pub fn disconnect(&mut self, s: u64, ep: &str) {
        let now = self.now();
        let mutation = self.sim.mutation;
        if let Some(b) = self.base(s) {
            let before: Vec<(PipeId, Option<ConnId>)> =
                b.socket().pipe_ids().map(|p| (p, b.pipe_conn(p))).collect();
            // The LINGER the application set, which the disconnect must honour.
            let linger = b.config().linger;
            let played = match mutation {
                Mutation::DisconnectDropsQueued => Some(0),
                Mutation::DisconnectLingersForever => Some(-1),
                _ => None,
            };
            if let Some(ms) = played {
                b.set_option(SocketOption::Linger(ms), now)
                    .expect("LINGER takes 0 and -1");
            }
            match b.disconnect(ep, now) {
                Err(e) => self.log(format_args!("s{s} disconnect {ep}: {e}")),
                Ok(()) => {
                    let after: BTreeSet<PipeId> = b.socket().pipe_ids().collect();
                    let told = b.disconnected_pipes().to_vec();
                    if let Linger::For(linger) = linger {
                        let ended = before
                            .iter()
                            .filter(|(p, _)| !after.contains(p))
                            .filter_map(|&(_, c)| c);
                        for conn in ended {
                            self.sim
                                .disconnected
                                .insert((s as usize, conn), (now, linger));
                            self.sim.oracle.coverage.disconnect_lingers += 1;
                        }
                    }
                    self.sim.let_go(s as usize, ep, &before, &after, &told);
                }
            }
            self.sim.connects.remove(&(s as usize, ep.to_owned()));
        }
        self.sim.settle(s as usize);
    }

    /// Unbinds socket `s` from `ep` (ENOENT is only logged).
    pub fn unbind(&mut self, s: u64, ep: &str) {
        let now = self.now();
        let listener = self.sim.listener_at(s as usize, ep);
        if let Some(b) = self.base(s) {
            let r = b.unbind(ep, now);
            if let Err(e) = &r {
                self.log(format_args!("s{s} unbind {ep}: {e}"));
            }
            if let Some(l) = listener.filter(|_| r.is_ok()) {
                self.sim.unbound.insert((s as usize, l));
            }
            self.check_unbind(s, ep, listener, r.is_ok());
        }
        self.sim.settle(s as usize);
    }

    /// Sends on socket `s`, checking the result against what the socket type promises.
    pub fn send(&mut self, s: u64, msg: Message) -> Result<(), SendErrorKind> {
        self.send_seen(s, msg).0
    }

    /// Sends on socket `s`, and tells which pipes the pattern dropped the message for,
    /// by the socket at their other end: those that were at SNDHWM before the send and took
    /// nothing (PUB and XPUB drop there, RFC 29; so does ROUTER, RFC 28). A ROUTER's drop
    /// of a message it accepted shows as no pipe taking it: `queued` false.
    pub fn send_seen(&mut self, s: u64, msg: Message) -> (Result<(), SendErrorKind>, Sent) {
        self.send_judged(s, msg, true)
    }

    /// Sends on socket `s` what its state or type must refuse (a REQ or REP out of its turn,
    /// any send on SUB or PULL), for the caller to judge the result: the looks at POLLOUT
    /// and at the first frame are checked against it, the send oracle's model of a send
    /// that may go is not applied.
    pub fn send_refused(&mut self, s: u64, msg: Message) -> Result<(), SendErrorKind> {
        self.send_judged(s, msg, false).0
    }

    fn send_judged(
        &mut self,
        s: u64,
        msg: Message,
        in_turn: bool,
    ) -> (Result<(), SendErrorKind>, Sent) {
        let now = self.now();
        let closing = self.sim.socks[s as usize].close.is_some();
        let mandatory = self.sim.oracle.sock(s).is_some_and(|i| i.mandatory);
        let Some(b) = self.base(s) else {
            return (Err(SendErrorKind::BadState), Sent::default());
        };
        let view = send_view(b, mandatory, closing);
        let counts = |b: &SocketBase| -> Vec<(PipeId, u64, bool)> {
            let sock = b.socket();
            sock.pipe_ids()
                .filter_map(|id| {
                    sock.pipe_end(id)
                        .map(|e| (id, e.msgs_written(), e.has_room_for_message()))
                })
                .collect()
        };
        let before = counts(b);
        // What a frame-by-frame sender learns at the first frame (libzmq's `xsend` decides
        // there): the whole send must agree with it. Like the POLLOUT look below, it comes
        // just before the send, so a look that parks full pipes parks those the send's own
        // scan would.
        let kind = b.socket().socket_type();
        let at_first = (!closing)
            .then(|| b.check_send_start(msg.frames().first().map_or(&[][..], |f| &f[..])));
        // ZMQ_EVENTS, looked at just before the send (a POLLOUT look parks full pipes as the
        // send's own scan would, so it leaves the load-balancing order as it finds it).
        let pollout = b.readiness().1;
        let r = b.send(msg, now).map_err(|e| e.kind);
        let after = counts(b);
        let mut sent = Sent {
            queued: after.iter().map(|a| a.1).sum::<u64>() > before.iter().map(|a| a.1).sum(),
            dropped_for: Vec::new(),
        };
        let full: Vec<ConnId> = before
            .iter()
            .filter(|(id, n, room)| !room && !after.iter().any(|a| a.0 == *id && a.1 > *n))
            .filter_map(|(id, _, _)| b.pipe_conn(*id))
            .collect();
        let to = b.socket().last_send_pipe();
        for c in full {
            if let Some(p) = self.sim.peer_sock(s as usize, c) {
                sent.dropped_for.push(p as u64);
            }
        }
        if let Some(at_first) = at_first {
            self.sim.oracle.coverage.first_frames += 1;
            let agrees = match at_first {
                Err(e) => r == Err(e),
                Ok(()) => !matches!(
                    r,
                    Err(SendErrorKind::HostUnreachable
                        | SendErrorKind::WouldBlock
                        | SendErrorKind::BadState
                        | SendErrorKind::NotSupported)
                ),
            };
            if !agrees {
                let what = format!(
                    "s{s} {kind:?}: the first frame was answered {at_first:?}, the send {r:?}"
                );
                self.sim.oracle.fail(FailureKind::Safety, now, what);
            }
        }
        let any_room = before.iter().any(|(_, _, room)| *room);
        self.check_pollout(s, kind, closing, (pollout, any_room), r);
        self.sim.settle(s as usize);
        if in_turn {
            self.sim.check_send(s, &view, r, to);
        }
        (r, sent)
    }

    /// ZMQ_EVENTS' POLLOUT promise, against the send that followed the look: no POLLOUT
    /// means the send cannot go (it would block, REQ/REP's state forbids it, or the socket
    /// cannot send at all); POLLOUT means it does not block and is not refused. Sockets that
    /// route by address (ROUTER, SERVER, PEER) are held to less: POLLOUT there says some peer
    /// could take a message, not the one addressed, so a send that would block after POLLOUT
    /// fails the run only if no pipe had room (`any_room`, counted before the looks). STREAM
    /// and XPUB must always say POLLOUT, and may then block (see below).
    fn check_pollout(
        &mut self,
        s: u64,
        kind: SocketType,
        closing: bool,
        (pollout, any_room): (bool, bool),
        r: Result<(), SendErrorKind>,
    ) {
        if closing {
            return;
        }
        let now = self.now();
        self.sim.oracle.coverage.readiness += 1;
        // STREAM and XPUB always say POLLOUT, as libzmq's do (`stream_t::xhas_out`: "whether
        // actual attempt to write succeeds depends on which pipe the message is going to be
        // routed to"; XPUB's `dist_t::has_out` is true): they must say it, and a send after
        // it may still block (a full pipe; with XPUB_NODROP, a subscriber's).
        if matches!(kind, SocketType::Stream | SocketType::XPub) {
            if !pollout {
                let what =
                    format!("s{s} {kind:?}: ZMQ_EVENTS said no POLLOUT (this type always has it)");
                self.sim.oracle.fail(FailureKind::Safety, now, what);
            }
            return;
        }
        let routed = matches!(
            kind,
            SocketType::Router | SocketType::Server | SocketType::Peer
        );
        let refused = matches!(
            r,
            Err(SendErrorKind::WouldBlock | SendErrorKind::BadState | SendErrorKind::NotSupported)
        );
        if !pollout && r.is_ok() {
            let what = format!("s{s} {kind:?}: ZMQ_EVENTS said no POLLOUT, the send went");
            self.sim.oracle.fail(FailureKind::Safety, now, what);
        } else if pollout && refused && (!routed || !any_room) {
            let what = format!("s{s} {kind:?}: ZMQ_EVENTS said POLLOUT, the send gave {r:?}");
            self.sim.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// Receives on socket `s`, with the pipe the message came from.
    pub fn recv(&mut self, s: u64) -> Option<(Message, Option<PipeId>)> {
        if self.budget == 0 {
            return None;
        }
        self.budget -= 1;
        if let Some((ds, m, pipe)) = self.sim.duplicate.take() {
            if ds == s {
                return Some((m, pipe));
            }
            self.sim.duplicate = Some((ds, m, pipe));
        }
        let now = self.now();
        let kind = self.base(s)?.socket().socket_type();
        // What an earlier receive took ahead goes up first, as from a threaded front-end's
        // buffer; the looks below judged the receive that took it.
        if let Some((p, m)) = self.sim.taken_ahead(s as usize) {
            self.sim.check_let_go(s as usize, kind, Some(p), true);
            return self.hand_up(s, kind, m, Some(p), None, now);
        }
        // Fair-queueing: which pipes had a message waiting when the pattern chose.
        let fair_queued = matches!(
            kind,
            SocketType::Pull | SocketType::Router | SocketType::Rep | SocketType::Dealer
        );
        // With commands in flight, a pipe whose counts say "waiting" may not have woken its
        // reader yet (its activate_read is in the mailbox): the pattern cannot be held to
        // serve it, so this receive starts a new epoch instead of being judged.
        let in_flight = self.base(s)?.has_mail();
        if fair_queued && in_flight {
            self.sim.oracle.fq.forget(s);
        }
        let before = (fair_queued && !in_flight).then(|| {
            let b = self.sim.socks[s as usize]
                .base
                .as_ref()
                .expect("checked above");
            let pipes: Vec<PipeId> = b.socket().pipe_ids().collect();
            let waiting: Vec<PipeId> = pipes
                .iter()
                .copied()
                .filter(|p| self.sim.waiting_in(s as usize, *p))
                .collect();
            (pipes, waiting)
        });
        let batch = self.sim.batch_recv;
        let b = self.base(s)?;
        // POLLIN, with POLLOUT only where a POLLOUT look cannot change anything (types that
        // never send): POLLOUT is looked at just before each send, where its parking of full
        // pipes is the send's own; a look here would reorder the load-balancing the send
        // oracle follows.
        let pollin = if matches!(kind, SocketType::Pull | SocketType::Sub) {
            b.readiness().0
        } else {
            b.socket_mut().can_recv()
        };
        let delivered = b.delivered();
        let (r, ahead, asked) = if batch {
            take_batch(b, now)
        } else {
            let r = b.recv(now);
            let pipe = b.socket().last_recv_pipe();
            (r.map(|m| (m, pipe)), VecDeque::new(), 1)
        };
        let efsm = matches!(r, Err(oxmq_core::RecvError::BadState));
        let got = r.ok();
        let fresh = b.delivered() != delivered;
        // The look after a receive that failed with EAGAIN (judged below), unless the
        // receive's own pump left mail in flight (the interleaving defers the rest of a
        // pump): a session that wrote into the pipe after the pattern looked then has its
        // wake-up on the way, as an I/O thread's can be when libzmq's receive returns, and a
        // PAIR's look reads its one pipe directly (seeds 31131 and 58003).
        let in_flight = got.is_none() && b.has_mail();
        let after_eagain =
            (kind != SocketType::Req && got.is_none() && !efsm && !b.is_closed() && !in_flight)
                .then(|| {
                    if matches!(kind, SocketType::Pull | SocketType::Sub) {
                        b.readiness().0
                    } else {
                        b.socket_mut().can_recv()
                    }
                });
        // ZMQ_EVENTS' promise: POLLIN means a receive finds a message, and no POLLIN means
        // none was there: a receive that finds one must have taken it from what its own pump
        // delivered (it pumps the sessions once more, as a look does not, and may find what
        // a SUB's dropped messages made room for).
        // REQ is held to the second half only: its POLLIN looks at every pipe, and a receive
        // drops replies that do not answer its last request (libzmq's `req_t::xhas_in`,
        // "duplicates should be removed here", does the same).
        let judged = kind != SocketType::Req;
        self.sim.oracle.coverage.readiness += 1;
        if in_flight {
            self.sim.oracle.coverage.eagain_in_flight += 1;
        }
        // Nor may a socket whose state refuses a receive (REQ with no request out, REP
        // owing its reply: EFSM) say POLLIN (libzmq's `req_t::xhas_in` and `rep_t::xhas_in`
        // answer false there).
        if pollin && efsm {
            let what = format!("s{s} {kind:?}: ZMQ_EVENTS said POLLIN, the receive gave EFSM");
            self.sim.oracle.fail(FailureKind::Safety, now, what);
        }
        if judged && pollin && got.is_none() {
            let what = format!("s{s} {kind:?}: ZMQ_EVENTS said POLLIN, the receive found none");
            self.sim.oracle.fail(FailureKind::Safety, now, what);
        }
        if !pollin && got.is_some() && !fresh {
            let what = format!(
                "s{s} {kind:?}: ZMQ_EVENTS said no POLLIN, the receive found a message that \
                 was already there"
            );
            self.sim.oracle.fail(FailureKind::Safety, now, what);
        }
        // And the other way: a receive that fails with EAGAIN has looked at everything its
        // own pump delivered, so a look right after it (nothing came between) finds no
        // POLLIN either.
        if let Some(after) = after_eagain {
            self.sim.oracle.coverage.eagain_looks += 1;
            if after {
                let what = format!(
                    "s{s} {kind:?}: a receive failed with EAGAIN, and a look right after it \
                     said POLLIN"
                );
                self.sim.oracle.fail(FailureKind::Safety, now, what);
            }
        }
        self.sim.settle(s as usize);
        let (m, pipe) = got?;
        self.sim.take_ahead(s as usize, ahead, asked);
        self.sim.check_let_go(s as usize, kind, pipe, false);
        self.hand_up(s, kind, m, pipe, before, now)
    }

    /// Checks a message socket `s` received from `pipe`, as its application gets it, and
    /// hands it up; `before` is what the fair-queue oracle judges its receive by.
    fn hand_up(
        &mut self,
        s: u64,
        kind: SocketType,
        mut m: Message,
        pipe: Option<PipeId>,
        before: Option<(Vec<PipeId>, Vec<PipeId>)>,
        now: Instant,
    ) -> Option<(Message, Option<PipeId>)> {
        if self.sim.mutation == Mutation::PropertiesLost {
            m.set_properties(None);
        }
        self.sim.check_secure_recv(s as usize, &m, pipe);
        let conflating = self.sim.socks[s as usize]
            .base
            .as_ref()
            .is_some_and(|b| b.socket().options().conflate);
        if conflating && self.sim.mutation == Mutation::ConflateKeepsOlder {
            // Hand up the message before this one; keep this one back.
            return match self.sim.held_back.insert(s, (m, pipe)) {
                Some(older) => Some(older),
                None => self.recv(s),
            };
        }
        if pipe.is_some_and(|p| self.sim.inproc_pipe_ids.contains(&(s as usize, p))) {
            self.sim.oracle.coverage.inproc += 1;
        }
        if let (Some((pipes, waiting)), Some(from)) = (before, pipe) {
            if waiting.len() > 1 {
                self.sim.oracle.coverage.contended += 1;
            }
            if let Err(what) = self.sim.oracle.fq.received(s, pipes, &waiting, from) {
                self.sim.oracle.fail(FailureKind::Safety, now, what);
            }
        }
        if kind == SocketType::Req {
            self.sim.oracle.req_replied(now, s, pipe);
        }
        // (STREAM's notices look the same; those mutations are about ROUTER's probes.)
        let empty_probe = kind != SocketType::Stream && m.len() == 2 && m.frames()[1].is_empty();
        if empty_probe && !self.sim.mutated {
            match self.sim.mutation {
                Mutation::DuplicateRouterProbe => {
                    self.sim.mutated = true;
                    self.log(format_args!("s{s} MUTATION: PROBE_ROUTER probe duplicated"));
                    self.sim.duplicate = Some((s, m.clone(), pipe));
                }
                Mutation::DropRouterProbe => {
                    self.sim.mutated = true;
                    self.log(format_args!("s{s} MUTATION: PROBE_ROUTER probe dropped"));
                    return self.recv(s);
                }
                _ => {}
            }
        }
        let probe_mutation = matches!(
            self.sim.mutation,
            Mutation::DropFirstProbe | Mutation::DuplicateFirstProbe | Mutation::PanicOnFirstProbe
        );
        if probe_mutation && !self.sim.mutated && is_probe(&m) {
            self.sim.mutated = true;
            match self.sim.mutation {
                Mutation::DropFirstProbe => {
                    self.log(format_args!("s{s} MUTATION: probe dropped"));
                    return self.recv(s);
                }
                Mutation::DuplicateFirstProbe => {
                    self.log(format_args!("s{s} MUTATION: probe duplicated"));
                    self.sim.duplicate = Some((s, m.clone(), pipe));
                }
                Mutation::PanicOnFirstProbe => {
                    panic!("injected panic on the first probe at s{s}");
                }
                _ => {}
            }
        }
        Some((m, pipe))
    }

    /// Sets an option on socket `s`, as `zmq_setsockopt` does (lifecycle options such as
    /// LINGER included), and reads it back.
    pub fn set_option(&mut self, s: u64, opt: SocketOption) {
        let now = self.now();
        if let Some(b) = self.base(s) {
            if let Err(e) = b.set_option(opt.clone(), now) {
                panic!("workload set an option {opt:?} its socket refuses: {e}");
            }
            let got = b.get_option(opt.name());
            self.sim.check_read_back(s, &opt, got);
            if opt.changes_filter() {
                self.sim.refilter_ahead(s as usize);
            }
        }
        self.sim.settle(s as usize);
    }

    /// Socket `s`'s ZMQ_ROUTING_ID as `zmq_getsockopt` reads it (empty when it has none).
    pub fn routing_id(&mut self, s: u64) -> Option<Bytes> {
        match self
            .base(s)?
            .socket()
            .get_option(SocketOptionName::RoutingId)
        {
            Ok(SocketOption::RoutingId(id)) => Some(id),
            _ => None,
        }
    }

    /// Sets on socket `s` an option it must refuse (EINVAL: an option its type does not
    /// have, a value out of range), and checks that the value read back has not changed.
    pub fn set_option_refused(&mut self, s: u64, opt: SocketOption) {
        let now = self.now();
        let Some(b) = self.base(s) else {
            return;
        };
        let kind = b.socket().socket_type();
        let before = b.socket().get_option(opt.name());
        let r = b.socket_mut().set_option(opt.clone());
        let after = b.socket().get_option(opt.name());
        self.sim.oracle.coverage.refused += 1;
        if r.is_ok() || before != after {
            let what = format!(
                "s{s} {kind:?} took {opt:?} ({r:?}; read back {before:?}, then {after:?}), \
                 which libzmq refuses with EINVAL"
            );
            self.sim.oracle.fail(FailureKind::Safety, now, what);
        }
        self.sim.settle(s as usize);
    }

    /// Closes socket `s`.
    pub fn close(&mut self, s: u64) {
        self.sim.close_socket(s as usize);
    }

    /// Whether socket `s` is open (not closed, not lost in a crash).
    pub fn is_open(&self, s: u64) -> bool {
        self.sim.socks[s as usize].base.is_some()
    }

    /// Whether socket `s`'s receives hold messages taken ahead (`batch-recv`).
    pub fn holds_ahead(&self, s: u64) -> bool {
        self.sim
            .ahead
            .get(&(s as usize))
            .is_some_and(|q| !q.is_empty())
    }

    /// Asks for a [`App::tick`] after `d`.
    pub fn wake_in(&mut self, d: Duration) {
        let at = self.sim.now + d;
        let incarnation = self.incarnation();
        let host = self.host;
        let slot = self.slot;
        self.sim.schedule(
            at,
            Ev::Tick {
                host,
                incarnation,
                slot,
            },
        );
    }
}

/// The name of the obligation that socket `s`'s close finishes in time.
pub fn close_finishes(s: usize) -> String {
    format!("the close of s{s} finishes")
}

/// Socket `b`'s pipes as a send sees them.
/// What a send did besides its result ([`Cx::send_seen`]).
#[derive(Clone, Debug, Default)]
pub struct Sent {
    /// Some pipe took the message.
    pub queued: bool,
    /// The sockets at the other end of the pipes that were full and dropped it.
    pub dropped_for: Vec<u64>,
}

fn send_view(b: &SocketBase, mandatory: bool, closing: bool) -> SendView {
    let sock = b.socket();
    // Read reports still in the mailboxes: the writer does not know yet what its counts
    // say, and may block where they say it has room (as libzmq's may, while its
    // activate_write waits in a mailbox). No pipe is surely available.
    let in_flight = b.has_mail();
    SendView {
        kind: sock.socket_type(),
        mandatory,
        closing,
        sndhwm: sock.options().sndhwm,
        conflate: sock.options().conflate,
        nodrop: sock.get_option(oxmq_core::SocketOptionName::XpubNodrop)
            == Ok(SocketOption::XpubNodrop(true)),
        pipes: sock
            .pipe_ids()
            .map(|id| match b.pipe(id) {
                Some(p) => PipeState {
                    id,
                    outbound: p.outbound_len(),
                    inbound: p.inbound_len() + usize::from(in_flight),
                },
                // A pipe whose session has ended is closing: it stays attached only while
                // it has unread messages, and takes no more.
                None => PipeState {
                    id,
                    outbound: 0,
                    inbound: 1,
                },
            })
            .collect(),
    }
}

/// Whether some tail of `m`'s frames is a probe payload (after a routing envelope, say).
fn is_probe(m: &Message) -> bool {
    (0..m.len()).any(|i| crate::msg::Payload::decode(&m.frames()[i..]).is_ok_and(|p| p.probe))
}
