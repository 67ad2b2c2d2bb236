//! The frame encoder: small frames are copied into a batch, block after block; large bodies
//! stay separate `Bytes` chained behind their header, ready for a vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::command::Command;
use super::frame::{put_header, MAX_HEADER_LEN};

/// Bodies up to this many bytes are copied into the batch buffer; larger ones are passed by
/// reference. libzmq's default out-batch is 8 KiB; we copy below that too.
pub const DEFAULT_INLINE_MAX: usize = 8 * 1024;

/// The largest block the batch is given at once. A stream's blocks double up to this size.
const BLOCK_MAX: usize = 64 * 1024;

/// Outgoing bytes: a queue of frozen chunks followed by the batch being filled.
///
/// The batch never grows in place: growing would copy what it holds (a busy stream's bytes
/// twice over). When the next piece does not fit, what the batch holds is frozen as a chunk
/// and the batch gets a new block, each twice the last, up to `BLOCK_MAX` (64 KiB).
#[derive(Debug)]
pub struct Encoder {
    chunks: VecDeque<Bytes>,
    batch: BytesMut,
    inline_max: usize,
    pending: usize,
    /// The size of the batch's last block (halved by [`Encoder::shrink_idle`]).
    block: usize,
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
            block: 0,
        }
    }

    /// Makes room for `n` more bytes in the batch without moving what it holds.
    #[inline]
    fn room(&mut self, n: usize) {
        if self.batch.capacity() - self.batch.len() >= n {
            return;
        }
        self.seal();
        self.block = (self.block * 2).min(BLOCK_MAX).max(n);
        self.batch.reserve(self.block);
    }

    /// Freezes what the batch holds, if anything, as the last chunk.
    fn seal(&mut self) {
        if !self.batch.is_empty() {
            let head = self.batch.split().freeze();
            self.chunks.push_back(head);
        }
    }

    /// Gives back the batch's block when nothing waits (an idle connection holds none). The
    /// next block is the same size as the last: a stream that pauses after each write keeps
    /// its block size, and one that goes quiet gets smaller blocks each time it pauses.
    pub fn shrink_idle(&mut self) {
        if self.pending == 0 {
            self.chunks = VecDeque::new();
            self.batch = BytesMut::new();
            self.block /= 2;
        }
    }

    /// Queues raw bytes (the greeting).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.room(bytes.len());
        self.batch.extend_from_slice(bytes);
        self.pending += bytes.len();
    }

    /// Queues bytes as they are, without framing (raw STREAM peers); large ones by reference.
    pub fn bytes(&mut self, data: &Bytes) {
        if data.len() <= self.inline_max {
            self.raw(data);
        } else {
            self.pending += data.len();
            self.seal();
            self.chunks.push_back(data.clone());
        }
    }

    /// Queues one message frame; a large body by reference.
    pub fn frame(&mut self, body: &Bytes, more: bool) {
        if body.len() <= self.inline_max {
            self.frame_copied(body, more);
        } else {
            self.room(MAX_HEADER_LEN);
            let before = self.batch.len();
            put_header(&mut self.batch, more, false, body.len());
            self.pending += self.batch.len() - before + body.len();
            self.seal();
            self.chunks.push_back(body.clone());
        }
    }

    /// Queues one message frame, its body copied into the batch.
    pub fn frame_copied(&mut self, body: &[u8], more: bool) {
        self.room(MAX_HEADER_LEN + body.len());
        let before = self.batch.len();
        put_header(&mut self.batch, more, false, body.len());
        self.pending += self.batch.len() - before + body.len();
        self.batch.extend_from_slice(body);
    }

    /// Queues one command frame.
    pub fn command(&mut self, cmd: &Command) {
        let len = cmd.body_len();
        self.room(MAX_HEADER_LEN + len);
        let before = self.batch.len();
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

    fn flat(e: &Encoder) -> (Vec<u8>, Vec<*const u8>) {
        let mut slices = [IoSlice::new(&[]); 64];
        let n = e.io_slices(&mut slices);
        let bytes = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
        (bytes, slices[..n].iter().map(|s| s.as_ptr()).collect())
    }

    #[test]
    fn small_bodies_are_copied_and_large_ones_passed_by_reference() {
        let mut e = Encoder::new(16);
        let big = Bytes::from(vec![9u8; 1000]);
        e.frame(&Bytes::from_static(b"hi"), true);
        e.frame(&big, false);
        e.frame(&Bytes::from_static(b"x"), false);
        let (bytes, starts) = flat(&e);
        let mut expected = vec![0x01, 2, b'h', b'i', 0x02, 0, 0, 0, 0, 0, 0, 3, 0xe8];
        expected.extend_from_slice(&big);
        expected.extend_from_slice(&[0x00, 1, b'x']);
        assert_eq!(bytes, expected);
        assert!(
            starts.contains(&big.as_ptr()),
            "large body passed by reference"
        );
        assert_eq!(e.pending(), 13 + 1000 + 3);
    }

    #[test]
    fn a_stream_of_small_frames_fills_blocks_that_double_and_never_move() {
        let mut e = Encoder::default();
        let body = [7u8; 16];
        let frames = 20_000; // 360,000 bytes
        let mut seen = Vec::new();
        for _ in 0..frames {
            e.frame_copied(&body, false);
            let at = e.batch.as_ptr();
            if seen.last() != Some(&at) {
                seen.push(at);
            }
        }
        // The batch's start moved only to a new block: the blocks grow 18, 36, 72, ... up
        // to 64 KiB, then stay there. Growing in place would have moved it once per
        // doubling and left only one chunk.
        let (bytes, starts) = flat(&e);
        assert_eq!(bytes.len(), frames * 18);
        assert!(bytes
            .chunks(18)
            .all(|f| f[..2] == [0, 16] && f[2..] == body));
        assert_eq!(starts, seen, "each block is one chunk, in order");
        assert!((14..=20).contains(&starts.len()), "{} blocks", starts.len());
        assert!(e.block <= BLOCK_MAX);
    }

    #[test]
    fn an_idle_encoder_holds_no_block_and_keeps_its_pace() {
        let mut e = Encoder::default();
        for _ in 0..10_000 {
            e.frame_copied(&[1; 16], false);
        }
        e.shrink_idle();
        assert!(
            e.pending() > 0 && e.batch.capacity() > 0,
            "bytes still waiting stay"
        );
        let _ = e.take_all();
        e.shrink_idle();
        assert_eq!((e.batch.capacity(), e.chunks.capacity()), (0, 0));
        assert_eq!(e.block, BLOCK_MAX / 2);
        e.frame_copied(&[1; 16], false);
        assert_eq!(e.block, BLOCK_MAX, "the next block as large as the last");
        assert!(e.batch.capacity() >= BLOCK_MAX, "and given whole");
        assert_eq!(
            e.take_all()[..],
            [0, 16, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        );
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
