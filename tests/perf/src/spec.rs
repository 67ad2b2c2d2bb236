//! What is measured: the workloads, their sizes and message counts, and how a cell travels
//! to the child process that runs it.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ipc => "ipc",
            Transport::Inproc => "inproc",
        }
    }

    fn parse(s: &str) -> Option<Transport> {
        [Transport::Tcp, Transport::Ipc, Transport::Inproc]
            .into_iter()
            .find(|t| t.name() == s)
    }
}

/// One measurement's shape. Every workload sends one-frame payloads of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// One PUSH sends `count` messages to one PULL: messages per second at the receiver.
    PushPull { transport: Transport, size: usize },
    /// One DEALER sends `count` messages to one ROUTER.
    DealerRouter { transport: Transport, size: usize },
    /// One PUB sends `count` messages to `subs` SUBs: deliveries per second, summed.
    PubSub { subs: usize, size: usize },
    /// REQ/REP round trips, one at a time: median and p99 round-trip time.
    ReqRep { transport: Transport, size: usize },
    /// `count` ZMTP clients connect to one ROUTER and each sends one message: the time until
    /// the ROUTER has them all, and its memory per connection once they sit idle.
    Accept,
    /// PUSH/PULL over tcp with CURVE (the PULL binds and is the server): messages per second.
    CurvePushPull { size: usize },
}

impl Workload {
    pub fn transport(self) -> Transport {
        match self {
            Workload::PushPull { transport, .. }
            | Workload::DealerRouter { transport, .. }
            | Workload::ReqRep { transport, .. } => transport,
            Workload::PubSub { .. } | Workload::Accept | Workload::CurvePushPull { .. } => {
                Transport::Tcp
            }
        }
    }

    /// Whether the workload runs with CURVE.
    pub fn curve(self) -> bool {
        matches!(self, Workload::CurvePushPull { .. })
    }

