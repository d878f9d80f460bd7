//! The dates SigV4 uses: ISO 8601 basic format (`20150830T123600Z`) and, for the `Date`
//! header only, HTTP's IMF-fixdate.

use time::format_description::well_known::Rfc2822;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Formats a time as `YYYYMMDD'T'HHMMSS'Z'` in UTC.
pub fn format_amz_date(time: OffsetDateTime) -> String {
    let t = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses `YYYYMMDD'T'HHMMSS'Z'`; anything else (including other ISO 8601 forms) is refused,
/// as AWS refuses it.
pub fn parse_amz_date(text: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    if text.len() != 16 {
        return None;
    }
    PrimitiveDateTime::parse(text, format)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// Parses a `Date` header: ISO 8601 basic, or an HTTP date such as
/// `Fri, 11 Nov 2022 00:00:00 GMT`.
pub(crate) fn parse_date_header(text: &str) -> Option<OffsetDateTime> {
    parse_amz_date(text).or_else(|| OffsetDateTime::parse(text, &Rfc2822).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn amz_date_round_trips() {
        let t = datetime!(2015-08-30 12:36:00 UTC);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(t));
    }

    #[test]
    fn other_date_forms_are_not_amz_dates() {
        for bad in [
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20150830T126000Z",
            "20151330T123600Z",
            "x",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_date_header_is_accepted() {
        assert_eq!(
            parse_date_header("Fri, 11 Nov 2022 00:00:00 GMT"),
            Some(datetime!(2022-11-11 00:00:00 UTC))
        );
    }
}
