//! The security options (PLAIN_*, CURVE_*, ZAP_DOMAIN) as libzmq keeps them, and what the
//! driver adds: the random source CURVE draws from and whether a ZAP handler is there.

use bytes::Bytes;

use super::keys::{CurvePublicKey, CurveSecretKey, SecretBytes};
use super::MechanismConfig;
use crate::codec::MechanismName;
use crate::engine::EngineConfig;
use crate::options::{OptionError, SocketOption, SocketOptionName};
use crate::rng::RandomSource;

/// Which mechanism the last security option chose (libzmq's `options.mechanism`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Kind {
    #[default]
    Null,
    Plain,
    Curve,
}

/// The security settings of one socket.
///
/// As in libzmq, the last option set decides the mechanism and role: PLAIN_SERVER 1 makes a
/// PLAIN server, PLAIN_USERNAME or PLAIN_PASSWORD a PLAIN client; CURVE_SERVER 1 a CURVE
/// server, CURVE_SERVERKEY a CURVE client; CURVE_PUBLICKEY and CURVE_SECRETKEY choose CURVE
/// in the current role; PLAIN_SERVER 0, CURVE_SERVER 0 or an empty username or password go
/// back to NULL.
#[derive(Clone, Debug, Default)]
pub struct SecurityOptions {
    kind: Kind,
    as_server: bool,
    plain_username: Bytes,
    plain_password: SecretBytes,
    curve_public: CurvePublicKey,
    curve_secret: CurveSecretKey,
    curve_server: CurvePublicKey,
    zap_domain: Bytes,
    /// Where CURVE connections draw their randomness from (the driver sets it).
    pub random: Option<RandomSource>,
    /// Whether the driver has a ZAP handler to ask (the driver sets it). Without one, a CURVE
    /// server accepts every client that knows its key and a PLAIN server refuses every
    /// client, as libzmq's do.
    pub zap_handler: bool,
    /// Where CURVE connections take their crypto from (the driver may set it; RustCrypto's
    /// when `None`).
    #[cfg(feature = "curve")]
    pub curve_crypto: Option<&'static dyn super::curve::CurveCrypto>,
}

impl PartialEq for SecurityOptions {
    fn eq(&self, other: &Self) -> bool {
        let same_random = match (&self.random, &other.random) {
            (None, None) => true,
            (Some(a), Some(b)) => a.same_as(b),
            _ => false,
        };
        #[cfg(feature = "curve")]
        let same_crypto = match (self.curve_crypto, other.curve_crypto) {
            (None, None) => true,
            (Some(a), Some(b)) => std::ptr::addr_eq(a, b),
            _ => false,
        };
        #[cfg(not(feature = "curve"))]
        let same_crypto = true;
        same_random
            && same_crypto
            && self.kind == other.kind
            && self.as_server == other.as_server
            && self.plain_username == other.plain_username
            && self.plain_password == other.plain_password
            && self.curve_public == other.curve_public
            && self.curve_secret == other.curve_secret
            && self.curve_server == other.curve_server
            && self.zap_domain == other.zap_domain
            && self.zap_handler == other.zap_handler
    }
}

impl Eq for SecurityOptions {}

/// Credentials and ZAP_DOMAIN are at most 255 bytes (they travel behind a one-byte length).
fn short(b: &[u8]) -> Result<(), OptionError> {
    if b.len() > 255 {
        return Err(OptionError::InvalidValue);
    }
    Ok(())
}

