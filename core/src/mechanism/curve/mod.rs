//! CURVE (RFC 25 ZMTP-CURVE, RFC 26 CurveZMQ): a HELLO / WELCOME / INITIATE / READY
//! handshake of X25519 keys and XSalsa20-Poly1305 boxes, then every frame boxed in a MESSAGE
//! under a strictly increasing nonce. Commands are laid out byte for byte as libzmq 4.3 sends
//! them (`ZMTP-NOTES.md` lists the sizes and nonce prefixes).
//!
//! The crypto comes from a [`CurveCrypto`] provider: RustCrypto's ([`RUST_CRYPTO`]) always,
//! except that a fuzzer (the `fuzzing` feature) may swap in one that boxes nothing, so that
//! its inputs get past the boxes.

mod client;
mod server;
#[cfg(test)]
mod tests;

pub(crate) use client::{ClientKeys, CurveClient};
pub(crate) use server::CurveServer;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use crypto_box::aead::generic_array::GenericArray;

use super::keys::{wipe, CurvePublicKey, CurveSecretKey, CURVE_KEY_LEN};
use crate::codec::WireFrame;
use crate::error::{ConnectionError, Malformed, ProtocolViolation};
use crate::rng::SecureRandom;

/// Bytes of a Poly1305 tag (NaCl's `crypto_box_MACBYTES`).
pub const TAG_LEN: usize = 16;
/// Bytes of an XSalsa20 nonce.
pub const NONCE_LEN: usize = 24;

// RFC 26 §"Command Details": nonce prefixes, 16 bytes before a short (8-byte) nonce or
// 8 bytes before a long (16-byte) one.
const HELLO_PREFIX: &[u8; 16] = b"CurveZMQHELLO---";
const WELCOME_PREFIX: &[u8; 8] = b"WELCOME-";
const COOKIE_PREFIX: &[u8; 8] = b"COOKIE--";
const INITIATE_PREFIX: &[u8; 16] = b"CurveZMQINITIATE";
const VOUCH_PREFIX: &[u8; 8] = b"VOUCH---";
const READY_PREFIX: &[u8; 16] = b"CurveZMQREADY---";
const MESSAGE_FROM_CLIENT: &[u8; 16] = b"CurveZMQMESSAGEC";
const MESSAGE_FROM_SERVER: &[u8; 16] = b"CurveZMQMESSAGES";

/// `07 MESSAGE`, how every boxed frame body starts.
const MESSAGE_NAME: &[u8] = b"\x07MESSAGE";
/// A MESSAGE body: name, short nonce, tag and the flags byte at least.
const MESSAGE_MIN: usize = MESSAGE_NAME.len() + 8 + TAG_LEN + 1;
/// The flags byte inside a MESSAGE box: libzmq's MORE and COMMAND bits.
const INNER_MORE: u8 = 0x01;
const INNER_COMMAND: u8 = 0x02;

/// A symmetric cipher keyed for one direction pair: a `crypto_box` after `beforenm`, or a
/// `crypto_secretbox`.
pub trait Cipher: Send {
    /// Encrypts `buf` in place under `nonce`, returning the tag.
    fn seal(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> [u8; TAG_LEN];
    /// Decrypts `buf` in place if `tag` authenticates it; `false` (and `buf` unspecified)
    /// otherwise.
    fn open(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool;
}

/// Where CURVE's crypto comes from (in the manner of rustls' crypto providers).
pub trait CurveCrypto: Send + Sync + std::fmt::Debug {
    /// The public key of `secret` (X25519 scalar multiplication of the base point).
    fn public_key(&self, secret: &CurveSecretKey) -> CurvePublicKey;
    /// A `crypto_box` cipher between `theirs` and `ours` (NaCl's `crypto_box_beforenm`).
    fn box_cipher(&self, theirs: &CurvePublicKey, ours: &CurveSecretKey) -> Box<dyn Cipher>;
    /// A `crypto_secretbox` cipher under `key`.
    fn secretbox_cipher(&self, key: &[u8; CURVE_KEY_LEN]) -> Box<dyn Cipher>;
}

/// RustCrypto's X25519 and XSalsa20-Poly1305 (`crypto_box`, `crypto_secretbox`).
#[derive(Debug)]
pub struct RustCrypto;

/// The provider every CURVE connection uses unless told otherwise.
pub static RUST_CRYPTO: RustCrypto = RustCrypto;

struct AeadCipher<A>(A);

// Both ciphers take a 24-byte nonce and give a 16-byte tag, so `from_slice` cannot panic.
impl<A: crypto_box::aead::AeadInPlace + Send> Cipher for AeadCipher<A> {
    fn seal(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = self
            .0
            .encrypt_in_place_detached(GenericArray::from_slice(nonce), &[], buf)
            .expect("XSalsa20-Poly1305 seals any length we send");
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&tag);
        out
    }

    fn open(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        self.0
            .decrypt_in_place_detached(
                GenericArray::from_slice(nonce),
                &[],
                buf,
                GenericArray::from_slice(tag),
            )
            .is_ok()
    }
}

impl CurveCrypto for RustCrypto {
    fn public_key(&self, secret: &CurveSecretKey) -> CurvePublicKey {
        let sk = crypto_box::SecretKey::from(*secret.expose());
        CurvePublicKey(*sk.public_key().as_bytes())
    }

