//! Properties of the codec: encode → decode is the identity, however the bytes are split.

use bytes::{Bytes, BytesMut};
use oxmq_core::codec::command::MAX_PING_CONTEXT;
use oxmq_core::codec::{Command, Encoder, FrameDecoder, Metadata, WireFrame};
use oxmq_core::{Engine, EngineConfig, Event, Instant, Message, SocketType};
use proptest::prelude::*;

fn frame_body() -> impl Strategy<Value = Vec<u8>> {
    // Mostly small frames, some past the short-frame and inline limits.
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..300),
        1 => proptest::collection::vec(any::<u8>(), 8000..10_000),
    ]
}

fn message() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(frame_body(), 1..5)
}

fn property_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.+-]{1,40}"
}

fn command() -> impl Strategy<Value = Command> {
    let bytes = |max: usize| proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from);
    prop_oneof![
        proptest::collection::vec((property_name(), bytes(64)), 0..6).prop_map(|props| {
            let mut m = Metadata::new();
            for (n, v) in props {
                m.push(&n, v).unwrap();
            }
            Command::Ready(m)
        }),
        bytes(256).prop_map(Command::Error),
        bytes(300).prop_map(Command::Subscribe),
        bytes(300).prop_map(Command::Cancel),
        (any::<u16>(), bytes(MAX_PING_CONTEXT + 1)).prop_map(|(ttl_deciseconds, context)| {
            Command::Ping {
                ttl_deciseconds,
                context,
            }
        }),
        bytes(40).prop_map(Command::Pong),
        ("[a-z]{1,12}", bytes(50)).prop_map(|(name, data)| Command::Unknown {
            name: Bytes::from(format!("x{name}")),
            data,
        }),
    ]
}

/// Encodes with our encoder and returns the wire bytes.
fn encode(messages: &[Vec<Vec<u8>>], commands: &[Command]) -> Bytes {
    let mut e = Encoder::default();
    for (i, m) in messages.iter().enumerate() {
        let last = m.len() - 1;
        for (j, f) in m.iter().enumerate() {
            e.frame(&Bytes::from(f.clone()), j < last);
        }
        if let Some(c) = commands.get(i) {
            e.command(c);
        }
    }
    for c in commands.iter().skip(messages.len()) {
        e.command(c);
    }
    e.take_all()
}

/// Decodes feeding the bytes in the given chunk sizes (cycled).
fn decode_split(wire: &[u8], splits: &[usize]) -> Vec<WireFrame> {
    let d = FrameDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < wire.len() {
        let n = splits[i % splits.len()].clamp(1, wire.len() - at);
        i += 1;
        buf.extend_from_slice(&wire[at..at + n]);
        at += n;
        while let Some(f) = d.decode(&mut buf).expect("our own bytes decode") {
            out.push(f);
        }
    }
    assert!(buf.is_empty());
    out
}

/// The frames we expect, in wire order.
fn expected(messages: &[Vec<Vec<u8>>], commands: &[Command]) -> Vec<WireFrame> {
    let cmd_frame = |c: &Command| {
        let mut b = BytesMut::new();
        c.encode_body(&mut b);
        WireFrame {
            more: false,
            command: true,
            body: b.freeze(),
        }
    };
    let mut out = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        for (j, f) in m.iter().enumerate() {
            out.push(WireFrame {
                more: j + 1 < m.len(),
                command: false,
                body: Bytes::from(f.clone()),
            });
        }
        if let Some(c) = commands.get(i) {
            out.push(cmd_frame(c));
        }
    }
    out.extend(commands.iter().skip(messages.len()).map(cmd_frame));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn command_encode_then_parse_is_identity(cmd in command()) {
        let mut b = BytesMut::new();
        cmd.encode_body(&mut b);
        prop_assert_eq!(b.len(), cmd.body_len());
        let parsed = Command::parse(b.freeze()).unwrap();
        // Contexts beyond 16 bytes are cut on encode; compare with what was sent.
        let sent = match cmd {
            Command::Ping { ttl_deciseconds, context } => Command::Ping {
                ttl_deciseconds,
                context: context.slice(..context.len().min(MAX_PING_CONTEXT)),
            },
            Command::Error(r) => Command::Error(r.slice(..r.len().min(255))),
            other => other,
        };
        prop_assert_eq!(parsed, sent);
    }

    #[test]
    fn frames_decode_to_what_was_encoded_however_split(
        messages in proptest::collection::vec(message(), 0..8),
        commands in proptest::collection::vec(command(), 0..4),
        splits in proptest::collection::vec(1usize..700, 1..10),
    ) {
        let wire = encode(&messages, &commands);
        let want = expected(&messages, &commands);
        prop_assert_eq!(&decode_split(&wire, &[wire.len().max(1)]), &want);
        prop_assert_eq!(&decode_split(&wire, &splits), &want);
    }

    #[test]
    fn frames_decode_one_byte_at_a_time(
        messages in proptest::collection::vec(proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..270), 1..4), 0..5),
        commands in proptest::collection::vec(command(), 0..3),
    ) {
        let wire = encode(&messages, &commands);
        prop_assert_eq!(decode_split(&wire, &[1]), expected(&messages, &commands));
    }

    #[test]
    fn two_engines_deliver_every_message_whole_however_split(
        messages in proptest::collection::vec(message(), 1..10),
        split in 1usize..200,
    ) {
        let now = Instant::ZERO;
        let mut a = Engine::new(EngineConfig::new(SocketType::Push), now);
        let mut b = Engine::new(EngineConfig::new(SocketType::Pull), now);
        let sent: Vec<Message> = messages.iter().map(|m| Message::from_frames(m.clone())).collect();
        let mut received = Vec::new();
        let mut queued = false;
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(c) = a.poll_transmit() {
                for piece in c.chunks(split) { b.handle_input(piece, now); moved = true; }
            }
            while let Some(c) = b.poll_transmit() {
                for piece in c.chunks(split) { a.handle_input(piece, now); moved = true; }
            }
            while let Some(e) = a.poll_event() { prop_assert!(!matches!(e, Event::Closed(_))); }
            while let Some(e) = b.poll_event() {
                match e {
                    Event::Message(m) => received.push(m),
                    Event::Closed(err) => prop_assert!(false, "closed: {}", err),
                    _ => {}
                }
            }
            if a.is_ready() && !queued {
                for m in &sent { a.send(m).unwrap(); }
                queued = true;
                moved = true;
            }
            if !moved { break; }
        }
        prop_assert_eq!(received, sent);
    }
}
