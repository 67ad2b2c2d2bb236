//! Engine tests on virtual time: two engines joined in memory (quinn-proto's `Pair` idea), and
//! one engine fed hand-made bytes.

use super::*;
use crate::codec::greeting::MechanismName;
use crate::error::Malformed;

/// Two engines wired to each other, on a shared virtual clock.
struct Pair {
    a: Engine,
    b: Engine,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
    now: Instant,
    /// Deliver at most this many bytes per hop (1 = byte by byte).
    chunk: usize,
    /// While false, nothing B writes reaches A (B went silent).
    b_to_a: bool,
}

impl Pair {
    fn new(a: EngineConfig, b: EngineConfig) -> Pair {
        Pair {
            a: Engine::new(a, Instant::ZERO),
            b: Engine::new(b, Instant::ZERO),
            a_events: Vec::new(),
            b_events: Vec::new(),
            now: Instant::ZERO,
            chunk: usize::MAX,
            b_to_a: true,
        }
    }

    fn dealer_router() -> Pair {
        let mut a = EngineConfig::new(SocketType::Dealer);
        a.routing_id = Some(Bytes::from_static(b"client-1"));
        Pair::new(a, EngineConfig::new(SocketType::Router))
    }

    fn move_bytes(
        from: &mut Engine,
        to: &mut Engine,
        chunk: usize,
        now: Instant,
        on: bool,
    ) -> bool {
        let mut moved = false;
        while let Some(bytes) = from.poll_transmit() {
            if !on {
                continue;
            }
            for piece in bytes.chunks(chunk.max(1)) {
                to.handle_input(piece, now);
                moved = true;
            }
        }
        moved
    }

    fn pump(&mut self) {
        loop {
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(e);
            }
            let ab = Self::move_bytes(&mut self.a, &mut self.b, self.chunk, self.now, true);
            let ba = Self::move_bytes(&mut self.b, &mut self.a, self.chunk, self.now, self.b_to_a);
            if !ab && !ba {
                while let Some(e) = self.a.poll_event() {
                    self.a_events.push(e);
                }
                while let Some(e) = self.b.poll_event() {
                    self.b_events.push(e);
                }
                return;
            }
        }
    }

    /// Moves the clock forward to `until`, firing timers as they fall due.
    fn run_until(&mut self, until: Instant) {
        self.pump();
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn a_messages(&self) -> Vec<Message> {
        messages(&self.a_events)
    }
    fn b_messages(&self) -> Vec<Message> {
        messages(&self.b_events)
    }
}

fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn closed(events: &[Event]) -> Option<&ConnectionError> {
    events.iter().find_map(|e| match e {
        Event::Closed(err) => Some(err),
        _ => None,
    })
}

fn peer(events: &[Event]) -> Option<&PeerInfo> {
    events.iter().find_map(|e| match e {
        Event::HandshakeSucceeded(p) => Some(&**p),
        _ => None,
    })
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn at(d: Duration) -> Instant {
    Instant::ZERO + d
}

#[test]
fn null_handshake_reports_peer_type_and_routing_id() {
    let mut p = Pair::dealer_router();
    p.pump();
    let seen_by_router = peer(&p.b_events).expect("router handshake");
    assert_eq!(seen_by_router.socket_type, Some(SocketType::Dealer));
    assert_eq!(seen_by_router.routing_id.as_deref(), Some(&b"client-1"[..]));
    assert_eq!(seen_by_router.version, ZmtpVersion::V3_1);
    let seen_by_dealer = peer(&p.a_events).expect("dealer handshake");
    assert_eq!(seen_by_dealer.socket_type, Some(SocketType::Router));
    assert_eq!(seen_by_dealer.routing_id, None, "empty Identity means none");
    assert!(p.a.is_ready() && p.b.is_ready());
    assert_eq!(p.a.poll_timeout(), None, "handshake timer stopped");
}

#[test]
fn multipart_messages_flow_both_ways_whole_and_in_order() {
    let mut p = Pair::dealer_router();
    p.pump();
    let big = Bytes::from(vec![0xAB; 100_000]);
    let sent_a = [
        Message::from_frames(["", "hello"]),
        Message::single(big.clone()),
        Message::from_frames([Bytes::from_static(b"x"), big.clone(), Bytes::new()]),
    ];
    for m in &sent_a {
        p.a.send(m).unwrap();
    }
    p.b.send(&Message::from_frames(["", "world"])).unwrap();
    p.pump();
    assert_eq!(p.b_messages(), sent_a);
    assert_eq!(p.a_messages(), vec![Message::from_frames(["", "world"])]);
}

#[test]
fn byte_by_byte_delivery_gives_the_same_result() {
    let mut whole = Pair::dealer_router();
    let mut bytewise = Pair::dealer_router();
    bytewise.chunk = 1;
    for p in [&mut whole, &mut bytewise] {
        p.pump();
        p.a.send(&Message::from_frames(["a", "bc", ""])).unwrap();
        p.a.send(&Message::single(vec![7u8; 300])).unwrap();
        p.b.send(&Message::single("r")).unwrap();
        p.pump();
    }
    assert_eq!(whole.a_events, bytewise.a_events);
    assert_eq!(whole.b_events, bytewise.b_events);
    assert_eq!(whole.b_messages().len(), 2);
}

#[test]
fn send_before_handshake_is_refused() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Push), Instant::ZERO);
    assert_eq!(e.send(&Message::single("x")), Err(SendError::NotReady));
}

