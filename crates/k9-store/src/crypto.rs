//! Sealing of stored secrets with AES-256-GCM.
//!
//! Each value gets a fresh random 96-bit nonce; the stored form is `nonce || ciphertext`
//! (the ciphertext includes the 16-byte tag). The associated data binds the value to its
//! row (the access key id), so a sealed secret copied to another row does not open.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;

use crate::{MasterKey, StoreError};

const NONCE_LEN: usize = 12;

/// Encrypts and decrypts stored secrets with the master key.
#[derive(Clone)]
pub(crate) struct SecretCipher(Aes256Gcm);

impl SecretCipher {
    /// A cipher keyed with `key`.
    pub(crate) fn new(key: &MasterKey) -> Self {
        Self(Aes256Gcm::new(key.bytes().into()))
    }

    /// `nonce || AES-256-GCM(plaintext, aad)`.
    pub(crate) fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::invalid("a secret is too long to encrypt"))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a value made by [`SecretCipher::seal`] with the same `aad`. Fails with
    /// [`StoreError::MasterKeyMismatch`] when the key (or the associated data) differs.
    pub(crate) fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < NONCE_LEN {
            return Err(StoreError::corrupt(
                "an encrypted secret is shorter than its nonce",
            ));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::MasterKeyMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_opens_with_same_key_and_aad() {
        let cipher = SecretCipher::new(&MasterKey::generate());
        let sealed = cipher.seal("AKIAIOSFODNN7EXAMPLE", b"secret").unwrap();
        assert_eq!(sealed.len(), 12 + 6 + 16);
        assert_eq!(
            cipher.open("AKIAIOSFODNN7EXAMPLE", &sealed).unwrap(),
            b"secret"
        );
    }

    #[test]
    fn sealing_twice_uses_different_nonces() {
        let cipher = SecretCipher::new(&MasterKey::generate());
        assert_ne!(
            cipher.seal("a", b"x").unwrap(),
            cipher.seal("a", b"x").unwrap()
        );
    }

    #[test]
    fn sealed_secret_does_not_open_under_another_row_or_key() {
        let cipher = SecretCipher::new(&MasterKey::generate());
        let sealed = cipher.seal("AKIAIOSFODNN7EXAMPLE", b"secret").unwrap();
        assert!(matches!(
            cipher.open("AKIAOTHERKEY2222222", &sealed),
            Err(StoreError::MasterKeyMismatch)
        ));
        let other = SecretCipher::new(&MasterKey::generate());
        assert!(matches!(
            other.open("AKIAIOSFODNN7EXAMPLE", &sealed),
            Err(StoreError::MasterKeyMismatch)
        ));
    }

    #[test]
    fn truncated_sealed_secret_is_reported_as_corrupt() {
        let cipher = SecretCipher::new(&MasterKey::generate());
        assert!(matches!(
            cipher.open("a", b"short"),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