    fn box_cipher(&self, theirs: &CurvePublicKey, ours: &CurveSecretKey) -> Box<dyn Cipher> {
        let pk = crypto_box::PublicKey::from(theirs.0);
        let sk = crypto_box::SecretKey::from(*ours.expose());
        Box::new(AeadCipher(crypto_box::SalsaBox::new(&pk, &sk)))
    }

    fn secretbox_cipher(&self, key: &[u8; CURVE_KEY_LEN]) -> Box<dyn Cipher> {
        use crypto_secretbox::KeyInit;
        Box::new(AeadCipher(crypto_secretbox::XSalsa20Poly1305::new(
            key.into(),
        )))
    }
}

/// A provider that encrypts nothing: public keys equal secret keys, a box is its plaintext
/// behind 16 zero bytes. For fuzzing only — it offers no security at all.
#[cfg(feature = "fuzzing")]
#[derive(Debug)]
pub struct InsecureNoCrypto;

/// The no-crypto provider, for fuzz targets.
#[cfg(feature = "fuzzing")]
pub static INSECURE_NO_CRYPTO: InsecureNoCrypto = InsecureNoCrypto;

#[cfg(feature = "fuzzing")]
struct NoCipher;

#[cfg(feature = "fuzzing")]
impl Cipher for NoCipher {
    fn seal(&self, _nonce: &[u8; NONCE_LEN], _buf: &mut [u8]) -> [u8; TAG_LEN] {
        [0; TAG_LEN]
    }

    fn open(&self, _nonce: &[u8; NONCE_LEN], _buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        *tag == [0; TAG_LEN]
    }
}

#[cfg(feature = "fuzzing")]
impl CurveCrypto for InsecureNoCrypto {
    fn public_key(&self, secret: &CurveSecretKey) -> CurvePublicKey {
        CurvePublicKey(*secret.expose())
    }

    fn box_cipher(&self, _theirs: &CurvePublicKey, _ours: &CurveSecretKey) -> Box<dyn Cipher> {
        Box::new(NoCipher)
    }

    fn secretbox_cipher(&self, _key: &[u8; CURVE_KEY_LEN]) -> Box<dyn Cipher> {
        Box::new(NoCipher)
    }
}

/// A new long-term (or short-term) key pair drawn from `random` (libzmq's
/// `zmq_curve_keypair`).
pub fn generate_keypair(random: &mut dyn SecureRandom) -> (CurvePublicKey, CurveSecretKey) {
    keypair(&RUST_CRYPTO, random)
}

/// The public key of `secret` (libzmq's `zmq_curve_public`).
pub fn public_key(secret: &CurveSecretKey) -> CurvePublicKey {
    RUST_CRYPTO.public_key(secret)
}

fn keypair(
    crypto: &dyn CurveCrypto,
    random: &mut dyn SecureRandom,
) -> (CurvePublicKey, CurveSecretKey) {
    let mut bytes = [0u8; CURVE_KEY_LEN];
    random.fill_bytes(&mut bytes);
    let secret = CurveSecretKey::from_bytes(bytes);
    wipe(&mut bytes);
    (crypto.public_key(&secret), secret)
}

/// A 24-byte nonce: a prefix and the counter or random bytes after it.
fn nonce(prefix: &[u8], rest: &[u8]) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[..prefix.len()].copy_from_slice(prefix);
    n[prefix.len()..].copy_from_slice(rest);
    n
}

/// Boxes `plaintext` as NaCl lays a box out on the wire: the tag, then the ciphertext.
fn seal_box(cipher: &dyn Cipher, nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; TAG_LEN + plaintext.len()];
    out[TAG_LEN..].copy_from_slice(plaintext);
    let tag = cipher.seal(nonce, &mut out[TAG_LEN..]);
    out[..TAG_LEN].copy_from_slice(&tag);
    out
}

/// Opens a box laid out as `seal_box` makes it; `None` if it is short or does not open.
fn open_box(cipher: &dyn Cipher, nonce: &[u8; NONCE_LEN], boxed: &[u8]) -> Option<Vec<u8>> {
    let (tag, ciphertext) = boxed.split_first_chunk::<TAG_LEN>()?;
    let mut plain = ciphertext.to_vec();
    if cipher.open(nonce, &mut plain, tag) {
        Some(plain)
    } else {
        wipe(&mut plain);
        None
    }
}

/// Compares two secrets without stopping at the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A command body split into its name and data; `None` if the name runs past the body.
fn split_command(body: &Bytes) -> Option<(&[u8], usize)> {
    let len = usize::from(*body.first()?);
    let name = body.get(1..1 + len)?;
    Some((name, 1 + len))
}

