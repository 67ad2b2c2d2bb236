//! The security dimension of a run (`--security`): which mechanism the workload's sockets
//! use, their credentials, the simulated ZAP handler's rule, and the impostors that try to
//! get in with the wrong ones.
//!
//! Everything is drawn from the seed, on streams of its own (`security`, `security/keys`),
//! so a run without security draws exactly what it drew before. Key pairs come from the
//! core's own generator fed by a seeded stream: never the operating system's randomness.
//!
//! The handler's verdict is a pure function of the credentials ([`Security::verdict`]):
//! known users with their password and allowed client keys get a User-Id and a property;
//! deny-listed users and keys get 400, a "broken" user or key 500 (the handler failing),
//! unknown users, wrong passwords and unknown keys 400. The world adds, during the faults,
//! an occasional 300 (a temporary failure: the client redials once its handshake times out)
//! and a seeded delay.

use std::time::Duration;

use bytes::Bytes;
use oxmq_core::codec::{MechanismName, Metadata};
use oxmq_core::mechanism::curve::generate_keypair;
use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey, SecretBytes};
use oxmq_core::{RandomSource, SecureRandom, SocketOption, ZapReply, ZapRequest};
use rand::{Rng, RngCore, SeedableRng};

use crate::rng::{chance, stream, SimRng};

/// Which mechanism a run's sockets use, and whether their servers have a ZAP handler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// No security (every run without `--security`).
    #[default]
    Null,
    /// NULL, with a ZAP handler and a ZAP_DOMAIN: the handler is asked about every peer.
    NullZap,
    /// PLAIN, with a ZAP handler (without one, libzmq's PLAIN server and ours let nobody in).
    Plain,
    /// CURVE, with a ZAP handler.
    Curve,
    /// CURVE without a ZAP handler: every client that knows the server's key gets in.
    CurveNoZap,
}

impl Mode {
    /// Its name in the profile line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Null => "null",
            Mode::NullZap => "null+zap",
            Mode::Plain => "plain+zap",
            Mode::Curve => "curve+zap",
            Mode::CurveNoZap => "curve",
        }
    }

    /// Whether servers have a ZAP handler.
    pub fn zap(self) -> bool {
        matches!(self, Mode::NullZap | Mode::Plain | Mode::Curve)
    }

    /// Whether the mechanism is CURVE.
    pub fn curve(self) -> bool {
        matches!(self, Mode::Curve | Mode::CurveNoZap)
    }

    /// Every mode, in draw order.
    pub const ALL: [Mode; 5] = [
        Mode::Null,
        Mode::NullZap,
        Mode::Plain,
        Mode::Curve,
        Mode::CurveNoZap,
    ];

    /// The mode `--security-mode` names.
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// How an impostor gets its credentials wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impostor {
    /// PLAIN: a known user, the wrong password.
    WrongPassword,
    /// PLAIN: a user the handler does not know.
    UnknownUser,
    /// PLAIN: a deny-listed user with its right password.
    DeniedUser,
    /// PLAIN: the user the handler fails on (500).
    BrokenUser,
    /// CURVE: a client key the server allows, but the wrong server key (the server cannot
    /// open its HELLO).
    WrongServerKey,
    /// CURVE: a client key the handler does not know.
    UnknownKey,
    /// CURVE: a deny-listed client key.
    DeniedKey,
    /// CURVE: the client key the handler fails on (500).
    BrokenKey,
    /// CURVE: a legitimate client's public key with another secret key (a stolen public
    /// key): its vouch does not open, and the server must refuse it before asking ZAP.
    StolenPublicKey,
}

/// What must become of a peer's handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// It gets in.
    Accept,
    /// The server's ZAP handler refuses it with this status (400 or 500): the server raises
    /// HANDSHAKE_FAILED_AUTH with it and sends ERROR, the client raises the same event and
    /// never redials.
    Denied(u16),
    /// The server cannot make sense of it (CURVE boxes that do not open): the server raises
    /// HANDSHAKE_FAILED_PROTOCOL and drops the connection.
    Protocol,
}

/// A socket's credentials.
#[derive(Clone, Debug)]
pub enum Cred {
    /// NULL: none.
    Null,
    /// A PLAIN client.
    Plain {
        /// PLAIN_USERNAME.
        user: String,
        /// PLAIN_PASSWORD.
        pass: String,
    },
    /// A CURVE client.
    Curve {
        /// CURVE_PUBLICKEY.
        public: CurvePublicKey,
        /// CURVE_SECRETKEY.
        secret: CurveSecretKey,
        /// CURVE_SERVERKEY.
        server: CurvePublicKey,
    },
}

