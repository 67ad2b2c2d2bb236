//! libsodium as a CURVE crypto provider for oxmq: the same X25519 and XSalsa20-Poly1305
//! code libzmq's CURVE runs on, behind oxmq-core's
//! [`CurveCrypto`](oxmq_core::mechanism::curve::CurveCrypto) seam.
//!
//! oxmq-core's own provider is RustCrypto's (pure Rust, always there). Its XSalsa20 has no
//! SIMD code and its Poly1305 sets up an AVX2 state for every message, so a CURVE stream
//! spends about four times as long in crypto as libsodium's does (64 KiB seal + open:
//! ~205 µs against ~53 µs on the machine the numbers in the README come from). This crate
//! is for users who want libzmq's CURVE speed and accept a C library (built from the source
//! tarball `libsodium-sys-stable` bundles; nothing is downloaded or taken from the system):
//!
//! ```
//! let ctx = oxmq_mio::Context::new().unwrap();
//! ctx.set_curve_crypto(&oxmq_sodium::LIBSODIUM);
//! // Every socket made from now on seals and opens its CURVE boxes with libsodium.
//! ```
//!
//! Both providers produce the same bytes on the wire (the tests check it box by box and over
//! real connections), so a peer cannot tell which one a socket uses.
//!
//! The crate's unsafe code is the FFI calls below, each with the reason it is sound.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use std::sync::Once;

use libsodium_sys as ffi;
use oxmq_core::mechanism::curve::{Cipher, CurveCrypto, NONCE_LEN, RUST_CRYPTO, TAG_LEN};
use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey, CURVE_KEY_LEN};
use zeroize::Zeroizing;

/// libsodium's X25519 and XSalsa20-Poly1305.
#[derive(Debug)]
pub struct Libsodium;

/// The libsodium provider, to hand to `Context::set_curve_crypto` (oxmq-mio, oxmq-tokio) or
/// `SocketHalf::set_curve_crypto` (your own driver).
pub static LIBSODIUM: Libsodium = Libsodium;

/// `sodium_init` once per process: it picks the fastest implementations the CPU has.
fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: sodium_init takes no arguments and may be called from any thread; `Once`
        // makes it run once. It returns 0 (done), 1 (already done) or -1 (failed).
        let rc = unsafe { ffi::sodium_init() };
        assert!(rc >= 0, "libsodium failed to initialise");
    });
}

/// A `crypto_secretbox` key. After `crypto_box_beforenm` a `crypto_box` is exactly a
/// secretbox under the precomputed key, so one type serves both. Wiped on drop, never printed.
struct SodiumCipher {
    key: Zeroizing<[u8; CURVE_KEY_LEN]>,
}

impl Cipher for SodiumCipher {
    fn seal(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let mut tag = [0u8; TAG_LEN];
        let ptr = buf.as_mut_ptr();
        // SAFETY: `tag` has crypto_secretbox_MACBYTES (16) bytes, the nonce NONCEBYTES (24),
        // the key KEYBYTES (32); ciphertext and message are the same `buf.len()` bytes, and
        // libsodium documents that they may overlap (in-place encryption). It cannot fail.
        unsafe {
            ffi::crypto_secretbox_detached(
                ptr,
                tag.as_mut_ptr(),
                ptr,
                buf.len() as u64,
                nonce.as_ptr(),
                self.key.as_ptr(),
            );
        }
        tag
    }

    fn open(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        let ptr = buf.as_mut_ptr();
        // SAFETY: as in `seal`; decryption in place is documented too. It returns -1 without
        // writing when the tag does not authenticate `buf`.
        let rc = unsafe {
            ffi::crypto_secretbox_open_detached(
                ptr,
                ptr,
                tag.as_ptr(),
                buf.len() as u64,
                nonce.as_ptr(),
                self.key.as_ptr(),
            )
        };
        rc == 0
    }
}

impl CurveCrypto for Libsodium {
    fn public_key(&self, secret: &CurveSecretKey) -> CurvePublicKey {
        init();
        let mut public = [0u8; CURVE_KEY_LEN];
        // SAFETY: both buffers are crypto_scalarmult_BYTES / SCALARBYTES (32) long. It fails
        // only for a result of all zeros, which no clamped scalar gives for the base point.
        unsafe { ffi::crypto_scalarmult_base(public.as_mut_ptr(), secret.expose().as_ptr()) };
        CurvePublicKey(public)
    }

    fn box_cipher(&self, theirs: &CurvePublicKey, ours: &CurveSecretKey) -> Box<dyn Cipher> {
        init();
        let mut key = Zeroizing::new([0u8; CURVE_KEY_LEN]);
        // SAFETY: crypto_box_beforenm writes BEFORENMBYTES (32) from a 32-byte public and a
        // 32-byte secret key.
        let rc = unsafe {
            ffi::crypto_box_beforenm(key.as_mut_ptr(), theirs.0.as_ptr(), ours.expose().as_ptr())
        };
        if rc != 0 {
            // libsodium refuses a peer key on its list of points of small order; RustCrypto
            // derives a key from whatever X25519 gives. Both providers must act alike on
            // every input (a handshake fails or passes the same way whichever a socket
            // uses), so this rare path is RustCrypto's.
            return RUST_CRYPTO.box_cipher(theirs, ours);
        }
        Box::new(SodiumCipher { key })
    }

