//! The PLAIN mechanism (RFC 24): the client sends `HELLO [ulen]user[plen]pass`, the server
//! answers WELCOME (or ERROR, if its ZAP handler refuses), the client sends INITIATE with its
//! metadata and the server READY with its own. Credentials travel in clear: PLAIN is for
//! trusted networks.

use bytes::{BufMut, Bytes, BytesMut};

use super::keys::SecretBytes;
use super::zap::{Authenticated, ZapReply};
use super::{command, refuse, unasked_zap_reply, Mechanism, Progress};
use crate::codec::{Command, Metadata};
use crate::error::{ConnectionError, Malformed};

/// The client's side.
#[derive(Debug)]
pub(crate) struct PlainClient {
    ours: Metadata,
    username: Bytes,
    password: SecretBytes,
    state: ClientState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    /// HELLO sent; WELCOME expected.
    AwaitWelcome,
    /// INITIATE sent; READY expected.
    AwaitReady,
    Done,
}

impl PlainClient {
    pub(crate) fn new(ours: Metadata, username: Bytes, password: SecretBytes) -> Self {
        PlainClient {
            ours,
            username,
            password,
            state: ClientState::AwaitWelcome,
        }
    }
}

impl Mechanism for PlainClient {
    fn start(&mut self, out: &mut Vec<Command>) -> Result<Progress, ConnectionError> {
        // RFC 24: each is a one-byte length and its bytes; the options cap both at 255.
        let user = &self.username[..self.username.len().min(255)];
        let pass = &self.password.expose()[..self.password.len().min(255)];
        let mut hello = BytesMut::with_capacity(2 + user.len() + pass.len());
        hello.put_u8(user.len() as u8);
        hello.put_slice(user);
        hello.put_u8(pass.len() as u8);
        hello.put_slice(pass);
        out.push(command("HELLO", hello.freeze()));
        Ok(Progress::Continue)
    }

    fn handle_command(
        &mut self,
        body: Bytes,
        out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        if let Some(refusal) = libzmq_plain_error(&body) {
            return Err(refusal);
        }
        match (self.state, Command::parse(body)?) {
            (ClientState::AwaitWelcome, Command::Unknown { name, .. }) if name == "WELCOME" => {
                let mut initiate = BytesMut::with_capacity(self.ours.encoded_len());
                self.ours.encode(&mut initiate);
                out.push(command("INITIATE", initiate.freeze()));
                self.state = ClientState::AwaitReady;
                Ok(Progress::Continue)
            }
            (ClientState::AwaitReady, Command::Ready(peer)) => {
                self.state = ClientState::Done;
                Ok(Progress::Done(Authenticated {
                    peer,
                    ..Authenticated::default()
                }))
            }
            (_, other) => Err(refuse(other)),
        }
    }

    fn handle_zap_reply(
        &mut self,
        _reply: ZapReply,
        _out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        Err(unasked_zap_reply())
    }
}

/// libzmq 4.3's PLAIN server writes its ERROR from the C literal `"\x05ERROR"`, which C
/// reads as the byte 5E then "RROR": the body arrives as `5E "RROR" [len] reason`. Its own
/// client expects that form; ours reads it as the ERROR it means to be. (We send RFC 23's.)
fn libzmq_plain_error(body: &Bytes) -> Option<ConnectionError> {
    let rest = body.strip_prefix(b"\x5ERROR")?;
    let (&len, reason) = rest.split_first()?;
    let len = usize::from(len);
    (reason.len() >= len).then(|| ConnectionError::PeerError {
        reason: body.slice(6..6 + len),
    })
}

/// The server's side. Without a ZAP handler it lets nobody in, as libzmq's.
#[derive(Debug)]
pub(crate) struct PlainServer {
    ours: Option<Metadata>,
    zap: bool,
    state: ServerState,
    user_id: Bytes,
    zap_metadata: Metadata,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerState {
    AwaitHello,
    AwaitZap,
    /// WELCOME sent; INITIATE expected.
    AwaitInitiate,
    Done,
}

impl PlainServer {
    pub(crate) fn new(ours: Metadata, zap: bool) -> Self {
        PlainServer {
            ours: Some(ours),
            zap,
            state: ServerState::AwaitHello,
            user_id: Bytes::new(),
            zap_metadata: Metadata::new(),
        }
    }

