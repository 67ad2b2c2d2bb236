//! ZMTP commands (RFC 23 §"Commands", RFC 37 §"Heartbeating"): READY and its metadata, ERROR,
//! SUBSCRIBE, CANCEL, PING and PONG. A command body is `[name_len:u8][name][data]`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::Malformed;

/// Most context bytes a PING may carry and a PONG echoes (RFC 37).
pub const MAX_PING_CONTEXT: usize = 16;

/// A ZMTP command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `READY`: ends the NULL handshake, carrying the sender's metadata.
    Ready(Metadata),
    /// `ERROR`: the handshake failed; the reason is at most 255 bytes.
    Error(Bytes),
    /// `SUBSCRIBE` (ZMTP 3.1): a subscription to a topic prefix.
    Subscribe(Bytes),
    /// `CANCEL` (ZMTP 3.1): cancels one earlier subscription.
    Cancel(Bytes),
    /// `PING` (ZMTP 3.1) with the sender's TTL in tenths of a second and a context to echo.
    Ping {
        /// Time-to-live the sender announces, in deciseconds (0 = none).
        ttl_deciseconds: u16,
        /// Up to 16 bytes the peer must echo in its PONG.
        context: Bytes,
    },
    /// `PONG` (ZMTP 3.1): the echo of a PING's context.
    Pong(Bytes),
    /// A command this engine does not know; after the handshake libzmq drops these.
    Unknown {
        /// The command name.
        name: Bytes,
        /// Everything after the name.
        data: Bytes,
    },
}

impl Command {
    /// The command name as sent on the wire.
    pub fn name(&self) -> &[u8] {
        match self {
            Command::Ready(_) => b"READY",
            Command::Error(_) => b"ERROR",
            Command::Subscribe(_) => b"SUBSCRIBE",
            Command::Cancel(_) => b"CANCEL",
            Command::Ping { .. } => b"PING",
            Command::Pong(_) => b"PONG",
            Command::Unknown { name, .. } => name,
        }
    }

    /// Parses a command frame body. Slices of `body` are shared, not copied.
    pub fn parse(body: Bytes) -> Result<Command, Malformed> {
        let (&name_len, rest) = body.split_first().ok_or(Malformed::BadCommandName)?;
        let name_len = usize::from(name_len);
        if name_len == 0 || rest.len() < name_len {
            return Err(Malformed::BadCommandName);
        }
        let data = body.slice(1 + name_len..);
        let name = &body[1..1 + name_len];
        Ok(match name {
            b"READY" => Command::Ready(Metadata::parse(data)?),
            b"ERROR" => {
                let (&len, reason) = data
                    .split_first()
                    .ok_or(Malformed::BadCommandBody("ERROR"))?;
                if reason.len() < usize::from(len) {
                    return Err(Malformed::BadCommandBody("ERROR"));
                }
                Command::Error(data.slice(1..1 + usize::from(len)))
            }
            b"SUBSCRIBE" => Command::Subscribe(data),
            b"CANCEL" => Command::Cancel(data),
            b"PING" => {
                if data.len() < 2 {
                    return Err(Malformed::BadCommandBody("PING"));
                }
                let ttl_deciseconds = u16::from_be_bytes([data[0], data[1]]);
                // Be tolerant, as libzmq is: keep at most 16 context bytes.
                let end = data.len().min(2 + MAX_PING_CONTEXT);
                Command::Ping {
                    ttl_deciseconds,
                    context: data.slice(2..end),
                }
            }
            b"PONG" => Command::Pong(data),
            _ => Command::Unknown {
                name: body.slice(1..1 + name_len),
                data,
            },
        })
    }

    /// Length of the encoded command body (without the frame header).
    pub fn body_len(&self) -> usize {
        1 + self.name().len()
            + match self {
                Command::Ready(m) => m.encoded_len(),
                Command::Error(r) => 1 + r.len().min(255),
                Command::Subscribe(t) | Command::Cancel(t) | Command::Pong(t) => t.len(),
                Command::Ping { context, .. } => 2 + context.len().min(MAX_PING_CONTEXT),
                Command::Unknown { data, .. } => data.len(),
            }
    }

