//! `CustomerId`: `C` followed by 5 or 6 digits.

use crate::error::shown;
use crate::inline::InlineAscii;
use crate::IdError;

/// A k9 customer, e.g. `C123456`: `C` followed by 5 or 6 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct CustomerId(InlineAscii<7>);

impl CustomerId {
    /// Parses `C` followed by 5 or 6 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match InlineAscii::new(s) {
            Some(text) if is_customer_id(s) => Ok(Self(text)),
            _ => Err(IdError::CustomerId(shown(s))),
        }
    }
}

/// Whether `s` is `C` followed by 5 or 6 ASCII digits.
pub(crate) fn is_customer_id(s: &str) -> bool {
    match s.strip_prefix('C') {
        Some(digits) => {
            (5..=6).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

crate::string_id!(CustomerId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_id_with_five_or_six_digits_parses() {
        assert_eq!(
            CustomerId::parse("C12345").map(|c| c.to_string()),
            Ok("C12345".into())
        );
        assert_eq!(
            CustomerId::parse("C123456").map(|c| c.to_string()),
            Ok("C123456".into())
        );
    }

    #[test]
    fn customer_id_with_wrong_shape_is_rejected() {
        for bad in [
            "",
            "C",
            "C1234",
            "C1234567",
            "c123456",
            "X123456",
            "C12345a",
            "C12345 ",
            " C12345",
            "C١٢٣٤٥",
        ] {
            assert!(
                CustomerId::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn customer_id_error_names_the_valid_form() {
        let err = "X".parse::<CustomerId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid customer id 'X': expected 'C' followed by 5 or 6 digits, e.g. C123456"
        );
    }

    #[test]
    fn customer_id_serde_round_trips_and_deserialize_validates() {
        let id = CustomerId::parse("C123456").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"C123456\"");
        assert_eq!(serde_json::from_str::<CustomerId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<CustomerId>("\"C1\"").is_err());
    }
}
