//! Key and password types: public keys print as Z85, secrets never print and are wiped when
//! dropped.

use super::z85::{self, Z85Error};

/// Bytes in a CURVE key (an X25519 key).
pub const CURVE_KEY_LEN: usize = 32;

/// A CURVE public key (long-term or short-term).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CurvePublicKey(pub [u8; CURVE_KEY_LEN]);

impl CurvePublicKey {
    /// The key as 40 Z85 characters, as libzmq's tools print it.
    pub fn to_z85(&self) -> String {
        z85::encode(&self.0).expect("32 is a multiple of 4")
    }

    /// Reads a key from its 40 Z85 characters.
    pub fn from_z85(text: &str) -> Result<Self, Z85Error> {
        Ok(CurvePublicKey(key_from_z85(text)?))
    }
}

impl std::fmt::Debug for CurvePublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CurvePublicKey({})", self.to_z85())
    }
}

/// A CURVE secret key: never printed, wiped on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CurveSecretKey([u8; CURVE_KEY_LEN]);

impl CurveSecretKey {
    /// A secret key from its bytes.
    pub fn from_bytes(bytes: [u8; CURVE_KEY_LEN]) -> Self {
        CurveSecretKey(bytes)
    }

    /// Reads a key from its 40 Z85 characters.
    pub fn from_z85(text: &str) -> Result<Self, Z85Error> {
        let mut bytes = key_from_z85(text)?;
        let key = CurveSecretKey(bytes);
        wipe(&mut bytes);
        Ok(key)
    }

    /// The key's bytes. Handle with care: this is the secret.
    pub fn expose(&self) -> &[u8; CURVE_KEY_LEN] {
        &self.0
    }

    /// The key as 40 Z85 characters (for a key file). Handle with care: this is the secret.
    pub fn expose_z85(&self) -> String {
        z85::encode(&self.0).expect("32 is a multiple of 4")
    }

    /// Whether the key is all zeros (libzmq's "not set").
    pub fn is_unset(&self) -> bool {
        self.0 == [0; CURVE_KEY_LEN]
    }
}

impl Drop for CurveSecretKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl std::fmt::Debug for CurveSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CurveSecretKey(<secret>)")
    }
}

/// A secret of any length (a PLAIN password): never printed, wiped on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps `bytes`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        SecretBytes(bytes.into())
    }

    /// The bytes. Handle with care: this is the secret.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} secret bytes>)", self.0.len())
    }
}

fn key_from_z85(text: &str) -> Result<[u8; CURVE_KEY_LEN], Z85Error> {
    if text.len() != 40 {
        return Err(Z85Error::BadLength(text.len()));
    }
    let mut bytes = z85::decode(text)?;
    let mut key = [0u8; CURVE_KEY_LEN];
    key.copy_from_slice(&bytes);
    wipe(&mut bytes);
    Ok(key)
}

/// Overwrites a secret with zeros in a way the optimiser keeps.
pub(crate) fn wipe(bytes: &mut [u8]) {
    #[cfg(feature = "curve")]
    zeroize::Zeroize::zeroize(bytes);
    #[cfg(not(feature = "curve"))]
    {
        bytes.fill(0);
        std::hint::black_box(&*bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = CurveSecretKey::from_bytes([0x41; 32]);
        let shown = format!("{s:?} {:?}", SecretBytes::new("hunter2"));
        assert!(!shown.contains("hunter2") && !shown.contains(&s.expose_z85()));
        assert!(!shown.contains("41"), "{shown}");
    }

    #[test]
    fn public_keys_read_and_print_as_z85() {
        let text = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
        let k = CurvePublicKey::from_z85(text).unwrap();
        assert_eq!(k.to_z85(), text);
        assert!(format!("{k:?}").contains(text));
        assert!(CurvePublicKey::from_z85("short").is_err());
    }
}
