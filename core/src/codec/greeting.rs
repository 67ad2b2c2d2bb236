//! The 64-byte ZMTP 3.x greeting (RFC 23 §"The Greeting", RFC 37), with early detection of
//! ZMTP 1.0 and 2.0 peers from the first 11 bytes.

use crate::error::{ConnectionError, Incompatible};

/// Length of a ZMTP 3.x greeting.
pub const GREETING_LEN: usize = 64;
/// Bytes up to and including the major version: enough to tell a ZMTP 3 peer from an older one.
pub const VERSION_PREFIX_LEN: usize = 11;

/// The ZMTP revision a connection speaks after negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ZmtpVersion {
    /// ZMTP 3.0 (RFC 23): no PING/PONG; subscriptions travel as `01`/`00`-prefixed messages.
    V3_0,
    /// ZMTP 3.1 (RFC 37): heartbeats; SUBSCRIBE and CANCEL commands.
    V3_1,
}

impl ZmtpVersion {
    /// The version spoken with a peer that announced `major.minor` (we announce 3.1).
    pub fn negotiate(major: u8, minor: u8) -> Result<ZmtpVersion, Incompatible> {
        match (major, minor) {
            (0..=2, _) => Err(Incompatible::Version { major }),
            (3, 0) => Ok(ZmtpVersion::V3_0),
            // Newer revisions must be backwards compatible (RFC 37 §"Version Negotiation").
            _ => Ok(ZmtpVersion::V3_1),
        }
    }

    /// Whether the peer understands PING/PONG and SUBSCRIBE/CANCEL commands.
    pub fn has_commands_3_1(self) -> bool {
        self == ZmtpVersion::V3_1
    }
}

/// A security mechanism name: up to 20 ASCII bytes, NUL-padded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MechanismName([u8; 20]);

impl MechanismName {
    /// The NULL mechanism (RFC 23).
    pub const NULL: MechanismName = MechanismName::from_static("NULL");
    /// The PLAIN mechanism (RFC 24).
    pub const PLAIN: MechanismName = MechanismName::from_static("PLAIN");
    /// The CURVE mechanism (RFC 25).
    pub const CURVE: MechanismName = MechanismName::from_static("CURVE");

    const fn from_static(s: &str) -> Self {
        let b = s.as_bytes();
        let mut out = [0u8; 20];
        let mut i = 0;
        while i < b.len() {
            out[i] = b[i];
            i += 1;
        }
        MechanismName(out)
    }

    /// The 20 bytes as sent on the wire.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The name without its NUL padding.
    pub fn trimmed(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(20);
        &self.0[..end]
    }
}

impl std::fmt::Display for MechanismName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.trimmed()))
    }
}

impl std::fmt::Debug for MechanismName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MechanismName({self})")
    }
}

/// A decoded ZMTP 3.x greeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// Major version (3 for ZMTP 3.x).
    pub major: u8,
    /// Minor version (0 for 3.0, 1 for 3.1).
    pub minor: u8,
    /// The security mechanism.
    pub mechanism: MechanismName,
    /// The as-server flag. libzmq always sends 0 and never reads it.
    pub as_server: bool,
}

impl Greeting {
    /// Our greeting: ZMTP 3.1 with `mechanism`.
    pub fn ours(mechanism: MechanismName, as_server: bool) -> Self {
        Greeting {
            major: 3,
            minor: 1,
            mechanism,
            as_server,
        }
    }

    /// The 64 wire bytes. The padding is `00 … 01` as libzmq sends it, so the first ten bytes
    /// also read as a ZMTP 1.0 identity header, which lets a 1.0 peer fail cleanly.
    pub fn encode(&self) -> [u8; GREETING_LEN] {
        let mut g = [0u8; GREETING_LEN];
        g[0] = 0xFF;
        g[8] = 0x01;
        g[9] = 0x7F;
        g[10] = self.major;
        g[11] = self.minor;
        g[12..32].copy_from_slice(self.mechanism.as_bytes());
        g[32] = u8::from(self.as_server);
        g
    }

