//! What ZeroMQ promises, checked as the run goes: safety on every receive, liveness against
//! deadlines once the network has healed.
//!
//! - [`fairness`]: load-balancing and fair-queueing are round-robin among live peers.
//! - [`api`]: the errors a send promises (block, never drop; drop, never block; unroutable).
//! - Here: nothing twice, order per pipe, REQ takes replies only from the peer of its last
//!   request, and LINGER delivers the messages it protects.

pub mod api;
pub mod fairness;
pub mod stream;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use oxmq_core::{Instant, PipeId, SocketType};

use crate::msg::Payload;

/// A span of time from its start until its end, if it ended.
type Span = (Instant, Option<Instant>);

/// How a run failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureKind {
    /// A panic: an invariant of the core (or of the simulator) broke.
    Crash,
    /// Something ZeroMQ promises never happens did happen.
    Safety,
    /// Something that must happen after healing did not happen in time.
    Liveness,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailureKind::Crash => "crash",
            FailureKind::Safety => "safety",
            FailureKind::Liveness => "liveness",
        })
    }
}

/// A failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Which kind.
    pub kind: FailureKind,
    /// When (virtual time).
    pub at: Instant,
    /// What was seen.
    pub what: String,
}

/// Who must receive a message for it to count as delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Exactly one receiver in the group (PUSH, DEALER, REQ load-balance).
    One,
    /// Each receiver on its own (PUB distributes).
    Each,
}

