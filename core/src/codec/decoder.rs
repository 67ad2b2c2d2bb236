//! The incremental frame decoder: bytes in, frames out, bodies sliced from the read buffer.

use bytes::{Buf, BytesMut};

use super::frame::{WireFrame, FLAG_COMMAND, FLAG_LONG, FLAG_MORE};
use crate::error::{ConnectionError, Malformed};
use crate::message::Frame;

/// Decodes ZMTP frames from a growing buffer. It keeps no partial state of its own: a frame is
/// cut from the buffer only once it is whole, so input may be split anywhere.
#[derive(Clone, Debug, Default)]
pub struct FrameDecoder {
    max_frame_size: Option<u64>,
}

impl FrameDecoder {
    /// A decoder that refuses frames larger than `max_frame_size` bytes (MAXMSGSIZE; `None` for
    /// no limit).
    pub fn new(max_frame_size: Option<u64>) -> Self {
        FrameDecoder { max_frame_size }
    }

    /// Cuts the next whole frame off the front of `buf`. `Ok(None)` means more bytes are
    /// needed. The announced length is checked against the limit before the body is awaited,
    /// and nothing is ever allocated for it here: the body is whatever the buffer already holds.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<WireFrame>, ConnectionError> {
        let Some((header_len, body_len, flags)) = self.whole_header(buf)? else {
            return Ok(None);
        };
        cut(buf, header_len, body_len, flags).map(Some)
    }

    /// Like [`decode`](Self::decode), for the traffic phase: a message frame (not a command)
    /// of at most [`Frame::INLINE`] bytes comes out copied into an inline frame. The copy
    /// keeps no share of the buffer, so no reference count is touched and the buffer's
    /// memory is free for reuse sooner.
    pub fn decode_message(&self, buf: &mut BytesMut) -> Result<Option<Decoded>, ConnectionError> {
        let Some((header_len, body_len, flags)) = self.whole_header(buf)? else {
            return Ok(None);
        };
        if flags & FLAG_COMMAND == 0 && body_len <= Frame::INLINE {
            let body = Frame::copy_from_slice(&buf[header_len..header_len + body_len]);
            buf.advance(header_len + body_len);
            let more = flags & FLAG_MORE != 0;
            return Ok(Some(Decoded::Short { more, body }));
        }
        cut(buf, header_len, body_len, flags).map(|f| Some(Decoded::Frame(f)))
    }

    /// [`peek_header`](Self::peek_header), when the whole frame is in `buf`.
    fn whole_header(&self, buf: &[u8]) -> Result<Option<(usize, usize, u8)>, ConnectionError> {
        Ok(self
            .peek_header(buf)?
            .filter(|&(header_len, body_len, _)| buf.len() - header_len >= body_len))
    }

    /// How many more bytes the frame at the front of `buf` still needs, if its header is in.
    pub fn bytes_missing(&self, buf: &[u8]) -> Option<usize> {
        match self.peek_header(buf) {
            Ok(Some((h, b, _))) => Some((h + b).saturating_sub(buf.len())),
            _ => None,
        }
    }

    /// `(header length, body length, flags)` of the frame at the front of `buf`.
    fn peek_header(&self, buf: &[u8]) -> Result<Option<(usize, usize, u8)>, ConnectionError> {
        let Some(&flags) = buf.first() else {
            return Ok(None);
        };
        // Reserved flag bits are ignored, as libzmq ignores them.
        let (header_len, announced) = if flags & FLAG_LONG != 0 {
            let Some(len) = buf.get(1..9) else {
                return Ok(None);
            };
            let mut be = [0u8; 8];
            be.copy_from_slice(len);
            (9, u64::from_be_bytes(be))
        } else {
            let Some(&len) = buf.get(1) else {
                return Ok(None);
            };
            (2, u64::from(len))
        };
        if let Some(max) = self.max_frame_size {
            if announced > max && flags & FLAG_COMMAND == 0 {
                return Err(ConnectionError::MessageTooLarge {
                    size: announced,
                    max,
                });
            }
        }
        let body_len =
            usize::try_from(announced).map_err(|_| Malformed::FrameTooLong(announced))?;
        // A length that cannot be added to the header cannot be held either.
        if body_len > isize::MAX as usize - header_len {
            return Err(Malformed::FrameTooLong(announced).into());
        }
        Ok(Some((header_len, body_len, flags)))
    }
}

/// A frame [`FrameDecoder::decode_message`] cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A message frame of at most [`Frame::INLINE`] bytes, copied out of the buffer.
    Short {
        /// More frames of the same message follow.
        more: bool,
        /// The frame body, held inline.
        body: Frame,
    },
    /// Any other frame, its body a slice of the buffer.
    Frame(WireFrame),
}

