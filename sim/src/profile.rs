//! What a seed draws: the workload, the socket options, the network and the fault mix
//! (swarm testing: each seed switches each fault on or off and picks how hard).

use std::time::Duration;

use oxmq_core::base::{BaseConfig, CommandFault};
use oxmq_core::tree::Linger;
use rand::Rng;

use crate::rng::{chance, stream};
use crate::security::Security;
use crate::world::NetConfig;

/// Which ZeroMQ pattern a run exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pattern {
    /// PUSH ventilator → PULL/PUSH workers → PULL sink.
    Pipeline,
    /// PUB → SUBs with topics, one joining late.
    PubSub,
    /// REQ clients ↔ REP servers.
    ReqRep,
    /// DEALER clients ↔ ROUTER servers.
    DealerRouter,
    /// PAIR ↔ PAIR.
    Pair,
}

impl Pattern {
    /// The name `--pattern` takes.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Pipeline => "pipeline",
            Pattern::PubSub => "pubsub",
            Pattern::ReqRep => "reqrep",
            Pattern::DealerRouter => "router",
            Pattern::Pair => "pair",
        }
    }

    /// Every pattern, in draw order.
    pub const ALL: [Pattern; 5] = [
        Pattern::Pipeline,
        Pattern::PubSub,
        Pattern::ReqRep,
        Pattern::DealerRouter,
        Pattern::Pair,
    ];
}

/// The faults a seed switched on, and how hard.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Host crashes (each restarts after a while, at the latest when the network heals).
    pub crashes: u32,
    /// How long a crashed host stays down, at most.
    pub down_max: Duration,
    /// Partitions between two hosts.
    pub partitions: u32,
    /// How long a partition lasts, at most.
    pub partition_max: Duration,
    /// Connection resets.
    pub resets: u32,
    /// Chance that an accept is refused.
    pub refuse: f64,
}

/// Socket options shared by a run's sockets.
#[derive(Clone, Debug)]
pub struct SockProfile {
    /// ZMQ_SNDHWM.
    pub sndhwm: usize,
    /// ZMQ_RCVHWM.
    pub rcvhwm: usize,
    /// Lifecycle options (linger, reconnect, heartbeats, IMMEDIATE, handshake).
    pub base: BaseConfig,
    /// ZMQ_ROUTER_MANDATORY.
    pub router_mandatory: bool,
    /// ZMQ_ROUTER_HANDOVER.
    pub router_handover: bool,
    /// REQ recovers with REQ_RELAXED (else: close and reopen, Lazy Pirate).
    pub req_relaxed: bool,
    /// With REQ_RELAXED, also REQ_CORRELATE (without it, libzmq's documented caveat applies:
    /// a late reply from the peer of the last request may be taken as its answer).
    pub req_correlate: bool,
    /// DEALERs set an explicit ZMQ_ROUTING_ID.
    pub explicit_ids: bool,
}

/// Everything a seed decides before the run starts.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The workload.
    pub pattern: Pattern,
    /// Servers, workers or subscribers.
    pub peers: usize,
    /// Clients (REQ, DEALER).
    pub clients: usize,
    /// Frames per message, at most.
    pub frames_max: usize,
    /// Time between sends of one application.
    pub interval: Duration,
    /// Socket options.
    pub sock: SockProfile,
    /// The network.
    pub net: NetConfig,
    /// The faults.
    pub faults: Faults,
    /// How long faults are injected.
    pub fault_phase: Duration,
    /// During the faults, receivers read only now and then, a few messages at a time, so
    /// queues fill to their HWMs and back-pressure reaches the network.
    pub slow_readers: bool,
    /// During the faults, applications now and then disconnect and reconnect, or unbind and
    /// bind again.
    pub churn: bool,
    /// Crashes are silent (peers get no RST until they write to the rebooted host); drawn
    /// only with heartbeats on, which is what detects a dead peer.
    pub silent_crashes: bool,
    /// Filler bytes per message: big messages fill an engine's output batch and then the
    /// pipes behind it, so HWMs are reached on live connections too.
    pub pad: usize,
    /// The features a seed layers on its pattern (drawn after everything above, so older
    /// seeds keep their workloads).
    pub features: Features,
    /// The mechanism, credentials and ZAP handler (NULL unless the run asks for security:
    /// see [`Profile::with_security`]).
    pub security: Security,
}