#[test]
fn incompatible_socket_types_end_the_connection_with_an_error_command() {
    let mut p = Pair::new(
        EngineConfig::new(SocketType::Push),
        EngineConfig::new(SocketType::Pub),
    );
    p.pump();
    for events in [&p.a_events, &p.b_events] {
        assert!(
            matches!(
                closed(events),
                Some(ConnectionError::Incompatible(
                    Incompatible::SocketType { .. }
                ))
            ),
            "{events:?}"
        );
        assert!(peer(events).is_none());
    }
    assert!(p.a.is_closed() && p.b.is_closed());
}

#[test]
fn every_compatible_pair_handshakes_and_every_other_pair_fails() {
    // STREAM speaks raw bytes, not ZMTP (see the raw-mode test).
    let zmtp = SocketType::ALL
        .into_iter()
        .filter(|t| *t != SocketType::Stream);
    for a in zmtp.clone() {
        for b in zmtp.clone() {
            let mut p = Pair::new(EngineConfig::new(a), EngineConfig::new(b));
            p.pump();
            assert_eq!(p.a.is_ready(), a.is_compatible_with(b), "{a} - {b}");
            assert_eq!(p.b.is_ready(), a.is_compatible_with(b), "{a} - {b}");
        }
    }
}

/// Bytes a hand-made peer sends: a greeting, then frames.
fn greeting(major: u8, minor: u8, mechanism: MechanismName) -> Vec<u8> {
    let mut g = Greeting::ours(mechanism, false).encode().to_vec();
    g[10] = major;
    g[11] = minor;
    g
}

fn command_frame(cmd: &Command) -> Vec<u8> {
    let mut e = Encoder::default();
    e.command(cmd);
    e.take_all().to_vec()
}

fn ready(socket_type: &str) -> Vec<u8> {
    let mut m = Metadata::new();
    m.push(
        PROP_SOCKET_TYPE,
        Bytes::copy_from_slice(socket_type.as_bytes()),
    )
    .unwrap();
    command_frame(&Command::Ready(m))
}

fn feed(e: &mut Engine, bytes: &[u8]) -> Vec<Event> {
    e.handle_input(bytes, Instant::ZERO);
    std::iter::from_fn(|| e.poll_event()).collect()
}

#[test]
fn zmtp_2_0_peer_gets_a_clear_version_error() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Dealer), Instant::ZERO);
    let events = feed(&mut e, &greeting(1, 0, MechanismName::NULL)[..11]);
    assert_eq!(
        closed(&events),
        Some(&ConnectionError::Incompatible(Incompatible::Version {
            major: 1
        }))
    );
    assert!(closed(&events).unwrap().to_string().contains("ZMTP 2.0"));
}

#[test]
fn other_mechanism_is_incompatible() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Dealer), Instant::ZERO);
    let events = feed(&mut e, &greeting(3, 1, MechanismName::PLAIN));
    assert!(matches!(
        closed(&events),
        Some(ConnectionError::Incompatible(
            Incompatible::Mechanism { .. }
        ))
    ));
}

#[test]
fn message_before_handshake_is_a_protocol_error() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Pull), Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend_from_slice(&[0x00, 1, b'x']);
    let events = feed(&mut e, &bytes);
    assert_eq!(
        closed(&events),
        Some(&ConnectionError::Protocol(
            ProtocolViolation::MessageBeforeHandshake
        ))
    );
}