/// How often the oracles that need particular conditions met them in a run: the sweep adds
/// these up, so an oracle that never gets to judge anything shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Sends whose result was checked against the API's promised errors.
    pub sends: u64,
    /// Sends that found every pipe full (block, never drop) and did not succeed.
    pub blocked_at_hwm: u64,
    /// Of those, sends at an SNDHWM above 2,048 (the flooding pipelines), where the
    /// low-water mark is libzmq 4's half the HWM and not libzmq 3's HWM less 1,024.
    pub blocked_at_large_hwm: u64,
    /// Load-balanced sends within an epoch of two or more pipes.
    pub balanced: u64,
    /// Receives while two or more pipes had a message waiting.
    pub contended: u64,
    /// Replies a REQ handed up, checked against the pipe of its last request.
    pub req_replies: u64,
    /// Of those, late replies to an earlier request taken as the answer to the last one
    /// (REQ_RELAXED without REQ_CORRELATE), checked against the host that request reached.
    pub stand_ins: u64,
    /// Sends to an unknown routing id.
    pub unroutable: u64,
    /// Messages LINGER protected that arrived after their socket closed.
    pub lingered: u64,
    /// Messages LINGER no longer owed because their peer's pattern refused the connection.
    pub linger_refused: u64,
    /// Of the messages LINGER protected, those queued by a socket that then disconnected
    /// its endpoints rather than closing (`linger-disconnect`).
    pub linger_disconnected: u64,
    /// Connections a disconnect ended with a finite LINGER, watched for writes after it.
    pub disconnect_lingers: u64,
    /// Inproc connects still waiting for a bind that a context's termination ended.
    pub term_ended_connects: u64,
    /// Obligations excused because the API allowed what they awaited to be dropped (PUB
    /// and ROUTER at a full pipe, a refused connection).
    pub excused: u64,
    /// Replies a ROUTER_MANDATORY server was refused with would-block, held and sent again.
    pub held_replies: u64,
    /// Connections of protocol-breaking peers their victim dropped, checked for the event.
    pub intruders_dropped: u64,
    /// ROUTER_HANDOVERs to a twin DEALER, each owing the displaced connection's close.
    pub handovers: u64,
    /// Messages a connect session kept queued across a reconnection and sent on a later
    /// connection.
    pub requeued: u64,
    /// Sessions of open sockets counted against their connects and live connections.
    pub sessions_counted: u64,
    /// PROBE_ROUTER probes a ROUTER handed up.
    pub probes: u64,
    /// HWM changes on live sockets.
    pub hwm_changes: u64,
    /// Messages received through an inproc pipe.
    pub inproc: u64,
    /// Messages a conflating socket handed up.
    pub conflated: u64,
    /// Messages an XSUB/XPUB proxy forwarded.
    pub proxied: u64,
    /// Segments a socket read while its application received nothing, checked against
    /// what its RCVHWM lets in.
    pub stalled_reads: u64,
    /// ZAP requests the simulated handler answered.
    pub zap_requests: u64,
    /// Of those, refusals (300, 400, 500) delivered.
    pub zap_refusals: u64,
    /// Handshake failures servers reported, each matched to a refusal or an impostor.
    pub refusals_reported: u64,
    /// Impostors that connected (wrong passwords, unknown or denied keys).
    pub impostors: u64,
    /// Messages from ZAP-authenticated peers whose User-Id and properties were checked.
    pub user_ids: u64,
    /// Bytes written on CURVE connections, scanned for messages in clear.
    pub curve_bytes: u64,
    /// Message heads seen in clear on NULL and PLAIN connections (the scan works).
    pub clear_heads: u64,
    /// Clients a PLAIN server without a ZAP handler refused (HANDSHAKE_FAILED_NO_DETAIL).
    pub no_handler_refusals: u64,
    /// Sends and receives checked against what ZMQ_EVENTS said just before.
    pub readiness: u64,
    /// Options read back after they were set.
    pub options_read_back: u64,
    /// Sends checked against what their first frame was answered.
    pub first_frames: u64,
    /// REQ/REP sends out of turn, checked to be refused (EFSM).
    pub out_of_turn: u64,
    /// Bytes STREAM sockets read, each checked against what the peer wrote at its offset.
    pub stream_bytes: u64,
    /// STREAM connect and disconnect notices, checked for their order.
    pub stream_notices: u64,
    /// Connections a STREAM socket closed with an empty body, whose peer saw them end.
    pub stream_closes: u64,
    /// STREAM sends to a routing id never had or gone, refused with host-unreachable.
    pub stream_unreachable: u64,
    /// Sends on SUB and PULL (ENOTSUP) and options out of range or of another socket type
    /// (EINVAL), checked to be refused.
    pub refused: u64,
    /// Messages a proxy's XPUB_NODROP refused at a full pipe (EAGAIN), held and sent again.
    pub nodrop_held: u64,
    /// Replies a ROUTER client got under the CONNECT_ROUTING_ID of the connection its
    /// request went out on.
    pub named_replies: u64,
    /// Monitor events a socket owed for its listeners and accepted connections, and reported.
    pub endpoint_events: u64,
    /// Messages receives took ahead (`batch-recv`), and of those, dropped at a disconnect
    /// and kept through one (from pipes it did not let go of, live or already ended).
    pub taken_ahead: u64,
    pub dropped_ahead: u64,
    pub kept_ahead: u64,
    /// Dials offered to a listener that had closed (and refused).
    pub closed_listener_dials: u64,
    /// Binds that failed (address in use), each checked to leave no listener behind.
    pub binds_failed: u64,
    /// inproc links checked at the quiet phase against the simulator's own record (the
    /// socket's connections and pipes), and of them connects still waiting for a binder,
    /// whose queue the socket must show.
    pub inproc_links_checked: u64,
    pub inproc_held_checked: u64,
    /// Third PAIRs that tried to join a paired PAIR over inproc, each refused.
    pub thirds_refused: u64,
    /// Closed sockets whose monitor reported MONITOR_STOPPED once, last.
    pub monitors_stopped: u64,
    /// Messages queued for a peer that bound only after its sender closed, owed by LINGER.
    pub late_peers: u64,
    /// Connects with RECONNECT_IVL −1 or 0 checked, a probe bound after losing their connection,
    /// to have dialed once and to hold no queue.
    pub no_reconnects: u64,
    /// Sessions a socket still held when its half finished closing, each checked to have
    /// been told to end.
    pub sessions_ending_at_close: u64,
    /// Monitor events checked not to name an inproc endpoint.
    pub events_checked: u64,
    /// Listener closes that failed at the operating system (CLOSE_FAILED owed).
    pub close_failures: u64,
    /// Read reports over inproc checked to come once per low-water mark.
    pub read_reports: u64,
    /// Receives that failed with EAGAIN, each followed by a look that must not say POLLIN.
    pub eagain_looks: u64,
    /// Looks after EAGAIN not judged: the receive's pump left mail in flight.
    pub eagain_in_flight: u64,
    /// Messages a subscriber got under ZMQ_INVERT_MATCHING (a topic none of its
    /// subscriptions match).
    pub inverted: u64,
    /// Messages a proxy's XSUB sent upstream that its publisher (an XPUB) handed up.
    pub upstream: u64,
    /// Subscription changes a proxy's XPUB_MANUAL socket handed up and the proxy granted.
    pub manual_grants: u64,
    /// Subscription changes made while a SUB held messages taken ahead, each kept or
    /// dropped message checked against the subscriber's prefixes.
    pub refiltered: u64,
}

