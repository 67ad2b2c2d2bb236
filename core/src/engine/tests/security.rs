//! PLAIN, CURVE and ZAP at the engine level: a client engine and a server engine joined in
//! memory, with the test playing the ZAP handler.

use super::*;
use crate::mechanism::{SecretBytes, ZapReply, ZapRequest};
use crate::monitor::{protocol_error, MonitorEventKind};

fn zap_requests(events: &[Event]) -> Vec<ZapRequest> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ZapRequest(r) => Some((**r).clone()),
            _ => None,
        })
        .collect()
}

fn plain_client(user: &'static str, pass: &'static str) -> EngineConfig {
    let mut c = EngineConfig::new(SocketType::Dealer);
    c.mechanism = MechanismConfig::PlainClient {
        username: Bytes::from_static(user.as_bytes()),
        password: SecretBytes::new(pass),
    };
    c
}

fn plain_server(zap: bool) -> EngineConfig {
    let mut c = EngineConfig::new(SocketType::Router);
    c.mechanism = MechanismConfig::PlainServer;
    c.zap_handler = zap;
    c.zap_domain = Bytes::from_static(b"global");
    c.peer_address = "10.0.0.7".into();
    c
}

/// The handler the tests play: admin/secret gets in as "admin" with one extra property.
fn check_password(req: &ZapRequest) -> ZapReply {
    match req.credentials.as_slice() {
        [user, pass] if user == "admin" && pass == "secret" => {
            let mut r = ZapReply::accept("admin");
            r.metadata.push("Hello", "World").unwrap();
            r
        }
        _ => ZapReply::deny(400),
    }
}

/// Pumps, answering the server's ZAP requests with `handler` until none is left.
fn pump_with_zap(p: &mut Pair, handler: impl Fn(&ZapRequest) -> ZapReply) {
    let mut answered = 0;
    loop {
        p.pump();
        let asked = zap_requests(&p.b_events);
        if asked.len() == answered {
            return;
        }
        for req in &asked[answered..] {
            p.b.handle_zap_reply(handler(req), p.now);
        }
        answered = asked.len();
    }
}

#[test]
fn plain_without_zap_refuses_the_client_like_libzmq() {
    let mut p = Pair::new(plain_client("anyone", "anything"), plain_server(false));
    p.pump();
    let err = closed(&p.b_events).unwrap();
    assert_eq!(err, &ConnectionError::NoZapHandler);
    assert_eq!(
        err.handshake_failure(),
        (MonitorEventKind::HandshakeFailedNoDetail, 14)
    );
    assert!(zap_requests(&p.b_events).is_empty());
    assert!(
        !p.a.is_ready(),
        "no WELCOME, no ERROR: libzmq just drops the client"
    );
}

#[test]
fn plain_with_the_right_password_passes_zap_and_user_id_reaches_messages() {
    let mut p = Pair::new(plain_client("admin", "secret"), plain_server(true));
    pump_with_zap(&mut p, check_password);
    let asked = zap_requests(&p.b_events);
    assert_eq!(asked.len(), 1);
    let req = &asked[0];
    assert_eq!(req.mechanism, MechanismName::PLAIN);
    assert_eq!(req.domain, "global");
    assert_eq!(req.address, "10.0.0.7");
    assert_eq!(
        req.credentials,
        [Bytes::from("admin"), Bytes::from("secret")]
    );
    assert!(p.a.is_ready() && p.b.is_ready());
    p.a.send(&Message::from_frames(["a", "b"])).unwrap();
    p.pump();
    let got = p.b_messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].property("User-Id").unwrap(), "admin");
    assert_eq!(got[0].property("Hello").unwrap(), "World");
    assert_eq!(got[0].property("Socket-Type").unwrap(), "DEALER");
    assert_eq!(got[0].property("Peer-Address").unwrap(), "10.0.0.7");
    let props = p.b.properties().unwrap();
    assert!(
        Arc::ptr_eq(got[0].properties().unwrap(), props),
        "shared, not copied"
    );
}

