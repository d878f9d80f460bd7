//! Conversions between domain values and their stored form: times as Unix nanoseconds,
//! ids as their canonical strings, the opaque pagination token.

use std::fmt::Display;
use std::str::FromStr;

use k9_domain::{AccountId, CustomerId, ExecutionId};
use time::OffsetDateTime;

use crate::StoreError;

/// `t` as Unix nanoseconds (fits years 1678 to 2261).
pub(crate) fn to_nanos(t: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(t.unix_timestamp_nanos()).map_err(|_| {
        StoreError::invalid(format!(
            "time {t} is outside the storable range (years 1678 to 2261)"
        ))
    })
}

/// The UTC time `nanos` after the Unix epoch.
pub(crate) fn from_nanos(nanos: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .map_err(|e| StoreError::corrupt(format!("stored time {nanos}: {e}")))
}

/// `t` in UTC, cut to whole seconds, as IAM and STS report creation and expiry times.
pub(crate) fn whole_seconds_utc(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t - time::Duration::nanoseconds(i64::from(t.nanosecond()))
}

/// Parses a stored `column` value into a domain type.
pub(crate) fn parse_stored<T>(column: &str, value: &str) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: Display,
{
    value
        .parse()
        .map_err(|e| StoreError::corrupt(format!("{column}: {e}")))
}

/// Where the next page of executions starts: just after (older than) this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageCursor {
    /// `requested_at` of the last execution returned, in Unix nanoseconds.
    pub requested_at: i64,
    /// Id of the last execution returned (breaks ties between equal times).
    pub execution_id: ExecutionId,
}

/// Version tag inside page tokens, so the format can change without misreading old ones.
const TOKEN_VERSION: &str = "v1";

impl PageCursor {
    /// The opaque token handed to the client: hex of `v1|<nanos>|<execution id>`.
    pub(crate) fn to_token(&self) -> String {
        hex::encode(format!(
            "{TOKEN_VERSION}|{}|{}",
            self.requested_at, self.execution_id
        ))
    }

    /// The cursor in `token`, which must have been made for `customer` and `account`.
    pub(crate) fn from_token(
        token: &str,
        customer: &CustomerId,
        account: &AccountId,
    ) -> Result<Self, StoreError> {
        let bytes = hex::decode(token).map_err(|_| StoreError::InvalidPageToken)?;
        let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidPageToken)?;
        let mut parts = text.splitn(3, '|');
        let (Some(TOKEN_VERSION), Some(nanos), Some(id)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(StoreError::InvalidPageToken);
        };
        let requested_at = nanos.parse().map_err(|_| StoreError::InvalidPageToken)?;
        let execution_id: ExecutionId = id.parse().map_err(|_| StoreError::InvalidPageToken)?;
        if !execution_id.belongs_to(customer, account) {
            return Err(StoreError::InvalidPageToken);
        }
        Ok(Self {
            requested_at,
            execution_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_round_trip_through_nanoseconds_in_utc() {
        let t = datetime!(2024-05-06 07:08:09.123456789 +02:00);
        let back = from_nanos(to_nanos(t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.offset(), time::UtcOffset::UTC);
    }

    #[test]
    fn time_beyond_2262_is_refused() {
        assert!(matches!(
            to_nanos(datetime!(3000-01-01 0:00 UTC)),
            Err(StoreError::Invalid { .. })
        ));
    }

    #[test]
    fn whole_seconds_drops_the_fraction_and_converts_to_utc() {
        assert_eq!(
            whole_seconds_utc(datetime!(2024-05-06 07:08:09.999 +02:00)),
            datetime!(2024-05-06 05:08:09 UTC)
        );
    }

    #[test]
    fn page_token_round_trips_for_its_own_listing_only() {
        let customer: CustomerId = "C123456".parse().unwrap();
        let account: AccountId = "123456789012".parse().unwrap();
        let cursor = PageCursor {
            requested_at: 1_700_000_000_000_000_000,
            execution_id: "ondemand-C123456-123456789012-2023-11-14_AB12"
                .parse()
                .unwrap(),
        };
        let token = cursor.to_token();
        assert_eq!(
            PageCursor::from_token(&token, &customer, &account).unwrap(),
            cursor
        );
        let other_account: AccountId = "210987654321".parse().unwrap();
        assert!(matches!(
            PageCursor::from_token(&token, &customer, &other_account),
            Err(StoreError::InvalidPageToken)
        ));
    }

    #[test]
    fn garbled_page_tokens_are_invalid() {
        let customer: CustomerId = "C123456".parse().unwrap();
        let account: AccountId = "123456789012".parse().unwrap();
        for token in [
            "",
            "zz",
            &hex::encode("v1|x|y"),
            &hex::encode("v2|1|ondemand-C123456-123456789012-2023-11-14_AB12"),
        ] {
            assert!(matches!(
                PageCursor::from_token(token, &customer, &account),
                Err(StoreError::InvalidPageToken)
            ));
        }
    }
}
