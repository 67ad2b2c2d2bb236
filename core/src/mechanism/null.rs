//! The NULL mechanism (RFC 23 §"The NULL Security Mechanism"): each side sends READY with its
//! metadata, and the handshake ends when the peer's READY arrives. A peer may send ERROR instead.

use super::Mechanism;
use crate::codec::{Command, Metadata};
use crate::error::{ConnectionError, ProtocolViolation};

/// The NULL handshake for one connection.
#[derive(Debug)]
pub struct NullMechanism {
    ours: Option<Metadata>,
    done: bool,
}

impl NullMechanism {
    /// A handshake that will announce `ours`.
    pub fn new(ours: Metadata) -> Self {
        NullMechanism {
            ours: Some(ours),
            done: false,
        }
    }
}

impl Mechanism for NullMechanism {
    fn start(&mut self, out: &mut Vec<Command>) {
        if let Some(m) = self.ours.take() {
            out.push(Command::Ready(m));
        }
    }

    fn handle_command(
        &mut self,
        cmd: Command,
        _out: &mut Vec<Command>,
    ) -> Result<Option<Metadata>, ConnectionError> {
        match cmd {
            Command::Ready(_) if self.done => Err(ProtocolViolation::DuplicateReady.into()),
            Command::Ready(meta) => {
                self.done = true;
                Ok(Some(meta))
            }
            Command::Error(reason) => Err(ConnectionError::PeerError { reason }),
            other => Err(ProtocolViolation::UnexpectedCommand(other.name().to_vec().into()).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn ready_completes_and_error_fails() {
        let mut m = NullMechanism::new(Metadata::new());
        let mut out = Vec::new();
        m.start(&mut out);
        assert!(matches!(out.as_slice(), [Command::Ready(_)]));
        assert_eq!(
            m.handle_command(Command::Ready(Metadata::new()), &mut out),
            Ok(Some(Metadata::new()))
        );
        let mut m = NullMechanism::new(Metadata::new());
        assert_eq!(
            m.handle_command(Command::Error(Bytes::from_static(b"no")), &mut out),
            Err(ConnectionError::PeerError {
                reason: Bytes::from_static(b"no")
            })
        );
    }

    #[test]
    fn other_handshake_commands_are_protocol_errors() {
        let mut m = NullMechanism::new(Metadata::new());
        let r = m.handle_command(Command::Subscribe(Bytes::new()), &mut Vec::new());
        assert!(matches!(
            r,
            Err(ConnectionError::Protocol(
                ProtocolViolation::UnexpectedCommand(_)
            ))
        ));
    }
}