#[test]
fn plain_with_a_wrong_password_is_refused_with_400_on_both_sides() {
    let mut p = Pair::new(plain_client("admin", "guess"), plain_server(true));
    pump_with_zap(&mut p, check_password);
    let server = closed(&p.b_events).unwrap();
    assert_eq!(server, &ConnectionError::AuthFailed { status_code: 400 });
    assert_eq!(
        server.handshake_failure(),
        (MonitorEventKind::HandshakeFailedAuth, 400)
    );
    let client = closed(&p.a_events).unwrap();
    assert_eq!(
        client,
        &ConnectionError::PeerError {
            reason: Bytes::from_static(b"400")
        }
    );
    assert_eq!(
        client.handshake_failure(),
        (MonitorEventKind::HandshakeFailedAuth, 400)
    );
    assert!(client.is_fatal() && server.is_fatal());
}

/// libzmq's 300 (a temporary failure): HANDSHAKE_FAILED_AUTH 300 at once, no ERROR, and
/// the connection idles until the handshake timer (or the peer) ends it, so a client does
/// not redial in a tight loop.
#[test]
fn zap_300_reports_at_once_then_idles_without_an_error_command() {
    let mut p = Pair::new(plain_client("admin", "secret"), plain_server(true));
    pump_with_zap(&mut p, |_| ZapReply::deny(300));
    let refused = ConnectionError::AuthFailed { status_code: 300 };
    assert!(p
        .b_events
        .contains(&Event::HandshakeFailed(refused.clone())));
    assert_eq!(closed(&p.b_events), None, "the connection stays open");
    assert_eq!(closed(&p.a_events), None, "no ERROR reached the client");
    assert!(!p.b.is_ready() && !p.a.is_ready());
    // The server's handshake timer ends it, with the refusal as the reason.
    p.now = p.now + DEFAULT_HANDSHAKE_IVL;
    p.b.handle_timeout(p.now);
    p.pump();
    assert_eq!(closed(&p.b_events), Some(&refused));
    p.a.handle_eof(p.now);
    p.pump();
    assert_eq!(closed(&p.a_events), Some(&ConnectionError::PeerClosed));
}

/// Anything more from a client refused with 300 ends the connection at once.
#[test]
fn a_command_after_a_300_refusal_ends_the_connection() {
    let mut p = Pair::new(plain_client("admin", "secret"), plain_server(true));
    pump_with_zap(&mut p, |_| ZapReply::deny(300));
    p.b.handle_input(&[0x04, 0x05, 0x05, b'P', b'I', b'N', b'G'], p.now);
    p.pump();
    assert_eq!(
        closed(&p.b_events),
        Some(&ConnectionError::AuthFailed { status_code: 300 })
    );
}

#[test]
fn a_zap_status_rfc_27_does_not_define_is_a_protocol_failure() {
    let mut p = Pair::new(plain_client("admin", "secret"), plain_server(true));
    pump_with_zap(&mut p, |_| ZapReply::deny(201));
    let err = closed(&p.b_events).unwrap();
    assert_eq!(
        err,
        &ConnectionError::BadZapReply(crate::mechanism::ZapReplyError::InvalidStatusCode)
    );
    assert_eq!(
        err.handshake_failure(),
        (
            MonitorEventKind::HandshakeFailedProtocol,
            u64::from(protocol_error::ZAP_INVALID_STATUS_CODE)
        )
    );
}

#[test]
fn a_late_or_unasked_zap_reply_is_ignored() {
    let mut p = Pair::new(plain_client("admin", "secret"), plain_server(true));
    p.b.handle_zap_reply(ZapReply::deny(400), p.now);
    pump_with_zap(&mut p, check_password);
    assert!(p.a.is_ready() && p.b.is_ready());
    p.b.handle_zap_reply(ZapReply::deny(400), p.now);
    assert!(p.b.is_ready());
}

#[test]
fn plain_handshake_byte_by_byte_gives_the_same_result() {
    let mut p = Pair::new(plain_client("admin", "secret"), plain_server(true));
    p.chunk = 1;
    pump_with_zap(&mut p, check_password);
    assert!(p.a.is_ready() && p.b.is_ready());
}

#[test]
fn plain_client_against_a_null_server_is_a_mechanism_mismatch() {
    let mut p = Pair::new(
        plain_client("a", "b"),
        EngineConfig::new(SocketType::Router),
    );
    p.pump();
    let err = closed(&p.a_events).unwrap();
    assert!(matches!(
        err,
        ConnectionError::Incompatible(Incompatible::Mechanism { .. })
    ));
    assert_eq!(
        err.handshake_failure(),
        (
            MonitorEventKind::HandshakeFailedProtocol,
            u64::from(protocol_error::ZMTP_MECHANISM_MISMATCH)
        )
    );
}

