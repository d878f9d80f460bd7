//! `ExecutionId`: `ondemand-<customer>-<account>-<YYYY-MM-DD>_<4 of A-Z0-9>`.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use time::{Date, Month, OffsetDateTime, UtcOffset};

use crate::account::is_account_id;
use crate::customer::is_customer_id;
use crate::error::shown;
use crate::inline::InlineAscii;
use crate::{AccountId, CustomerId, IdError};

const PREFIX: &str = "ondemand-";
const SUFFIX_ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SUFFIX_LEN: usize = 4;
/// Longest id text [`ExecutionId::generate`] can write (see there).
const MAX_LEN: usize = 48;

/// One on-demand analysis run, e.g. `ondemand-C123456-123456789012-2022-11-11_ONO2`:
/// the customer, the account, the UTC date it was requested and 4 random characters
/// from `A-Z0-9`.
///
/// The customer and account are part of the id, so [`ExecutionId::customer_id`] and
/// [`ExecutionId::account_id`] need no lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ExecutionId {
    text: InlineAscii<MAX_LEN>,
    customer: CustomerId,
    account: AccountId,
    date: Date,
}

impl ExecutionId {
    /// A new id for `customer` and `account`, dated with the UTC date of `now` and with
    /// 4 random characters from `A-Z0-9` (from `rand::rng()`).
    ///
    /// `now` is a wall-clock time: dates outside the years 0000-9999 have no 4-digit
    /// year and would not parse back.
    pub fn generate(customer: &CustomerId, account: &AccountId, now: OffsetDateTime) -> Self {
        let date = now.to_offset(UtcOffset::UTC).date();
        let mut rng = rand::rng();
        let suffix: String = (0..SUFFIX_LEN)
            .map(|_| char::from(SUFFIX_ALPHABET[rng.random_range(0..SUFFIX_ALPHABET.len())]))
            .collect();
        let text = format!(
            "{PREFIX}{customer}-{account}-{:04}-{:02}-{:02}_{suffix}",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        Self {
            // The prefix, the three separators and the 4-character suffix (16), the
            // customer id (at most 7), the account id (12) and the date (at most 13, even
            // with `time`'s large dates: a 6-digit year and a sign): at most 48 ASCII
            // characters, which fit.
            text: InlineAscii::new(&text).expect("at most MAX_LEN ASCII characters"),
            customer: customer.clone(),
            account: account.clone(),
            date,
        }
    }

    /// Parses `ondemand-<customer id>-<12-digit account id>-<YYYY-MM-DD>_<4 of A-Z0-9>`,
    /// where the date must be a real calendar date.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        parse_parts(s).ok_or_else(|| IdError::ExecutionId(shown(s)))
    }

    /// The canonical string form.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// The customer this execution belongs to.
    pub fn customer_id(&self) -> CustomerId {
        self.customer.clone()
    }

    /// The account this execution analyses.
    pub fn account_id(&self) -> AccountId {
        self.account.clone()
    }

    /// Whether this execution is one of `customer`'s, for `account`.
    pub fn belongs_to(&self, customer: &CustomerId, account: &AccountId) -> bool {
        &self.customer == customer && &self.account == account
    }

    /// The UTC date the execution was requested on.
    pub fn date(&self) -> Date {
        self.date
    }
}

/// The parts of a valid execution id, or `None`. Works on ASCII only, so slicing by byte
/// offsets is safe; `get` is used anyway so no input can make it panic.
fn parse_parts(s: &str) -> Option<ExecutionId> {
    if !s.is_ascii() {
        return None;
    }
    let rest = s.strip_prefix(PREFIX)?;
    let (customer, rest) = rest.split_once('-')?;
    if !is_customer_id(customer) {
        return None;
    }
    let account = rest.get(..12)?;
    if !is_account_id(account) {
        return None;
    }
    let rest = rest.get(12..)?.strip_prefix('-')?;
    let date = parse_date(rest.get(..10)?)?;
    let suffix = rest.get(10..)?.strip_prefix('_')?;
    // `A-Z0-9`, as SUFFIX_ALPHABET (a range check, not a search: this runs on every request).
    if suffix.len() != SUFFIX_LEN
        || !suffix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return None;
    }
    Some(ExecutionId {
        text: InlineAscii::new(s)?,
        customer: CustomerId::parse(customer).ok()?,
        account: AccountId::parse(account).ok()?,
        date,
    })
}

/// Parses `YYYY-MM-DD` with exactly those digit counts into a real calendar date.
fn parse_date(s: &str) -> Option<Date> {
    let bytes = s.as_bytes();
    let digits_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !digits_ok {
        return None;
    }
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month: u8 = s.get(5..7)?.parse().ok()?;
    let day: u8 = s.get(8..10)?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text.as_str())
    }
}