    fn welcome(&mut self, out: &mut Vec<Command>) -> Progress {
        out.push(command("WELCOME", Bytes::new()));
        self.state = ServerState::AwaitInitiate;
        Progress::Continue
    }
}

/// Splits a HELLO body into username and password. RFC 24 leaves no room for anything
/// after the password; libzmq refuses such a HELLO too.
fn parse_hello(data: &Bytes) -> Result<(Bytes, Bytes), ConnectionError> {
    let bad = || ConnectionError::from(Malformed::BadCommandBody("HELLO"));
    let ulen = usize::from(*data.first().ok_or_else(bad)?);
    let plen_at = 1 + ulen;
    let plen = usize::from(*data.get(plen_at).ok_or_else(bad)?);
    if data.len() != plen_at + 1 + plen {
        return Err(bad());
    }
    Ok((data.slice(1..plen_at), data.slice(plen_at + 1..)))
}

impl Mechanism for PlainServer {
    fn start(&mut self, _out: &mut Vec<Command>) -> Result<Progress, ConnectionError> {
        Ok(Progress::Continue)
    }

    fn handle_command(
        &mut self,
        body: Bytes,
        out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        match (self.state, Command::parse(body)?) {
            (ServerState::AwaitHello, Command::Unknown { name, data }) if name == "HELLO" => {
                let (username, password) = parse_hello(&data)?;
                if self.zap {
                    self.state = ServerState::AwaitZap;
                    // RFC 27: PLAIN passes two credential frames, username then password.
                    return Ok(Progress::AskZap(vec![username, password]));
                }
                // libzmq 4.3 refuses a PLAIN client when there is no ZAP handler to ask (its
                // CURVE server, by contrast, lets everyone in).
                Err(ConnectionError::NoZapHandler)
            }
            (ServerState::AwaitInitiate, Command::Unknown { name, data }) if name == "INITIATE" => {
                let peer = Metadata::parse(data)?;
                out.push(Command::Ready(self.ours.take().unwrap_or_default()));
                self.state = ServerState::Done;
                Ok(Progress::Done(Authenticated {
                    peer,
                    user_id: std::mem::take(&mut self.user_id),
                    zap_metadata: std::mem::take(&mut self.zap_metadata),
                }))
            }
            (_, other) => Err(refuse(other)),
        }
    }

    fn handle_zap_reply(
        &mut self,
        reply: ZapReply,
        out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        if self.state != ServerState::AwaitZap {
            return Err(unasked_zap_reply());
        }
        (self.user_id, self.zap_metadata) = reply.outcome()?;
        Ok(self.welcome(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_layout_is_rfc_24() {
        let mut c = PlainClient::new(
            Metadata::new(),
            Bytes::from_static(b"admin"),
            SecretBytes::new("secret"),
        );
        let mut out = Vec::new();
        c.start(&mut out).unwrap();
        let mut body = BytesMut::new();
        out[0].encode_body(&mut body);
        assert_eq!(&body[..], b"\x05HELLO\x05admin\x06secret");
        let (u, p) = parse_hello(&body.freeze().slice(6..)).unwrap();
        assert_eq!((&u[..], &p[..]), (&b"admin"[..], &b"secret"[..]));
    }

    #[test]
    fn libzmqs_misspelt_plain_error_is_read_as_the_error_it_means() {
        let mut c = PlainClient::new(Metadata::new(), Bytes::new(), SecretBytes::new("p"));
        let r = c.handle_command(Bytes::from_static(b"\x5ERROR\x03400"), &mut Vec::new());
        assert_eq!(
            r.err(),
            Some(ConnectionError::PeerError {
                reason: Bytes::from_static(b"400")
            })
        );
        assert_eq!(
            libzmq_plain_error(&Bytes::from_static(b"\x5ERROR\x09400")),
            None
        );
    }

    #[test]
    fn malformed_hellos_are_refused() {
        for bad in [
            &b""[..],
            b"\x05adm",
            b"\x05admin",
            b"\x05admin\x06secre",
            b"\x05admin\x06secretX",
        ] {
            assert_eq!(
                parse_hello(&Bytes::copy_from_slice(bad)),
                Err(Malformed::BadCommandBody("HELLO").into()),
                "{bad:?}"
            );
        }
        assert!(
            parse_hello(&Bytes::from_static(b"\x00\x00")).is_ok(),
            "empty is allowed"
        );
    }
}
