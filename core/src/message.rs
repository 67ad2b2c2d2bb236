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
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Message {
    /// A message of one frame.
    pub fn single(frame: impl Into<Bytes>) -> Self {
        Message {
            parts: Parts::One(frame.into()),
            properties: None,
        }
    }

    /// A message from its frames. An empty list gives one empty frame: a ZeroMQ message always
    /// has at least one.
    pub fn from_frames<I, B>(frames: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        let mut v: Vec<Bytes> = frames.into_iter().map(Into::into).collect();
        match v.len() {
            0 => Message::single(Bytes::new()),
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
    pub fn frames(&self) -> &[Bytes] {
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
        self.frames().iter().map(Bytes::len).sum()
    }

    /// Appends a frame at the end.
    pub fn push_back(&mut self, frame: impl Into<Bytes>) {
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
    pub fn push_front(&mut self, frame: impl Into<Bytes>) {
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
    pub fn pop_front(&mut self) -> Option<Bytes> {
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
    pub fn into_single(self) -> Result<Bytes, Message> {
        match self.parts {
            Parts::One(frame) => Ok(frame),
            parts => Err(Message {
                parts,
                properties: self.properties,
            }),
        }
    }

    /// The frames, consuming the message.
    pub fn into_frames(self) -> Vec<Bytes> {
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

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::single(b)
    }
}

impl From<&'static str> for Message {
    fn from(s: &'static str) -> Self {
        Message::single(Bytes::from_static(s.as_bytes()))
    }
}

impl From<Vec<u8>> for Message {
    fn from(v: Vec<u8>) -> Self {
        Message::single(Bytes::from(v))
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::single(Bytes::from(s))
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
        assert_eq!(m.frames(), &[Bytes::from_static(b"body")]);
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
    fn empty_frame_list_is_one_empty_frame() {
        let m = Message::from_frames(Vec::<Bytes>::new());
        assert_eq!(m.len(), 1);
        assert_eq!(m.byte_len(), 0);
    }
}