impl std::ops::AddAssign for Coverage {
    fn add_assign(&mut self, o: Coverage) {
        self.sends += o.sends;
        self.blocked_at_hwm += o.blocked_at_hwm;
        self.blocked_at_large_hwm += o.blocked_at_large_hwm;
        self.balanced += o.balanced;
        self.contended += o.contended;
        self.req_replies += o.req_replies;
        self.stand_ins += o.stand_ins;
        self.unroutable += o.unroutable;
        self.lingered += o.lingered;
        self.linger_refused += o.linger_refused;
        self.linger_disconnected += o.linger_disconnected;
        self.disconnect_lingers += o.disconnect_lingers;
        self.term_ended_connects += o.term_ended_connects;
        self.excused += o.excused;
        self.held_replies += o.held_replies;
        self.intruders_dropped += o.intruders_dropped;
        self.handovers += o.handovers;
        self.requeued += o.requeued;
        self.sessions_counted += o.sessions_counted;
        self.probes += o.probes;
        self.hwm_changes += o.hwm_changes;
        self.inproc += o.inproc;
        self.conflated += o.conflated;
        self.proxied += o.proxied;
        self.stalled_reads += o.stalled_reads;
        self.zap_requests += o.zap_requests;
        self.zap_refusals += o.zap_refusals;
        self.refusals_reported += o.refusals_reported;
        self.impostors += o.impostors;
        self.user_ids += o.user_ids;
        self.curve_bytes += o.curve_bytes;
        self.clear_heads += o.clear_heads;
        self.no_handler_refusals += o.no_handler_refusals;
        self.readiness += o.readiness;
        self.options_read_back += o.options_read_back;
        self.first_frames += o.first_frames;
        self.out_of_turn += o.out_of_turn;
        self.stream_bytes += o.stream_bytes;
        self.stream_notices += o.stream_notices;
        self.stream_closes += o.stream_closes;
        self.stream_unreachable += o.stream_unreachable;
        self.refused += o.refused;
        self.nodrop_held += o.nodrop_held;
        self.named_replies += o.named_replies;
        self.endpoint_events += o.endpoint_events;
        self.taken_ahead += o.taken_ahead;
        self.dropped_ahead += o.dropped_ahead;
        self.kept_ahead += o.kept_ahead;
        self.closed_listener_dials += o.closed_listener_dials;
        self.binds_failed += o.binds_failed;
        self.inproc_links_checked += o.inproc_links_checked;
        self.inproc_held_checked += o.inproc_held_checked;
        self.thirds_refused += o.thirds_refused;
        self.monitors_stopped += o.monitors_stopped;
        self.late_peers += o.late_peers;
        self.no_reconnects += o.no_reconnects;
        self.sessions_ending_at_close += o.sessions_ending_at_close;
        self.events_checked += o.events_checked;
        self.close_failures += o.close_failures;
        self.read_reports += o.read_reports;
        self.eagain_looks += o.eagain_looks;
        self.eagain_in_flight += o.eagain_in_flight;
        self.inverted += o.inverted;
        self.upstream += o.upstream;
        self.manual_grants += o.manual_grants;
        self.refiltered += o.refiltered;
    }
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sends checked ({} blocked at HWM, {} of them above 2048, {} load-balanced over 2+ pipes, {} to an \
             unknown routing id), {} receives with 2+ pipes waiting, {} REQ replies ({} late \
             stand-ins), {} messages delivered by LINGER ({} excused: refused by the peer; {} protected after a disconnect rather than a close), {} connections watched after their disconnect's LINGER, {} messages owed to a peer that bound after the close, {} connects without reconnection checked after their loss, {} inproc connects ended by a context's termination, {} obligations excused in all, {} replies held at would-block, {} intruders dropped, {} handovers, {} messages requeued across reconnections, {} sessions accounted for, {} PROBE_ROUTER probes, {} live HWM \
             changes, {} receives over inproc, {} from conflating sockets, {} proxied, {} segments \
             read by stalled receivers; security: {} ZAP requests ({} refusals, {} reported), {} impostors, {} User-Ids checked, {} CURVE bytes scanned ({} message heads seen in clear elsewhere), {} refusals by PLAIN servers without a handler; {} sends and receives checked against ZMQ_EVENTS, {} options read back, {} sends checked against their first frame, {} REQ/REP sends out of turn refused; STREAM: {} bytes verified, {} notices, {} closes by an empty body seen by the peer, {} sends to unknown routing ids refused; {} sends and options refused as the socket type promises, {} held at XPUB_NODROP; {} replies under a CONNECT_ROUTING_ID, {} endpoint monitor events owed and reported; {} messages taken ahead, {} of them dropped at a disconnect and {} kept through one; {} dials offered to a closed listener, {} binds failed; {} inproc links checked ({} connects waiting for a binder), {} third PAIRs refused; {} monitors stopped at close ({} sessions still ending then, each told to), {} events none about inproc, {} listener closes failed; {} read reports over inproc one per low-water mark; {} looks after EAGAIN ({} not judged: mail in flight); {} messages under INVERT_MATCHING; {} sent upstream by an XSUB; {} granted by an XPUB_MANUAL proxy; {} subscription changes over messages taken ahead",
            self.sends,
            self.blocked_at_hwm,
            self.blocked_at_large_hwm,
            self.balanced,
            self.unroutable,
            self.contended,
            self.req_replies,
            self.stand_ins,
            self.lingered,
            self.linger_refused,
            self.linger_disconnected,
            self.disconnect_lingers,
            self.late_peers,
            self.no_reconnects,
            self.term_ended_connects,
            self.excused,
            self.held_replies,
            self.intruders_dropped,
            self.handovers,
            self.requeued,
            self.sessions_counted,
            self.probes,
            self.hwm_changes,
            self.inproc,
            self.conflated,
            self.proxied,
            self.stalled_reads,
            self.zap_requests,
            self.zap_refusals,
            self.refusals_reported,
            self.impostors,
            self.user_ids,
            self.curve_bytes,
            self.clear_heads,
            self.no_handler_refusals,
            self.readiness,
            self.options_read_back,
            self.first_frames,
            self.out_of_turn,
            self.stream_bytes,
            self.stream_notices,
            self.stream_closes,
            self.stream_unreachable,
            self.refused,
            self.nodrop_held,
            self.named_replies,
            self.endpoint_events,
            self.taken_ahead,
            self.dropped_ahead,
            self.kept_ahead,
            self.closed_listener_dials,
            self.binds_failed,
            self.inproc_links_checked,
            self.inproc_held_checked,
            self.thirds_refused,
            self.monitors_stopped,
            self.sessions_ending_at_close,
            self.events_checked,
            self.close_failures,
            self.read_reports,
            self.eagain_looks,
            self.eagain_in_flight,
            self.inverted,
            self.upstream,
            self.manual_grants,
            self.refiltered
        )
    }
}