impl FromStr for ExecutionId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ExecutionId {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ExecutionId> for String {
    fn from(id: ExecutionId) -> String {
        id.text.as_str().to_owned()
    }
}

impl AsRef<str> for ExecutionId {
    fn as_ref(&self) -> &str {
        self.text.as_str()
    }
}

impl serde::Serialize for ExecutionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_suffix_is_accepted_exactly_when_its_characters_are_in_the_alphabet() {
        let id = |suffix: &str| format!("ondemand-C123456-123456789012-2022-11-11_{suffix}");
        for b in 0..=u8::MAX {
            let suffix = format!("AB1{}", char::from(b));
            let accepted = ExecutionId::parse(&id(&suffix)).is_ok();
            assert_eq!(accepted, SUFFIX_ALPHABET.contains(&b), "byte {b}");
        }
    }

    const EXAMPLE: &str = "ondemand-C123456-123456789012-2022-11-11_ONO2";

    fn customer() -> CustomerId {
        CustomerId::parse("C123456").unwrap()
    }

    fn account() -> AccountId {
        AccountId::parse("123456789012").unwrap()
    }

    #[test]
    fn example_execution_id_parses_into_its_parts() {
        let id = ExecutionId::parse(EXAMPLE).unwrap();
        assert_eq!(id.as_str(), EXAMPLE);
        assert_eq!(id.customer_id(), customer());
        assert_eq!(id.account_id(), account());
        assert_eq!(id.date(), time::macros::date!(2022 - 11 - 11));
        assert!(id.belongs_to(&customer(), &account()));
        assert!(!id.belongs_to(&CustomerId::parse("C123457").unwrap(), &account()));
        assert!(!id.belongs_to(&customer(), &AccountId::parse("123456789013").unwrap()));
    }

    #[test]
    fn ids_are_generated_for_any_date_time_can_hold() {
        // The earliest and latest dates write the longest dates (a sign, more than four
        // year digits when `time` has large dates): they must still fit the inline text.
        for date in [Date::MIN, Date::MAX] {
            let now = date.midnight().assume_utc();
            let id = ExecutionId::generate(&customer(), &account(), now);
            assert!(id.as_str().starts_with("ondemand-C123456-123456789012-"));
            assert_eq!(id.date(), date);
        }
    }

    #[test]
    fn five_digit_customer_execution_id_parses() {
        let id = ExecutionId::parse("ondemand-C12345-000000000001-2024-02-29_A1B2").unwrap();
        assert_eq!(id.customer_id().as_str(), "C12345");
    }

    #[test]
    fn generated_id_uses_utc_date_and_parses_back() {
        // 23:30 at UTC-05:00 is already the next day in UTC.
        let now = datetime!(2022-11-10 23:30 -05:00);
        let id = ExecutionId::generate(&customer(), &account(), now);
        let text = id.to_string();
        assert!(
            text.starts_with("ondemand-C123456-123456789012-2022-11-11_"),
            "{text}"
        );
        assert_eq!(ExecutionId::parse(&text).unwrap(), id);
    }

    #[test]
    fn generated_ids_differ_in_their_random_suffix() {
        let now = datetime!(2022-11-11 12:00 UTC);
        let ids: std::collections::HashSet<String> = (0..50)
            .map(|_| ExecutionId::generate(&customer(), &account(), now).to_string())
            .collect();
        assert!(ids.len() > 45, "only {} distinct ids out of 50", ids.len());
    }

    #[test]
    fn malformed_execution_ids_are_rejected() {
        for bad in [
            "",
            "ondemand-",
            "scheduled-C123456-123456789012-2022-11-11_ONO2",
            "ondemand-C1234-123456789012-2022-11-11_ONO2",
            "ondemand-C123456-12345678901-2022-11-11_ONO2",
            "ondemand-C123456-123456789012-2022-13-11_ONO2",
            "ondemand-C123456-123456789012-2023-02-29_ONO2",
            "ondemand-C123456-123456789012-22-11-11_ONO2",
            "ondemand-C123456-123456789012-2022-11-11_ono2",
            "ondemand-C123456-123456789012-2022-11-11_ONO",
            "ondemand-C123456-123456789012-2022-11-11_ONO22",
            "ondemand-C123456-123456789012-2022-11-11-ONO2",
            "ondemand-C123456-123456789012-+022-11-11_ONO2",
            "ondemand-C123456-123456789012-2022-11-11_ONÖ2",
        ] {
            assert!(
                ExecutionId::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn execution_id_error_names_the_valid_form() {
        let message = ExecutionId::parse("nope").unwrap_err().to_string();
        assert!(
            message.starts_with("invalid execution id 'nope': expected ondemand-"),
            "{message}"
        );
        assert!(message.contains(EXAMPLE), "{message}");
    }

    #[test]
    fn execution_id_serializes_as_its_string() {
        let id = ExecutionId::parse(EXAMPLE).unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"{EXAMPLE}\"")
        );
        assert_eq!(
            serde_json::from_str::<ExecutionId>(&format!("\"{EXAMPLE}\"")).unwrap(),
            id
        );
        assert!(serde_json::from_str::<ExecutionId>("\"ondemand-x\"").is_err());
    }
}