#[test]
fn two_plain_clients_refuse_each_other() {
    let mut server_side = plain_client("x", "y");
    server_side.socket_type = SocketType::Router;
    let mut p = Pair::new(plain_client("a", "b"), server_side);
    p.pump();
    assert!(matches!(
        closed(&p.b_events),
        Some(ConnectionError::Protocol(ProtocolViolation::UnexpectedCommand(name))) if name == "HELLO"
    ));
}

#[test]
fn a_malformed_hello_is_a_protocol_failure_with_libzmqs_code() {
    let mut e = Engine::new(plain_server(true), Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::PLAIN);
    bytes.extend(command_frame(&Command::Unknown {
        name: Bytes::from_static(b"HELLO"),
        data: Bytes::from_static(b"\x05admin\x06secretEXTRA"),
    }));
    let events = feed(&mut e, &bytes);
    let err = closed(&events).unwrap();
    assert_eq!(
        err,
        &ConnectionError::Malformed(Malformed::BadCommandBody("HELLO"))
    );
    assert_eq!(
        err.handshake_failure(),
        (
            MonitorEventKind::HandshakeFailedProtocol,
            u64::from(protocol_error::ZMTP_MALFORMED_COMMAND_HELLO)
        )
    );
}

#[test]
fn null_asks_zap_only_with_a_handler_and_a_domain_and_obeys_a_denial() {
    let mut with_domain = EngineConfig::new(SocketType::Router);
    with_domain.zap_handler = true;
    with_domain.zap_domain = Bytes::from_static(b"d");
    let mut p = Pair::new(EngineConfig::new(SocketType::Dealer), with_domain.clone());
    pump_with_zap(&mut p, |_| ZapReply::deny(400));
    let asked = zap_requests(&p.b_events);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].mechanism, MechanismName::NULL);
    assert!(asked[0].credentials.is_empty());
    assert_eq!(
        closed(&p.a_events),
        Some(&ConnectionError::PeerError {
            reason: Bytes::from_static(b"400")
        })
    );

    let mut p = Pair::new(EngineConfig::new(SocketType::Dealer), with_domain);
    pump_with_zap(&mut p, |_| ZapReply::accept("nobody"));
    assert!(p.a.is_ready() && p.b.is_ready());
    p.a.send(&Message::single("x")).unwrap();
    p.pump();
    assert_eq!(p.b_messages()[0].property("User-Id").unwrap(), "nobody");

    let mut no_domain = EngineConfig::new(SocketType::Router);
    no_domain.zap_handler = true;
    let mut p = Pair::new(EngineConfig::new(SocketType::Dealer), no_domain);
    p.pump();
    assert!(zap_requests(&p.b_events).is_empty() && p.b.is_ready());
}

#[cfg(feature = "curve")]
mod curve {
    use super::*;
    use crate::mechanism::curve::generate_keypair;
    use crate::mechanism::{CurvePublicKey, CurveSecretKey};
    use crate::rng::{RandomSource, TestRandom};

    struct Keys {
        server_public: CurvePublicKey,
        server_secret: CurveSecretKey,
        client_public: CurvePublicKey,
        client_secret: CurveSecretKey,
    }

    fn keys(seed: u64) -> Keys {
        let mut r = TestRandom(seed);
        let (server_public, server_secret) = generate_keypair(&mut r);
        let (client_public, client_secret) = generate_keypair(&mut r);
        Keys {
            server_public,
            server_secret,
            client_public,
            client_secret,
        }
    }

    fn client(k: &Keys, server: CurvePublicKey, socket_type: SocketType) -> EngineConfig {
        let mut c = EngineConfig::new(socket_type);
        c.mechanism = MechanismConfig::CurveClient {
            public: k.client_public,
            secret: k.client_secret.clone(),
            server,
        };
        c.random = Some(RandomSource::for_tests(100));
        c
    }

    fn server(k: &Keys, zap: bool, socket_type: SocketType) -> EngineConfig {
        let mut c = EngineConfig::new(socket_type);
        c.mechanism = MechanismConfig::CurveServer {
            public: k.server_public,
            secret: k.server_secret.clone(),
        };
        c.zap_handler = zap;
        c.random = Some(RandomSource::for_tests(200));
        c
    }