/// What the oracle knows of a socket.
#[derive(Clone, Copy, Debug)]
pub struct SockInfo {
    /// The host it runs on.
    pub host: usize,
    /// Its type.
    pub kind: SocketType,
    /// ZMQ_ROUTER_MANDATORY.
    pub mandatory: bool,
}

/// The checks and their state.
#[derive(Debug, Default)]
pub struct Oracle {
    failure: Option<Failure>,
    /// (receiver or 0 for a global scope, sender, seq) seen.
    seen: BTreeSet<(u64, u64, u64)>,
    /// (receiver, pipe, sender, proxy pipe) → last seq: order is per pipe, end to end
    /// (through a proxy, per pair of pipes: the proxy fair-queues between the pipes its
    /// XSUB had to a publisher, an old one that drains and a new one).
    last: BTreeMap<(u64, u64, u64, u64), u64>,
    /// Liveness obligations: name → deadline.
    due: BTreeMap<String, Instant>,
    /// Live SUB sockets and their subscriptions, for the PUB/SUB liveness check.
    pub subscribers: BTreeMap<u64, Vec<String>>,
    /// The subscribers set ZMQ_INVERT_MATCHING: each wants what none of its prefixes match.
    pub inverted: bool,
    /// How many receives were checked.
    pub checked: u64,
    /// How many obligations were met.
    pub met: u64,
    /// How often each of the newer oracles had something to judge.
    pub coverage: Coverage,
    /// Every socket opened.
    socks: BTreeMap<u64, SockInfo>,
    /// The host each message was received on: (sender, seq) → host.
    delivered: BTreeMap<(u64, u64), usize>,
    /// Replies a REQ accepted from a host while a request was its last, to check against
    /// the host that request reaches: request → (host, what was seen).
    peer_checks: BTreeMap<(u64, u64), (usize, String)>,
    /// Messages LINGER must deliver: (sender, seq) → the obligation's name.
    protected: BTreeMap<(u64, u64), String>,
    /// The pipe each REQ's last request went to.
    req_pipe: BTreeMap<u64, PipeId>,
    /// Load-balancing epochs.
    pub lb: fairness::LoadBalance,
    /// Fair-queueing epochs.
    pub fq: fairness::FairQueue,
    /// What each ROUTER pipe has handed up so far: (probes, other messages).
    router_pipes: BTreeMap<(u64, PipeId), (u32, u64)>,
    /// Conflating receivers: (receiver, sender) → the newest message it must end with, the
    /// obligation's name, and whether it must be the last one read.
    newest: BTreeMap<(String, u64), (u64, String, bool)>,
    /// What each conflating receiver last read from each sender.
    newest_read: BTreeMap<(String, u64), u64>,
    /// When each message a proxy may forward was published.
    published: BTreeMap<(u64, u64), Instant>,
    /// The proxy pipe each forwarded message came through (proxy XSUB socket and pipe).
    via: BTreeMap<(u64, u64), u64>,
    /// Per proxy XSUB and prefix: how many subscriptions the proxy sent upstream less the
    /// cancels, and the spans of time during which that was more than none.
    upstream: BTreeMap<(u64, Vec<u8>), (u32, Vec<Span>)>,
    /// Per proxy XPUB and topic: whether the last change it handed up was a subscribe.
    xpub_topics: BTreeMap<(u64, Vec<u8>), bool>,
    /// From when a subscription change reaches the publisher within a hop (the network
    /// healed and connections re-formed), and that hop's bound.
    pub settled: Option<(Instant, std::time::Duration)>,
    /// STREAM byte streams: what each must carry by when, and which have ended.
    streams: stream::Ledger,
}

