//! Messages: one or more frames that travel as a unit (multipart is atomic).

use std::sync::Arc;

use bytes::Bytes;

use crate::codec::Metadata;

/// A whole ZeroMQ message: one or more frames, delivered all or nothing.
///
/// Single-frame messages, the common case, are held without a second allocation. A message
/// received over a connection carries that connection's properties (libzmq's
/// `zmq_msg_gets`): the peer's handshake metadata, `User-Id` and what the ZAP handler added.
/// They are one shared, reference-counted list per connection, so attaching them costs no
/// allocation per message; equality and hashing look at the frames only.
#[derive(Clone)]
pub struct Message {
    parts: Parts,
    properties: Option<Arc<Metadata>>,
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Eq for Message {}

impl std::hash::Hash for Message {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts.hash(state);
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Parts {
    One(Frame),
    Many(Vec<Frame>),
}

impl Message {
    /// A message of one frame.
    pub fn single(frame: impl Into<Frame>) -> Self {
        Message {
            parts: Parts::One(frame.into()),
            properties: None,
        }
    }

    /// A message of one frame copied from `data`: a short one (up to [`Frame::INLINE`]
    /// bytes) is held in the message itself, with no allocation.
    pub fn from_slice(data: &[u8]) -> Self {
        Message::single(Frame::copy_from_slice(data))
    }

    /// A message from its frames. An empty list gives one empty frame: a ZeroMQ message always
    /// has at least one.
    pub fn from_frames<I, B>(frames: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: Into<Frame>,
    {
        let mut v: Vec<Frame> = frames.into_iter().map(Into::into).collect();
        match v.len() {
            0 => Message::single(Frame::new()),
            1 => Message::single(v.pop().expect("length checked")),
            _ => Message {
                parts: Parts::Many(v),
                properties: None,
            },
        }
    }

    /// The connection's properties this message carries, if any.
    pub fn properties(&self) -> Option<&Arc<Metadata>> {
        self.properties.as_ref()
    }

    /// One property by name, matched without case (libzmq's `zmq_msg_gets`): `User-Id`,
    /// `Socket-Type`, `Identity`, `Peer-Address`, or one the ZAP handler or peer added.
    pub fn property(&self, name: &str) -> Option<&Bytes> {
        self.properties.as_ref()?.get(name)
    }

    /// Moves the properties out, leaving the message without them: no reference count is
    /// touched, where cloning them would count up and dropping the message count down again.
    pub fn take_properties(&mut self) -> Option<Arc<Metadata>> {
        self.properties.take()
    }

    /// Attaches (or, with `None`, removes) the properties every frame of this message shares.
    pub fn set_properties(&mut self, properties: Option<Arc<Metadata>>) {
        self.properties = properties;
    }

    /// The frames, in order.
    pub fn frames(&self) -> &[Frame] {
        match &self.parts {
            Parts::One(b) => std::slice::from_ref(b),
            Parts::Many(v) => v,
        }
    }

    /// Number of frames (at least one).
    pub fn len(&self) -> usize {
        self.frames().len()
    }

    /// Always false: a message has at least one frame. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Total payload bytes across all frames.
    pub fn byte_len(&self) -> usize {
        self.frames().iter().map(|f| f.len()).sum()
    }

    /// Appends a frame at the end.
    pub fn push_back(&mut self, frame: impl Into<Frame>) {
        let frame = frame.into();
        match &mut self.parts {
            Parts::One(first) => {
                let first = std::mem::take(first);
                self.parts = Parts::Many(vec![first, frame]);
            }
            Parts::Many(v) => v.push(frame),
        }
    }

    /// Inserts a frame at the front (an envelope: routing id, delimiter).
    pub fn push_front(&mut self, frame: impl Into<Frame>) {
        let frame = frame.into();
        match &mut self.parts {
            Parts::One(first) => {
                let first = std::mem::take(first);
                self.parts = Parts::Many(vec![frame, first]);
            }
            Parts::Many(v) => v.insert(0, frame),
        }
    }

    /// Removes and returns the first frame, unless it is the only one.
    pub fn pop_front(&mut self) -> Option<Frame> {
        match &mut self.parts {
            Parts::One(_) => None,
            Parts::Many(v) => {
                let first = v.remove(0);
                if v.len() == 1 {
                    let only = v.pop().expect("length checked");
                    self.parts = Parts::One(only);
                }
                Some(first)
            }
        }
    }

    /// The frame of a single-frame message, moved out without a copy or an allocation; the
    /// message itself back if it has more frames.
    pub fn into_single(self) -> Result<Frame, Message> {
        match self.parts {
            Parts::One(frame) => Ok(frame),
            parts => Err(Message {
                parts,
                properties: self.properties,
            }),
        }
    }

    /// The frames, consuming the message.
    pub fn into_frames(self) -> Vec<Frame> {
        match self.parts {
            Parts::One(b) => vec![b],
            Parts::Many(v) => v,
        }
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.frames()).finish()
    }
}

impl<T: Into<Frame>> From<T> for Message {
    fn from(frame: T) -> Self {
        Message::single(frame)
    }
}

/// One frame of a message: its bytes, read through `Deref<Target = [u8]>`.
///
/// A short frame, up to [`Frame::INLINE`] bytes, lives inside the frame itself (as
/// libzmq's "very small messages", which hold up to 33): making, moving and dropping it
/// allocates nothing and touches no reference count, which is what a stream of small
/// messages spends most of its time on otherwise. A longer one is a reference-counted
/// [`Bytes`], passed on without a copy (zero-copy from the user's buffer to the socket's
/// write). 23 bytes is what fits in the space of the `Bytes` itself, so a frame is no
/// larger than a `Bytes` (32 bytes on 64-bit targets).
///
/// Equality, ordering and hashing look at the bytes only, so a frame compares equal to
/// `&[u8]`, `&str`, `Bytes` or `Vec<u8>` holding the same bytes, and a map keyed by frames
/// is searched with a `&[u8]`.
#[derive(Clone)]
pub struct Frame(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; Frame::INLINE] },
    Shared(Bytes),
}

