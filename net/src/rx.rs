//! How a shell reads a connection: straight into the engine's receive buffer
//! ([`Session::read_buffer`]), sized by what the connection has been doing, written once for
//! both shells.
//!
//! - A connection that is idle or handshaking reads [`FIRST_READ`] bytes at a time, so it
//!   never holds more; one whose reads fill reads [`READ_CHUNK`].
//! - A large frame under way (the engine knows how many bytes it still lacks) is read in
//!   one piece into a buffer reserved for it, up to [`READ_FRAME_MAX`] at a time (the size
//!   is the peer's word, so memory follows the bytes that came).
//! - While frames of at least [`POOLED_MIN`] keep coming, each one's header is read alone
//!   first, so that its body goes straight into a buffer of its size; otherwise the start of
//!   a large body read blind would be copied into a larger buffer.
//! - Those buffers come from, and go back to, a per-thread [`RxPool`]: a frame's buffer is
//!   written again once the application let go of the frame, instead of faulting in fresh
//!   pages for every large frame.
//!
//! A shell calls [`Reads::prepare`] before each read, reads into the spare capacity it
//! offers, sets the buffer's length, tells [`Session::handle_read`], and calls
//! [`Reads::done`] with the count; when a read stops short it calls [`Reads::settle`].

use std::collections::VecDeque;

use bytes::BytesMut;
use oxmq_core::codec::frame::MAX_HEADER_LEN;
use oxmq_core::session::Session;

/// What a read of a connection whose reads fill takes.
pub const READ_CHUNK: usize = 64 * 1024;
/// What a read takes until one fills it: an idle or handshaking connection never holds more.
pub const FIRST_READ: usize = 512;
/// The most one read reserves for the rest of a large frame.
pub const READ_FRAME_MAX: usize = 4 * 1024 * 1024;
/// Receive buffers at least this large are recycled through the thread's [`RxPool`].
pub const POOLED_MIN: usize = 32 * 1024;
/// What an [`RxPool`] may keep, in bytes of allocation and in buffers.
pub const POOL_BYTES: usize = 4 * 1024 * 1024;
/// See [`POOL_BYTES`].
pub const POOL_BUFFERS: usize = 16;

/// What a connection's reader remembers between reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reads {
    /// The last read filled what it offered: the next one takes [`READ_CHUNK`], not
    /// [`FIRST_READ`].
    pub big_reads: bool,
    /// The frames coming are large (at least [`POOLED_MIN`]): each one's header is read
    /// alone, then its body into a buffer of its own size.
    large_frames: bool,
    /// The last read offered was such a header read.
    header_only: bool,
    /// The allocation size of the receive buffer [`RxPool::renew`] last installed, while it
    /// is the engine's (0 otherwise).
    rx_size: usize,
}

impl Reads {
    /// Makes room in `session`'s receive buffer for the next read and returns the buffer
    /// with how many bytes to read into its spare capacity (at most `budget`, and at least
    /// one when `budget` is). `None` without a connection.
    pub fn prepare<'a>(
        &mut self,
        session: &'a mut Session,
        pool: &mut RxPool,
        budget: usize,
    ) -> Option<(&'a mut BytesMut, usize)> {
        let wanted = session.bytes_wanted();
        let rx = session.read_buffer()?;
        if wanted >= POOLED_MIN {
            self.large_frames = true;
        } else if self.header_only {
            self.large_frames = false; // the header read alone was a small frame's
        }
        self.header_only = self.large_frames && wanted == 0 && rx.len() < MAX_HEADER_LEN;
        let chunk = if wanted >= POOLED_MIN {
            wanted.min(READ_FRAME_MAX)
        } else if self.header_only {
            MAX_HEADER_LEN - rx.len()
        } else {
            let chunk = if self.big_reads {
                READ_CHUNK
            } else {
                FIRST_READ
            };
            chunk.max(wanted)
        };
        if rx.capacity() - rx.len() < chunk {
            let room = growth(rx.len(), chunk, wanted);
            // A large frame's header, read alone, goes into a pooled buffer too: its body
            // will follow it there, and the buffer it replaces (the last frame's) is kept
            // for reuse.
            if room >= POOLED_MIN || self.large_frames {
                self.rx_size = pool.renew(rx, self.rx_size, room);
            } else {
                self.rx_size = 0; // `reserve` moves it to memory not ours
            }
        }
        rx.reserve(chunk);
        Some((rx, chunk.min(budget)))
    }

    /// A read of what [`Reads::prepare`] offered (`offered` bytes) returned `n`.
    pub fn done(&mut self, n: usize, offered: usize) {
        self.big_reads = n == offered;
    }

    /// The reads stopped for now. A connection that went quiet (its last read did not fill)
    /// and whose bytes were all taken gives its buffers up, so that idle connections hold
    /// none; a streaming one keeps them (frames already delivered keep their share).
    pub fn settle(&mut self, session: &mut Session) {
        if !self.big_reads {
            session.shrink_idle();
            if session.read_buffer().is_some_and(|rx| rx.capacity() == 0) {
                self.rx_size = 0;
            }
        }
    }
}

