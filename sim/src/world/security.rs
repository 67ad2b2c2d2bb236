//! Security in the world (`--security`): each socket becomes a server or a client of the
//! run's mechanism as it binds or connects, a simulated ZAP handler answers the servers'
//! requests after a seeded delay, and the oracles watch what ZeroMQ's security promises:
//!
//! - no message from or to a refused peer (an impostor) reaches an application;
//! - every message from an accepted peer carries the User-Id and the property the handler
//!   gave it (and no message carries a User-Id where no handler was asked);
//! - a ZAP refusal (400, 500, 300) closes that one connection with HANDSHAKE_FAILED_AUTH and
//!   its status, a CURVE HELLO that does not open costs its connection with
//!   HANDSHAKE_FAILED_PROTOCOL, nobody else's handshake fails for those reasons, and a
//!   client refused with an ERROR never redials (libzmq's `session_base_t::engine_error`);
//! - on a CURVE connection, no workload message appears in clear on the wire.
//!
//! The workload's probes check the rest: every accepted peer behaves exactly as under NULL.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use oxmq_core::base::ConnId;
use oxmq_core::monitor::MonitorEventKind;
use oxmq_core::{Message, PipeId, ZapReply, ZapRequest};
use rand::Rng;

use super::{Ev, Mutation, Phase, Sim};
use crate::oracle::FailureKind;
use crate::rng::{chance, stream, SimRng};
use crate::security::{find_plaintext, random_source, Cred, Expect, Impostor, ZAP_PROPERTY};

/// What a socket is in the run's security.
#[derive(Clone, Debug)]
pub(super) enum Role {
    Server,
    Client(Cred),
}

/// An impostor socket and how its handshakes must go.
#[derive(Debug)]
pub(super) struct ImpostorState {
    kind: Impostor,
    expect: Expect,
    dials: u64,
    /// Its dials when it was refused with an ERROR (it may not dial again).
    fatal_at: Option<u64>,
}

/// The security state of a run.
#[derive(Debug, Default)]
pub(super) struct SecState {
    roles: BTreeMap<usize, Role>,
    impostors: BTreeMap<usize, ImpostorState>,
    /// Handshake failures a server may still report: (socket, event, status) → how many
    /// (a ZAP refusal delivered, an impostor whose HELLO cannot open accepted).
    budget: BTreeMap<(usize, MonitorEventKind, u64), u64>,
    /// HANDSHAKE_FAILED_AUTH events per socket so far.
    auth_events: BTreeMap<usize, u64>,
    /// The last bytes written on each CURVE connection, to find a message head that
    /// straddles two writes.
    wire_tail: BTreeMap<(usize, ConnId), Vec<u8>>,
    zap_rng: Option<SimRng>,
    /// PLAIN servers that have no ZAP handler (decoys): they must let nobody in.
    no_handler: BTreeSet<usize>,
}

/// How much of a connection's last write is kept to scan with the next one.
const TAIL: usize = 48;

impl Sim {
    fn sec_on(&self) -> bool {
        self.security.on()
    }

    /// Socket `s` is about to bind (`server`) or connect: it takes its role's options.
    pub(super) fn secure(&mut self, s: usize, server: bool) {
        if !self.sec_on() || self.sec.roles.contains_key(&s) {
            return;
        }
        let now = self.now;
        let (role, opts) = if server {
            (Role::Server, self.security.server_options())
        } else {
            let cred = match self.sec.impostors.get(&s) {
                Some(i) => self.security.impostor(i.kind),
                None => self.security.legit(s),
            };
            let opts = crate::security::Security::client_options(&cred);
            (Role::Client(cred), opts)
        };
        let zap = server && self.security.mode.zap() && !self.sec.no_handler.contains(&s);
        let curve = self.security.mode.curve();
        let random = curve.then(|| {
            let seed: u64 = stream(self.seed, &format!("sock/{s}/curve")).random();
            random_source(seed)
        });
        let Some(base) = self.socks[s].base.as_mut() else {
            return;
        };
        for o in opts {
            if let Err(e) = base.set_option(o.clone(), now) {
                panic!("s{s} refused security option {o:?}: {e}");
            }
        }
        base.set_zap_handler(zap);
        if let Some(r) = random {
            base.set_random_source(r);
        }
        let what = match &role {
            Role::Server => "server".to_owned(),
            Role::Client(Cred::Null) => "client".to_owned(),
            Role::Client(Cred::Plain { user, .. }) => format!("client {user}"),
            Role::Client(Cred::Curve { public, .. }) => {
                format!("client {}", &public.to_z85()[..8])
            }
        };
        self.log(format_args!("s{s} security {what}"));
        self.sec.roles.insert(s, role);
    }

