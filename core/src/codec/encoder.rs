//! The frame encoder: small frames are batched into one buffer; large bodies stay separate
//! `Bytes` chained behind their header, ready for a vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::command::Command;
use super::frame::put_header;

/// Bodies up to this many bytes are copied into the batch buffer; larger ones are passed by
/// reference. libzmq's default out-batch is 8 KiB; we copy below that too.
pub const DEFAULT_INLINE_MAX: usize = 8 * 1024;

/// Outgoing bytes: a queue of frozen chunks followed by the batch being filled.
#[derive(Debug)]
pub struct Encoder {
    chunks: VecDeque<Bytes>,
    batch: BytesMut,
    inline_max: usize,
    pending: usize,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new(DEFAULT_INLINE_MAX)
    }
}

impl Encoder {
    /// An encoder that copies bodies of at most `inline_max` bytes.
    pub fn new(inline_max: usize) -> Self {
        Encoder {
            chunks: VecDeque::new(),
            batch: BytesMut::new(),
            inline_max,
            pending: 0,
        }
    }

    /// Queues raw bytes (the greeting).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.batch.extend_from_slice(bytes);
        self.pending += bytes.len();
    }

    /// Queues bytes as they are, without framing (raw STREAM peers); large ones by reference.
    pub fn bytes(&mut self, data: &Bytes) {
        if data.len() <= self.inline_max {
            self.raw(data);
        } else {
            self.pending += data.len();
            if !self.batch.is_empty() {
                let head = self.batch.split().freeze();
                self.chunks.push_back(head);
            }
            self.chunks.push_back(data.clone());
        }
    }

    /// Queues one message frame; a large body by reference.
    pub fn frame(&mut self, body: &Bytes, more: bool) {
        if body.len() <= self.inline_max {
            self.frame_copied(body, more);
        } else {
            let before = self.batch.len();
            put_header(&mut self.batch, more, false, body.len());
            self.pending += self.batch.len() - before + body.len();
            let header = self.batch.split().freeze();
            self.chunks.push_back(header);
            self.chunks.push_back(body.clone());
        }
    }

    /// Queues one message frame, its body copied into the batch.
    pub fn frame_copied(&mut self, body: &[u8], more: bool) {
        let before = self.batch.len();
        put_header(&mut self.batch, more, false, body.len());
        self.pending += self.batch.len() - before + body.len();
        self.batch.extend_from_slice(body);
    }

    /// Queues one command frame.
    pub fn command(&mut self, cmd: &Command) {
        let before = self.batch.len();
        let len = cmd.body_len();
        self.batch.reserve(9 + len);
        put_header(&mut self.batch, false, true, len);
        cmd.encode_body(&mut self.batch);
        self.pending += self.batch.len() - before;
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Whether nothing is waiting to be written.
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Fills `dst` with the waiting bytes in order, for a vectored write; returns how many
    /// slices it filled.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let batch = (!self.batch.is_empty()).then_some(&self.batch[..]);
        for chunk in self.chunks.iter().map(|c| &c[..]).chain(batch) {
            if n == dst.len() {
                break;
            }
            dst[n] = IoSlice::new(chunk);
            n += 1;
        }
        n
    }

    /// Marks the first `n` waiting bytes as written.
    pub fn advance(&mut self, mut n: usize) {
        assert!(n <= self.pending, "advanced past the pending bytes");
        self.pending -= n;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(front) if front.len() <= n => {
                    n -= front.len();
                    self.chunks.pop_front();
                }
                Some(front) => {
                    front.advance(n);
                    n = 0;
                }
                None => {
                    self.batch.advance(n);
                    n = 0;
                }
            }
        }
    }

    /// Takes the next chunk of waiting bytes; the caller now owns writing it.
    pub fn pop_chunk(&mut self) -> Option<Bytes> {
        let chunk = match self.chunks.pop_front() {
            Some(c) => c,
            None if !self.batch.is_empty() => self.batch.split().freeze(),
            None => return None,
        };
        self.pending -= chunk.len();
        Some(chunk)
    }

    /// Everything waiting, as one contiguous buffer (for tests and simple drivers).
    pub fn take_all(&mut self) -> Bytes {
        if self.chunks.is_empty() {
            self.pending = 0;
            return self.batch.split().freeze();
        }
        let mut out = BytesMut::with_capacity(self.pending);
        while let Some(c) = self.pop_chunk() {
            out.put_slice(&c);
        }
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_frames_share_one_chunk_and_large_bodies_are_not_copied() {
        let mut e = Encoder::new(16);
        let big = Bytes::from(vec![9u8; 1000]);
        e.frame(&Bytes::from_static(b"hi"), true);
        e.frame(&big, false);
        e.frame(&Bytes::from_static(b"x"), false);
        let mut slices = [IoSlice::new(&[]); 8];
        let n = e.io_slices(&mut slices);
        assert_eq!(n, 3, "header batch, big body, trailing batch");
        assert_eq!(
            slices[1].as_ptr(),
            big.as_ptr(),
            "large body passed by reference"
        );
        assert_eq!(
            &slices[0][..],
            &[0x01, 2, b'h', b'i', 0x02, 0, 0, 0, 0, 0, 0, 3, 0xe8]
        );
        assert_eq!(e.pending(), 13 + 1000 + 3);
    }

    #[test]
    fn advance_across_chunks_keeps_the_rest_in_order() {
        let mut e = Encoder::new(4);
        e.frame(&Bytes::from_static(b"0123456789"), false);
        e.frame(&Bytes::from_static(b"ab"), false);
        let all = {
            let mut copy = Encoder::new(4);
            copy.frame(&Bytes::from_static(b"0123456789"), false);
            copy.frame(&Bytes::from_static(b"ab"), false);
            copy.take_all()
        };
        for step in 1..all.len() {
            let mut e2 = Encoder::new(4);
            e2.frame(&Bytes::from_static(b"0123456789"), false);
            e2.frame(&Bytes::from_static(b"ab"), false);
            let mut written = Vec::new();
            while !e2.is_empty() {
                let mut slices = [IoSlice::new(&[]); 4];
                let n = e2.io_slices(&mut slices);
                let flat: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
                let k = step.min(flat.len());
                written.extend_from_slice(&flat[..k]);
                e2.advance(k);
            }
            assert_eq!(written, all, "step {step}");
        }
        assert_eq!(e.take_all(), all);
        assert!(e.is_empty());
    }
}
