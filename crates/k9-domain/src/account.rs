//! `AccountId`: a 12-digit AWS account id.

use crate::error::shown;
use crate::inline::InlineAscii;
use crate::IdError;

/// An AWS account id, e.g. `123456789012`: exactly 12 digits (leading zeros kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct AccountId(InlineAscii<12>);

impl AccountId {
    /// Parses exactly 12 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match InlineAscii::new(s) {
            Some(text) if is_account_id(s) => Ok(Self(text)),
            _ => Err(IdError::AccountId(shown(s))),
        }
    }
}

/// Whether `s` is exactly 12 ASCII digits.
pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

crate::string_id!(AccountId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_digit_account_id_parses_keeping_leading_zeros() {
        assert_eq!(
            AccountId::parse("012345678901").unwrap().as_str(),
            "012345678901"
        );
    }

    #[test]
    fn account_id_with_wrong_shape_is_rejected() {
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "1234-5678-9012",
            "１２３４５６７８９０１２",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn account_id_error_names_the_valid_form() {
        assert_eq!(
            AccountId::parse("42").unwrap_err().to_string(),
            "invalid account id '42': expected 12 digits, e.g. 123456789012"
        );
    }

    #[test]
    fn account_id_deserialize_validates() {
        assert!(serde_json::from_str::<AccountId>("\"123456789012\"").is_ok());
        assert!(serde_json::from_str::<AccountId>("\"12\"").is_err());
    }
}