/// How much room a receive buffer holding `held` bytes gets when it lacks `chunk` for the
/// next read and `wanted` bytes of the frame under way are still to come: for a large frame,
/// as much again as it holds besides `chunk` (never past the frame's end), so that each
/// growth about doubles it and the copies they make add up to about the frame's size, not
/// to its square. (Room for just the next [`READ_FRAME_MAX`] was too little again after one
/// read, so the buffer was regrown on every read: tens of gigabytes copied for a 100 MB
/// frame, and a 2 GiB frame never arrived.)
fn growth(held: usize, chunk: usize, wanted: usize) -> usize {
    if wanted >= POOLED_MIN {
        // `chunk` is at most `wanted`: the room is at least `chunk`.
        (held + chunk).min(wanted)
    } else {
        chunk
    }
}

/// Large receive buffers kept for reuse, one pool per I/O thread.
///
/// A frame is split off its connection's receive buffer and handed to the application
/// without a copy, so the buffer's allocation lives until the application drops the last
/// frame in it. Left to the allocator, each large read then takes fresh memory and each
/// dropped frame gives it back; glibc returns such memory to the system and the next read
/// faults every page in again, which halved 64 KiB streams in about one run in two. Here a
/// connection that needs a new large buffer leaves its old one, emptied, in the pool; the
/// allocation comes back whole (`BytesMut::try_reclaim`) once the application has dropped
/// its frames, and is written over while still mapped. The pool holds at most
/// [`POOL_BUFFERS`] buffers and [`POOL_BYTES`] of their allocations: while frames are held,
/// memory the process has in use anyway; once large traffic ends, up to that much per I/O
/// thread that it keeps. Buffers whose frames the application keeps stay until it lets
/// them go, and a full pool lets further buffers go to the allocator as before.
#[derive(Debug, Default)]
pub struct RxPool {
    /// Emptied buffers, oldest first, each with the size of its whole allocation.
    kept: VecDeque<(BytesMut, usize)>,
    bytes: usize,
}

