//! Z85 (RFC 32): 4 bytes as 5 printable characters, the form CURVE keys take in
//! configuration files and on command lines.

/// The 85 characters, in value order (RFC 32 §"Formal Specification").
const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Why a string is not Z85.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Z85Error {
    /// Encoding takes a multiple of 4 bytes; decoding a multiple of 5 characters.
    BadLength(usize),
    /// A character outside the alphabet.
    BadCharacter(char),
    /// Five characters whose value does not fit in 32 bits.
    Overflow,
}

impl std::fmt::Display for Z85Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Z85Error::BadLength(n) => write!(f, "length {n} is not a Z85 length"),
            Z85Error::BadCharacter(c) => write!(f, "{c:?} is not a Z85 character"),
            Z85Error::Overflow => f.write_str("Z85 group exceeds 32 bits"),
        }
    }
}

impl std::error::Error for Z85Error {}

/// Encodes `data`, whose length must be a multiple of 4.
pub fn encode(data: &[u8]) -> Result<String, Z85Error> {
    if !data.len().is_multiple_of(4) {
        return Err(Z85Error::BadLength(data.len()));
    }
    let mut out = String::with_capacity(data.len() / 4 * 5);
    for group in data.chunks_exact(4) {
        let mut value = u32::from_be_bytes([group[0], group[1], group[2], group[3]]);
        let mut chars = [0u8; 5];
        for c in chars.iter_mut().rev() {
            *c = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        out.extend(chars.iter().map(|&c| char::from(c)));
    }
    Ok(out)
}

/// Decodes `text`, whose length must be a multiple of 5.
pub fn decode(text: &str) -> Result<Vec<u8>, Z85Error> {
    if !text.len().is_multiple_of(5) {
        return Err(Z85Error::BadLength(text.len()));
    }
    let mut out = Vec::with_capacity(text.len() / 5 * 4);
    for group in text.as_bytes().chunks_exact(5) {
        let mut value: u64 = 0;
        for &c in group {
            let digit = ALPHABET
                .iter()
                .position(|&a| a == c)
                .ok_or(Z85Error::BadCharacter(char::from(c)))?;
            value = value * 85 + digit as u64;
        }
        let value = u32::try_from(value).map_err(|_| Z85Error::Overflow)?;
        out.extend_from_slice(&value.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_32_test_vector() {
        let bytes = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(encode(&bytes).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), bytes);
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(encode(&[1, 2, 3]), Err(Z85Error::BadLength(3)));
        assert_eq!(decode("Hello1"), Err(Z85Error::BadLength(6)));
        assert_eq!(decode("Hell~"), Err(Z85Error::BadCharacter('~')));
        assert_eq!(decode("#####"), Err(Z85Error::Overflow));
    }

    proptest::proptest! {
        #[test]
        fn round_trips(words in proptest::collection::vec(proptest::prelude::any::<[u8; 4]>(), 0..16)) {
            let data: Vec<u8> = words.concat();
            let text = encode(&data).unwrap();
            proptest::prop_assert_eq!(text.len(), data.len() / 4 * 5);
            proptest::prop_assert_eq!(decode(&text).unwrap(), data);
        }
    }
}
