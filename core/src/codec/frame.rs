//! ZMTP frames (RFC 23 §"Framing"): a flags byte, a 1- or 8-byte length, a body.

use bytes::{BufMut, Bytes, BytesMut};

/// More frames of this message follow.
pub const FLAG_MORE: u8 = 0x01;
/// The length is 8 bytes (network order) rather than 1.
pub const FLAG_LONG: u8 = 0x02;
/// The frame is a command, not a message part.
pub const FLAG_COMMAND: u8 = 0x04;

/// Largest header: flags plus an 8-byte length.
pub const MAX_HEADER_LEN: usize = 9;

/// One decoded frame; the body is a slice of the read buffer, not a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFrame {
    /// More frames of the same message follow.
    pub more: bool,
    /// This frame is a command.
    pub command: bool,
    /// The frame body.
    pub body: Bytes,
}

/// Writes a frame header for a body of `len` bytes. Like libzmq we use the long form only
/// when the body does not fit in one length byte.
pub fn put_header(dst: &mut BytesMut, more: bool, command: bool, len: usize) {
    let mut flags = 0;
    if more {
        flags |= FLAG_MORE;
    }
    if command {
        flags |= FLAG_COMMAND;
    }
    if let Ok(short) = u8::try_from(len) {
        dst.put_u8(flags);
        dst.put_u8(short);
    } else {
        dst.put_u8(flags | FLAG_LONG);
        dst.put_u64(len as u64);
    }
}

/// Length of the header `put_header` writes for a body of `len` bytes.
pub fn header_len(len: usize) -> usize {
    if len <= usize::from(u8::MAX) {
        2
    } else {
        9
    }
}
