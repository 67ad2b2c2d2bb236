//! The NULL mechanism (RFC 23 §"The NULL Security Mechanism"): each side sends READY with its
//! metadata, and the handshake ends when the peer's READY arrives. A peer may send ERROR
//! instead. With a ZAP handler and a ZAP_DOMAIN, libzmq asks the handler before sending READY
//! (and sends ERROR if refused); so do we.

use bytes::Bytes;

use super::zap::{Authenticated, ZapReply};
use super::{refuse, unasked_zap_reply, Mechanism, Progress};
use crate::codec::{Command, Metadata};
use crate::error::{ConnectionError, ProtocolViolation};

/// The NULL handshake for one connection.
#[derive(Debug)]
pub struct NullMechanism {
    ours: Option<Metadata>,
    zap: bool,
    zap_pending: bool,
    /// What ZAP said, kept until the peer's READY.
    zap_outcome: (Bytes, Metadata),
    done: bool,
}

impl NullMechanism {
    /// A handshake that will announce `ours`, asking ZAP first when `zap`.
    pub fn new(ours: Metadata, zap: bool) -> Self {
        NullMechanism {
            ours: Some(ours),
            zap,
            zap_pending: false,
            zap_outcome: (Bytes::new(), Metadata::new()),
            done: false,
        }
    }

    fn send_ready(&mut self, out: &mut Vec<Command>) {
        if let Some(m) = self.ours.take() {
            out.push(Command::Ready(m));
        }
    }
}

impl Mechanism for NullMechanism {
    fn start(&mut self, out: &mut Vec<Command>) -> Result<Progress, ConnectionError> {
        if self.zap {
            self.zap_pending = true;
            return Ok(Progress::AskZap(Vec::new()));
        }
        self.send_ready(out);
        Ok(Progress::Continue)
    }

    fn handle_command(
        &mut self,
        body: Bytes,
        _out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        match Command::parse(body)? {
            Command::Ready(_) if self.done => Err(ProtocolViolation::DuplicateReady.into()),
            Command::Ready(peer) => {
                self.done = true;
                let (user_id, zap_metadata) = std::mem::take(&mut self.zap_outcome);
                Ok(Progress::Done(Authenticated {
                    peer,
                    user_id,
                    zap_metadata,
                }))
            }
            other => Err(refuse(other)),
        }
    }

    fn handle_zap_reply(
        &mut self,
        reply: ZapReply,
        out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        if !self.zap_pending {
            return Err(unasked_zap_reply());
        }
        self.zap_pending = false;
        self.zap_outcome = reply.outcome()?;
        self.send_ready(out);
        Ok(Progress::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(cmd: &Command) -> Bytes {
        let mut b = bytes::BytesMut::new();
        cmd.encode_body(&mut b);
        b.freeze()
    }

    #[test]
    fn ready_completes_and_error_fails() {
        let mut m = NullMechanism::new(Metadata::new(), false);
        let mut out = Vec::new();
        assert!(matches!(m.start(&mut out), Ok(Progress::Continue)));
        assert!(matches!(out.as_slice(), [Command::Ready(_)]));
        assert!(matches!(
            m.handle_command(body(&Command::Ready(Metadata::new())), &mut out),
            Ok(Progress::Done(_))
        ));
        let mut m = NullMechanism::new(Metadata::new(), false);
        assert!(matches!(
            m.handle_command(body(&Command::Error(Bytes::from_static(b"no"))), &mut out),
            Err(ConnectionError::PeerError { reason }) if reason == "no"
        ));
    }

    #[test]
    fn other_handshake_commands_are_protocol_errors() {
        let mut m = NullMechanism::new(Metadata::new(), false);
        let r = m.handle_command(body(&Command::Subscribe(Bytes::new())), &mut Vec::new());
        assert!(matches!(
            r,
            Err(ConnectionError::Protocol(
                ProtocolViolation::UnexpectedCommand(_)
            ))
        ));
    }

    #[test]
    fn with_zap_ready_waits_for_the_answer() {
        let mut m = NullMechanism::new(Metadata::new(), true);
        let mut out = Vec::new();
        assert!(matches!(m.start(&mut out), Ok(Progress::AskZap(c)) if c.is_empty()));
        assert!(out.is_empty(), "READY held back");
        assert!(matches!(
            m.handle_zap_reply(ZapReply::accept("u"), &mut out),
            Ok(Progress::Continue)
        ));
        assert!(matches!(out.as_slice(), [Command::Ready(_)]));
        match m.handle_command(body(&Command::Ready(Metadata::new())), &mut out) {
            Ok(Progress::Done(a)) => assert_eq!(a.user_id, "u"),
            other => panic!("{other:?}"),
        }
        let mut m = NullMechanism::new(Metadata::new(), true);
        m.start(&mut out).unwrap();
        assert_eq!(
            m.handle_zap_reply(ZapReply::deny(400), &mut out).err(),
            Some(ConnectionError::AuthFailed { status_code: 400 })
        );
    }
}