#[test]
fn error_command_in_handshake_is_reported_with_its_reason() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Pull), Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend(command_frame(&Command::Error(Bytes::from_static(b"400"))));
    let events = feed(&mut e, &bytes);
    assert_eq!(
        closed(&events),
        Some(&ConnectionError::PeerError {
            reason: Bytes::from_static(b"400")
        })
    );
}

#[test]
fn garbage_in_a_command_costs_only_this_connection() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Pull), Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    // A READY whose property claims a 4 GiB value.
    bytes.extend_from_slice(&[
        0x04, 10, 5, b'R', b'E', b'A', b'D', b'Y', 1, b'a', 0xff, 0xff,
    ]);
    let events = feed(&mut e, &bytes);
    assert_eq!(
        closed(&events),
        Some(&ConnectionError::Malformed(Malformed::TruncatedProperty))
    );
    assert!(e.is_closed());
    // Nothing further is processed.
    assert!(feed(&mut e, &[0u8; 32]).is_empty());
}

#[test]
fn missing_socket_type_is_tolerated_like_libzmq() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Pull), Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend(command_frame(&Command::Ready(Metadata::new())));
    let events = feed(&mut e, &bytes);
    assert_eq!(peer(&events).unwrap().socket_type, None);
}

#[test]
fn oversized_frame_closes_with_message_too_large() {
    let mut cfg = EngineConfig::new(SocketType::Pull);
    cfg.max_msg_size = Some(10);
    let mut e = Engine::new(cfg, Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend(ready("PUSH"));
    bytes.extend_from_slice(&[0x00, 10]);
    bytes.extend_from_slice(&[b'k'; 10]);
    bytes.extend_from_slice(&[0x00, 11]);
    let events = feed(&mut e, &bytes);
    assert_eq!(messages(&events).len(), 1, "the 10-byte frame is fine");
    assert_eq!(
        closed(&events),
        Some(&ConnectionError::MessageTooLarge { size: 11, max: 10 })
    );
}

#[test]
fn eof_delivers_what_arrived_then_closes() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Pull), Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend(ready("PUSH"));
    bytes.extend_from_slice(&[0x00, 2, b'h', b'i', 0x01, 1]);
    e.handle_input(&bytes, Instant::ZERO);
    e.handle_eof(Instant::ZERO);
    let events: Vec<Event> = std::iter::from_fn(|| e.poll_event()).collect();
    assert_eq!(messages(&events), vec![Message::single("hi")]);
    assert_eq!(closed(&events), Some(&ConnectionError::PeerClosed));
    assert!(matches!(events.last(), Some(Event::Closed(_))));
}

/// One-frame messages skip the event queue (`poll_event`'s fast path); whatever else the
/// same input holds (commands, multipart messages, a broken frame) must still come out in
/// the order it was sent.
#[test]
fn one_frame_messages_keep_their_place_among_other_input() {
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend(ready("SUB"));
    bytes.extend_from_slice(&[0x00, 1, b'a']);
    bytes.extend(command_frame(&Command::Subscribe(Bytes::from_static(b"t"))));
    bytes.extend_from_slice(&[0x01, 1, b'b', 0x00, 1, b'c']);
    // Longer than an inline frame: cut from the buffer rather than copied.
    let long = [b'x'; 64];
    bytes.extend_from_slice(&[0x00, 64]);
    bytes.extend_from_slice(&long);
    bytes.extend_from_slice(&[0x00, 1, b'd']);
    bytes.extend(command_frame(&Command::Cancel(Bytes::from_static(b"t"))));
    bytes.extend_from_slice(&[0x00, 1, b'e']);
    // A READY whose property claims a 4 GiB value ends the connection after all that.
    bytes.extend_from_slice(&[
        0x04, 10, 5, b'R', b'E', b'A', b'D', b'Y', 1, b'a', 0xff, 0xff,
    ]);
    bytes.extend_from_slice(&[0x00, 1, b'z']);
    // Fed in pieces too, so that frames straddle reads.
    for chunk in [bytes.len(), 5, 1] {
        let mut e = Engine::new(EngineConfig::new(SocketType::XPub), Instant::ZERO);
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk) {
            e.handle_input(piece, Instant::ZERO);
            events.extend(std::iter::from_fn(|| e.poll_event()));
        }
        let seen: Vec<String> = events
            .iter()
            .map(|ev| match ev {
                Event::HandshakeSucceeded(_) => "hello".to_owned(),
                Event::Message(m) => m
                    .frames()
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect::<Vec<_>>()
                    .join("+"),
                Event::Subscribe(t) => format!("sub {}", String::from_utf8_lossy(t)),
                Event::Cancel(t) => format!("cancel {}", String::from_utf8_lossy(t)),
                Event::Closed(err) => format!("closed: {err}"),
                other => format!("{other:?}"),
            })
            .collect();
        let x64 = String::from_utf8_lossy(&long).into_owned();
        let closed = format!(
            "closed: {}",
            ConnectionError::Malformed(Malformed::TruncatedProperty)
        );
        assert_eq!(
            seen,
            ["hello", "a", "sub t", "b+c", &x64, "d", "cancel t", "e", &closed],
            "fed {chunk} bytes at a time"
        );
    }
}