/// The refusal of a handshake command that is not expected now: the peer's ERROR, or an
/// unexpected-command violation naming it.
fn unexpected(body: Bytes) -> ConnectionError {
    match split_command(&body) {
        Some((b"ERROR", _)) => match crate::codec::Command::parse(body) {
            Ok(cmd) => super::refuse(cmd),
            Err(e) => e.into(),
        },
        Some((name, _)) => {
            ProtocolViolation::UnexpectedCommand(Bytes::copy_from_slice(name)).into()
        }
        None => Malformed::BadCommandName.into(),
    }
}

/// The boxed traffic of a connected CURVE session: MESSAGE bodies out, frames in.
pub(crate) struct Traffic {
    cipher: Box<dyn Cipher>,
    send_prefix: &'static [u8; 16],
    recv_prefix: &'static [u8; 16],
    /// The short nonce of our next MESSAGE.
    next_nonce: u64,
    /// The last short nonce accepted from the peer (its INITIATE or READY, then MESSAGEs).
    peer_nonce: u64,
    /// Where MESSAGE bodies are built, and where opened frames are decrypted: each frame is
    /// split off as `Bytes`, and once those are dropped `reserve` takes the allocation back.
    /// Without it every large frame cost a fresh allocation that the allocator handed back
    /// to the system when freed (glibc trims and maps above 128 KiB), so each 64 KiB
    /// message paid page faults twice; libzmq+libsodium ran 1.4× faster at 64 KiB for it.
    send_buf: BytesMut,
    recv_buf: BytesMut,
}

impl Traffic {
    /// The traffic state once a handshake has agreed `cipher` and the nonces.
    pub(crate) fn new(
        cipher: Box<dyn Cipher>,
        send_prefix: &'static [u8; 16],
        recv_prefix: &'static [u8; 16],
        next_nonce: u64,
        peer_nonce: u64,
    ) -> Traffic {
        Traffic {
            cipher,
            send_prefix,
            recv_prefix,
            next_nonce,
            peer_nonce,
            send_buf: BytesMut::new(),
            recv_buf: BytesMut::new(),
        }
    }

    /// Boxes one frame into a MESSAGE body (RFC 26 §"MESSAGE", libzmq's flags byte).
    pub(crate) fn wrap(&mut self, body: &[u8], more: bool, command: bool) -> Bytes {
        let head = MESSAGE_NAME.len() + 8;
        let out = &mut self.send_buf;
        out.reserve(head + TAG_LEN + 1 + body.len());
        out.extend_from_slice(MESSAGE_NAME);
        out.extend_from_slice(&self.next_nonce.to_be_bytes());
        out.extend_from_slice(&[0; TAG_LEN]);
        out.put_u8((u8::from(more) * INNER_MORE) | (u8::from(command) * INNER_COMMAND));
        out.extend_from_slice(body);
        let n = nonce(self.send_prefix, &self.next_nonce.to_be_bytes());
        let tag = self.cipher.seal(&n, &mut out[head + TAG_LEN..]);
        out[head..head + TAG_LEN].copy_from_slice(&tag);
        // 2^64 messages cannot be sent; the counter cannot wrap.
        self.next_nonce += 1;
        out.split().freeze()
    }

    /// Opens one MESSAGE: its nonce must follow the last one, its box must open.
    pub(crate) fn unwrap(&mut self, frame: WireFrame) -> Result<WireFrame, ConnectionError> {
        let body = frame.body;
        if !body.starts_with(MESSAGE_NAME) {
            let name = split_command(&body).map_or(&b""[..], |(n, _)| n);
            return Err(ProtocolViolation::UnexpectedCommand(Bytes::copy_from_slice(name)).into());
        }
        if body.len() < MESSAGE_MIN {
            return Err(Malformed::BadCommandBody("MESSAGE").into());
        }
        let short = &body[MESSAGE_NAME.len()..MESSAGE_NAME.len() + 8];
        let got = u64::from_be_bytes(short.try_into().expect("8 bytes"));
        if got <= self.peer_nonce {
            return Err(ProtocolViolation::NonceNotIncreasing {
                got,
                last: self.peer_nonce,
            }
            .into());
        }
        let tag_at = MESSAGE_NAME.len() + 8;
        let tag: [u8; TAG_LEN] = body[tag_at..tag_at + TAG_LEN].try_into().expect("16 bytes");
        let ciphertext = &body[tag_at + TAG_LEN..];
        self.recv_buf.reserve(ciphertext.len());
        self.recv_buf.extend_from_slice(ciphertext);
        let mut plain = self.recv_buf.split();
        if !self
            .cipher
            .open(&nonce(self.recv_prefix, short), &mut plain, &tag)
        {
            return Err(ProtocolViolation::Cryptographic("MESSAGE").into());
        }
        // Only a MESSAGE that opened moves the window: a forged one cannot burn nonces.
        self.peer_nonce = got;
        let flags = plain[0];
        plain.advance(1);
        Ok(WireFrame {
            more: flags & INNER_MORE != 0,
            command: flags & INNER_COMMAND != 0,
            body: plain.freeze(),
        })
    }
}