    /// Appends the command body (without the frame header) to `dst`.
    pub fn encode_body(&self, dst: &mut BytesMut) {
        let name = self.name();
        // Names are ours (at most 9 bytes) or were parsed from a one-byte length.
        dst.put_u8(name.len() as u8);
        dst.put_slice(name);
        match self {
            Command::Ready(m) => m.encode(dst),
            Command::Error(reason) => {
                let r = &reason[..reason.len().min(255)];
                dst.put_u8(r.len() as u8);
                dst.put_slice(r);
            }
            Command::Subscribe(t) | Command::Cancel(t) | Command::Pong(t) => dst.put_slice(t),
            Command::Ping {
                ttl_deciseconds,
                context,
            } => {
                dst.put_u16(*ttl_deciseconds);
                dst.put_slice(&context[..context.len().min(MAX_PING_CONTEXT)]);
            }
            Command::Unknown { data, .. } => dst.put_slice(data),
        }
    }
}

/// The metadata properties of READY (and PLAIN/CURVE's INITIATE): an ordered list of
/// `[name_len:u8][name][value_len:u32 BE][value]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    props: Vec<(Bytes, Bytes)>,
}

/// The property naming the sender's socket type.
pub const PROP_SOCKET_TYPE: &str = "Socket-Type";
/// The property carrying the sender's routing id.
pub const PROP_IDENTITY: &str = "Identity";

impl Metadata {
    /// No properties.
    pub fn new() -> Self {
        Metadata::default()
    }

    /// No properties, with room for `n`.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Metadata {
            props: Vec::with_capacity(n),
        }
    }

    /// Adds a property. Names must be 1–255 bytes of `A-Z a-z 0-9 - _ . +` (RFC 23); values
    /// must fit in a u32 length.
    pub fn push(&mut self, name: &str, value: impl Into<Bytes>) -> Result<(), InvalidProperty> {
        let ok_char = |c: u8| c.is_ascii_alphanumeric() || b"-_.+".contains(&c);
        if name.is_empty() || name.len() > 255 || !name.bytes().all(ok_char) {
            return Err(InvalidProperty::Name(name.to_owned()));
        }
        let value = value.into();
        if u32::try_from(value.len()).is_err() {
            return Err(InvalidProperty::ValueTooLong(value.len()));
        }
        self.props
            .push((Bytes::copy_from_slice(name.as_bytes()), value));
        Ok(())
    }

    /// Adds a property whose name was already checked (parsed, or from another list).
    pub(crate) fn push_parsed(&mut self, name: Bytes, value: Bytes) {
        self.props.push((name, value));
    }

    /// The first value of property `name`, matched case-insensitively (RFC 23).
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.props
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// All properties in the order they were sent.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.props.iter().map(|(n, v)| (n, v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.props.len()
    }

    /// Whether there are no properties.
    pub fn is_empty(&self) -> bool {
        self.props.is_empty()
    }

    /// Parses properties from `data`, sharing its memory. Lengths are checked against what
    /// is left before anything is sliced.
    pub fn parse(mut data: Bytes) -> Result<Metadata, Malformed> {
        let mut props = Vec::new();
        while !data.is_empty() {
            let name_len = usize::from(data[0]);
            if data.len() < 1 + name_len + 4 {
                return Err(Malformed::TruncatedProperty);
            }
            let name = data.slice(1..1 + name_len);
            let len_at = 1 + name_len;
            let value_len = u32::from_be_bytes([
                data[len_at],
                data[len_at + 1],
                data[len_at + 2],
                data[len_at + 3],
            ]);
            let value_at = len_at + 4;
            let value_len = usize::try_from(value_len).map_err(|_| Malformed::TruncatedProperty)?;
            if data.len() - value_at < value_len {
                return Err(Malformed::TruncatedProperty);
            }
            let value = data.slice(value_at..value_at + value_len);
            props.push((name, value));
            data = data.slice(value_at + value_len..);
        }
        Ok(Metadata { props })
    }

    /// Encoded length of all properties.
    pub fn encoded_len(&self) -> usize {
        self.props
            .iter()
            .map(|(n, v)| 1 + n.len() + 4 + v.len())
            .sum()
    }

    /// Appends the encoded properties to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        for (name, value) in &self.props {
            // Lengths were checked by `push` or came from a one-byte / u32 length on parse.
            dst.put_u8(name.len() as u8);
            dst.put_slice(name);
            dst.put_u32(value.len() as u32);
            dst.put_slice(value);
        }
    }
}

/// A metadata property we refuse to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvalidProperty {
    /// The name is empty, longer than 255 bytes, or has a character RFC 23 does not allow.
    Name(String),
    /// The value is longer than a u32 length can say.
    ValueTooLong(usize),
}