/// A message that arrived while ZAP was asked waits in the buffer; once the handler says yes,
/// the handshake's event comes before it, fast path or not.
#[test]
fn a_message_held_behind_zap_comes_after_the_handshake() {
    let mut config = EngineConfig::new(SocketType::Router);
    config.zap_handler = true;
    config.zap_domain = Bytes::from_static(b"d");
    let mut e = Engine::new(config, Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend(ready("DEALER"));
    bytes.extend_from_slice(&[0x00, 5, b'e', b'a', b'r', b'l', b'y']);
    let asked = feed(&mut e, &bytes);
    assert!(matches!(asked[..], [Event::ZapRequest(_)]), "{asked:?}");
    e.handle_zap_reply(crate::mechanism::ZapReply::accept("u"), Instant::ZERO);
    let events: Vec<Event> = std::iter::from_fn(|| e.poll_event()).collect();
    assert!(
        matches!(&events[..], [Event::HandshakeSucceeded(_), Event::Message(m)] if m == &Message::single("early")),
        "{events:?}"
    );
}

#[test]
fn handshake_times_out_after_handshake_ivl() {
    let mut cfg = EngineConfig::new(SocketType::Dealer);
    cfg.handshake_ivl = secs(5);
    let mut e = Engine::new(cfg, Instant::ZERO);
    assert_eq!(e.poll_timeout(), Some(at(secs(5))));
    e.handle_timeout(at(Duration::from_millis(4999)));
    assert_eq!(e.poll_event(), None);
    e.handle_timeout(at(secs(5)));
    assert_eq!(
        e.poll_event(),
        Some(Event::Closed(ConnectionError::HandshakeTimeout))
    );
}

#[test]
fn a_peer_that_vanishes_mid_greeting_times_out() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Dealer), Instant::ZERO);
    assert!(feed(&mut e, &greeting(3, 1, MechanismName::NULL)[..30]).is_empty());
    e.handle_timeout(at(DEFAULT_HANDSHAKE_IVL));
    assert_eq!(
        e.poll_event(),
        Some(Event::Closed(ConnectionError::HandshakeTimeout))
    );
}

fn heartbeating(socket_type: SocketType, ivl: u64, timeout: Option<u64>, ttl: u64) -> EngineConfig {
    let mut c = EngineConfig::new(socket_type);
    c.heartbeat_ivl = secs(ivl);
    c.heartbeat_timeout = timeout.map(secs);
    c.heartbeat_ttl = secs(ttl);
    c
}

#[test]
fn heartbeats_keep_a_quiet_connection_alive() {
    let mut p = Pair::new(
        heartbeating(SocketType::Dealer, 1, None, 0),
        heartbeating(SocketType::Router, 1, None, 0),
    );
    p.run_until(at(secs(60)));
    assert!(p.a.is_ready() && p.b.is_ready());
    let (a, b) = (p.a.stats(), p.b.stats());
    assert_eq!(a.pings_sent, 60);
    assert_eq!(b.pings_received, 60);
    assert_eq!(a.pongs_received, 60);
    assert_eq!(b.pongs_received, 60);
}