impl Frame {
    /// The longest frame held inline, without an allocation.
    pub const INLINE: usize = 23;

    /// An empty frame.
    pub const fn new() -> Self {
        Frame(Repr::Inline {
            len: 0,
            buf: [0; Frame::INLINE],
        })
    }

    /// A frame holding a copy of `data`; inline if it is short.
    pub fn copy_from_slice(data: &[u8]) -> Self {
        if data.len() <= Frame::INLINE {
            let mut buf = [0; Frame::INLINE];
            buf[..data.len()].copy_from_slice(data);
            Frame(Repr::Inline {
                len: data.len() as u8,
                buf,
            })
        } else {
            Frame(Repr::Shared(Bytes::copy_from_slice(data)))
        }
    }

    /// A frame that keeps `b` as it is, however short: its buffer is shared, never
    /// copied, and is released when the last frame or clone holding it is dropped (what
    /// `zmq_msg_init_data`'s free function relies on). [`From<Bytes>`] copies a short one
    /// inline instead.
    pub fn shared(b: Bytes) -> Self {
        Frame(Repr::Shared(b))
    }

    /// The frame's bytes as a [`Bytes`]: a reference-counted clone of a long frame, a copy
    /// of a short one.
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Inline { .. } => Bytes::copy_from_slice(self),
            Repr::Shared(b) => b.clone(),
        }
    }

    /// The frame's bytes as a [`Bytes`], without a copy if the frame is long.
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Inline { .. } => Bytes::copy_from_slice(&self),
            Repr::Shared(b) => b,
        }
    }

    /// The shared buffer of a long frame; `None` for a short one held inline.
    pub fn as_shared(&self) -> Option<&Bytes> {
        match &self.0 {
            Repr::Inline { .. } => None,
            Repr::Shared(b) => Some(b),
        }
    }
}

impl Default for Frame {
    fn default() -> Self {
        Frame::new()
    }
}

impl std::ops::Deref for Frame {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Shared(b) => b,
        }
    }
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::borrow::Borrow<[u8]> for Frame {
    fn borrow(&self) -> &[u8] {
        self
    }
}

/// Takes the bytes as they are if long; copies a short one inline (and drops the `Bytes`).
impl From<Bytes> for Frame {
    fn from(b: Bytes) -> Self {
        if b.len() <= Frame::INLINE {
            Frame::copy_from_slice(&b)
        } else {
            Frame(Repr::Shared(b))
        }
    }
}

impl From<Vec<u8>> for Frame {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= Frame::INLINE {
            Frame::copy_from_slice(&v)
        } else {
            Frame(Repr::Shared(Bytes::from(v)))
        }
    }
}

impl From<String> for Frame {
    fn from(s: String) -> Self {
        Frame::from(s.into_bytes())
    }
}

impl From<&'static [u8]> for Frame {
    fn from(s: &'static [u8]) -> Self {
        Frame::from(Bytes::from_static(s))
    }
}

impl<const N: usize> From<&'static [u8; N]> for Frame {
    fn from(s: &'static [u8; N]) -> Self {
        Frame::from(Bytes::from_static(s))
    }
}

