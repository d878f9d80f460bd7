//! The dates SigV4 uses: ISO 8601 basic format (`20150830T123600Z`) and, for the `Date`
//! header only, HTTP's IMF-fixdate.

use time::format_description::well_known::Rfc2822;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Formats a time as `YYYYMMDD'T'HHMMSS'Z'` in UTC.
pub fn format_amz_date(time: OffsetDateTime) -> String {
    let t = time.to_offset(UtcOffset::UTC);
    // Every request is signed with one: the stack form skips six padded integer formats.
    if (0..=9999).contains(&t.year()) {
        return AmzDate::new(t).as_str().to_owned();
    }
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

/// A time as `YYYYMMDD'T'HHMMSS'Z'` (UTC), held on the stack: the form the string to sign
/// and the credential scope use. Years outside 0..=9999, which no request can carry, are
/// clamped into that range.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct AmzDate([u8; 16]);

impl AmzDate {
    pub(crate) fn new(time: OffsetDateTime) -> Self {
        let t = time.to_offset(UtcOffset::UTC);
        let mut out = *b"00000000T000000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                // `value % 10` is a single digit.
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, t.year().clamp(0, 9999).unsigned_abs());
        put(4, 2, u32::from(u8::from(t.month())));
        put(6, 2, u32::from(t.day()));
        put(9, 2, u32::from(t.hour()));
        put(11, 2, u32::from(t.minute()));
        put(13, 2, u32::from(t.second()));
        Self(out)
    }

    /// Text that [`parse_amz_date`] accepted, which is its own formatting.
    pub(crate) fn from_parsed(text: &str) -> Self {
        let mut out = *b"00000000T000000Z";
        if text.len() == out.len() {
            out.copy_from_slice(text.as_bytes());
        }
        Self(out)
    }

    /// `YYYYMMDDTHHMMSSZ`, as bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, `T` and `Z` are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// `YYYYMMDD`, the date of the credential scope.
    pub(crate) fn day(&self) -> &str {
        &self.as_str()[..8]
    }
}

impl std::fmt::Debug for AmzDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses `YYYYMMDD'T'HHMMSS'Z'`; anything else (including other ISO 8601 forms) is refused,
/// as AWS refuses it.
pub fn parse_amz_date(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u16> {
        bytes[from..to].iter().try_fold(0u16, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
        })
    };
    let year = i32::from(number(0, 4)?);
    let month = Month::try_from(u8::try_from(number(4, 6)?).ok()?).ok()?;
    let day = u8::try_from(number(6, 8)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let hour = u8::try_from(number(9, 11)?).ok()?;
    let minute = u8::try_from(number(11, 13)?).ok()?;
    let second = u8::try_from(number(13, 15)?).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
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
    fn amz_date_on_the_stack_matches_the_formatted_one() {
        for t in [
            datetime!(2015-08-30 12:36:00 UTC),
            datetime!(0001-01-01 00:00:00 UTC),
            datetime!(9999-12-31 23:59:59 UTC),
            datetime!(2024-02-29 07:08:09 +02:00),
        ] {
            let u = t.to_offset(UtcOffset::UTC);
            let formatted = format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                u.year(),
                u8::from(u.month()),
                u.day(),
                u.hour(),
                u.minute(),
                u.second()
            );
            assert_eq!(AmzDate::new(t).as_str(), formatted);
            assert_eq!(format_amz_date(t), formatted);
        }
        // Before year 0, which no request carries, the text says so rather than clamp.
        assert_eq!(
            format_amz_date(datetime!(-0001-06-01 00:00:00 UTC)),
            "-0010601T000000Z"
        );
        assert_eq!(
            AmzDate::new(datetime!(2015-08-30 12:36:00 UTC)).day(),
            "20150830"
        );
        let text = "20240229T070809Z";
        assert_eq!(
            AmzDate::from_parsed(text),
            AmzDate::new(parse_amz_date(text).unwrap())
        );
    }

    #[test]
    fn other_date_forms_are_not_amz_dates() {
        for bad in [
            "20150230T123600Z",
            "20150830T240000Z",
            "20150830T123660Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830t123600Z",
            "20150830T123600z",
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