#[test]
fn silence_after_a_ping_closes_after_heartbeat_timeout() {
    let mut p = Pair::new(
        heartbeating(SocketType::Dealer, 1, Some(3), 0),
        EngineConfig::new(SocketType::Router),
    );
    p.pump();
    p.b_to_a = false;
    // First PING at 1 s arms the 3 s timeout; nothing comes back.
    p.run_until(at(Duration::from_millis(3999)));
    assert!(p.a.is_ready());
    p.run_until(at(secs(4)));
    assert_eq!(
        closed(&p.a_events),
        Some(&ConnectionError::HeartbeatTimeout)
    );
    assert!(p.b.is_ready(), "the silent side is not affected");
}

#[test]
fn peer_ttl_closes_a_connection_that_goes_quiet() {
    // B pings every 1 s announcing a TTL of 5 s, then stops being heard from.
    let mut p = Pair::new(
        EngineConfig::new(SocketType::Dealer),
        heartbeating(SocketType::Router, 1, Some(100), 5),
    );
    p.pump();
    p.run_until(at(secs(1)));
    assert_eq!(p.a.stats().pings_received, 1);
    // From now on nothing B sends reaches A, and A's clock moves on alone.
    while p.b.poll_transmit().is_some() {}
    // A's TTL timer, armed when the PING arrived at 1 s, fires at 6 s.
    p.a.handle_timeout(at(Duration::from_millis(5999)));
    assert!(p.a.poll_event().is_none());
    p.a.handle_timeout(at(secs(6)));
    assert_eq!(
        p.a.poll_event(),
        Some(Event::Closed(ConnectionError::HeartbeatTtlExpired))
    );
}

#[test]
fn our_ping_carries_heartbeat_ttl_in_deciseconds() {
    let mut e = Engine::new(heartbeating(SocketType::Dealer, 1, None, 3), Instant::ZERO);
    let _ = e.poll_transmit();
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend(ready("ROUTER"));
    feed(&mut e, &bytes);
    while e.poll_transmit().is_some() {}
    e.handle_timeout(at(secs(1)));
    let mut out = Vec::new();
    while let Some(c) = e.poll_transmit() {
        out.extend_from_slice(&c);
    }
    assert_eq!(out, b"\x04\x07\x04PING\x00\x1e");
}

#[test]
fn ping_context_is_echoed_in_pong() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Dealer), Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend(ready("ROUTER"));
    bytes.extend(command_frame(&Command::Ping {
        ttl_deciseconds: 0,
        context: Bytes::from_static(b"ctx"),
    }));
    feed(&mut e, &bytes);
    let mut out = Vec::new();
    while let Some(c) = e.poll_transmit() {
        out.extend_from_slice(&c);
    }
    assert!(out.ends_with(b"\x04\x08\x04PONGctx"), "{out:?}");
}

#[test]
fn subscriptions_travel_as_commands_between_3_1_peers() {
    let mut p = Pair::new(
        EngineConfig::new(SocketType::Sub),
        EngineConfig::new(SocketType::XPub),
    );
    p.pump();
    p.a.send_subscribe(b"weather").unwrap();
    p.a.send_cancel(b"weather").unwrap();
    p.pump();
    let subs: Vec<&Event> = p
        .b_events
        .iter()
        .filter(|e| matches!(e, Event::Subscribe(_) | Event::Cancel(_)))
        .collect();
    assert_eq!(
        subs,
        vec![
            &Event::Subscribe(Bytes::from_static(b"weather")),
            &Event::Cancel(Bytes::from_static(b"weather"))
        ]
    );
}

#[test]
fn a_3_0_peer_gets_subscriptions_as_messages_and_pings_as_libzmq_sends_them() {
    let mut e = Engine::new(heartbeating(SocketType::Sub, 1, None, 0), Instant::ZERO);
    let _ = e.poll_transmit();
    let mut bytes = greeting(3, 0, MechanismName::NULL);
    bytes.extend(ready("PUB"));
    let events = feed(&mut e, &bytes);
    assert_eq!(peer(&events).unwrap().version, ZmtpVersion::V3_0);
    while e.poll_transmit().is_some() {}
    e.send_subscribe(b"A").unwrap();
    e.send_cancel(b"B").unwrap();
    assert_eq!(
        &e.poll_transmit().unwrap()[..],
        b"\x00\x02\x01A\x00\x02\x00B"
    );
    // Heartbeats as towards a 3.1 peer: a PING after the interval.
    assert_eq!(e.poll_timeout(), Some(at(secs(1))));
    e.handle_timeout(at(secs(1)));
    let ping = e.poll_transmit().unwrap();
    assert_eq!(&ping[..7], b"\x04\x07\x04PING", "a short PING command");
}