    /// Socket `s` is an impostor of `kind`: it must be refused (or, per the mode, let in).
    pub(super) fn impostor(&mut self, s: usize, kind: Impostor) {
        let expect = self.security.expect(kind);
        self.log(format_args!("s{s} impostor {kind:?}: expect {expect:?}"));
        self.sec.impostors.insert(
            s,
            ImpostorState {
                kind,
                expect,
                dials: 0,
                fatal_at: None,
            },
        );
    }

    /// Socket `s` will be a server without a ZAP handler (call before it binds).
    pub(super) fn decoy_server(&mut self, s: usize) {
        self.log(format_args!("s{s} is a server without a ZAP handler"));
        self.sec.no_handler.insert(s);
    }

    /// Socket `s` asked its ZAP handler about `conn`: the answer comes after a seeded delay.
    pub(super) fn zap_asked(&mut self, s: usize, conn: ConnId, req: ZapRequest) {
        let now = self.now;
        // The request names the mechanism, the domain and what the peer presented.
        if let Some(p) = self.peer_sock(s, conn) {
            if let Some(Role::Client(cred)) = self.sec.roles.get(&p) {
                let want = crate::security::Security::credential_frames(cred);
                let mechanism = self.security.mechanism();
                if req.credentials != want
                    || req.mechanism != mechanism
                    || &req.domain[..] != b"sim"
                {
                    let what = format!(
                        "s{s} asked ZAP about c{} (peer s{p}) with {:?}, domain {:?} and {} \
                         credential frames, not the {mechanism:?} credentials the peer presented",
                        conn.0,
                        req.mechanism,
                        req.domain,
                        req.credentials.len()
                    );
                    self.oracle.fail(FailureKind::Safety, now, what);
                }
            }
        }
        let seed = self.seed;
        let faults = self.phase == Phase::Faults;
        let (max, temp) = (self.security.zap_delay_max, self.security.temp_fail);
        let r = self.sec.zap_rng.get_or_insert_with(|| stream(seed, "zap"));
        let delay = Duration::from_nanos(r.random_range(0..=max.as_nanos() as u64));
        let temporary = faults && chance(r, temp);
        let mut reply = self.security.verdict(&req);
        if temporary {
            reply = ZapReply::deny(300);
        }
        match self.mutation {
            Mutation::ZapDenyIgnored if reply.status_code == 400 => {
                reply = ZapReply::accept("mutant");
            }
            Mutation::ZapPasswordUnchecked if req.credentials.len() == 2 => {
                // A known user with any password (as a PLAIN check that compares nothing).
                let user = String::from_utf8_lossy(&req.credentials[0]).into_owned();
                if let Some(pass) = self.security.password_of(&user) {
                    if let Some(id) = self.security.user_id(&Cred::Plain { user, pass }) {
                        reply = ZapReply::accept(id);
                        reply.metadata = self.security.verdict_metadata("plain");
                    }
                }
            }
            Mutation::ZapAnswersBeforeAsking => {
                // Accept at once, and send the real answer later (the core ignores it).
                self.log(format_args!(
                    "s{s} MUTATION: c{} accepted before asking",
                    conn.0
                ));
                let early = ZapReply::accept("early");
                self.schedule(
                    now,
                    Ev::ZapReply {
                        sock: s,
                        conn,
                        reply: early,
                    },
                );
            }
            _ => {}
        }
        self.oracle.coverage.zap_requests += 1;
        self.log(format_args!(
            "s{s} c{} ZAP {:?} -> {} in {delay:?}",
            conn.0, req.mechanism, reply.status_code
        ));
        self.schedule(
            now + delay,
            Ev::ZapReply {
                sock: s,
                conn,
                reply,
            },
        );
    }