impl std::fmt::Display for InvalidProperty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidProperty::Name(n) => write!(f, "invalid metadata property name {n:?}"),
            InvalidProperty::ValueTooLong(n) => {
                write!(f, "metadata property value of {n} bytes is too long")
            }
        }
    }
}

impl std::error::Error for InvalidProperty {}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(cmd: &Command) -> Vec<u8> {
        let mut b = BytesMut::new();
        cmd.encode_body(&mut b);
        assert_eq!(b.len(), cmd.body_len());
        b.to_vec()
    }

    #[test]
    fn dealer_ready_matches_libzmq_bytes() {
        // READY from a libzmq DEALER with no routing id set: Socket-Type then an empty Identity.
        let mut m = Metadata::new();
        m.push(PROP_SOCKET_TYPE, "DEALER").unwrap();
        m.push(PROP_IDENTITY, Bytes::new()).unwrap();
        let mut want = vec![5u8];
        want.extend_from_slice(b"READY");
        want.push(11);
        want.extend_from_slice(b"Socket-Type");
        want.extend_from_slice(&[0, 0, 0, 6]);
        want.extend_from_slice(b"DEALER");
        want.push(8);
        want.extend_from_slice(b"Identity");
        want.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(encode(&Command::Ready(m.clone())), want);
        assert_eq!(Command::parse(Bytes::from(want)), Ok(Command::Ready(m)));
    }

    #[test]
    fn subscribe_3_1_bytes() {
        let cmd = Command::Subscribe(Bytes::from_static(b"weather"));
        let want = b"\x09SUBSCRIBEweather".to_vec();
        assert_eq!(encode(&cmd), want);
        assert_eq!(Command::parse(Bytes::from(want)), Ok(cmd));
    }

    #[test]
    fn ping_with_ttl_bytes() {
        // TTL of 3 s = 30 deciseconds, empty context, as libzmq sends it.
        let cmd = Command::Ping {
            ttl_deciseconds: 30,
            context: Bytes::new(),
        };
        let want = b"\x04PING\x00\x1e".to_vec();
        assert_eq!(encode(&cmd), want);
        assert_eq!(Command::parse(Bytes::from(want)), Ok(cmd));
    }

    #[test]
    fn ping_context_is_cut_to_sixteen_bytes() {
        let mut body = b"\x04PING\x00\x00".to_vec();
        body.extend_from_slice(&[7u8; 40]);
        match Command::parse(Bytes::from(body)).unwrap() {
            Command::Ping { context, .. } => assert_eq!(context.len(), 16),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_reason_round_trips() {
        let cmd = Command::Error(Bytes::from_static(b"400"));
        assert_eq!(encode(&cmd), b"\x05ERROR\x03400");
        assert_eq!(
            Command::parse(Bytes::from_static(b"\x05ERROR\x03400")),
            Ok(cmd)
        );
    }

    #[test]
    fn truncated_inputs_are_malformed_not_panics() {
        let cases: &[&[u8]] = &[
            b"",
            b"\x00",
            b"\x05REA",
            b"\x05READY\x0bSocket-Typ",
            b"\x05READY\x0bSocket-Type\x00\x00",
            b"\x05READY\x0bSocket-Type\x00\x00\x00\x09DEALER",
            b"\x05READY\x0bSocket-Type\xff\xff\xff\xff",
            b"\x05ERROR",
            b"\x05ERROR\x05ab",
            b"\x04PING\x00",
        ];
        for c in cases {
            assert!(Command::parse(Bytes::from_static(c)).is_err(), "{c:?}");
        }
    }

    #[test]
    fn unknown_commands_parse_as_unknown() {
        let c = Command::parse(Bytes::from_static(b"\x04JOINgroup")).unwrap();
        assert_eq!(
            c,
            Command::Unknown {
                name: Bytes::from_static(b"JOIN"),
                data: Bytes::from_static(b"group")
            }
        );
    }

    #[test]
    fn property_names_are_checked_on_send_and_matched_without_case() {
        let mut m = Metadata::new();
        assert!(m.push("", "x").is_err());
        assert!(m.push("bad name", "x").is_err());
        assert!(m.push(&"a".repeat(256), "x").is_err());
        m.push("X-Tag_1.2+", "v").unwrap();
        assert_eq!(m.get("x-tag_1.2+").unwrap(), "v");
    }
}