impl SecurityOptions {
    /// Takes `opt` if it is a security option; `Ok(false)` if it is not.
    pub fn set(&mut self, opt: &SocketOption) -> Result<bool, OptionError> {
        use SocketOption as O;
        match opt {
            O::PlainServer(on) => {
                self.as_server = *on;
                self.kind = if *on { Kind::Plain } else { Kind::Null };
            }
            O::PlainUsername(u) => {
                short(u)?;
                self.plain_username = u.clone();
                self.plain_client_or_null(u.is_empty());
            }
            O::PlainPassword(p) => {
                short(p.expose())?;
                self.plain_password = p.clone();
                self.plain_client_or_null(p.is_empty());
            }
            O::CurveServer(on) => {
                self.as_server = *on;
                self.kind = if *on { Kind::Curve } else { Kind::Null };
            }
            O::CurvePublickey(k) => {
                self.curve_public = *k;
                self.kind = Kind::Curve;
            }
            O::CurveSecretkey(k) => {
                self.curve_secret = k.clone();
                self.kind = Kind::Curve;
            }
            O::CurveServerkey(k) => {
                self.curve_server = *k;
                self.as_server = false;
                self.kind = Kind::Curve;
            }
            O::ZapDomain(d) => {
                short(d)?;
                self.zap_domain = d.clone();
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn plain_client_or_null(&mut self, reset: bool) {
        // libzmq: a NULL username or password means the NULL mechanism again.
        if reset {
            self.kind = Kind::Null;
        } else {
            self.as_server = false;
            self.kind = Kind::Plain;
        }
    }

    /// The value of security option `name`; `None` if it is not one.
    pub fn get(&self, name: SocketOptionName) -> Option<SocketOption> {
        use SocketOption as O;
        use SocketOptionName as N;
        Some(match name {
            N::PlainServer => O::PlainServer(self.as_server && self.kind == Kind::Plain),
            N::PlainUsername => O::PlainUsername(self.plain_username.clone()),
            N::PlainPassword => O::PlainPassword(self.plain_password.clone()),
            N::CurveServer => O::CurveServer(self.as_server && self.kind == Kind::Curve),
            N::CurvePublickey => O::CurvePublickey(self.curve_public),
            N::CurveSecretkey => O::CurveSecretkey(self.curve_secret.clone()),
            N::CurveServerkey => O::CurveServerkey(self.curve_server),
            N::ZapDomain => O::ZapDomain(self.zap_domain.clone()),
            N::Mechanism => O::Mechanism(self.mechanism_name()),
            _ => return None,
        })
    }

    /// ZMQ_MECHANISM: the mechanism connections will use.
    pub fn mechanism_name(&self) -> MechanismName {
        match self.kind {
            Kind::Null => MechanismName::NULL,
            Kind::Plain => MechanismName::PLAIN,
            Kind::Curve => MechanismName::CURVE,
        }
    }

    /// The mechanism and role connections will use, with their credentials.
    pub fn mechanism(&self) -> MechanismConfig {
        match (self.kind, self.as_server) {
            (Kind::Null, _) => MechanismConfig::Null,
            (Kind::Plain, true) => MechanismConfig::PlainServer,
            (Kind::Plain, false) => MechanismConfig::PlainClient {
                username: self.plain_username.clone(),
                password: self.plain_password.clone(),
            },
            (Kind::Curve, true) => MechanismConfig::CurveServer {
                public: self.curve_public,
                secret: self.curve_secret.clone(),
            },
            (Kind::Curve, false) => MechanismConfig::CurveClient {
                public: self.curve_public,
                secret: self.curve_secret.clone(),
                server: self.curve_server,
            },
        }
    }

    /// Puts these settings into a connection's settings.
    pub fn apply_to(&self, config: &mut EngineConfig) {
        config.mechanism = self.mechanism();
        config.zap_domain = self.zap_domain.clone();
        config.zap_handler = self.zap_handler;
        config.random = self.random.clone();
        #[cfg(feature = "curve")]
        if let Some(crypto) = self.curve_crypto {
            config.curve_crypto = crypto;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SocketOption as O;

    #[test]
    fn security_options_read_back_what_was_set() {
        let mut s = SecurityOptions::default();
        for opt in [
            O::PlainServer(true),
            O::PlainUsername(Bytes::from_static(b"admin")),
            O::PlainPassword(SecretBytes::new("secret")),
            O::CurveServer(true),
            O::CurvePublickey(CurvePublicKey([1; 32])),
            O::CurveSecretkey(CurveSecretKey::from_bytes([2; 32])),
            O::CurveServerkey(CurvePublicKey([3; 32])),
            O::ZapDomain(Bytes::from_static(b"global")),
        ] {
            assert_eq!(s.set(&opt), Ok(true), "{opt:?}");
            assert_eq!(s.get(opt.name()), Some(opt));
        }
        assert_eq!(s.set(&O::Linger(0)), Ok(false));
        assert_eq!(
            s.set(&O::ZapDomain(Bytes::from(vec![b'd'; 256]))),
            Err(OptionError::InvalidValue)
        );
    }

    #[test]
    fn the_last_option_set_decides_mechanism_and_role_as_in_libzmq() {
        let mut s = SecurityOptions::default();
        assert_eq!(s.mechanism(), MechanismConfig::Null);
        s.set(&O::PlainServer(true)).unwrap();
        assert_eq!(s.mechanism(), MechanismConfig::PlainServer);
        assert_eq!(
            s.get(SocketOptionName::Mechanism),
            Some(O::Mechanism(MechanismName::PLAIN))
        );
        s.set(&O::PlainUsername(Bytes::from_static(b"u"))).unwrap();
        assert!(matches!(s.mechanism(), MechanismConfig::PlainClient { .. }));
        assert_eq!(
            s.get(SocketOptionName::PlainServer),
            Some(O::PlainServer(false))
        );
        s.set(&O::PlainUsername(Bytes::new())).unwrap();
        assert_eq!(s.mechanism(), MechanismConfig::Null);
        s.set(&O::CurveServer(true)).unwrap();
        assert!(matches!(s.mechanism(), MechanismConfig::CurveServer { .. }));
        s.set(&O::CurveServerkey(CurvePublicKey([9; 32]))).unwrap();
        assert!(matches!(
            s.mechanism(),
            MechanismConfig::CurveClient { server, .. } if server == CurvePublicKey([9; 32])
        ));
        s.set(&O::CurveServer(false)).unwrap();
        assert_eq!(s.mechanism(), MechanismConfig::Null);
    }
}