/// The users the handler knows: (name, password). The first three are the workload's.
const USERS: [&str; 5] = ["alice", "bob", "carol", "mallory", "broken"];
/// How many of the users and client keys belong to the workload's (legitimate) clients.
const LEGIT: usize = 3;
/// The deny-listed user and key (index into `USERS` / the client keys).
const DENIED: usize = 3;
/// The user and key the handler fails on.
const BROKEN: usize = 4;
/// The property the handler adds to every peer it accepts.
pub const ZAP_PROPERTY: &str = "X-Sim-Zap";

/// A run's security settings.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// The mechanism and whether a handler is there.
    pub mode: Mode,
    /// The handler answers each request after up to this long.
    pub zap_delay_max: Duration,
    /// During the faults, the chance that the handler answers 300 (try again later).
    pub temp_fail: f64,
    /// Impostors come and go during the faults.
    pub impostors: bool,
    /// Passwords of `USERS`, drawn per seed.
    passwords: Vec<String>,
    /// The server's key pair.
    server: Option<(CurvePublicKey, CurveSecretKey)>,
    /// Client key pairs: the workload's (`LEGIT`), the denied one, the broken one, an
    /// unknown one, and one whose public half serves as a wrong server key.
    clients: Vec<(CurvePublicKey, CurveSecretKey)>,
}

/// A seeded stream of "secure" bytes for the core (deterministic; for the simulator only).
pub struct SeededRandom(SimRng);

impl SecureRandom for SeededRandom {
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst);
    }
}

/// The random source a socket with seed `seed` hands the core: each connection opens its
/// own stream, numbered in the order they open (the simulator runs on one thread, so the
/// order is the run's).
pub fn random_source(seed: u64) -> RandomSource {
    let next = std::sync::atomic::AtomicU64::new(0);
    RandomSource::new(move || {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut r = SimRng::seed_from_u64(seed);
        r.set_stream(n);
        Box::new(SeededRandom(r))
    })
}

impl Security {
    /// What seed `seed` draws with security on (its own streams: nothing else shifts);
    /// `forced` replaces the drawn mode (the other draws stay as they were).
    pub fn draw(seed: u64, handshake_ivl: Duration, forced: Option<Mode>) -> Security {
        let mut r = stream(seed, "security");
        let drawn = [
            Mode::Null,
            Mode::NullZap,
            Mode::Plain,
            Mode::Plain,
            Mode::Curve,
            Mode::Curve,
            Mode::CurveNoZap,
        ][r.random_range(0..7)];
        let mode = forced.unwrap_or(drawn);
        let cap = (handshake_ivl / 5).min(Duration::from_millis(60));
        let zap_delay_max = if mode.zap() && chance(&mut r, 0.8) {
            Duration::from_micros(r.random_range(1..=cap.as_micros().max(1) as u64))
        } else {
            Duration::ZERO
        };
        let temp_fail = if mode.zap() && chance(&mut r, 0.3) {
            r.random_range(0.02..0.2)
        } else {
            0.0
        };
        let impostors =
            matches!(mode, Mode::Plain | Mode::Curve | Mode::CurveNoZap) && chance(&mut r, 0.8);
        let passwords = USERS
            .iter()
            .map(|u| format!("{u}-{:08x}", r.random::<u32>()))
            .collect();
        let (server, clients) = if mode.curve() {
            let mut keys = SeededRandom(stream(seed, "security/keys"));
            let server = generate_keypair(&mut keys);
            let clients = (0..7).map(|_| generate_keypair(&mut keys)).collect();
            (Some(server), clients)
        } else {
            (None, Vec::new())
        };
        Security {
            mode,
            zap_delay_max,
            temp_fail,
            impostors,
            passwords,
            server,
            clients,
        }
    }

    /// Whether anything is on (a mechanism other than NULL, or a ZAP handler).
    pub fn on(&self) -> bool {
        self.mode != Mode::Null
    }