    fn pair(k: &Keys) -> Pair {
        Pair::new(
            client(k, k.server_public, SocketType::Dealer),
            server(k, false, SocketType::Router),
        )
    }

    /// Every frame (flags, body) in a byte stream after the 64-byte greeting.
    fn frames(wire: &[u8]) -> Vec<WireFrame> {
        let mut buf = BytesMut::from(&wire[GREETING_LEN..]);
        let mut out = Vec::new();
        while let Some(f) = FrameDecoder::default().decode(&mut buf).unwrap() {
            out.push(f);
        }
        assert!(buf.is_empty());
        out
    }

    /// Runs a pair while recording what each side wrote.
    fn pump_recording(p: &mut Pair, a_wire: &mut Vec<u8>, b_wire: &mut Vec<u8>) {
        loop {
            let mut moved = false;
            while let Some(bytes) = p.a.poll_transmit() {
                a_wire.extend_from_slice(&bytes);
                p.b.handle_input(&bytes, p.now);
                moved = true;
            }
            while let Some(bytes) = p.b.poll_transmit() {
                b_wire.extend_from_slice(&bytes);
                p.a.handle_input(&bytes, p.now);
                moved = true;
            }
            p.a_events.extend(std::iter::from_fn(|| p.a.poll_event()));
            p.b_events.extend(std::iter::from_fn(|| p.b.poll_event()));
            if !moved && p.a.pending_transmit() == 0 && p.b.pending_transmit() == 0 {
                return;
            }
        }
    }

    #[test]
    fn right_keys_pass_and_traffic_flows_boxed_both_ways() {
        let k = keys(1);
        let mut p = pair(&k);
        p.pump();
        assert!(
            p.a.is_ready() && p.b.is_ready(),
            "{:?} {:?}",
            p.a_events,
            p.b_events
        );
        assert_eq!(
            peer(&p.b_events).unwrap().socket_type,
            Some(SocketType::Dealer)
        );
        let big = Bytes::from(vec![0x5A; 100_000]);
        let sent = [
            Message::from_frames(["", "hello"]),
            Message::single(big.clone()),
            Message::from_frames([Bytes::from_static(b"x"), big, Bytes::new()]),
        ];
        for m in &sent {
            p.a.send(m).unwrap();
        }
        p.b.send(&Message::from_frames(["", "back"])).unwrap();
        p.pump();
        assert_eq!(p.b_messages(), sent);
        assert_eq!(p.a_messages(), vec![Message::from_frames(["", "back"])]);
    }

    #[test]
    fn commands_after_the_handshake_travel_boxed() {
        let k = keys(2);
        let mut sub = client(&k, k.server_public, SocketType::Sub);
        sub.heartbeat_ivl = secs(1);
        let mut p = Pair::new(sub, server(&k, false, SocketType::XPub));
        p.pump();
        p.a.send_subscribe(b"weather").unwrap();
        p.run_until(at(secs(3)));
        assert!(p
            .b_events
            .contains(&Event::Subscribe(Bytes::from_static(b"weather"))));
        assert_eq!(
            p.a.stats().pongs_received,
            3,
            "PING and PONG got through the boxes"
        );
        assert!(p.a.is_ready() && p.b.is_ready());
    }

    #[test]
    fn commands_are_the_sizes_libzmq_sends() {
        let k = keys(3);
        let mut p = pair(&k);
        let (mut a_wire, mut b_wire) = (Vec::new(), Vec::new());
        pump_recording(&mut p, &mut a_wire, &mut b_wire);
        p.a.send(&Message::single("")).unwrap();
        pump_recording(&mut p, &mut a_wire, &mut b_wire);
        let from_client = frames(&a_wire);
        let from_server = frames(&b_wire);
        assert_eq!(&from_client[0].body[..6], b"\x05HELLO");
        assert_eq!(from_client[0].body.len(), 200);
        assert_eq!(&from_server[0].body[..8], b"\x07WELCOME");
        assert_eq!(from_server[0].body.len(), 168);
        assert_eq!(&from_client[1].body[..9], b"\x08INITIATE");
        assert!(from_client[1].body.len() >= 257);
        assert_eq!(&from_server[1].body[..6], b"\x05READY");
        assert!(from_server[1].body.len() >= 30);
        assert!(from_client[..2]
            .iter()
            .chain(&from_server[..2])
            .all(|f| f.command));
        // An empty message: a 33-byte MESSAGE sent as a plain frame, nonce 3 after HELLO's 1
        // and INITIATE's 2.
        let m = &from_client[2];
        assert!(!m.command && !m.more);
        assert_eq!(m.body.len(), 33);
        assert_eq!(&m.body[..8], b"\x07MESSAGE");
        assert_eq!(&m.body[8..16], &3u64.to_be_bytes());
        assert_eq!(&from_client[0].body[112..120], &1u64.to_be_bytes());
        assert_eq!(&from_client[1].body[105..113], &2u64.to_be_bytes());
    }