impl Oracle {
    /// The first failure, if any.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Records a failure (only the first one counts).
    pub fn fail(&mut self, kind: FailureKind, at: Instant, what: impl Into<String>) {
        if self.failure.is_none() {
            self.failure = Some(Failure {
                kind,
                at,
                what: what.into(),
            });
        }
    }

    /// Socket `s` was opened.
    pub fn opened(&mut self, s: u64, info: SockInfo) {
        self.socks.insert(s, info);
    }

    /// What is known of socket `s`.
    pub fn sock(&self, s: u64) -> Option<SockInfo> {
        self.socks.get(&s).copied()
    }

    /// Decodes a received message's frames, failing on a split or mixed multipart.
    pub fn decode(
        &mut self,
        at: Instant,
        who: &str,
        frames: &[oxmq_core::Frame],
    ) -> Option<Payload> {
        match Payload::decode(frames) {
            Ok(p) => Some(p),
            Err(e) => {
                self.fail(FailureKind::Safety, at, format!("{who}: {e}"));
                None
            }
        }
    }

    /// Checks one received message: never twice (within `scope`), and in order per pipe.
    pub fn received(
        &mut self,
        at: Instant,
        receiver: u64,
        pipe: Option<PipeId>,
        p: &Payload,
        scope: Scope,
    ) {
        self.checked += 1;
        let owner = match scope {
            Scope::One => 0,
            Scope::Each => receiver,
        };
        if let Some(host) = self.socks.get(&receiver).map(|i| i.host) {
            self.delivered.insert(p.id(), host);
            if let Some((replier, what)) = self.peer_checks.remove(&p.id()) {
                if replier != host {
                    self.fail(
                        FailureKind::Safety,
                        at,
                        format!(
                            "{what}; but that request went to h{host}: a REQ accepted a reply \
                             from a peer other than the one it last asked"
                        ),
                    );
                }
            }
        }
        if let Some(name) = self.protected.remove(&p.id()) {
            self.coverage.lingered += 1;
            self.fulfil(&name, at);
        }
        if !self.seen.insert((owner, p.sender, p.seq)) {
            self.fail(
                FailureKind::Safety,
                at,
                format!(
                    "duplicate: socket {receiver} got message {}:{} again",
                    p.sender, p.seq
                ),
            );
        }
        let Some(pipe) = pipe else {
            self.fail(
                FailureKind::Safety,
                at,
                format!("socket {receiver} received a message from no pipe"),
            );
            return;
        };
        let via = self.via.get(&p.id()).copied().unwrap_or(0);
        if let Some(prev) = self.last.insert((receiver, pipe.0, p.sender, via), p.seq) {
            if prev >= p.seq {
                self.fail(
                    FailureKind::Safety,
                    at,
                    format!(
                        "out of order on pipe {}: socket {receiver} got {}:{} after {}:{prev}",
                        pipe.0, p.sender, p.seq, p.sender
                    ),
                );
            }
        }
    }

