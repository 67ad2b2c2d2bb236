//! The options every pattern shares, as the pattern keeps them. The option API itself is
//! [`crate::options`].

use bytes::Bytes;

/// The options every pattern shares. Pattern-specific switches live in the patterns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketOptions {
    /// Outbound queue limit per new pipe (libzmq default 1000).
    pub sndhwm: usize,
    /// Inbound queue limit per new pipe (libzmq default 1000).
    pub rcvhwm: usize,
    /// Keep only the latest message per pipe.
    pub conflate: bool,
    /// This socket's routing id, for the engine's READY.
    pub routing_id: Option<Bytes>,
    /// The id for the next outgoing connection of a ROUTER or STREAM.
    pub connect_routing_id: Option<Bytes>,
    /// Send an empty message to each new peer.
    pub probe_router: bool,
    /// Invert subscription matching.
    pub invert_matching: bool,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            sndhwm: 1000,
            rcvhwm: 1000,
            conflate: false,
            routing_id: None,
            connect_routing_id: None,
            probe_router: false,
            invert_matching: false,
        }
    }
}

/// Whether `id` is a valid routing id: 1 to 255 bytes (libzmq `zmq_setsockopt`).
pub(crate) fn valid_routing_id(id: &[u8]) -> bool {
    (1..=255).contains(&id.len())
}