/// ZeroMQ features a seed layers on its pattern's workload.
#[derive(Clone, Debug, Default)]
pub struct Features {
    /// Now and then, during the faults, an application changes SNDHWM or RCVHWM on a live
    /// socket.
    pub live_hwm: bool,
    /// During the faults, now and then a host's application stops receiving for a while
    /// (so its sockets reach RCVHWM and must stop reading the network).
    pub stalls: bool,
    /// DEALERs set ZMQ_PROBE_ROUTER (DEALER/ROUTER).
    pub probe_router: bool,
    /// Receivers set ZMQ_CONFLATE: the pipeline's sink PULL, the SUBs, the DEALERs.
    pub conflate: bool,
    /// An XSUB/XPUB proxy sits between the publisher and its subscribers (PUB/SUB).
    pub proxy: bool,
    /// Some peers share a host with the socket they connect to and connect over inproc.
    pub inproc: bool,
    /// The proxy's XPUB sets ZMQ_XPUB_NODROP: at a subscriber's HWM its send fails with
    /// EAGAIN instead of dropping, and the proxy holds the message until it goes.
    pub xpub_nodrop: bool,
    /// During the faults, peers that break the protocol come and go (a garbled greeting, a
    /// socket type the victim refuses, a frame over its MAXMSGSIZE), and every socket sets
    /// a MAXMSGSIZE above the workload's messages.
    pub intruders: bool,
    /// Beside the pattern's workload, on hosts of their own, a STREAM server and one or two
    /// STREAM clients exchange raw byte streams (see `workload/stream.rs`).
    pub stream: bool,
    /// Pipeline: every socket has an HWM above 2,048 (where libzmq 3 and 4 step their
    /// low-water marks differently), and during the faults the ventilator sends as fast as
    /// its socket takes tasks, so pipes fill to those HWMs and drain from them.
    pub flood: bool,
    /// DEALER/ROUTER: every second client is a ROUTER (ROUTER to ROUTER). It names each
    /// connection with ZMQ_CONNECT_ROUTING_ID and addresses each request to one server by
    /// that name. Only without IMMEDIATE and CONFLATE: libzmq 4.3 names only the pipe a
    /// connect makes at once (`router_t::identify_peer`, locally initiated), and a ROUTER
    /// does not conflate.
    pub router_clients: bool,
    /// Receives take ahead, up to an eighth of RCVHWM, as the threaded front-ends' do
    /// (`recv_many_from`); a disconnect drops what was taken from its endpoint.
    pub batch_recv: bool,
    /// PUB/SUB without a proxy or conflation: the publisher and every subscriber set
    /// ZMQ_INVERT_MATCHING, so a subscriber gets exactly the topics none of its
    /// subscriptions match (the PUB sends to the pipes whose subscriptions do not match, and
    /// the SUB filters the same way).
    pub invert: bool,
    /// PUB/SUB with a proxy: the publisher is an XPUB, and the proxy's XSUB sends messages
    /// of its own upstream (RFC 29: XSUB sends every message to every publisher, dropping at
    /// a full queue); the XPUB must hand each up, in order, once.
    pub upstream: bool,
    /// PUB/SUB with a proxy: the proxy's XPUB sets ZMQ_XPUB_MANUAL, so it hands up every
    /// subscription change and the proxy applies each to the subscriber that sent it
    /// (ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE right after receiving it); upstream it takes
    /// everything.
    pub xpub_manual: bool,
    /// The linger phase's fresh sockets (see `workload::LingerBurst`) disconnect their
    /// endpoints instead of closing: the session of each still delivers what was queued as
    /// LINGER allows, and writes nothing after it ran out.
    pub linger_disconnect: bool,
    /// The linger phase also has a PUSH whose peer binds only after it closed, with a
    /// finite LINGER long enough for the peer to get what it queued (see
    /// `workload::LatePeer`).
    pub late_peer: bool,
    /// The linger phase also has a PUSH with RECONNECT_IVL −1 or 0 whose connection its peer
    /// ends: it must not dial again, and its queue must go with its session (see
    /// `workload::NoReconnect`).
    pub no_reconnect: bool,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Profile {
    /// The profile seed `seed` draws (from its own stream: the run's other draws do not
    /// shift it).
    pub fn draw(seed: u64) -> Profile {
        let mut r = stream(seed, "profile");
        let pattern = Pattern::ALL[r.random_range(0..Pattern::ALL.len())];
        let hwms = [1, 2, 5, 100, 1000];
        let linger = match r.random_range(0..4) {
            0 => Linger::For(Duration::ZERO),
            1 => Linger::For(ms(r.random_range(1..200))),
            2 => Linger::For(ms(r.random_range(200..2000))),
            _ => Linger::Forever,
        };
        let heartbeat = chance(&mut r, 0.5);
        let hb_ivl = ms(r.random_range(50..400));
        let reconnect = ms(r.random_range(5..200));
        let base = BaseConfig {
            linger,
            reconnect_ivl: Some(reconnect),
            reconnect_ivl_max: if chance(&mut r, 0.5) {
                reconnect * r.random_range(2..10)
            } else {
                Duration::ZERO
            },
            immediate: chance(&mut r, 0.3),
            handshake_ivl: ms(r.random_range(200..3000)),
            heartbeat_ivl: if heartbeat { hb_ivl } else { Duration::ZERO },
            heartbeat_timeout: if heartbeat && chance(&mut r, 0.5) {
                Some(hb_ivl * r.random_range(1..4))
            } else {
                None
            },
            heartbeat_ttl: Duration::ZERO,
            max_msg_size: None,
            // BUGGIFY: now and then every handshake is slow, sometimes slower than
            // HANDSHAKE_IVL (then it times out and is redialed).
            sim_ready_delay: Duration::ZERO,
            // Set by the run when it injects a bug (`Mutation`), never drawn.
            sim_command_fault: CommandFault::None,
            // Drawn last, below.
            sim_mailbox_shuffle: None,
        };
        let sock = SockProfile {
            sndhwm: hwms[r.random_range(0..hwms.len())],
            rcvhwm: hwms[r.random_range(0..hwms.len())],
            base,
            router_mandatory: chance(&mut r, 0.5),
            router_handover: chance(&mut r, 0.5),
            req_relaxed: chance(&mut r, 0.5),
            req_correlate: true,
            explicit_ids: chance(&mut r, 0.5),
        };
        let lat_hi = Duration::from_micros(r.random_range(100..20_000));
        let net = NetConfig {
            latency: (lat_hi / 10, lat_hi),
            jitter: Duration::from_micros(r.random_range(0..2000)),
            bandwidth: (r.random_range(100_000..10_000_000), 1_000_000_000),
            max_split: r.random_range(1..8),
            refuse: 0.0,
            syn_retry: (ms(r.random_range(50..300)), r.random_range(1..4)),
            window: None,
        };
        let on = |r: &mut rand_chacha::ChaCha8Rng| chance(r, 0.5);
        let mut faults = Faults::default();
        if on(&mut r) {
            faults.crashes = r.random_range(1..4);
            faults.down_max = ms(r.random_range(10..1500));
        }
        if on(&mut r) {
            faults.partitions = r.random_range(1..5);
            faults.partition_max = ms(r.random_range(10..2000));
        }
        if on(&mut r) {
            faults.resets = r.random_range(1..10);
        }
        if on(&mut r) {
            faults.refuse = r.random_range(0.05..0.6);
        }
        let mut net = net;
        net.refuse = faults.refuse;
        let peers = r.random_range(1..4);
        let clients = r.random_range(1..4);
        let frames_max = r.random_range(1..4);
        let interval = ms(r.random_range(2..30));
        let fault_phase = ms(r.random_range(500..3000));
        // Draws added later go last, so older seeds keep their profiles.
        let mut slow_readers = chance(&mut r, 0.4);
        let churn = chance(&mut r, 0.4);
        let silent_crashes = heartbeat && chance(&mut r, 0.5);
        // BUGGIFY: now and then every engine holds its READY back (a slow handshake).
        let mut sock = sock;
        if chance(&mut r, 0.2) {
            sock.base.sim_ready_delay = ms(r.random_range(1..150));
        }
        sock.req_correlate = chance(&mut r, 0.5);
        // Half the seeds give each stream direction a finite send buffer, so a reader that
        // falls behind (or a partition) pushes back to the sender's pipes and their HWMs.
        if chance(&mut r, 0.5) {
            net.window = Some([256, 2048, 16 * 1024, 128 * 1024][r.random_range(0..4)]);
        }
        let pad = if chance(&mut r, 0.3) {
            r.random_range(512..8192)
        } else {
            0
        };
        if pad > 0 {
            // A send window passes about a window and one write per one-way trip, whatever
            // the bandwidth. So that the stream does not outrun it for good, it carries four
            // times what the workload may send over one connection in a trip (every sender
            // once per interval, each message at its largest), leaving room to drain what
            // queued in a fault; it stays small enough to push back on a stalled reader.
            // (Seeds 142854, 206787, 249461, 250299, 257734 and 293589 sent 8 KiB messages
            // every 2 to 10 ms through 256- to 16384-byte windows over 11 to 18 ms: the
            // window carried less than was sent, so probes queued past their bounds while
            // bytes still flowed.)
            if let Some(w) = net.window.as_mut() {
                let trip = (net.latency.1 + net.jitter).as_micros() as usize;
                let wire = pad + 160 + (frames_max + 1) * 48;
                let per_trip = (peers + clients) * wire * trip / interval.as_micros() as usize;
                *w = (*w).max(per_trip * 4);
            }
            // What can queue on one connection (the engine's batch, the window, both
            // pipes) drains within 50 ms, so the liveness bounds stay as they are.
            let hwms = sock.sndhwm + sock.rcvhwm + 8;
            let backlog = 256 * 1024 + net.window.unwrap_or(0) + hwms * (pad + 64);
            net.bandwidth.0 = net.bandwidth.0.max(backlog as u64 * 20);
            net.bandwidth.1 = net.bandwidth.1.max(net.bandwidth.0);
        }
        let mut features = Features {
            live_hwm: chance(&mut r, 0.3),
            stalls: chance(&mut r, 0.3),
            probe_router: chance(&mut r, 0.5),
            conflate: chance(&mut r, 0.25),
            proxy: chance(&mut r, 0.4),
            inproc: chance(&mut r, 0.3),
            intruders: false,
            stream: false,
            xpub_nodrop: false,
            flood: false,
            router_clients: false,
            batch_recv: false,
            invert: false,
            upstream: false,
            xpub_manual: false,
            linger_disconnect: false,
            late_peer: false,
            no_reconnect: false,
        };
        // Half the seeds deliver the commands between socket and sessions in drawn orders,
        // now and then with network events in between, as threads would (each socket mixes
        // in its own seed).
        if chance(&mut r, 0.5) {
            sock.base.sim_mailbox_shuffle = Some(r.random());
        }
        features.intruders = chance(&mut r, 0.3);
        features.stream = chance(&mut r, 0.3);
        // From a stream of its own, so that the draws above and below keep their values.
        features.xpub_nodrop = chance(&mut stream(seed, "xpub-nodrop"), 0.5);
        features.router_clients = chance(&mut stream(seed, "router-clients"), 0.5);
        features.batch_recv = chance(&mut stream(seed, "batch-recv"), 0.5);
        features.invert = chance(&mut stream(seed, "invert-matching"), 0.5);
        features.upstream = chance(&mut stream(seed, "upstream"), 0.5);
        features.xpub_manual = chance(&mut stream(seed, "xpub-manual"), 0.5);
        features.linger_disconnect = chance(&mut stream(seed, "linger-disconnect"), 0.5);
        features.late_peer = chance(&mut stream(seed, "late-peer"), 0.5);
        features.no_reconnect = chance(&mut stream(seed, "no-reconnect"), 0.5);
        // Likewise: a third of the pipelines without padding flood (the drain after the
        // faults stays short), with stalls to fill the pipes and bandwidth to drain them.
        let mut fr = stream(seed, "flood");
        if pattern == Pattern::Pipeline && pad == 0 && chance(&mut fr, 0.33) {
            features.flood = true;
            features.stalls = true;
            // HWMs stay large (a live change to 1 would drain the backlog one message per
            // wake-up, far slower than the liveness bounds allow), and receivers keep up.
            features.live_hwm = false;
            slow_readers = false;
            let hwm = [2049, 3000, 5000][fr.random_range(0..3)];
            sock.sndhwm = hwm;
            sock.rcvhwm = hwm;
            net.bandwidth.0 = net.bandwidth.0.max(20_000_000);
            net.bandwidth.1 = net.bandwidth.1.max(net.bandwidth.0);
            // A send window passes about a window per one-way trip: 16 KiB (some 270 small
            // tasks) carries the flood, pushes back on a stalled reader, and drains what the
            // faults queued (both HWMs and a window) well within the settling phase. How
            // finely a full pipe drains is the session's to say (it pulls up to 256 KiB into
            // its engine at once), so a sender meets its pipe between libzmq 4's low-water
            // mark and libzmq 3's (476 messages apart at HWM 3,000) only now and then: 256 KiB
            // windows never did, 16 KiB ones in some ten seeds of 5,000.
            net.window = Some(16 * 1024);
        }
        Profile {
            pattern,
            peers,
            clients,
            frames_max,
            interval,
            sock,
            net,
            faults,
            fault_phase,
            slow_readers,
            churn,
            silent_crashes,
            pad,
            features,
            security: Security::default(),
        }
    }

    /// Draws this seed's security settings (from their own streams: the rest of the
    /// profile stays as it was). Intruders stay away from secured runs: their offences
    /// assume NULL handshakes; impostors take their place.
    pub fn with_security(mut self, seed: u64, forced: Option<crate::security::Mode>) -> Profile {
        self.security = Security::draw(seed, self.sock.base.handshake_ivl, forced);
        if self.security.on() {
            self.features.intruders = false;
            // STREAM speaks raw TCP: no mechanism applies to it.
            self.features.stream = false;
            // A secured handshake takes more round trips (PLAIN and CURVE: two after the
            // greeting) and waits for the handler: HANDSHAKE_IVL must leave room for them,
            // as anyone who sets it for an authenticated service would (else every attempt
            // times out, for ever).
            let need = self.sock.base.sim_ready_delay
                + self.rtt() * 4
                + self.security.zap_delay_max
                + ms(100);
            let ivl = &mut self.sock.base.handshake_ivl;
            *ivl = (*ivl).max(need);
        }
        self
    }

    /// The most bytes one workload message takes on the wire: frame 0's fields and filler,
    /// the other frames, and each frame's header (a REQ's delimiter included).
    pub fn max_msg_wire(&self) -> usize {
        self.pad + 160 + (self.frames_max + 1) * 48
    }

    /// The MAXMSGSIZE every socket sets when intruders come (well above any workload
    /// frame), or none.
    pub fn max_msg_size(&self) -> Option<u64> {
        self.features
            .intruders
            .then(|| self.max_msg_wire() as u64 * 2 + 1024)
    }

    /// Whether every second DEALER/ROUTER client is a ROUTER (see `Features`).
    pub fn router_clients(&self) -> bool {
        self.features.router_clients
            && self.pattern == Pattern::DealerRouter
            && !self.sock.base.immediate
            && !self.conflating()
    }

    /// Whether PUB and SUBs set ZMQ_INVERT_MATCHING (see `Features`).
    pub fn inverted(&self) -> bool {
        self.features.invert
            && self.pattern == Pattern::PubSub
            && !self.features.proxy
            && !self.conflating()
    }

    /// Whether this seed's receivers conflate (only where the workload has conflating
    /// receivers: the pipeline's sink, the SUBs, the DEALERs).
    pub fn conflating(&self) -> bool {
        self.features.conflate
            && matches!(
                self.pattern,
                Pattern::Pipeline | Pattern::PubSub | Pattern::DealerRouter
            )
    }

    /// The longest a connecting session may wait between attempts.
    pub(crate) fn redial_bound(&self) -> Duration {
        let ivl = self.sock.base.reconnect_ivl.unwrap_or_default();
        ivl.max(self.sock.base.reconnect_ivl_max) + ivl
    }

    /// After healing, by when every connection must have re-formed (and subscriptions
    /// re-sent): noticing a dead peer, a dial that was retrying its SYN, then a redial after
    /// the longest backoff, then a handshake, plus a margin.
    pub fn settle_bound(&self) -> Duration {
        let b = &self.sock.base;
        let mut hb = b.heartbeat_timeout.unwrap_or(b.heartbeat_ivl);
        if self.silent_crashes {
            // A peer that died silently is noticed by the heartbeat (a PING, then its
            // timeout), or mid-handshake only by HANDSHAKE_IVL.
            hb = (b.heartbeat_ivl + hb).max(b.handshake_ivl);
        }
        self.net.dial_bound() * 2
            + self.redial_bound() * 2
            + hb
            + self.rtt() * 10
            + b.sim_ready_delay * 2
            + self.security_slack()
            + ms(500)
    }

    /// What security adds to a handshake: the ZAP handler's delay, CURVE's extra round
    /// trip, and where the handler answers 300 during the faults, HANDSHAKE_IVL: as in
    /// libzmq the server then leaves the connection open and silent, and the client redials
    /// only once its handshake timer gives up (nothing without security).
    pub fn security_slack(&self) -> Duration {
        let s = &self.security;
        let curve = if s.mode.curve() {
            self.rtt() * 2
        } else {
            ms(0)
        };
        let temporary = if s.temp_fail > 0.0 {
            self.sock.base.handshake_ivl
        } else {
            ms(0)
        };
        s.zap_delay_max * 2 + curve + temporary
    }

    /// The worst round trip.
    pub fn rtt(&self) -> Duration {
        (self.net.latency.1 + self.net.jitter) * 2
    }

    /// How long a message sent after settling may take to arrive (one hop).
    pub fn probe_bound(&self) -> Duration {
        self.rtt() * 4 + self.interval * 4 + ms(200)
    }

    /// How long a REQ waits for a reply before recovering.
    pub fn request_timeout(&self) -> Duration {
        self.probe_bound() * 3
    }

    /// How long probes are sent for.
    pub fn probe_window(&self) -> Duration {
        self.request_timeout() + ms(300)
    }

    /// How long a fresh connect-side socket may take to connect and hand its queued
    /// messages to a live peer: what LINGER must cover for them to be delivered.
    pub fn linger_delivery_bound(&self) -> Duration {
        self.settle_bound() + self.probe_bound()
    }

    /// How long the linger phase lasts: a burst may wait up to a probe bound for a
    /// connection (IMMEDIATE), then its delivery and the close have their bounds.
    pub fn linger_phase(&self) -> Duration {
        self.linger_delivery_bound() + self.probe_bound() * 3 + self.linger_bound()
    }

    /// How long a close may take beyond its LINGER.
    pub fn close_slack(&self) -> Duration {
        ms(1)
    }

    /// The longest LINGER any socket has.
    pub fn linger_bound(&self) -> Duration {
        match self.sock.base.linger {
            Linger::For(d) => d,
            Linger::Forever => ms(0),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.sock.base;
        let fl = &self.faults;
        write!(
            f,
            "{:?} peers={} clients={} frames<={} every {:?} slow={} churn={} | hwm {}/{} linger {:?} \
             reconnect {:?}..{:?} immediate={} handshake {:?} heartbeat {:?}/{:?} \
             mandatory={} handover={} req_relaxed={} correlate={} ids={} | latency <={:?} jitter {:?} \
             bw>={}B/s split<={} window {:?} | faults {:?}: crashes {} (down<={:?}, silent={}) partitions {} \
             (<={:?}) resets {} refuse {:.2} | ready delay {:?} pad {} mailboxes {} | {}{}",
            self.pattern,
            self.peers,
            self.clients,
            self.frames_max,
            self.interval,
            self.slow_readers,
            self.churn,
            self.sock.sndhwm,
            self.sock.rcvhwm,
            b.linger,
            b.reconnect_ivl.unwrap_or_default(),
            b.reconnect_ivl_max,
            b.immediate,
            b.handshake_ivl,
            b.heartbeat_ivl,
            b.heartbeat_timeout,
            self.sock.router_mandatory,
            self.sock.router_handover,
            self.sock.req_relaxed,
            self.sock.req_relaxed && self.sock.req_correlate,
            self.sock.explicit_ids,
            self.net.latency.1,
            self.net.jitter,
            self.net.bandwidth.0,
            self.net.max_split,
            self.net.window,
            self.fault_phase,
            fl.crashes,
            fl.down_max,
            self.silent_crashes,
            fl.partitions,
            fl.partition_max,
            fl.resets,
            fl.refuse,
            b.sim_ready_delay,
            self.pad,
            if b.sim_mailbox_shuffle.is_some() {
                "shuffled"
            } else {
                "fifo"
            },
            self.active_features(),
            if self.security.on() {
                format!(" | {}", self.security)
            } else {
                String::new()
            },
        )
    }
}

impl Profile {
    /// The features that apply to this seed's pattern.
    pub fn active_features(&self) -> Features {
        let f = &self.features;
        Features {
            live_hwm: f.live_hwm,
            stalls: f.stalls,
            probe_router: f.probe_router && self.pattern == Pattern::DealerRouter,
            conflate: self.conflating(),
            proxy: f.proxy && self.pattern == Pattern::PubSub,
            inproc: f.inproc,
            intruders: f.intruders,
            stream: f.stream,
            xpub_nodrop: f.xpub_nodrop && f.proxy && self.pattern == Pattern::PubSub,
            flood: f.flood && self.pattern == Pattern::Pipeline,
            router_clients: self.router_clients(),
            batch_recv: f.batch_recv,
            invert: self.inverted(),
            upstream: f.upstream && f.proxy && self.pattern == Pattern::PubSub,
            xpub_manual: f.xpub_manual && f.proxy && self.pattern == Pattern::PubSub,
            // PUB/SUB has no linger burst.
            linger_disconnect: f.linger_disconnect && self.pattern != Pattern::PubSub,
            late_peer: f.late_peer && self.pattern != Pattern::PubSub,
            no_reconnect: f.no_reconnect && self.pattern != Pattern::PubSub,
        }
    }
}

impl std::fmt::Display for Features {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = [
            (self.live_hwm, "live-hwm"),
            (self.stalls, "stalls"),
            (self.probe_router, "probe-router"),
            (self.conflate, "conflate"),
            (self.proxy, "proxy"),
            (self.inproc, "inproc"),
            (self.intruders, "intruders"),
            (self.stream, "stream"),
            (self.xpub_nodrop, "xpub-nodrop"),
            (self.flood, "flood"),
            (self.router_clients, "router-clients"),
            (self.batch_recv, "batch-recv"),
            (self.invert, "invert-matching"),
            (self.upstream, "upstream"),
            (self.xpub_manual, "xpub-manual"),
            (self.linger_disconnect, "linger-disconnect"),
            (self.late_peer, "late-peer"),
            (self.no_reconnect, "no-reconnect"),
        ];
        let names: Vec<&str> = on.iter().filter(|x| x.0).map(|x| x.1).collect();
        if names.is_empty() {
            f.write_str("features none")
        } else {
            write!(f, "features {}", names.join(","))
        }
    }
}