    /// A REQ accepted a reply that host `replier` sent, while `request` was the last it sent:
    /// `request` must have gone (or go) to that same host. `what` describes the reply.
    pub fn reply_from_peer_of(
        &mut self,
        at: Instant,
        request: (u64, u64),
        replier: usize,
        what: String,
    ) {
        self.coverage.stand_ins += 1;
        match self.delivered.get(&request) {
            Some(&host) if host != replier => self.fail(
                FailureKind::Safety,
                at,
                format!(
                    "{what}; but that request went to h{host}: a REQ accepted a reply from a \
                     peer other than the one it last asked"
                ),
            ),
            Some(_) => {}
            None => {
                self.peer_checks.insert(request, (replier, what));
            }
        }
    }

    /// REQ `s` sent a request on `pipe`: from now on it may accept replies from there only.
    pub fn req_sent(&mut self, s: u64, pipe: PipeId) {
        self.req_pipe.insert(s, pipe);
    }

    /// REQ `s` handed up a reply that came from `pipe`.
    pub fn req_replied(&mut self, at: Instant, s: u64, pipe: Option<PipeId>) {
        self.coverage.req_replies += 1;
        let asked = self.req_pipe.get(&s).copied();
        if pipe.is_none() || pipe != asked {
            let what = format!(
                "REQ s{s} handed up a reply from pipe {:?}, but its last request went to pipe \
                 {:?} (RFC 28: a REQ accepts replies only from the peer it last asked)",
                pipe.map(|p| p.0),
                asked.map(|p| p.0)
            );
            self.fail(FailureKind::Safety, at, what);
        }
    }

    /// ROUTER `s` handed up a PROBE_ROUTER probe (an empty message) from `pipe`. libzmq's
    /// DEALER writes it into each pipe as the pipe attaches, ahead of anything else, so a
    /// ROUTER pipe (one connection) carries at most one, and only as its first message.
    pub fn router_probe(&mut self, at: Instant, s: u64, pipe: Option<PipeId>) {
        self.coverage.probes += 1;
        let Some(pipe) = pipe else {
            self.fail(
                FailureKind::Safety,
                at,
                format!("ROUTER s{s} handed up a probe from no pipe"),
            );
            return;
        };
        let seen = self.router_pipes.entry((s, pipe)).or_insert((0, 0));
        let before = *seen;
        seen.0 += 1;
        if before != (0, 0) {
            let what = format!(
                "ROUTER s{s} got a PROBE_ROUTER probe on pipe {} after {} probes and {} other \
                 messages there: a connection carries one probe, first",
                pipe.0, before.0, before.1
            );
            self.fail(FailureKind::Safety, at, what);
        }
    }

    /// ROUTER `s` handed up a message other than a probe from `pipe`. With `probe_first`
    /// (a PROBE_ROUTER peer with IMMEDIATE, whose pipe attaches, probe first, for each
    /// connection), the pipe's probe must have come before it. Without IMMEDIATE, libzmq
    /// keeps a DEALER's pipe across reconnections and wrote its one probe when it attached,
    /// so a later connection carries none.
    pub fn router_message(&mut self, at: Instant, s: u64, pipe: Option<PipeId>, probe_first: bool) {
        let Some(pipe) = pipe else {
            return;
        };
        let seen = self.router_pipes.entry((s, pipe)).or_insert((0, 0));
        seen.1 += 1;
        if probe_first && seen.0 == 0 {
            let what = format!(
                "ROUTER s{s} got a message on pipe {} from a PROBE_ROUTER peer with IMMEDIATE \
                 before that connection's probe",
                pipe.0
            );
            self.fail(FailureKind::Safety, at, what);
        }
    }

    /// A conflating receiver (named `receiver`) keeps only the newest message of each pipe,
    /// so of what `sender` sent it, message `seq` (the newest so far) must reach it by
    /// `deadline`; an earlier one's obligation lapses. With `last`, nothing from `sender`
    /// may be read after it (one pipe from `sender`: older messages come before it).
    pub fn expect_newest(
        &mut self,
        receiver: &str,
        sender: u64,
        seq: u64,
        deadline: Instant,
        last: bool,
    ) {
        let name = format!("conflating {receiver} reads {sender}:{seq}, the newest");
        let key = (receiver.to_owned(), sender);
        if let Some((_, old, _)) = self.newest.insert(key, (seq, name.clone(), last)) {
            self.due.remove(&old);
        }
        self.expect(name, deadline);
    }

