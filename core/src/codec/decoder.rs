//! The incremental frame decoder: bytes in, frames out, bodies sliced from the read buffer.

use bytes::{Buf, BytesMut};

use super::frame::{Frame, FLAG_COMMAND, FLAG_LONG, FLAG_MORE};
use crate::error::{ConnectionError, Malformed};

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
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, ConnectionError> {
        let Some((header_len, body_len, flags)) = self.peek_header(buf)? else {
            return Ok(None);
        };
        if buf.len() - header_len < body_len {
            return Ok(None);
        }
        buf.advance(header_len);
        let body = buf.split_to(body_len).freeze();
        let command = flags & FLAG_COMMAND != 0;
        let more = flags & FLAG_MORE != 0;
        if command && more {
            return Err(Malformed::CommandWithMore.into());
        }
        Ok(Some(Frame {
            more,
            command,
            body,
        }))
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn decode_all(d: &FrameDecoder, input: &[u8]) -> Result<Vec<Frame>, ConnectionError> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(f) = d.decode(&mut buf)? {
            out.push(f);
        }
        Ok(out)
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
                Frame {
                    more: true,
                    command: false,
                    body: Bytes::from_static(b"abc")
                },
                Frame {
                    more: false,
                    command: false,
                    body: Bytes::from_static(b"xy")
                },
                Frame {
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