    fn secretbox_cipher(&self, key: &[u8; CURVE_KEY_LEN]) -> Box<dyn Cipher> {
        init();
        Box::new(SodiumCipher {
            key: Zeroizing::new(*key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fill: u8) -> CurveSecretKey {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = fill.wrapping_mul(31).wrapping_add(i as u8);
        }
        CurveSecretKey::from_bytes(b)
    }

    #[test]
    fn public_keys_agree_with_rustcrypto() {
        for fill in 0..20 {
            let sk = key(fill);
            assert_eq!(LIBSODIUM.public_key(&sk), RUST_CRYPTO.public_key(&sk));
        }
    }

    /// RFC 7748 §6.1's Alice: her secret key gives her public key.
    #[test]
    fn rfc7748_test_vector() {
        let hex = |s: &str| -> [u8; 32] {
            let mut out = [0u8; 32];
            for (i, o) in out.iter_mut().enumerate() {
                *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
            }
            out
        };
        let sk = CurveSecretKey::from_bytes(hex(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        assert_eq!(
            LIBSODIUM.public_key(&sk).0,
            hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
    }

    /// Every length a frame may have around the batch sizes: the same tag and ciphertext as
    /// RustCrypto's, and each opens the other's box.
    #[test]
    fn boxes_agree_with_rustcrypto_both_ways() {
        let (a, b) = (key(1), key(2));
        let (pa, pb) = (RUST_CRYPTO.public_key(&a), RUST_CRYPTO.public_key(&b));
        let ours = LIBSODIUM.box_cipher(&pb, &a);
        let theirs = RUST_CRYPTO.box_cipher(&pa, &b);
        let secret = [7u8; 32];
        let ours_s = LIBSODIUM.secretbox_cipher(&secret);
        let theirs_s = RUST_CRYPTO.secretbox_cipher(&secret);
        for (len, n) in [0usize, 1, 15, 16, 17, 63, 64, 65, 1000, 8192, 70_000]
            .into_iter()
            .zip(0u8..)
        {
            let nonce = [n; NONCE_LEN];
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + n as usize) as u8).collect();
            for (x, y) in [(&ours, &theirs), (&ours_s, &theirs_s)] {
                let (mut bx, mut by) = (plain.clone(), plain.clone());
                let tx = x.seal(&nonce, &mut bx);
                let ty = y.seal(&nonce, &mut by);
                assert_eq!((tx, &bx), (ty, &by), "len {len}");
                if len > 0 {
                    assert_ne!(bx, plain, "len {len}: sealed in place");
                }
                assert!(y.open(&nonce, &mut bx, &tx), "len {len}");
                assert!(x.open(&nonce, &mut by, &ty), "len {len}");
                assert_eq!((&bx, &by), (&plain, &plain));
            }
        }
    }

    #[test]
    fn a_tampered_box_is_refused() {
        let c = LIBSODIUM.secretbox_cipher(&[9u8; 32]);
        let nonce = [1u8; NONCE_LEN];
        let mut buf = b"attack at dawn".to_vec();
        let tag = c.seal(&nonce, &mut buf);
        let mut flipped = buf.clone();
        flipped[3] ^= 1;
        assert!(!c.open(&nonce, &mut flipped, &tag));
        let mut bad_tag = tag;
        bad_tag[0] ^= 0x80;
        assert!(!c.open(&nonce, &mut buf.clone(), &bad_tag));
        assert!(!c.open(&[2u8; NONCE_LEN], &mut buf.clone(), &tag));
        assert!(c.open(&nonce, &mut buf, &tag));
        assert_eq!(buf, b"attack at dawn");
    }

    /// A peer's public key that libsodium refuses (of small order) gives both providers the
    /// same key.
    #[test]
    fn a_small_order_key_gives_the_same_box_as_rustcrypto() {
        let sk = key(3);
        for point in [[0u8; 32], {
            let mut p = [0u8; 32];
            p[0] = 1;
            p
        }] {
            let ours = LIBSODIUM.box_cipher(&CurvePublicKey(point), &sk);
            let theirs = RUST_CRYPTO.box_cipher(&CurvePublicKey(point), &sk);
            let nonce = [5u8; NONCE_LEN];
            let (mut a, mut b) = (vec![1u8; 40], vec![1u8; 40]);
            assert_eq!(ours.seal(&nonce, &mut a), theirs.seal(&nonce, &mut b));
            assert_eq!(a, b);
        }
    }
}