    /// `sender`'s message `seq` was dropped at a HWM on its way to conflating `receiver`
    /// (`None`: to every conflating receiver behind the proxy that dropped it): if it is the
    /// newest owed, it is owed no more, and the receiver may end with an older one.
    pub fn newest_dropped(&mut self, receiver: Option<&str>, sender: u64, seq: u64, at: Instant) {
        let hit: Vec<(String, u64)> = self
            .newest
            .iter()
            .filter(|((r, s), (want, _, _))| {
                *s == sender && *want == seq && receiver.is_none_or(|x| x == r)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in hit {
            if let Some((_, name, last)) = self.newest.get_mut(&key) {
                *last = false;
                let name = name.clone();
                self.excuse(&name, at);
            }
        }
    }

    /// Conflating `receiver` read `sender`'s message `seq`.
    pub fn conflated(&mut self, at: Instant, receiver: &str, sender: u64, seq: u64) {
        self.coverage.conflated += 1;
        let key = (receiver.to_owned(), sender);
        self.newest_read.insert(key.clone(), seq);
        if let Some((want, name, _)) = self.newest.get(&key) {
            if *want == seq {
                let name = name.clone();
                self.fulfil(&name, at);
            }
        }
    }

    /// Once senders stopped and every obligation's deadline passed: each conflating
    /// receiver that must end with a sender's newest message read it last.
    pub fn check_newest_last(&mut self, now: Instant) {
        let wrong = self.newest.iter().find_map(|(key, (want, _, last))| {
            let got = self.newest_read.get(key).copied();
            (*last && got != Some(*want)).then(|| (key.clone(), *want, got))
        });
        if let Some(((receiver, sender), want, got)) = wrong {
            let what = format!(
                "conflating {receiver} last read {sender}:{got:?} from {sender}, not its newest \
                 message {sender}:{want}"
            );
            self.fail(FailureKind::Liveness, now, what);
        }
    }

    /// Message `id` was published at `at` (a proxy may forward it).
    pub fn published(&mut self, id: (u64, u64), at: Instant) {
        self.published.insert(id, at);
    }

    /// Whether subscriber `s` wants a message whose first frame is `head` (`None` if `s`
    /// is not a subscriber): the world's view, from the prefixes it subscribed to.
    pub fn sub_wants(&self, s: u64, head: &[u8]) -> Option<bool> {
        let prefixes = self.subscribers.get(&s)?;
        Some(prefixes.iter().any(|x| head.starts_with(x.as_bytes())) != self.inverted)
    }

    /// The proxy's XPUB `xpub` (not verbose) handed up a subscription change for `topic`.
    /// It passes a topic's subscribe only when its first subscriber comes and its cancel
    /// only when its last one goes (a subscriber that disconnects counts as cancelling: RFC
    /// 29), so per topic they alternate, a subscribe first.
    pub fn xpub_handed_up(&mut self, at: Instant, xpub: u64, subscribe: bool, topic: &[u8]) {
        let was = self.xpub_topics.insert((xpub, topic.to_vec()), subscribe);
        if was.unwrap_or(false) == subscribe {
            let what = format!(
                "XPUB s{xpub} handed up {} {:?} twice in a row: without XPUB_VERBOSE, only a \
                 topic's first subscribe and last cancel go up",
                if subscribe {
                    "a subscribe to"
                } else {
                    "a cancel of"
                },
                String::from_utf8_lossy(topic)
            );
            self.fail(FailureKind::Safety, at, what);
        }
    }

    /// The proxy whose XSUB is `xsub` sent a subscription change upstream. XSUB counts
    /// them, and cancels upstream when the count reaches zero.
    pub fn proxy_subscription(&mut self, at: Instant, xsub: u64, subscribe: bool, topic: &[u8]) {
        let (count, spans) = self.upstream.entry((xsub, topic.to_vec())).or_default();
        if subscribe {
            *count += 1;
            if *count == 1 {
                spans.push((at, None));
            }
        } else if *count > 0 {
            *count -= 1;
            if *count == 0 {
                if let Some(open) = spans.last_mut() {
                    open.1 = Some(at);
                }
            }
        }
    }

    /// The proxy's XSUB `xsub` received `p` through its pipe `pipe`. A publisher sends a
    /// subscriber only what matches its subscriptions (RFC 29, ZMTP 3.x filtering at the
    /// publisher), so a subscription covering `p`'s topic went upstream before `p` was
    /// published; and once the network has settled, one was still there within a hop before
    /// (a cancel sent earlier had reached the publisher by then).
    pub fn proxy_received(&mut self, at: Instant, xsub: u64, p: &Payload, pipe: Option<PipeId>) {
        self.coverage.proxied += 1;
        let via = xsub * 1_000_000 + pipe.map_or(0, |x| x.0);
        self.via.insert(p.id(), via);
        let Some(&sent) = self.published.get(&p.id()) else {
            return;
        };
        let topic = p.topic.as_bytes();
        let spans: Vec<Span> = self
            .upstream
            .iter()
            .filter(|((x, pre), _)| *x == xsub && topic.starts_with(pre))
            .flat_map(|(_, (_, spans))| spans.iter().copied())
            .collect();
        let secs = |t: Instant| t.as_nanos() as f64 / 1e9;
        if !spans.iter().any(|(from, _)| *from <= sent) {
            let what = format!(
                "proxy XSUB s{xsub} got topic {:?} ({}:{}) published at {:.6}s, but no \
                 subscription covering it had gone upstream by then",
                p.topic,
                p.sender,
                p.seq,
                secs(sent)
            );
            self.fail(FailureKind::Safety, at, what);
            return;
        }
        if let Some((since, hop)) = self.settled {
            if sent >= since + hop {
                let held = spans
                    .iter()
                    .any(|(from, to)| *from <= sent && to.is_none_or(|t| t + hop >= sent));
                if !held {
                    let what = format!(
                        "proxy XSUB s{xsub} got topic {:?} ({}:{}) published at {:.6}s, but \
                         every subscription covering it was cancelled upstream more than a \
                         hop ({hop:?}) before, on a settled network",
                        p.topic,
                        p.sender,
                        p.seq,
                        secs(sent)
                    );
                    self.fail(FailureKind::Safety, at, what);
                }
            }
        }
    }

    /// LINGER protects message `id`, queued before its socket closed (or, with
    /// `disconnected`, before it disconnected the endpoint): it must reach a peer by
    /// `deadline`.
    pub fn protect(&mut self, id: (u64, u64), deadline: Instant, disconnected: bool) {
        let before = if disconnected {
            "it disconnected its endpoint"
        } else {
            "its socket closed"
        };
        let name = format!("LINGER delivers {}:{} queued before {before}", id.0, id.1);
        if disconnected {
            self.coverage.linger_disconnected += 1;
        }
        self.expect(name.clone(), deadline);
        self.protected.insert(id, name);
    }

    /// Socket `s` reached a peer whose pattern refused it (a PAIR already paired, a routing
    /// id taken): the messages LINGER protected may have left on that connection, and are
    /// lost there as they are with libzmq, so LINGER no longer owes them.
    pub fn refused_by_peer(&mut self, s: u64, at: Instant) {
        let ids: Vec<(u64, u64)> = self
            .protected
            .range((s, 0)..=(s, u64::MAX))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(name) = self.protected.remove(&id) {
                self.coverage.linger_refused += 1;
                self.excuse(&name, at);
            }
        }
    }

    /// Obligation `what` no longer holds: what it awaited was dropped as the API allows (a
    /// PUB or ROUTER at a full pipe, a peer that refused the connection). Returns whether it
    /// was owed.
    pub fn excuse(&mut self, what: &str, at: Instant) -> bool {
        let _ = at;
        let owed = self.due.remove(what).is_some();
        if owed {
            self.coverage.excused += 1;
        }
        owed
    }

    /// Excuses every obligation whose name starts with `prefix` and ends with `suffix`.
    pub fn excuse_matching(&mut self, prefix: &str, suffix: &str, at: Instant) {
        let names: Vec<String> = self
            .due
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| k.ends_with(suffix))
            .map(|(k, _)| k.clone())
            .collect();
        for n in names {
            self.excuse(&n, at);
        }
    }

