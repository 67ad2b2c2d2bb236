//! `oxmq`: poke at ZeroMQ endpoints from a shell — receive, send, echo, proxy, monitor and
//! bench — on the oxmq-mio front-end, or on oxmq-tokio with `--front-end tokio`.

mod bench;
mod front;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use oxmq_core::codec::MechanismName;
use oxmq_core::mechanism::curve::{generate_keypair, public_key};
use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey, SecretBytes};
use oxmq_core::{Message, SocketOption, SocketType, ZapReply};
use oxmq_mio::os_random;

use crate::front::{Ctx, FrontEnd, Sock};

#[derive(Parser)]
#[command(
    name = "oxmq",
    version,
    about = "Send, receive, echo, proxy and monitor ZeroMQ endpoints"
)]
struct Cli {
    /// The front-end to run on: mio (blocking sockets) or tokio (async sockets)
    #[arg(long, global = true, value_enum, default_value_t = FrontEnd::Mio)]
    front_end: FrontEnd,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Endpoints {
    /// Bind to this endpoint (repeatable), e.g. tcp://*:5555, ipc:///tmp/feed, tcp://127.0.0.1:*
    #[arg(long, value_name = "ENDPOINT")]
    bind: Vec<String>,
    /// Connect to this endpoint (repeatable), e.g. tcp://127.0.0.1:5555
    #[arg(long, value_name = "ENDPOINT")]
    connect: Vec<String>,
    #[command(flatten)]
    opts: SocketOpts,
}

/// Common socket options, in libzmq's units, set before binding and connecting.
#[derive(Args, Default)]
struct SocketOpts {
    /// ZMQ_SNDHWM: messages queued per peer before sends block or drop (0: no limit)
    #[arg(long, value_name = "N")]
    sndhwm: Option<usize>,
    /// ZMQ_RCVHWM: messages queued per peer on receive (0: no limit)
    #[arg(long, value_name = "N")]
    rcvhwm: Option<usize>,
    /// ZMQ_LINGER in ms: how long unsent messages may hold the exit (-1: until sent)
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    linger: Option<i32>,
    /// ZMQ_ROUTING_ID: this socket's identity towards ROUTER peers
    #[arg(long, value_name = "ID")]
    routing_id: Option<String>,
    /// ZMQ_HEARTBEAT_IVL in ms: send PINGs this often (0: off)
    #[arg(long, value_name = "MS")]
    heartbeat_ivl: Option<i32>,
    /// ZMQ_HEARTBEAT_TIMEOUT in ms: drop a peer silent this long
    #[arg(long, value_name = "MS")]
    heartbeat_timeout: Option<i32>,
    /// ZMQ_RECONNECT_IVL in ms (-1: never reconnect)
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    reconnect_ivl: Option<i32>,
    /// ZMQ_RECONNECT_IVL_MAX in ms: back off up to this (0: no backoff)
    #[arg(long, value_name = "MS")]
    reconnect_ivl_max: Option<i32>,
    /// ZMQ_IMMEDIATE: queue only on connections whose handshake is done
    #[arg(long)]
    immediate: bool,
}

impl SocketOpts {
    fn apply(&self, s: &Sock<'_>) -> Result<(), Failure> {
        let mut opts = Vec::new();
        if let Some(n) = self.sndhwm {
            opts.push(SocketOption::SndHwm(n));
        }
        if let Some(n) = self.rcvhwm {
            opts.push(SocketOption::RcvHwm(n));
        }
        if let Some(ms) = self.linger {
            opts.push(SocketOption::Linger(ms));
        }
        if let Some(id) = &self.routing_id {
            opts.push(SocketOption::RoutingId(Bytes::from(id.clone())));
        }
        if let Some(ms) = self.heartbeat_ivl {
            opts.push(SocketOption::HeartbeatIvl(ms));
        }
        if let Some(ms) = self.heartbeat_timeout {
            opts.push(SocketOption::HeartbeatTimeout(ms));
        }
        if let Some(ms) = self.reconnect_ivl {
            opts.push(SocketOption::ReconnectIvl(ms));
        }
        if let Some(ms) = self.reconnect_ivl_max {
            opts.push(SocketOption::ReconnectIvlMax(ms));
        }
        if self.immediate {
            opts.push(SocketOption::Immediate(true));
        }
        for opt in opts {
            let what = format!("cannot set {:?}", opt.name());
            s.set(opt).map_err(|e| fail(what, e))?;
        }
        Ok(())
    }
}

/// Security, as libzmq's options name it. A PLAIN or CURVE server lets in only the clients
/// that --plain-user (PLAIN) or --curve-allow (CURVE) name; a CURVE server without
/// --curve-allow lets in every client that knows its key.
#[derive(Args, Default)]
struct Security {
    /// Be a CURVE server (needs --curve-secretkey)
    #[arg(long)]
    curve_server: bool,
    /// Our long-term CURVE secret key, Z85 (40 characters; the public key is derived)
    // Z85 keys may start with '-'.
    #[arg(long, value_name = "Z85", allow_hyphen_values = true)]
    curve_secretkey: Option<String>,
    /// Be a CURVE client of the server with this public key, Z85 (without --curve-secretkey
    /// a fresh key pair is drawn)
    // Z85 keys may start with '-'.
    #[arg(long, value_name = "Z85", allow_hyphen_values = true)]
    curve_serverkey: Option<String>,
    /// As a CURVE server, let in the client with this public key, Z85 (repeatable)
    // Z85 keys may start with '-'.
    #[arg(long, value_name = "Z85", allow_hyphen_values = true)]
    curve_allow: Vec<String>,
    /// Be a PLAIN server
    #[arg(long)]
    plain_server: bool,
    /// As a PLAIN server: a USER:PASSWORD to let in (repeatable). As a client: the username
    /// and password to log in with
    #[arg(long, value_name = "USER:PASSWORD")]
    plain_user: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Receive messages; print one line per message, frames separated by a tab, printable
    /// frames as text and others as 0x-prefixed hex. SUB subscribes to everything unless
    /// --subscribe is given; REP answers each message with an empty reply.
    Recv {
        /// Socket type (PULL, SUB, XSUB, DEALER, ROUTER, PAIR, REP…), any case
        #[arg(value_parser = socket_type)]
        socket_type: SocketType,
        #[command(flatten)]
        endpoints: Endpoints,
        #[command(flatten)]
        security: Security,
        /// Topic prefix to subscribe to (SUB/XSUB; repeatable)
        #[arg(long, value_name = "TOPIC")]
        subscribe: Vec<String>,
        /// Exit after this many messages
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Send each MESSAGE (frames separated by '|'), or one message per line of standard input
    /// when none is given, waiting for a peer. Exits 0 once every message is handed to a peer.
    /// PUB waits for a first subscriber; REQ prints each reply.
    Send {
        /// Socket type (PUSH, PUB, REQ, DEALER, PAIR…), any case
        #[arg(value_parser = socket_type)]
        socket_type: SocketType,
        #[command(flatten)]
        endpoints: Endpoints,
        #[command(flatten)]
        security: Security,
        /// Send the messages this many times
        #[arg(long, value_name = "N", default_value_t = 1)]
        count: u64,
        /// Messages to send; frames separated by '|'
        messages: Vec<String>,
    },
    /// Send back every message received (REP, ROUTER, DEALER or PAIR).
    Echo {
        /// Socket type, any case
        #[arg(value_parser = socket_type)]
        socket_type: SocketType,
        #[command(flatten)]
        endpoints: Endpoints,
        #[command(flatten)]
        security: Security,
        /// Exit after this many messages
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Forward messages both ways between two sockets (QUEUE: ROUTER/DEALER, FORWARDER:
    /// XSUB/XPUB, STREAMER: PULL/PUSH). Endpoints are bound; prefix one with '>' to connect.
    Proxy {
        /// Frontend socket type
        #[arg(value_parser = socket_type)]
        front_type: SocketType,
        /// Frontend endpoint
        front_endpoint: String,
        /// Backend socket type
        #[arg(value_parser = socket_type)]
        back_type: SocketType,
        /// Backend endpoint
        back_endpoint: String,
    },
    /// Print a socket's monitor events (LISTENING, ACCEPTED, CONNECTED, HANDSHAKE_SUCCEEDED…),
    /// one per line: event, endpoint, value.
    Monitor {
        /// Socket type, any case
        #[arg(value_parser = socket_type)]
        socket_type: SocketType,
        #[command(flatten)]
        endpoints: Endpoints,
        #[command(flatten)]
        security: Security,
        /// Exit after this many events
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Print a new CURVE key pair in Z85, as libzmq's curve_keygen does.
    Keygen,
    /// Measure throughput or latency against another process or host (either side may be
    /// libzmq's local_thr/remote_thr, local_lat/remote_lat)
    Bench {
        #[command(subcommand)]
        which: bench::Bench,
    },
}

fn socket_type(s: &str) -> Result<SocketType, String> {
    s.parse::<SocketType>().map_err(|e| e.to_string())
}

/// A failure, with what was being done.
struct Failure(String);

fn fail(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Failure {
    Failure(format!("{what}: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.front_end, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("oxmq: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(front_end: FrontEnd, command: Command) -> Result<(), Failure> {
    let ctx = Ctx::new(front_end).map_err(|e| fail("cannot start", e))?;
    match command {
        Command::Recv {
            socket_type,
            endpoints,
            security,
            subscribe,
            count,
        } => {
            let s = open(&ctx, socket_type, &endpoints, &security)?;
            if matches!(socket_type, SocketType::Sub | SocketType::XSub) {
                let topics = if subscribe.is_empty() {
                    vec![String::new()]
                } else {
                    subscribe
                };
                for t in topics {
                    if socket_type == SocketType::Sub {
                        s.subscribe(t.as_bytes())
                            .map_err(|e| fail("cannot subscribe", e))?;
                    } else {
                        let mut m = vec![1u8];
                        m.extend_from_slice(t.as_bytes());
                        s.send(m).map_err(|e| fail("cannot subscribe", e))?;
                    }
                }
            }
            let mut out = std::io::stdout().lock();
            let mut n = 0;
            while count.is_none_or(|c| n < c) {
                let m = s.recv().map_err(|e| fail("receive failed", e))?;
                print_message(&mut out, &m)?;
                if socket_type == SocketType::Rep {
                    s.send(Bytes::new()).map_err(|e| fail("reply failed", e))?;
                }
                n += 1;
            }
            Ok(())
        }
        Command::Send {
            socket_type,
            endpoints,
            security,
            count,
            messages,
        } => {
            // A PUB drops everything until someone subscribes: use an XPUB and wait for one.
            let effective = if socket_type == SocketType::Pub {
                SocketType::XPub
            } else {
                socket_type
            };
            let s = open(&ctx, effective, &endpoints, &security)?;
            if effective == SocketType::XPub {
                s.recv()
                    .map_err(|e| fail("waiting for a subscriber failed", e))?;
            }
            let messages: Vec<String> = if messages.is_empty() {
                std::io::stdin()
                    .lock()
                    .lines()
                    .collect::<Result<_, _>>()
                    .map_err(|e| fail("cannot read standard input", e))?
            } else {
                messages
            };
            let mut out = std::io::stdout().lock();
            for _ in 0..count {
                for text in &messages {
                    let frames = text
                        .split('|')
                        .map(|f| Bytes::copy_from_slice(f.as_bytes()));
                    s.send(Message::from_frames(frames))
                        .map_err(|e| fail("send failed", e))?;
                    if socket_type == SocketType::Req {
                        let reply = s.recv().map_err(|e| fail("no reply", e))?;
                        print_message(&mut out, &reply)?;
                    }
                }
            }
            // Closing lingers until every message is with a peer.
            s.close();
            ctx.term();
            Ok(())
        }
        Command::Echo {
            socket_type,
            endpoints,
            security,
            count,
        } => {
            let s = open(&ctx, socket_type, &endpoints, &security)?;
            let mut n = 0;
            while count.is_none_or(|c| n < c) {
                let m = s.recv().map_err(|e| fail("receive failed", e))?;
                s.send(m).map_err(|e| fail("send failed", e))?;
                n += 1;
            }
            s.close();
            ctx.term();
            Ok(())
        }
        Command::Proxy {
            front_type,
            front_endpoint,
            back_type,
            back_endpoint,
        } => {
            let front = open_one(&ctx, front_type, &front_endpoint)?;
            let back = open_one(&ctx, back_type, &back_endpoint)?;
            front::proxy(&front, &back).map_err(|e| fail("proxy stopped", e))
        }
        Command::Bench { which } => bench::run(&ctx, which),
        Command::Keygen => {
            let (public, secret) = generate_keypair(os_random().stream().as_mut());
            println!("public: {}", public.to_z85());
            println!("secret: {}", secret.expose_z85());
            Ok(())
        }
        Command::Monitor {
            socket_type,
            endpoints,
            security,
            count,
        } => {
            let mut s = ctx
                .socket(socket_type)
                .map_err(|e| fail("cannot create socket", e))?;
            secure(&ctx, &s, &security)?;
            s.monitor();
            attach(&s, &endpoints)?;
            let mut out = std::io::stdout().lock();
            let mut n = 0;
            while count.is_none_or(|c| n < c) {
                if let Some(ev) = s.next_event(Duration::from_secs(3600)) {
                    let name = format!("{:?}", ev.kind);
                    writeln!(out, "{}\t{}\t{}", upper_snake(&name), ev.endpoint, ev.value)
                        .and_then(|()| out.flush())
                        .map_err(|e| fail("cannot write", e))?;
                    n += 1;
                }
            }
            Ok(())
        }
    }
}

fn open<'c>(
    ctx: &'c Ctx,
    kind: SocketType,
    endpoints: &Endpoints,
    security: &Security,
) -> Result<Sock<'c>, Failure> {
    let s = ctx
        .socket(kind)
        .map_err(|e| fail("cannot create socket", e))?;
    secure(ctx, &s, security)?;
    attach(&s, endpoints)?;
    Ok(s)
}

/// Applies the security flags to `s`, installing the context's ZAP handler for a server that
/// names whom to let in.
fn secure(ctx: &Ctx, s: &Sock<'_>, sec: &Security) -> Result<(), Failure> {
    let set = |opt: SocketOption| s.set(opt).map_err(|e| fail("cannot set security", e));
    let key = |what: &str, z85: &str| {
        CurvePublicKey::from_z85(z85).map_err(|e| fail(format!("bad {what}"), e))
    };
    let secret = match &sec.curve_secretkey {
        Some(z85) => {
            Some(CurveSecretKey::from_z85(z85).map_err(|e| fail("bad --curve-secretkey", e))?)
        }
        None => None,
    };
    let plain_users: Vec<(String, String)> = sec
        .plain_user
        .iter()
        .map(|u| match u.split_once(':') {
            Some((user, pass)) => Ok((user.to_owned(), pass.to_owned())),
            None => Err(Failure(format!(
                "--plain-user wants USER:PASSWORD, not {u:?}"
            ))),
        })
        .collect::<Result<_, _>>()?;
    if sec.curve_server {
        let Some(secret) = secret else {
            return Err(Failure("--curve-server needs --curve-secretkey".into()));
        };
        set(SocketOption::CurveServer(true))?;
        set(SocketOption::CurvePublickey(public_key(&secret)))?;
        set(SocketOption::CurveSecretkey(secret))?;
        if !sec.curve_allow.is_empty() {
            let allowed: Vec<CurvePublicKey> = sec
                .curve_allow
                .iter()
                .map(|z| key("--curve-allow", z))
                .collect::<Result<_, _>>()?;
            ctx.set_zap_handler(move |req| {
                let ok = req.mechanism == MechanismName::CURVE
                    && allowed.iter().any(|k| req.credentials[0][..] == k.0[..]);
                if ok {
                    ZapReply::accept(
                        CurvePublicKey(req.credentials[0][..].try_into().unwrap_or_default())
                            .to_z85(),
                    )
                } else {
                    ZapReply::deny(400)
                }
            })
            .map_err(|e| fail("cannot install the ZAP handler", e))?;
        }
    } else if let Some(server) = &sec.curve_serverkey {
        let (public, secret) = match secret {
            Some(secret) => (public_key(&secret), secret),
            None => generate_keypair(os_random().stream().as_mut()),
        };
        set(SocketOption::CurveServerkey(key(
            "--curve-serverkey",
            server,
        )?))?;
        set(SocketOption::CurvePublickey(public))?;
        set(SocketOption::CurveSecretkey(secret))?;
    } else if sec.plain_server {
        set(SocketOption::PlainServer(true))?;
        ctx.set_zap_handler(move |req| {
            let ok = req.mechanism == MechanismName::PLAIN
                && plain_users.iter().any(|(u, p)| {
                    matches!(req.credentials.as_slice(),
                        [ru, rp] if ru == u.as_bytes() && rp == p.as_bytes())
                });
            if ok {
                ZapReply::accept(req.credentials[0].clone())
            } else {
                ZapReply::deny(400)
            }
        })
        .map_err(|e| fail("cannot install the ZAP handler", e))?;
    } else if let Some((user, pass)) = plain_users.first() {
        set(SocketOption::PlainUsername(Bytes::from(user.clone())))?;
        set(SocketOption::PlainPassword(SecretBytes::new(
            pass.as_bytes(),
        )))?;
    } else if !sec.curve_allow.is_empty() || sec.curve_secretkey.is_some() {
        return Err(Failure(
            "--curve-secretkey and --curve-allow need --curve-server or --curve-serverkey".into(),
        ));
    }
    Ok(())
}

fn attach(s: &Sock<'_>, endpoints: &Endpoints) -> Result<(), Failure> {
    if endpoints.bind.is_empty() && endpoints.connect.is_empty() {
        return Err(Failure(
            "give at least one --bind or --connect endpoint".into(),
        ));
    }
    endpoints.opts.apply(s)?;
    for ep in &endpoints.bind {
        s.bind(ep)
            .map_err(|e| fail(format!("cannot bind {ep}"), e))?;
    }
    for ep in &endpoints.connect {
        s.connect(ep)
            .map_err(|e| fail(format!("cannot connect to {ep}"), e))?;
    }
    Ok(())
}

/// One proxy side: bound, or connected when the endpoint starts with '>'.
fn open_one<'c>(ctx: &'c Ctx, kind: SocketType, endpoint: &str) -> Result<Sock<'c>, Failure> {
    let s = ctx
        .socket(kind)
        .map_err(|e| fail("cannot create socket", e))?;
    match endpoint.strip_prefix('>') {
        Some(ep) => s
            .connect(ep)
            .map_err(|e| fail(format!("cannot connect to {ep}"), e))?,
        None => {
            let ep = endpoint.strip_prefix('@').unwrap_or(endpoint);
            s.bind(ep)
                .map_err(|e| fail(format!("cannot bind {ep}"), e))?;
        }
    }
    Ok(s)
}

fn print_message(out: &mut impl Write, m: &Message) -> Result<(), Failure> {
    let line: Vec<String> = m.frames().iter().map(|f| render(f)).collect();
    writeln!(out, "{}", line.join("\t"))
        .and_then(|()| out.flush())
        .map_err(|e| fail("cannot write", e))
}

/// A frame as text if it is printable UTF-8, else as 0x-prefixed hex.
fn render(frame: &[u8]) -> String {
    match std::str::from_utf8(frame) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_owned(),
        _ => {
            let mut h = String::from("0x");
            for b in frame {
                h.push_str(&format!("{b:02x}"));
            }
            h
        }
    }
}

/// `HandshakeSucceeded` → `HANDSHAKE_SUCCEEDED`, as libzmq names its events.
fn upper_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