#[test]
fn unknown_commands_after_handshake_are_dropped() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Pull), Instant::ZERO);
    let mut bytes = greeting(3, 1, MechanismName::NULL);
    bytes.extend(ready("PUSH"));
    bytes.extend(command_frame(&Command::Unknown {
        name: Bytes::from_static(b"JOIN"),
        data: Bytes::from_static(b"g"),
    }));
    bytes.extend_from_slice(&[0x00, 1, b'm']);
    let events = feed(&mut e, &bytes);
    assert_eq!(messages(&events), vec![Message::single("m")]);
    assert!(closed(&events).is_none());
}

#[test]
fn raw_mode_passes_bytes_through_without_zmtp() {
    let mut e = Engine::new(EngineConfig::new(SocketType::Stream), Instant::ZERO);
    assert!(e.is_ready(), "no handshake");
    assert!(matches!(e.poll_event(), Some(Event::HandshakeSucceeded(_))));
    assert_eq!(e.poll_transmit(), None, "no greeting");
    assert_eq!(e.poll_timeout(), None, "no handshake timer");
    e.handle_input(b"GET / HTTP/1.0\r\n", Instant::ZERO);
    assert_eq!(
        e.poll_event(),
        Some(Event::Message(Message::single(&b"GET / HTTP/1.0\r\n"[..])))
    );
    let big = Bytes::from(vec![7u8; 100_000]);
    e.send(&Message::single("HTTP/1.0 200 OK\r\n")).unwrap();
    e.send(&Message::single(big.clone())).unwrap();
    let mut out = Vec::new();
    while let Some(c) = e.poll_transmit() {
        out.extend_from_slice(&c);
    }
    assert_eq!(&out[..17], b"HTTP/1.0 200 OK\r\n");
    assert_eq!(&out[17..], &big[..]);
    e.handle_eof(Instant::ZERO);
    assert_eq!(
        e.poll_event(),
        Some(Event::Closed(ConnectionError::PeerClosed))
    );
}

#[cfg(feature = "sim")]
#[test]
fn sim_ready_delay_holds_our_ready_and_the_peers_handshake() {
    let mut slow = EngineConfig::new(SocketType::Dealer);
    slow.sim_ready_delay = Duration::from_millis(300);
    let mut p = Pair::new(slow, EngineConfig::new(SocketType::Router));
    p.pump();
    assert!(!p.a.is_ready() && !p.b.is_ready(), "READY held back");
    p.run_until(at(Duration::from_millis(299)));
    assert!(!p.a.is_ready() && !p.b.is_ready());
    p.run_until(at(Duration::from_millis(300)));
    assert!(
        p.a.is_ready() && p.b.is_ready(),
        "both complete once it is sent"
    );
    p.a.send(&Message::single("late")).unwrap();
    p.pump();
    assert_eq!(p.b_messages(), vec![Message::single("late")]);
}

mod security;

#[test]
fn bytes_wanted_counts_what_the_frame_under_way_lacks() {
    let mut p = Pair::dealer_router();
    // During the greeting the buffer holds no frames: nothing is announced.
    let first = p.a.poll_transmit().expect("greeting");
    p.b.handle_input(&first[..5], Instant::ZERO);
    assert_eq!(p.b.bytes_wanted(), 0);
    p.b.handle_input(&first[5..], Instant::ZERO);
    p.pump();
    assert!(p.b.is_ready());
    let body = Bytes::from(vec![7u8; 100_000]);
    p.a.send(&Message::single(body.clone())).unwrap();
    let mut wire = Vec::new();
    while let Some(b) = p.a.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    // A long frame: flags, 8 length bytes, the body.
    assert_eq!(wire.len(), 9 + 100_000);
    p.b.handle_input(&wire[..1], Instant::ZERO);
    assert_eq!(p.b.bytes_wanted(), 0, "the header is not in yet");
    p.b.handle_input(&wire[1..9 + 1000], Instant::ZERO);
    assert_eq!(p.b.bytes_wanted(), 99_000);
    p.b.handle_input(&wire[9 + 1000..], Instant::ZERO);
    assert_eq!(p.b.bytes_wanted(), 0, "whole");
    let got = std::iter::from_fn(|| p.b.poll_event()).find_map(|e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    });
    assert_eq!(got, Some(Message::single(body)));
}
