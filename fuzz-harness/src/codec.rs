//! The byte-level targets: the frame decoder and the greeting parser.

use bytes::{Bytes, BytesMut};
use oxmq_core::codec::{Command, Decoded, FrameDecoder, Greeting, WireFrame};

/// Decodes frames from `data` fed in pieces whose sizes the first byte picks, and parses every
/// command frame. Checks that whole-input and piecewise decoding agree, and that
/// `decode_message` (the engine's traffic-phase cut, short message frames copied inline)
/// cuts the same frames as `decode`.
pub fn frame_decoder(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let decoder = FrameDecoder::new(Some(1 << 20));
    let whole = decode_all(&decoder, rest, rest.len().max(1), false);
    let step = usize::from(split % 16) + 1;
    let piecewise = decode_all(&decoder, rest, step, false);
    assert_eq!(whole, piecewise, "splitting the input changed the frames");
    let inline = decode_all(&decoder, rest, step, true);
    assert_eq!(whole, inline, "decode_message cut other frames than decode");
}

fn decode_all(
    decoder: &FrameDecoder,
    data: &[u8],
    step: usize,
    messages: bool,
) -> (Vec<(bool, bool, Bytes)>, bool) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            let next = if messages {
                decoder.decode_message(&mut buf).map(|cut| {
                    cut.map(|cut| match cut {
                        Decoded::Short { more, body } => WireFrame {
                            more,
                            command: false,
                            body: body.to_bytes(),
                        },
                        Decoded::Frame(f) => f,
                    })
                })
            } else {
                decoder.decode(&mut buf)
            };
            match next {
                Ok(Some(f)) => {
                    if f.command {
                        let _ = Command::parse(f.body.clone());
                    }
                    frames.push((f.more, f.command, f.body));
                }
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
    }
    (frames, false)
}

/// Decodes a greeting from every prefix of `data`; a prefix that is refused must stay refused
/// and a complete greeting must re-encode to a valid greeting.
pub fn greeting(data: &[u8]) {
    let mut refused = false;
    for end in 0..=data.len().min(64) {
        match Greeting::decode(&data[..end]) {
            Ok(None) => assert!(!refused, "a refused prefix was accepted when longer"),
            Ok(Some(g)) => {
                assert_eq!(end, 64);
                let again = Greeting::decode(&g.encode()).expect("our own greeting decodes");
                assert_eq!(
                    again.map(|a| (a.major, a.mechanism)),
                    Some((g.major, g.mechanism))
                );
            }
            Err(_) => refused = true,
        }
    }
}