    /// The impostors this mode can have.
    pub fn impostor_kinds(&self) -> &'static [Impostor] {
        use Impostor::*;
        match self.mode {
            Mode::Plain => &[WrongPassword, UnknownUser, DeniedUser, BrokenUser],
            Mode::Curve => &[
                WrongServerKey,
                UnknownKey,
                DeniedKey,
                BrokenKey,
                StolenPublicKey,
            ],
            Mode::CurveNoZap => &[WrongServerKey, StolenPublicKey],
            Mode::Null | Mode::NullZap => &[],
        }
    }

    /// What must become of an impostor of `kind`.
    pub fn expect(&self, kind: Impostor) -> Expect {
        use Impostor::*;
        match kind {
            WrongServerKey | StolenPublicKey => Expect::Protocol,
            BrokenUser | BrokenKey => Expect::Denied(500),
            UnknownKey if !self.mode.zap() => Expect::Accept,
            _ => Expect::Denied(400),
        }
    }

    /// The credentials of the workload's client number `n`.
    pub fn legit(&self, n: usize) -> Cred {
        let i = n % LEGIT;
        match self.mode {
            Mode::Plain => Cred::Plain {
                user: USERS[i].to_owned(),
                pass: self.passwords[i].clone(),
            },
            Mode::Curve | Mode::CurveNoZap => self.curve_client(i, self.server_public()),
            Mode::Null | Mode::NullZap => Cred::Null,
        }
    }

    /// The credentials of an impostor of `kind`.
    pub fn impostor(&self, kind: Impostor) -> Cred {
        use Impostor::*;
        let plain = |i: usize, pass: String| Cred::Plain {
            user: USERS.get(i).map_or("eve", |u| u).to_owned(),
            pass,
        };
        match kind {
            WrongPassword => plain(0, "not-the-password".to_owned()),
            UnknownUser => plain(USERS.len(), "whatever".to_owned()),
            DeniedUser => plain(DENIED, self.passwords[DENIED].clone()),
            BrokenUser => plain(BROKEN, self.passwords[BROKEN].clone()),
            WrongServerKey => self.curve_client(0, self.clients[6].0),
            UnknownKey => self.curve_client(5, self.server_public()),
            DeniedKey => self.curve_client(DENIED, self.server_public()),
            BrokenKey => self.curve_client(BROKEN, self.server_public()),
            StolenPublicKey => Cred::Curve {
                public: self.clients[0].0,
                secret: self.clients[5].1.clone(),
                server: self.server_public(),
            },
        }
    }

    fn server_public(&self) -> CurvePublicKey {
        self.server
            .as_ref()
            .expect("CURVE runs have a server key")
            .0
    }

    fn curve_client(&self, i: usize, server: CurvePublicKey) -> Cred {
        let (public, secret) = self.clients[i].clone();
        Cred::Curve {
            public,
            secret,
            server,
        }
    }

    /// The options that make a socket a server of this run's mechanism.
    pub fn server_options(&self) -> Vec<SocketOption> {
        let domain = SocketOption::ZapDomain(Bytes::from_static(b"sim"));
        match self.mode {
            Mode::Null => Vec::new(),
            Mode::NullZap => vec![domain],
            Mode::Plain => vec![domain, SocketOption::PlainServer(true)],
            Mode::Curve | Mode::CurveNoZap => {
                let (public, secret) = self.server.clone().expect("CURVE runs have keys");
                vec![
                    domain,
                    SocketOption::CurvePublickey(public),
                    SocketOption::CurveSecretkey(secret),
                    SocketOption::CurveServer(true),
                ]
            }
        }
    }

    /// The credential frames a server must pass its ZAP handler for a client with `cred`
    /// (RFC 27: PLAIN username and password, CURVE the client's long-term public key).
    pub fn credential_frames(cred: &Cred) -> Vec<Bytes> {
        match cred {
            Cred::Null => Vec::new(),
            Cred::Plain { user, pass } => vec![
                Bytes::from(user.clone().into_bytes()),
                Bytes::from(pass.clone().into_bytes()),
            ],
            Cred::Curve { public, .. } => vec![Bytes::copy_from_slice(&public.0)],
        }
    }

    /// The mechanism a server of this mode names in its ZAP requests.
    pub fn mechanism(&self) -> MechanismName {
        match self.mode {
            Mode::Null | Mode::NullZap => MechanismName::NULL,
            Mode::Plain => MechanismName::PLAIN,
            Mode::Curve | Mode::CurveNoZap => MechanismName::CURVE,
        }
    }

    /// The options that give a client `cred`.
    pub fn client_options(cred: &Cred) -> Vec<SocketOption> {
        match cred {
            Cred::Null => Vec::new(),
            Cred::Plain { user, pass } => vec![
                SocketOption::PlainUsername(Bytes::from(user.clone().into_bytes())),
                SocketOption::PlainPassword(SecretBytes::new(pass.clone().into_bytes())),
            ],
            Cred::Curve {
                public,
                secret,
                server,
            } => vec![
                SocketOption::CurvePublickey(*public),
                SocketOption::CurveSecretkey(secret.clone()),
                SocketOption::CurveServerkey(*server),
            ],
        }
    }

    /// The User-Id the handler gives a peer with `cred` when it accepts it (`None`: it
    /// does not accept it, or there is no handler).
    pub fn user_id(&self, cred: &Cred) -> Option<Bytes> {
        if !self.mode.zap() {
            return None;
        }
        let reply = match cred {
            Cred::Null => self.verdict_of(MechanismName::NULL, &[]),
            Cred::Plain { user, pass } => self.verdict_of(
                MechanismName::PLAIN,
                &[
                    Bytes::from(user.clone().into_bytes()),
                    Bytes::from(pass.clone().into_bytes()),
                ],
            ),
            Cred::Curve { public, .. } => {
                self.verdict_of(MechanismName::CURVE, &[Bytes::copy_from_slice(&public.0)])
            }
        };
        (reply.status_code == 200).then_some(reply.user_id)
    }

    /// The password of a user the handler knows.
    pub fn password_of(&self, user: &str) -> Option<String> {
        let i = USERS.iter().position(|u| *u == user)?;
        self.passwords.get(i).cloned()
    }

    /// The properties the handler gives a peer it accepts by `how`.
    pub fn verdict_metadata(&self, how: &'static str) -> Metadata {
        let mut m = Metadata::new();
        m.push(ZAP_PROPERTY, how).expect("a valid property");
        m
    }

    /// The handler's answer to `req`: a pure function of the mechanism and credentials.
    pub fn verdict(&self, req: &ZapRequest) -> ZapReply {
        self.verdict_of(req.mechanism, &req.credentials)
    }

    fn verdict_of(&self, mechanism: MechanismName, creds: &[Bytes]) -> ZapReply {
        let accept = |user_id: String, how: &'static str| {
            let mut r = ZapReply::accept(user_id);
            r.metadata = self.verdict_metadata(how);
            r
        };
        if mechanism == MechanismName::NULL {
            return accept("anonymous".to_owned(), "null");
        }
        if mechanism == MechanismName::PLAIN {
            let [user, pass] = creds else {
                return ZapReply::deny(400);
            };
            let Some(i) = USERS.iter().position(|u| u.as_bytes() == &user[..]) else {
                return ZapReply::deny(400);
            };
            if i == BROKEN {
                return ZapReply::deny(500);
            }
            if self.passwords[i].as_bytes() != &pass[..] || i == DENIED {
                return ZapReply::deny(400);
            }
            return accept(format!("user:{}", USERS[i]), "plain");
        }
        if mechanism == MechanismName::CURVE {
            let [key] = creds else {
                return ZapReply::deny(400);
            };
            let Some(i) = self.clients.iter().position(|c| c.0 .0[..] == key[..]) else {
                return ZapReply::deny(400);
            };
            return match i {
                BROKEN => ZapReply::deny(500),
                DENIED => ZapReply::deny(400),
                i if i < LEGIT => {
                    accept(format!("key:{}", &self.clients[i].0.to_z85()[..8]), "curve")
                }
                _ => ZapReply::deny(400),
            };
        }
        ZapReply::deny(400)
    }
}

impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "security {}", self.mode.name())?;
        if self.mode.zap() {
            write!(
                f,
                " zap-delay {:?} zap-300 {:.2}",
                self.zap_delay_max, self.temp_fail
            )?;
        }
        if self.impostors {
            f.write_str(" impostors")?;
        }
        Ok(())
    }
}

/// Whether `b` holds the head of a workload message in clear: `|sender|seq|probe|frames|`
/// (digits, digits, 0 or 1, digits). CURVE boxes every frame, so on a CURVE connection this
/// pattern never appears on the wire (the chance that ciphertext forms it is negligible).
pub fn find_plaintext(b: &[u8]) -> Option<usize> {
    let digits = |at: usize| -> usize {
        b[at.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'|') {
        let start = i + off;
        let mut at = start + 1;
        let ok = (|| {
            for field in 0..4 {
                let n = digits(at);
                if n == 0 || (field == 2 && (n != 1 || !matches!(b[at], b'0' | b'1'))) {
                    return false;
                }
                at += n;
                if b.get(at) != Some(&b'|') {
                    return false;
                }
                at += 1;
            }
            true
        })();
        if ok {
            return Some(start);
        }
        i = start + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plaintext_pattern_finds_a_message_head_and_nothing_else() {
        let m = crate::msg::Payload::new(17, 42, 2, true).encode();
        assert!(find_plaintext(m.frames()[0].as_ref()).is_some());
        assert_eq!(find_plaintext(b"xx|1|2|3|4|"), None, "probe is 0 or 1");
        assert_eq!(find_plaintext(b"ab|12|3|0|1|"), Some(2));
        assert_eq!(find_plaintext(b"|12|3|0|"), None);
    }

    #[test]
    fn the_handler_rule_is_a_function_of_the_credentials() {
        for seed in 0..40 {
            let s = Security::draw(seed, Duration::from_secs(1), None);
            for n in 0..3 {
                let c = s.legit(n);
                assert_eq!(s.user_id(&c).is_some(), s.mode.zap(), "{:?}", s.mode);
            }
            for &k in s.impostor_kinds() {
                let c = s.impostor(k);
                match s.expect(k) {
                    Expect::Accept => assert!(!s.mode.zap()),
                    Expect::Denied(_) => assert!(s.user_id(&c).is_none(), "{k:?}"),
                    // Refused before ZAP is asked (a HELLO or a vouch that does not open).
                    Expect::Protocol => {}
                }
            }
        }
    }
}