impl RxPool {
    /// Gives `rx` (which lacks room for `chunk` more bytes) a buffer with room for them —
    /// a kept one the application has let go, or a new one — with its bytes copied over
    /// (the start of a frame: a header, or a read's worth), and keeps the old one if it came
    /// from here (`rx_size`, its allocation's size, is not 0). Returns the new one's size.
    fn renew(&mut self, rx: &mut BytesMut, rx_size: usize, chunk: usize) -> usize {
        let need = rx.len() + chunk;
        let reused = self.kept.iter_mut().position(|(b, _)| b.try_reclaim(need));
        let (mut next, size) = match reused.and_then(|i| self.kept.remove(i)) {
            Some((b, size)) => {
                self.bytes -= size;
                (b, size)
            }
            // Rounded up, so that frames of nearly one size fit each other's buffers.
            None => {
                let size = need.next_multiple_of(16 * 1024);
                (BytesMut::with_capacity(size), size)
            }
        };
        next.extend_from_slice(rx);
        rx.clear();
        let old = std::mem::replace(rx, next);
        let old_size = rx_size;
        if old_size < POOLED_MIN {
            return size;
        }
        // When full, the old buffer goes rather than a kept one: the application takes
        // frames in order, so the buffers kept longest are the first it lets go.
        if self.kept.len() < POOL_BUFFERS && self.bytes + old_size <= POOL_BYTES {
            self.bytes += old_size;
            self.kept.push_back((old, old_size));
        }
        size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2 GiB frame read 128 KiB at a time, as a shell's read loop does with its turns:
    /// the buffer grows a logarithmic number of times, and copies about the frame's size in
    /// all.
    #[test]
    fn a_huge_frame_grows_its_buffer_geometrically() {
        const TURN: usize = 128 * 1024;
        let frame = 2usize << 30;
        let (mut held, mut capacity, mut growths, mut copied) = (0usize, 0usize, 0, 0usize);
        while held < frame {
            let wanted = frame - held;
            let chunk = wanted.min(READ_FRAME_MAX);
            if capacity - held < chunk {
                let room = growth(held, chunk, wanted);
                copied += held;
                capacity = held + room;
                growths += 1;
            }
            held += chunk.min(TURN);
        }
        assert!(growths <= 16, "{growths} growths");
        assert!(
            copied <= frame,
            "{copied} bytes copied for a {frame}-byte frame"
        );
        assert!(
            capacity <= frame + READ_FRAME_MAX,
            "never far past the frame's end"
        );
    }

    /// A connection's receive buffer after one large frame was read and split off: the
    /// frame (which the application holds) and the buffer, with the next frame's header.
    fn after_a_frame(pool: &mut RxPool, rx: &mut BytesMut, size: &mut usize) -> bytes::Bytes {
        *size = pool.renew(rx, *size, 64 * 1024 + 9);
        rx.extend_from_slice(&[7; 64 * 1024]);
        let frame = rx.split().freeze();
        rx.extend_from_slice(b"header");
        frame
    }

    #[test]
    fn a_buffer_comes_back_once_its_frames_are_dropped() {
        let mut pool = RxPool::default();
        let (mut rx, mut size) = (BytesMut::new(), 0);
        let first = after_a_frame(&mut pool, &mut rx, &mut size);
        let first_at = first.as_ptr();
        let second = after_a_frame(&mut pool, &mut rx, &mut size);
        assert_eq!(
            &rx[..],
            b"header",
            "the start of the next frame moves with the buffer"
        );
        assert_ne!(second.as_ptr(), first_at);
        assert_eq!(pool.kept.len(), 1, "the first buffer waits for its frame");
        // Still held: the next buffer is a new one, and the second waits too.
        let third = after_a_frame(&mut pool, &mut rx, &mut size);
        assert_ne!(third.as_ptr(), first_at);
        assert_eq!(pool.kept.len(), 2);
        // Let go: the first buffer's memory is written again.
        drop(first);
        let fourth = after_a_frame(&mut pool, &mut rx, &mut size);
        assert_eq!(
            fourth.as_ptr(),
            first_at,
            "the dropped frame's buffer was reused"
        );
        assert_eq!(&fourth[..6], b"header");
        drop((second, third));
    }

    #[test]
    fn the_pool_keeps_a_bounded_amount() {
        let mut pool = RxPool::default();
        let (mut rx, mut size) = (BytesMut::new(), 0);
        let held: Vec<_> = (0..3 * POOL_BUFFERS)
            .map(|_| after_a_frame(&mut pool, &mut rx, &mut size))
            .collect();
        assert!(pool.kept.len() <= POOL_BUFFERS);
        assert!(pool.bytes <= POOL_BYTES);
        assert_eq!(pool.bytes, pool.kept.iter().map(|(_, s)| s).sum::<usize>());
        drop(held);
        // Small buffers (an idle connection's) never enter it.
        let mut small = RxPool::default();
        let mut rx = BytesMut::with_capacity(512);
        rx.extend_from_slice(b"abc");
        small.renew(&mut rx, 512, 64 * 1024);
        assert!(small.kept.is_empty());
        assert_eq!(&rx[..], b"abc");
    }
}