/// Cuts the frame whose header [`FrameDecoder::whole_header`] read off `buf`, its body a
/// slice of the buffer.
#[inline(always)]
fn cut(
    buf: &mut BytesMut,
    header_len: usize,
    body_len: usize,
    flags: u8,
) -> Result<WireFrame, ConnectionError> {
    buf.advance(header_len);
    let body = buf.split_to(body_len).freeze();
    let command = flags & FLAG_COMMAND != 0;
    let more = flags & FLAG_MORE != 0;
    if command && more {
        return Err(Malformed::CommandWithMore.into());
    }
    Ok(WireFrame {
        more,
        command,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn decode_all(d: &FrameDecoder, input: &[u8]) -> Result<Vec<WireFrame>, ConnectionError> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(f) = d.decode(&mut buf)? {
            out.push(f);
        }
        Ok(out)
    }

    /// `(more, command, body)` of each frame in `input` fed `step` bytes at a time, cut by
    /// `decode_message` as the engine cuts them in the traffic phase.
    fn decode_in_steps(
        d: &FrameDecoder,
        input: &[u8],
        step: usize,
    ) -> Result<Vec<(bool, bool, Vec<u8>)>, ConnectionError> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(step) {
            buf.extend_from_slice(piece);
            while let Some(cut) = d.decode_message(&mut buf)? {
                out.push(match cut {
                    Decoded::Short { more, body } => {
                        assert!(body.len() <= Frame::INLINE);
                        (more, false, body.to_vec())
                    }
                    Decoded::Frame(f) => (f.more, f.command, f.body.to_vec()),
                });
            }
        }
        Ok(out)
    }

    #[test]
    fn decode_message_cuts_the_same_frames_as_decode() {
        let mut input = vec![0x01, 3, b'a', b'b', b'c'];
        for len in [0, 22, 23, 24, 300] {
            if len > 255 {
                input.push(FLAG_MORE | FLAG_LONG);
                input.extend_from_slice(&(len as u64).to_be_bytes());
            } else {
                input.extend_from_slice(&[FLAG_MORE, len as u8]);
            }
            input.extend((0..len).map(|i| i as u8));
        }
        input.extend_from_slice(&[0x04, 5, 4, b'P', b'O', b'N', b'G']);
        input.extend_from_slice(&[0x00, 1, b'z']);
        let d = FrameDecoder::default();
        let whole = decode_all(&d, &input).unwrap();
        let expected: Vec<_> = whole
            .iter()
            .map(|f| (f.more, f.command, f.body.to_vec()))
            .collect();
        assert_eq!(expected.len(), 8);
        for step in 1..=input.len() {
            assert_eq!(
                decode_in_steps(&d, &input, step).unwrap(),
                expected,
                "step {step}"
            );
        }
        // Message frames up to 23 bytes come out inline, longer ones and commands shared.
        let kinds: Vec<_> = [(0x00, 23), (0x00, 24), (0x04, 3)]
            .into_iter()
            .map(|(flags, len)| {
                let mut one = BytesMut::from(&[flags, len][..]);
                one.extend((0..len).map(|i| i + 3));
                match d.decode_message(&mut one).unwrap().unwrap() {
                    Decoded::Short { body, .. } => (body.as_shared().is_none(), body.len()),
                    Decoded::Frame(f) => (false, f.body.len()),
                }
            })
            .collect();
        assert_eq!(kinds, [(true, 23), (false, 24), (false, 3)]);
        // A frame over the limit is refused, as `decode` refuses it.
        let small = FrameDecoder::new(Some(2));
        assert!(matches!(
            decode_in_steps(&small, &input, input.len()),
            Err(ConnectionError::MessageTooLarge { size: 3, max: 2 })
        ));
    }

    #[test]
    fn short_long_more_and_command_frames() {
        let mut input = vec![0x01, 3, b'a', b'b', b'c'];
        input.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0, 2, b'x', b'y']);
        input.extend_from_slice(&[0x04, 5, 4, b'P', b'O', b'N', b'G']);
        let frames = decode_all(&FrameDecoder::default(), &input).unwrap();
        assert_eq!(
            frames,
            vec![
                WireFrame {
                    more: true,
                    command: false,
                    body: Bytes::from_static(b"abc")
                },
                WireFrame {
                    more: false,
                    command: false,
                    body: Bytes::from_static(b"xy")
                },
                WireFrame {
                    more: false,
                    command: true,
                    body: Bytes::from_static(b"\x04PONG")
                },
            ]
        );
    }

    #[test]
    fn oversized_frame_is_refused_from_its_header_alone() {
        let d = FrameDecoder::new(Some(1024));
        // Only the 9-byte header of a 1 TiB frame has arrived.
        let header = [0x02, 0, 0, 0x01, 0, 0, 0, 0, 0];
        assert_eq!(
            decode_all(&d, &header),
            Err(ConnectionError::MessageTooLarge {
                size: 1 << 40,
                max: 1024
            })
        );
    }

    #[test]
    fn absurd_length_without_limit_waits_without_allocating() {
        let d = FrameDecoder::default();
        let header = [0x02, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0];
        let mut buf = BytesMut::from(&header[..]);
        let before = buf.capacity();
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert_eq!(buf.capacity(), before);
        let header = [0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            decode_all(&d, &header),
            Err(ConnectionError::Malformed(Malformed::FrameTooLong(_)))
        ));
    }

    #[test]
    fn command_with_more_is_malformed() {
        assert_eq!(
            decode_all(&FrameDecoder::default(), &[0x05, 0]),
            Err(Malformed::CommandWithMore.into())
        );
    }

    #[test]
    fn bodies_share_the_read_buffer() {
        let mut buf = BytesMut::from(&[0x00u8, 4, 1, 2, 3, 4][..]);
        let base = buf.as_ptr() as usize;
        let f = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(
            f.body.as_ptr() as usize,
            base + 2,
            "body must not be copied"
        );
    }
}