impl From<&'static str> for Frame {
    fn from(s: &'static str) -> Self {
        Frame::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<bytes::BytesMut> for Frame {
    fn from(b: bytes::BytesMut) -> Self {
        Frame::from(b.freeze())
    }
}

impl From<Frame> for Bytes {
    fn from(f: Frame) -> Self {
        f.into_bytes()
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        **self == **other
    }
}

impl Eq for Frame {}

impl PartialOrd for Frame {
    fn partial_cmp(&self, other: &Frame) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Frame {
    fn cmp(&self, other: &Frame) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::hash::Hash for Frame {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

macro_rules! frame_eq {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Frame {
            fn eq(&self, other: &$t) -> bool {
                **self == *AsRef::<[u8]>::as_ref(other)
            }
        }
        impl PartialEq<Frame> for $t {
            fn eq(&self, other: &Frame) -> bool {
                *AsRef::<[u8]>::as_ref(self) == **other
            }
        }
    )*};
}

frame_eq!([u8], &[u8], str, &str, Bytes, Vec<u8>, String);

impl<const N: usize> PartialEq<[u8; N]> for Frame {
    fn eq(&self, other: &[u8; N]) -> bool {
        **self == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Frame {
    fn eq(&self, other: &&[u8; N]) -> bool {
        **self == other[..]
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"")?;
        for &b in self.iter() {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        write!(f, "\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_push_and_pop_keep_order() {
        let mut m = Message::single("body");
        m.push_front(Bytes::new());
        m.push_front("id");
        assert_eq!(m.len(), 3);
        assert_eq!(m.pop_front().unwrap(), "id");
        assert_eq!(m.pop_front().unwrap(), "");
        assert_eq!(m.pop_front(), None, "the last frame is never popped");
        assert_eq!(m.frames(), &[Frame::from("body")]);
    }

    #[test]
    fn properties_are_shared_and_do_not_change_equality() {
        let mut props = Metadata::new();
        props.push("User-Id", "alice").unwrap();
        let props = Arc::new(props);
        let mut m = Message::from_frames(["a", "b"]);
        m.set_properties(Some(props.clone()));
        let copy = m.clone();
        assert!(
            Arc::ptr_eq(copy.properties().unwrap(), &props),
            "not copied"
        );
        assert_eq!(copy.property("user-id").unwrap(), "alice");
        assert_eq!(m, Message::from_frames(["a", "b"]));
        m.push_front("id");
        assert_eq!(m.property("User-Id").unwrap(), "alice", "kept by envelopes");
    }

    #[test]
    fn short_frames_are_inline_and_long_ones_shared_without_a_copy() {
        let short = Frame::from(Bytes::from(vec![7u8; Frame::INLINE]));
        assert!(short.as_shared().is_none());
        assert_eq!(short, vec![7u8; Frame::INLINE]);
        let long = Bytes::from(vec![9u8; Frame::INLINE + 1]);
        let frame = Frame::from(long.clone());
        let shared = frame.as_shared().expect("a long frame is shared");
        assert_eq!(shared.as_ptr(), long.as_ptr(), "not copied");
        assert_eq!(frame.into_bytes().as_ptr(), long.as_ptr());
        let m = Message::from_slice(b"hello");
        assert!(m.frames()[0].as_shared().is_none());
        assert_eq!(m.frames()[0], "hello");
        assert_eq!(m.frames()[0].to_bytes(), Bytes::from_static(b"hello"));
    }

    #[test]
    fn a_frame_takes_no_more_room_than_bytes() {
        assert_eq!(std::mem::size_of::<Frame>(), std::mem::size_of::<Bytes>());
    }

    #[test]
    fn a_shared_frame_keeps_even_a_short_buffer() {
        let b = Bytes::from(vec![1u8, 2, 3]);
        let f = Frame::shared(b.clone());
        assert_eq!(f.as_shared().map(|s| s.as_ptr()), Some(b.as_ptr()));
        assert_eq!(f, [1u8, 2, 3]);
    }

    #[test]
    fn frames_compare_and_order_by_their_bytes() {
        let a = Frame::from("abc");
        let b = Frame::from(Bytes::from(vec![b'b'; 40]));
        assert!(a < b);
        assert_eq!(b.cmp(&a), std::cmp::Ordering::Greater);
        assert_eq!(a, Frame::copy_from_slice(b"abc"));
        assert_eq!(format!("{a:?}"), "b\"abc\"");
        let mut set = std::collections::BTreeSet::new();
        set.insert(a.clone());
        assert!(set.contains(&b"abc"[..]));
    }

    #[test]
    fn empty_frame_list_is_one_empty_frame() {
        let m = Message::from_frames(Vec::<Frame>::new());
        assert_eq!(m.len(), 1);
        assert_eq!(m.byte_len(), 0);
    }
}