    /// The handler's answer reaches socket `s`.
    pub(super) fn zap_reply(&mut self, s: usize, conn: ConnId, reply: ZapReply) {
        let now = self.now;
        let Some(base) = self.socks[s].base.as_mut() else {
            return;
        };
        let alive = base.conns().any(|c| c == conn);
        let code = reply.status_code;
        let refusal = matches!(code, 300 | 400 | 500);
        if refusal {
            self.oracle.coverage.zap_refusals += 1;
            *self
                .sec
                .budget
                .entry((s, MonitorEventKind::HandshakeFailedAuth, u64::from(code)))
                .or_default() += 1;
        }
        let before = self.sec.auth_events.get(&s).copied().unwrap_or(0);
        let base = self.socks[s].base.as_mut().expect("checked above");
        base.handle_zap_reply(conn, reply, now);
        self.settle(s);
        let Some(base) = self.socks[s].base.as_ref() else {
            return;
        };
        if alive && refusal && self.sim_zap_answered_once() {
            let after = self.sec.auth_events.get(&s).copied().unwrap_or(0);
            // libzmq closes at once after 400 and 500; after 300 it sends nothing more and
            // leaves the connection to the handshake timer (the client must not redial
            // in a loop), so only the event is owed at once.
            let open = code != 300 && base.conns().any(|c| c == conn);
            if after == before || open {
                let what = format!(
                    "s{s}'s ZAP handler refused c{} with {code}, but the socket {}",
                    conn.0,
                    if open {
                        "kept the connection open"
                    } else {
                        "raised no HANDSHAKE_FAILED_AUTH"
                    }
                );
                self.oracle.fail(FailureKind::Safety, now, what);
            }
        }
        let h = self.socks[s].host;
        self.notify(h);
    }

    /// Whether each request gets one answer (not so when the driver plays a handler that
    /// answers before asking: the core ignores the second).
    fn sim_zap_answered_once(&self) -> bool {
        self.mutation != Mutation::ZapAnswersBeforeAsking
    }