    /// The implementation the ratios compare with: libzmq, or for CURVE the libzmq that
    /// has it.
    pub fn baseline(self) -> &'static str {
        if self.curve() {
            "libzmq-sodium"
        } else {
            "libzmq"
        }
    }

    pub fn size(self) -> usize {
        match self {
            Workload::PushPull { size, .. }
            | Workload::DealerRouter { size, .. }
            | Workload::PubSub { size, .. }
            | Workload::ReqRep { size, .. }
            | Workload::CurvePushPull { size } => size,
            Workload::Accept => 0,
        }
    }

    /// Messages (round trips, connections) per cell: about a second for the fast
    /// implementations in a full run, a tenth of that with `--quick`.
    pub fn count(self, quick: bool) -> usize {
        let full = match self {
            Workload::PushPull { size, .. } | Workload::DealerRouter { size, .. } => match size {
                0..=256 => 2_000_000,
                257..=4096 => 400_000,
                4097..=131_072 => 40_000,
                _ => 3_000,
            },
            // Encryption costs: a quarter of the plain stream's count.
            Workload::CurvePushPull { size } => match size {
                0..=256 => 500_000,
                257..=4096 => 100_000,
                _ => 4_000,
            },
            Workload::PubSub { subs, .. } if subs <= 1 => 1_000_000,
            Workload::PubSub { subs, .. } => 3_200_000 / subs,
            Workload::ReqRep { .. } => 20_000,
            Workload::Accept => 10_000,
        };
        if quick {
            (full / 10).max(20)
        } else {
            full
        }
    }

    /// A short name, unique per workload, used in file names and on the command line.
    pub fn key(self) -> String {
        match self {
            Workload::PushPull { transport, size } => {
                format!("pushpull-{}-{}", transport.name(), size)
            }
            Workload::DealerRouter { transport, size } => {
                format!("dealerrouter-{}-{}", transport.name(), size)
            }
            Workload::PubSub { subs, size } => format!("pubsub-{subs}-{size}"),
            Workload::ReqRep { transport, size } => {
                format!("reqrep-{}-{}", transport.name(), size)
            }
            Workload::Accept => "accept".to_string(),
            Workload::CurvePushPull { size } => format!("curve-pushpull-tcp-{size}"),
        }
    }

    pub fn parse(key: &str) -> Option<Workload> {
        let parts: Vec<&str> = key.split('-').collect();
        let num = |s: &str| s.parse::<usize>().ok();
        match parts.as_slice() {
            ["pushpull", t, s] => Some(Workload::PushPull {
                transport: Transport::parse(t)?,
                size: num(s)?,
            }),
            ["dealerrouter", t, s] => Some(Workload::DealerRouter {
                transport: Transport::parse(t)?,
                size: num(s)?,
            }),
            ["pubsub", n, s] => Some(Workload::PubSub {
                subs: num(n)?,
                size: num(s)?,
            }),
            ["reqrep", t, s] => Some(Workload::ReqRep {
                transport: Transport::parse(t)?,
                size: num(s)?,
            }),
            ["accept"] => Some(Workload::Accept),
            ["curve", "pushpull", "tcp", s] => Some(Workload::CurvePushPull { size: num(s)? }),
            _ => None,
        }
    }

    /// What each result of this workload is called, and whether more is better.
    pub fn metrics(self) -> &'static [Metric] {
        match self {
            Workload::PushPull { .. }
            | Workload::DealerRouter { .. }
            | Workload::CurvePushPull { .. } => &[Metric::Rate],
            Workload::PubSub { .. } => &[Metric::Rate, Metric::Lost],
            Workload::ReqRep { .. } => &[Metric::P50, Metric::P99],
            Workload::Accept => &[Metric::AcceptTime, Metric::BytesPerConn],
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Workload::PushPull { transport, size } => {
                write!(f, "PUSH/PULL {} {}", transport.name(), human_size(size))
            }
            Workload::DealerRouter { transport, size } => {
                write!(f, "DEALER/ROUTER {} {}", transport.name(), human_size(size))
            }
            Workload::PubSub { subs, size } => {
                write!(f, "PUB/SUB tcp {} to {subs}", human_size(size))
            }
            Workload::ReqRep { transport, size } => {
                write!(f, "REQ/REP {} {}", transport.name(), human_size(size))
            }
            Workload::Accept => write!(f, "ROUTER accepting tcp connections"),
            Workload::CurvePushPull { size } => {
                write!(f, "PUSH/PULL tcp {} with CURVE", human_size(size))
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Messages per second (deliveries for PUB/SUB).
    Rate,
    /// Median round trip, nanoseconds.
    P50,
    /// 99th-percentile round trip, nanoseconds.
    P99,
    /// Seconds to accept every connection and take its first message.
    AcceptTime,
    /// Resident bytes per idle connection.
    BytesPerConn,
    /// Share of PUB/SUB deliveries that never arrived, in percent.
    Lost,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::Rate,
        Metric::P50,
        Metric::P99,
        Metric::AcceptTime,
        Metric::BytesPerConn,
        Metric::Lost,
    ];

    /// The metric a result key names.
    pub fn from_key(key: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.key() == key)
    }

    pub fn key(self) -> &'static str {
        match self {
            Metric::Rate => "rate",
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::AcceptTime => "accept_secs",
            Metric::BytesPerConn => "bytes_per_conn",
            Metric::Lost => "lost_pct",
        }
    }

    /// What the number is, for headings.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Rate => "throughput",
            Metric::P50 => "median round trip",
            Metric::P99 => "p99 round trip",
            Metric::AcceptTime => "time to accept all",
            Metric::BytesPerConn => "memory per idle connection",
            Metric::Lost => "deliveries lost",
        }
    }

    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Rate)
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::Rate => "msg/s",
            Metric::P50 | Metric::P99 => "µs",
            Metric::AcceptTime => "s",
            Metric::BytesPerConn => "B/conn",
            Metric::Lost => "%",
        }
    }

    /// The value as the table shows it, in the unit above.
    pub fn show(self, v: f64) -> String {
        match self {
            Metric::Rate => human_rate(v),
            Metric::P50 | Metric::P99 => format!("{:.1}", v / 1e3),
            Metric::AcceptTime => format!("{v:.3}"),
            Metric::BytesPerConn => format!("{:.0}", v),
            Metric::Lost => format!("{v:.1}"),
        }
    }
}

