//! Random secrets and ids, all from `rand::rng()` (ChaCha12 seeded from the OS, a CSPRNG).

use rand::{Rng, RngCore};

use crate::SecretString;

/// The alphabet of AWS secret access keys: base64's.
const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// The alphabet of AWS unique ids (`AIDA…`, `AROA…`).
const UNIQUE_ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Length of a secret access key, as AWS issues them.
pub(crate) const SECRET_ACCESS_KEY_LEN: usize = 40;
/// Length of a session token: 96 base64 characters, 576 random bits.
pub(crate) const SESSION_TOKEN_LEN: usize = 96;

/// A new 40-character secret access key from `A-Za-z0-9+/`.
pub(crate) fn secret_access_key() -> SecretString {
    SecretString::new(base64_chars(SECRET_ACCESS_KEY_LEN))
}

/// A new session token of [`SESSION_TOKEN_LEN`] characters from `A-Za-z0-9+/`.
pub(crate) fn session_token() -> SecretString {
    SecretString::new(base64_chars(SESSION_TOKEN_LEN))
}

/// A new AWS-style unique id: `prefix` (e.g. `AIDA`, `AROA`) and 17 of `A-Z2-7`.
pub(crate) fn unique_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 17);
    id.push_str(prefix);
    id.extend(
        (0..17)
            .map(|_| char::from(UNIQUE_ID_ALPHABET[rng.random_range(0..UNIQUE_ID_ALPHABET.len())])),
    );
    id
}

/// `len` characters from the 64-character base64 alphabet. Each takes the low 6 bits of
/// a random byte, which is unbiased because 64 divides 256.
fn base64_chars(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(BASE64_ALPHABET[usize::from(b & 63)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_access_key_is_40_base64_characters() {
        let key = secret_access_key();
        assert_eq!(key.expose().len(), 40);
        assert!(key.expose().bytes().all(|b| BASE64_ALPHABET.contains(&b)));
        assert_ne!(secret_access_key().expose(), key.expose());
    }

    #[test]
    fn session_token_is_long_and_base64() {
        let token = session_token();
        assert_eq!(token.expose().len(), SESSION_TOKEN_LEN);
        assert!(token.expose().bytes().all(|b| BASE64_ALPHABET.contains(&b)));
    }

    #[test]
    fn unique_id_has_prefix_and_21_characters() {
        let id = unique_id("AROA");
        assert!(id.starts_with("AROA"));
        assert_eq!(id.len(), 21);
    }
}