    #[test]
    fn a_wrong_server_key_is_refused_at_hello() {
        let k = keys(4);
        let other = keys(5);
        let mut p = Pair::new(
            client(&k, other.server_public, SocketType::Dealer),
            server(&k, false, SocketType::Router),
        );
        p.pump();
        let err = closed(&p.b_events).unwrap();
        assert_eq!(
            err,
            &ConnectionError::Protocol(ProtocolViolation::Cryptographic("HELLO"))
        );
        assert_eq!(
            err.handshake_failure(),
            (
                MonitorEventKind::HandshakeFailedProtocol,
                u64::from(protocol_error::ZMTP_CRYPTOGRAPHIC)
            )
        );
        assert!(!p.a.is_ready());
    }

    #[test]
    fn zap_sees_the_client_key_and_its_verdict_is_obeyed() {
        let k = keys(6);
        let allowed = k.client_public;
        let handler = move |req: &ZapRequest| {
            if req.credentials == [Bytes::copy_from_slice(&allowed.0)] {
                ZapReply::accept("client-6")
            } else {
                ZapReply::deny(400)
            }
        };
        let mut p = Pair::new(
            client(&k, k.server_public, SocketType::Dealer),
            server(&k, true, SocketType::Router),
        );
        pump_with_zap(&mut p, handler);
        assert_eq!(zap_requests(&p.b_events)[0].mechanism, MechanismName::CURVE);
        assert!(p.a.is_ready() && p.b.is_ready());
        p.a.send(&Message::single("m")).unwrap();
        p.pump();
        assert_eq!(p.b_messages()[0].property("User-Id").unwrap(), "client-6");

        // Another client, with keys the handler does not know.
        let stranger = keys(7);
        let mut c = client(&stranger, k.server_public, SocketType::Dealer);
        c.random = Some(RandomSource::for_tests(300));
        let mut p = Pair::new(c, server(&k, true, SocketType::Router));
        pump_with_zap(&mut p, handler);
        assert_eq!(
            closed(&p.b_events),
            Some(&ConnectionError::AuthFailed { status_code: 400 })
        );
        assert_eq!(
            closed(&p.a_events),
            Some(&ConnectionError::PeerError {
                reason: Bytes::from_static(b"400")
            })
        );
    }

    #[test]
    fn a_replayed_message_is_refused() {
        let k = keys(8);
        let mut p = pair(&k);
        p.pump();
        p.a.send(&Message::single("once")).unwrap();
        let wire = p.a.poll_transmit().unwrap();
        p.b.handle_input(&wire, p.now);
        p.b.handle_input(&wire, p.now);
        let events: Vec<Event> = std::iter::from_fn(|| p.b.poll_event()).collect();
        assert_eq!(messages(&events), vec![Message::single("once")]);
        let err = closed(&events).unwrap();
        assert!(matches!(
            err,
            ConnectionError::Protocol(ProtocolViolation::NonceNotIncreasing { got: 3, last: 3 })
        ));
    }

    #[test]
    fn a_tampered_message_is_refused() {
        let k = keys(9);
        let mut p = pair(&k);
        p.pump();
        p.a.send(&Message::single("payload")).unwrap();
        let mut wire = p.a.poll_transmit().unwrap().to_vec();
        let last = wire.len() - 1;
        wire[last] ^= 1;
        let events = feed(&mut p.b, &wire);
        assert_eq!(
            closed(&events),
            Some(&ConnectionError::Protocol(
                ProtocolViolation::Cryptographic("MESSAGE")
            ))
        );
    }