    /// Reads a greeting from the start of `buf`. `Ok(None)` means more bytes are needed.
    /// A ZMTP 1.0 or 2.0 peer is recognised as soon as its first 11 bytes are in.
    pub fn decode(buf: &[u8]) -> Result<Option<Greeting>, ConnectionError> {
        // RFC 23 §"Version Negotiation": a ZMTP 1.0 peer starts with a length byte, not FF,
        // or has the low bit of byte 9 clear.
        if let Some(&first) = buf.first() {
            if first != 0xFF {
                return Err(Incompatible::Version { major: 0 }.into());
            }
        }
        if buf.len() >= 10 && buf[9] & 0x01 == 0 {
            return Err(Incompatible::Version { major: 0 }.into());
        }
        if buf.len() >= VERSION_PREFIX_LEN {
            ZmtpVersion::negotiate(buf[10], 0)?;
        }
        if buf.len() < GREETING_LEN {
            return Ok(None);
        }
        let mut mechanism = [0u8; 20];
        mechanism.copy_from_slice(&buf[12..32]);
        // libzmq ignores the padding, the filler and the as-server byte's other bits.
        Ok(Some(Greeting {
            major: buf[10],
            minor: buf[11],
            mechanism: MechanismName(mechanism),
            as_server: buf[32] & 0x01 != 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The greeting libzmq 4.3 sends with the NULL mechanism, byte for byte.
    const LIBZMQ_NULL_GREETING: [u8; 64] = {
        let mut g = [0u8; 64];
        g[0] = 0xFF;
        g[8] = 0x01;
        g[9] = 0x7F;
        g[10] = 3;
        g[11] = 1;
        g[12] = b'N';
        g[13] = b'U';
        g[14] = b'L';
        g[15] = b'L';
        g
    };

    #[test]
    fn our_null_greeting_matches_libzmq_byte_for_byte() {
        let ours = Greeting::ours(MechanismName::NULL, false).encode();
        assert_eq!(ours, LIBZMQ_NULL_GREETING);
    }

    #[test]
    fn decodes_libzmq_greeting_only_when_complete() {
        for cut in 0..64 {
            assert_eq!(
                Greeting::decode(&LIBZMQ_NULL_GREETING[..cut]),
                Ok(None),
                "{cut}"
            );
        }
        let g = Greeting::decode(&LIBZMQ_NULL_GREETING).unwrap().unwrap();
        assert_eq!(g.mechanism, MechanismName::NULL);
        assert_eq!((g.major, g.minor), (3, 1));
        assert!(!g.as_server);
    }

    #[test]
    fn zmtp_1_0_peer_is_refused_on_its_first_byte() {
        // A ZMTP 1.0 peer opens with an identity frame: length then flags.
        assert_eq!(
            Greeting::decode(&[0x01, 0x00]),
            Err(Incompatible::Version { major: 0 }.into())
        );
        let mut sig = [0u8; 10];
        sig[0] = 0xFF;
        sig[9] = 0x7E;
        assert_eq!(
            Greeting::decode(&sig),
            Err(Incompatible::Version { major: 0 }.into())
        );
    }

    #[test]
    fn zmtp_2_0_peer_is_refused_after_eleven_bytes() {
        let mut g = LIBZMQ_NULL_GREETING;
        g[10] = 1;
        assert_eq!(
            Greeting::decode(&g[..11]),
            Err(Incompatible::Version { major: 1 }.into())
        );
    }

    #[test]
    fn version_negotiation() {
        assert_eq!(ZmtpVersion::negotiate(3, 0), Ok(ZmtpVersion::V3_0));
        assert_eq!(ZmtpVersion::negotiate(3, 1), Ok(ZmtpVersion::V3_1));
        assert_eq!(ZmtpVersion::negotiate(3, 7), Ok(ZmtpVersion::V3_1));
        assert_eq!(ZmtpVersion::negotiate(4, 0), Ok(ZmtpVersion::V3_1));
        assert!(ZmtpVersion::negotiate(2, 0).is_err());
    }

    #[test]
    fn libzmq_as_server_zero_is_accepted_and_filler_ignored() {
        let mut g = LIBZMQ_NULL_GREETING;
        g[40] = 0xAB; // filler
        g[3] = 0x55; // padding
        assert!(Greeting::decode(&g).unwrap().is_some());
    }
}