pub fn human_size(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

pub fn human_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Every workload of a run, in the order the report shows them.
pub fn plan() -> Vec<Workload> {
    let mut plan = Vec::new();
    for transport in [Transport::Tcp, Transport::Ipc, Transport::Inproc] {
        for size in [16, 64, 1024, 64 * 1024, 1 << 20] {
            plan.push(Workload::PushPull { transport, size });
        }
    }
    plan.push(Workload::DealerRouter {
        transport: Transport::Tcp,
        size: 64,
    });
    plan.push(Workload::PubSub { subs: 1, size: 64 });
    plan.push(Workload::PubSub { subs: 32, size: 64 });
    plan.push(Workload::ReqRep {
        transport: Transport::Tcp,
        size: 64,
    });
    plan.push(Workload::ReqRep {
        transport: Transport::Inproc,
        size: 64,
    });
    plan.push(Workload::Accept);
    for size in [64, 64 * 1024] {
        plan.push(Workload::CurvePushPull { size });
    }
    plan
}

/// The CURVE key pairs the secure workloads use (Z85, made once with `oxmq keygen`): the
/// server's, then the client's, each (public, secret).
pub const CURVE_SERVER: (&str, &str) = (
    "U-m$&u#wf=?ohM=?T^#7Gcez8Amy)PIKPVG5mGG1",
    "+G!&aId:flmQ.Amsq%=?H[lE39[gpkH5IG1c4VRo",
);
pub const CURVE_CLIENT: (&str, &str) = (
    ":)%U4tM&mH>s[JnW?Y>QHlZFNXj*GmWEX*o.{CtN",
    "Cfj/T}H9g#va^Je.Z@<o==lEx6D8#kYlLdnIjihe",
);

/// The socket roles the workloads use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Push,
    Pull,
    Dealer,
    Router,
    Pub,
    Sub,
    Req,
    Rep,
}

/// A fresh endpoint for one cell: a free loopback port, an ipc path in the temp dir, or an
/// inproc name.
pub fn endpoint(transport: Transport, tag: &str) -> String {
    match transport {
        Transport::Tcp => {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("pick a free port");
            let port = l.local_addr().expect("local addr").port();
            format!("tcp://127.0.0.1:{port}")
        }
        Transport::Ipc => {
            let path =
                std::env::temp_dir().join(format!("oxmq-perf-{}-{tag}.sock", std::process::id()));
            let _ = std::fs::remove_file(&path);
            format!("ipc://{}", path.display())
        }
        Transport::Inproc => format!("inproc://oxmq-perf-{tag}"),
    }
}

/// A payload of `size` bytes whose first byte is `tag` (the workloads mark warm-up, data and
/// end messages this way).
pub fn payload(size: usize, tag: u8) -> Vec<u8> {
    let mut p: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    if let Some(b) = p.first_mut() {
        *b = tag;
    }
    p
}

/// The environment variable through which `--io-threads` reaches each cell's process.
pub const IO_THREADS_ENV: &str = "OXMQ_PERF_IO_THREADS";

/// The I/O threads a libzmq-shaped context gets in this cell (`--io-threads`; `None` leaves
/// each implementation at its default, which is 1 for oxmq-mio and libzmq).
pub fn io_threads() -> Option<usize> {
    std::env::var(IO_THREADS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
}

/// The cells' environment variable that sets oxmq-mio's `ContextOption::Spin`, in µs (its
/// default, 50 µs, when unset): `OXMQ_PERF_SPIN_US=0 oxmq-perf --cell oxmq ...` measures it
/// sleeping at once, as libzmq does.
pub const SPIN_ENV: &str = "OXMQ_PERF_SPIN_US";

/// [`SPIN_ENV`]'s value.
pub fn spin() -> Option<std::time::Duration> {
    std::env::var(SPIN_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_micros)
}

pub const WARMUP: u8 = 0;
pub const DATA: u8 = 1;
pub const END: u8 = 2;
