//! `AccessKeyId`: `AKIA` (long-term) or `ASIA` (temporary) + 16 of `A-Z2-7`.

use rand::Rng;

use crate::error::shown;
use crate::inline::InlineAscii;
use crate::IdError;

const LONG_TERM_PREFIX: &str = "AKIA";
const TEMPORARY_PREFIX: &str = "ASIA";
/// The base32 alphabet AWS draws access key ids from.
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const RANDOM_LEN: usize = 16;

/// An access key id, e.g. `AKIAIOSFODNN7EXAMPLE`: 20 characters, `AKIA` for a long-term
/// (user) key or `ASIA` for a temporary (role session) key, then 16 of `A-Z2-7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct AccessKeyId(InlineAscii<20>);

impl AccessKeyId {
    /// Parses `AKIA` or `ASIA` followed by 16 of `A-Z2-7`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let valid = s.len() == 20
            && (s.starts_with(LONG_TERM_PREFIX) || s.starts_with(TEMPORARY_PREFIX))
            && s.bytes().skip(4).all(is_alphabet_byte);
        match InlineAscii::new(s) {
            Some(text) if valid => Ok(Self(text)),
            _ => Err(IdError::AccessKeyId(shown(s))),
        }
    }

    /// A new random long-term (`AKIA…`) id.
    pub fn generate_long_term() -> Self {
        Self::generate(LONG_TERM_PREFIX)
    }

    /// A new random temporary (`ASIA…`) id.
    pub fn generate_temporary() -> Self {
        Self::generate(TEMPORARY_PREFIX)
    }

    /// Whether this is a temporary (`ASIA…`) id, which must come with a session token.
    pub fn is_temporary(&self) -> bool {
        self.as_str().starts_with(TEMPORARY_PREFIX)
    }

    fn generate(prefix: &str) -> Self {
        let mut rng = rand::rng();
        let mut id = String::with_capacity(20);
        id.push_str(prefix);
        id.extend(
            (0..RANDOM_LEN).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])),
        );
        // A 4-character prefix and 16 of `ALPHABET`: 20 ASCII characters, which fit.
        Self(InlineAscii::new(&id).expect("20 ASCII characters"))
    }
}

/// Whether `b` is in [`ALPHABET`] (`A-Z2-7`). Two range checks: `ALPHABET.contains` calls
/// `memchr` for every byte, and ids are parsed on every request.
fn is_alphabet_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)
}

crate::string_id!(AccessKeyId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_check_accepts_exactly_the_alphabet() {
        for b in 0..=u8::MAX {
            assert_eq!(is_alphabet_byte(b), ALPHABET.contains(&b), "byte {b}");
        }
    }

    #[test]
    fn aws_documentation_example_key_id_parses_as_long_term() {
        let id = AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE").unwrap();
        assert!(!id.is_temporary());
    }

    #[test]
    fn asia_key_id_is_temporary() {
        assert!(AccessKeyId::parse("ASIAIOSFODNN7EXAMPLE")
            .unwrap()
            .is_temporary());
    }

    #[test]
    fn generated_key_ids_parse_back_with_the_right_kind() {
        let long_term = AccessKeyId::generate_long_term();
        let temporary = AccessKeyId::generate_temporary();
        assert_eq!(AccessKeyId::parse(long_term.as_str()).unwrap(), long_term);
        assert_eq!(AccessKeyId::parse(temporary.as_str()).unwrap(), temporary);
        assert!(!long_term.is_temporary());
        assert!(temporary.is_temporary());
        assert_ne!(AccessKeyId::generate_long_term(), long_term);
    }

    #[test]
    fn malformed_key_ids_are_rejected() {
        for bad in [
            "",
            "AKIDEXAMPLE",
            "AKIAIOSFODNN7EXAMPL",
            "AKIAIOSFODNN7EXAMPLEX",
            "AROAIOSFODNN7EXAMPLE",
            "akiaIOSFODNN7EXAMPLE",
            "AKIAIOSFODNN1EXAMPLE",
            "AKIAIOSFODNN7EXAMPLé",
        ] {
            assert!(
                AccessKeyId::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn access_key_id_error_names_the_valid_form() {
        let message = AccessKeyId::parse("AKID").unwrap_err().to_string();
        assert!(
            message.starts_with("invalid access key id 'AKID': expected AKIA"),
            "{message}"
        );
    }
}