    /// Socket `s` raised monitor event `kind` with `value`.
    pub(super) fn security_event(&mut self, s: usize, kind: MonitorEventKind, value: u64) {
        use MonitorEventKind as K;
        if !self.sec_on() {
            return;
        }
        let now = self.now;
        if kind == K::HandshakeFailedAuth {
            *self.sec.auth_events.entry(s).or_default() += 1;
        }
        if self.sec.no_handler.contains(&s) {
            // libzmq 4.3's PLAIN server refuses every client when nobody answers ZAP, with
            // HANDSHAKE_FAILED_NO_DETAIL and EFAULT; so must ours.
            let wrong = match kind {
                K::HandshakeSucceeded => Some("let a client in".to_owned()),
                K::HandshakeFailedNoDetail if value == 14 => {
                    self.oracle.coverage.no_handler_refusals += 1;
                    None
                }
                K::HandshakeFailedAuth | K::HandshakeFailedProtocol => {
                    Some(format!("raised {kind:?} {value}"))
                }
                _ => None,
            };
            if let Some(w) = wrong {
                let what = format!("PLAIN server s{s} without a ZAP handler {w}");
                self.oracle.fail(FailureKind::Safety, now, what);
            }
            return;
        }
        if let Some(i) = self.sec.impostors.get_mut(&s) {
            let wrong = match (kind, i.expect) {
                (K::HandshakeSucceeded, Expect::Accept) => None,
                (K::HandshakeSucceeded, e) => Some(format!("completed its handshake ({e:?} due)")),
                (K::HandshakeFailedAuth, Expect::Denied(c)) if value == u64::from(c) => None,
                (K::HandshakeFailedAuth, e) => {
                    Some(format!("raised HANDSHAKE_FAILED_AUTH {value} ({e:?} due)"))
                }
                _ => None,
            };
            if matches!(kind, K::HandshakeFailedAuth | K::HandshakeFailedProtocol) {
                i.fatal_at.get_or_insert(i.dials);
            }
            if let Some(w) = wrong {
                let what = format!("impostor s{s} ({:?}) {w}", i.kind);
                self.oracle.fail(FailureKind::Safety, now, what);
            }
            return;
        }
        if !matches!(kind, K::HandshakeFailedAuth | K::HandshakeFailedProtocol) {
            return;
        }
        match self.sec.roles.get(&s) {
            Some(Role::Client(_)) => {
                let what = format!(
                    "legitimate client s{s} ({}) failed a handshake with {kind:?} {value}",
                    self.socks[s].kind
                );
                self.oracle.fail(FailureKind::Safety, now, what);
            }
            Some(Role::Server) => {
                let v = if kind == K::HandshakeFailedAuth {
                    value
                } else {
                    0
                };
                match self.sec.budget.get_mut(&(s, kind, v)) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        self.oracle.coverage.refusals_reported += 1;
                    }
                    _ => {
                        let what = format!(
                            "server s{s} ({}) raised {kind:?} {value}, but no ZAP refusal \
                             and no impostor accounts for it (a legitimate peer refused?)",
                            self.socks[s].kind
                        );
                        self.oracle.fail(FailureKind::Safety, now, what);
                    }
                }
            }
            None => {}
        }
    }

    /// Socket `s` dials: an impostor refused with an ERROR may not.
    pub(super) fn impostor_dials(&mut self, s: usize) {
        let now = self.now;
        let Some(i) = self.sec.impostors.get_mut(&s) else {
            return;
        };
        i.dials += 1;
        if let Some(at) = i.fatal_at {
            let what = format!(
                "impostor s{s} ({:?}) dialled again (dial {}) after its handshake was refused at \
                 dial {at}: libzmq ends such a session",
                i.kind, i.dials
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// Socket `listener` accepted a connection dialled by `dialer`.
    pub(super) fn security_accepted(&mut self, dialer: usize, listener: usize) {
        if let Some(i) = self.sec.impostors.get(&dialer) {
            if i.expect == Expect::Protocol {
                *self
                    .sec
                    .budget
                    .entry((listener, MonitorEventKind::HandshakeFailedProtocol, 0))
                    .or_default() += 1;
            }
        }
    }

    /// Socket `s` writes `b` on `conn`: on CURVE, no message head may be in clear.
    pub(super) fn scan_wire(&mut self, s: usize, conn: ConnId, b: &Bytes) {
        if !self.sec_on() {
            return;
        }
        let curve = self.security.mode.curve() && !self.is_inproc(s, conn);
        let tail = self.sec.wire_tail.entry((s, conn)).or_default();
        let mut joined = std::mem::take(tail);
        joined.extend_from_slice(b);
        let found = find_plaintext(&joined);
        let keep = joined.len().saturating_sub(TAIL);
        *tail = joined[keep..].to_vec();
        if curve {
            self.oracle.coverage.curve_bytes += b.len() as u64;
        }
        let Some(at) = found else {
            return;
        };
        if !curve {
            self.oracle.coverage.clear_heads += 1;
            return;
        }
        let end = (at + 40).min(joined.len());
        let what = format!(
            "s{s} c{} ({}) put a message in clear on a CURVE connection: {:?}",
            conn.0,
            self.socks[s].kind,
            String::from_utf8_lossy(&joined[at..end])
        );
        let now = self.now;
        self.oracle.fail(FailureKind::Safety, now, what);
    }

    /// Socket `s` handed its application `m` from `pipe`.
    pub(super) fn check_secure_recv(&mut self, s: usize, m: &Message, pipe: Option<PipeId>) {
        if !self.sec_on() {
            return;
        }
        let now = self.now;
        if self.sec.no_handler.contains(&s) {
            let what = format!("PLAIN server s{s} without a ZAP handler received a message");
            self.oracle.fail(FailureKind::Safety, now, what);
            return;
        }
        if let Some(i) = self.sec.impostors.get(&s) {
            let what = format!(
                "impostor s{s} ({:?}, {:?} due) received a message ({} frames)",
                i.kind,
                i.expect,
                m.len()
            );
            if i.expect != Expect::Accept {
                self.oracle.fail(FailureKind::Safety, now, what);
            }
            return;
        }
        if m.frames().iter().any(|f| contains(f, IMPOSTOR_MARK)) {
            let what = format!(
                "s{s} ({}) received a message from a peer that was to be refused: {:?}",
                self.socks[s].kind,
                m.frames()
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect::<Vec<_>>()
            );
            self.oracle.fail(FailureKind::Safety, now, what);
            return;
        }
        let user_id = m.property("User-Id").cloned();
        let zap_prop = m.property(ZAP_PROPERTY).cloned();
        let server_with_zap =
            matches!(self.sec.roles.get(&s), Some(Role::Server)) && self.security.mode.zap();
        let from = pipe.and_then(|p| {
            let base = self.socks[s].base.as_ref()?;
            let conn = base.pipe_conn(p)?;
            if self.is_inproc(s, conn) {
                return None;
            }
            let peer = self.peer_sock(s, conn)?;
            Some((conn, peer))
        });
        let wrong = if server_with_zap {
            let Some((conn, peer)) = from else {
                return;
            };
            let Some(Role::Client(cred)) = self.sec.roles.get(&peer) else {
                return;
            };
            let want = self.security.user_id(cred);
            self.oracle.coverage.user_ids += 1;
            (user_id != want || zap_prop.is_none()).then(|| {
                format!(
                    "server s{s} got a message on c{} from s{peer} with User-Id {:?} and {} \
                     {:?}; its ZAP handler gave {:?}",
                    conn.0, user_id, ZAP_PROPERTY, zap_prop, want
                )
            })
        } else {
            (user_id.is_some() && from.is_some()).then(|| {
                format!("s{s} got a message with User-Id {user_id:?}, but no ZAP handler was asked")
            })
        };
        if let Some(what) = wrong {
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }
}

/// What every impostor message carries.
pub const IMPOSTOR_MARK: &[u8] = b"IMPOSTOR";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