    #[test]
    fn an_initiate_replayed_on_a_new_connection_is_refused() {
        let k = keys(10);
        let mut p = pair(&k);
        let (mut a_wire, mut b_wire) = (Vec::new(), Vec::new());
        pump_recording(&mut p, &mut a_wire, &mut b_wire);
        assert!(p.b.is_ready());
        // An eavesdropper replays everything the client sent to a fresh server (whose random
        // stream differs, as a CSPRNG's would: with the same stream it would issue the same
        // cookie key).
        let mut fresh_config = server(&k, false, SocketType::Router);
        fresh_config.random = Some(RandomSource::for_tests(999));
        let mut fresh = Engine::new(fresh_config, Instant::ZERO);
        let events = feed(&mut fresh, &a_wire);
        assert_eq!(
            closed(&events),
            Some(&ConnectionError::Protocol(
                ProtocolViolation::BadCookieOrVouch
            ))
        );
    }

    #[test]
    fn a_reordered_or_repeated_handshake_is_refused() {
        let k = keys(11);
        let mut p = pair(&k);
        let (mut a_wire, mut b_wire) = (Vec::new(), Vec::new());
        pump_recording(&mut p, &mut a_wire, &mut b_wire);
        let cmds = frames(&a_wire);
        let hello = command_frame(&Command::Unknown {
            name: Bytes::from_static(b"HELLO"),
            data: cmds[0].body.slice(6..),
        });
        let initiate = command_frame(&Command::Unknown {
            name: Bytes::from_static(b"INITIATE"),
            data: cmds[1].body.slice(9..),
        });
        let start = greeting(3, 1, MechanismName::CURVE);
        // INITIATE first.
        let mut e = Engine::new(server(&k, false, SocketType::Router), Instant::ZERO);
        let events = feed(&mut e, &[start.clone(), initiate].concat());
        assert!(matches!(
            closed(&events),
            Some(ConnectionError::Protocol(ProtocolViolation::UnexpectedCommand(n))) if n == "INITIATE"
        ));
        // HELLO twice.
        let mut e = Engine::new(server(&k, false, SocketType::Router), Instant::ZERO);
        let events = feed(&mut e, &[start, hello.clone(), hello].concat());
        assert!(matches!(
            closed(&events),
            Some(ConnectionError::Protocol(ProtocolViolation::UnexpectedCommand(n))) if n == "HELLO"
        ));
    }

    #[test]
    fn missing_keys_or_randomness_fail_at_once_with_a_clear_error() {
        let k = keys(12);
        let mut no_server_key = client(&k, CurvePublicKey::default(), SocketType::Dealer);
        let mut e = Engine::new(no_server_key.clone(), Instant::ZERO);
        assert!(matches!(
            e.poll_event(),
            Some(Event::Closed(ConnectionError::Misconfigured(_)))
        ));
        no_server_key.mechanism = MechanismConfig::CurveClient {
            public: k.client_public,
            secret: k.client_secret.clone(),
            server: k.server_public,
        };
        no_server_key.random = None;
        let mut e = Engine::new(no_server_key, Instant::ZERO);
        assert!(matches!(
            e.poll_event(),
            Some(Event::Closed(ConnectionError::Misconfigured(_)))
        ));
    }

    #[test]
    fn key_pairs_come_from_the_injected_random_source() {
        let (p1, s1) = generate_keypair(&mut TestRandom(42));
        let (p2, s2) = generate_keypair(&mut TestRandom(42));
        let (p3, _) = generate_keypair(&mut TestRandom(43));
        assert_eq!((p1, &s1), (p2, &s2));
        assert_ne!(p1, p3);
        assert_eq!(crate::mechanism::curve::public_key(&s1), p1);
        assert_eq!(CurvePublicKey::from_z85(&p1.to_z85()).unwrap(), p1);
        assert_eq!(
            CurveSecretKey::from_z85(&s1.expose_z85()).unwrap(),
            s1,
            "secret keys read back from Z85"
        );
    }