    /// Something named `what` must happen by `deadline`.
    pub fn expect(&mut self, what: String, deadline: Instant) {
        self.due.entry(what).or_insert(deadline);
    }

    /// Whether `what` is still awaited.
    pub fn is_expected(&self, what: &str) -> bool {
        self.due.contains_key(what)
    }

    /// `what` happened at `at`; late is a liveness failure.
    pub fn fulfil(&mut self, what: &str, at: Instant) {
        if let Some(deadline) = self.due.remove(what) {
            self.met += 1;
            if at > deadline {
                let late = at - deadline;
                self.fail(
                    FailureKind::Liveness,
                    at,
                    format!("{what}: {late:?} past its deadline"),
                );
            }
        }
    }

    /// Fails on the first obligation whose deadline passed by `now`.
    pub fn check_deadlines(&mut self, now: Instant) {
        if let Some((what, deadline)) = self
            .due
            .iter()
            .filter(|(_, d)| **d < now)
            .min_by_key(|(_, d)| **d)
        {
            let what = format!(
                "{what}: not done by its deadline {:.3}s",
                deadline.as_nanos() as f64 / 1e9
            );
            self.fail(FailureKind::Liveness, now, what);
        }
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }

    /// How many obligations are pending.
    pub fn pending(&self) -> usize {
        self.due.len()
    }
}

/// Milliseconds, for brevity.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