    /// Counts one-way trips ("flights") over a link of fixed latency: in each flight both
    /// engines write everything they have, then each reads what the other wrote. Each side
    /// sends one message the moment it is ready. Returns the flights after which the server
    /// (`b`) has the client's message and the client (`a`) the server's.
    fn flights_to_first_messages(mut a: Engine, mut b: Engine) -> (usize, usize) {
        let now = Instant::ZERO;
        let (mut a_sent, mut b_sent) = (false, false);
        let (mut at_b, mut at_a) = (None, None);
        for flight in 1..=20 {
            if a.is_ready() && !a_sent {
                a.send(&Message::from_frames(["", "from a"])).unwrap();
                a_sent = true;
            }
            if b.is_ready() && !b_sent {
                b.send(&Message::from_frames(["", "from b"])).unwrap();
                b_sent = true;
            }
            let a_out: Vec<Bytes> = std::iter::from_fn(|| a.poll_transmit()).collect();
            let b_out: Vec<Bytes> = std::iter::from_fn(|| b.poll_transmit()).collect();
            a_out.iter().for_each(|x| b.handle_input(x, now));
            b_out.iter().for_each(|x| a.handle_input(x, now));
            for (e, at) in [(&mut a, &mut at_a), (&mut b, &mut at_b)] {
                while let Some(ev) = e.poll_event() {
                    assert!(!matches!(ev, Event::Closed(_)), "{ev:?}");
                    if matches!(ev, Event::Message(_)) && at.is_none() {
                        *at = Some(flight);
                    }
                }
            }
            if let (Some(b), Some(a)) = (at_b, at_a) {
                return (b, a);
            }
        }
        panic!("no message within 20 flights");
    }

    /// Issue 13's target: the CURVE handshake costs at most one round trip (two flights)
    /// more than NULL's before the server's first message reaches the client. With NULL
    /// the greetings cross and then the READYs cross, so both sides have a message after
    /// three flights. CURVE's HELLO → WELCOME → INITIATE → READY run one after the other
    /// after the greetings (RFC 26 allows no overlap): the server may send once INITIATE has
    /// come (flight 4, its message arrives in flight 5: +1 round trip), the client only once
    /// READY has (flight 5, arriving in flight 6: +1.5 round trips, the RFC's sequence and
    /// what libzmq does too).
    #[test]
    fn curve_adds_one_round_trip_before_the_servers_first_message() {
        let null = flights_to_first_messages(
            Engine::new(EngineConfig::new(SocketType::Dealer), Instant::ZERO),
            Engine::new(EngineConfig::new(SocketType::Router), Instant::ZERO),
        );
        assert_eq!(null, (3, 3), "NULL: greeting, READY, message");
        let k = keys(9);
        let curve = flights_to_first_messages(
            Engine::new(
                client(&k, k.server_public, SocketType::Dealer),
                Instant::ZERO,
            ),
            Engine::new(server(&k, false, SocketType::Router), Instant::ZERO),
        );
        assert_eq!(curve, (6, 5), "CURVE: client → server, server → client");
        assert_eq!(
            curve.1 - null.1,
            2,
            "one round trip more for the server's message"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever is sent, the bytes on the wire never contain it in clear.
        #[test]
        fn curve_never_puts_the_plaintext_on_the_wire(
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 16..600),
            seed in 0u64..1000,
        ) {
            let k = keys(seed);
            let mut p = pair(&k);
            let (mut a_wire, mut b_wire) = (Vec::new(), Vec::new());
            pump_recording(&mut p, &mut a_wire, &mut b_wire);
            let m = Message::from_frames([Bytes::new(), Bytes::from(payload.clone())]);
            p.a.send(&m).unwrap();
            p.b.send(&m).unwrap();
            pump_recording(&mut p, &mut a_wire, &mut b_wire);
            proptest::prop_assert_eq!(p.b_messages(), vec![m.clone()]);
            proptest::prop_assert_eq!(p.a_messages(), vec![m]);
            for wire in [&a_wire, &b_wire] {
                proptest::prop_assert!(
                    !wire.windows(payload.len()).any(|w| w == &payload[..]),
                    "plaintext on the wire"
                );
            }
        }
    }
}

#[test]
fn settings_never_print_credentials() {
    let shown = format!("{:?}", plain_client("admin", "hunter2"));
    assert!(
        shown.contains("admin") && !shown.contains("hunter2"),
        "{shown}"
    );
    let mut server = plain_server(true);
    server.mechanism = MechanismConfig::CurveServer {
        public: crate::mechanism::CurvePublicKey([0x11; 32]),
        secret: crate::mechanism::CurveSecretKey::from_bytes([0x22; 32]),
    };
    let shown = format!("{server:?}");
    let secret_z85 = crate::mechanism::CurveSecretKey::from_bytes([0x22; 32]).expose_z85();
    assert!(
        !shown.contains(&secret_z85) && !shown.contains("34, 34"),
        "{shown}"
    );
}
