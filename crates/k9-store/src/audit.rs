//! Making an [`AuditEvent`] safe to store: secrets redacted, fields capped.
//!
//! The audit log must never hold a signature or a secret. Callers should not put them in
//! an event at all; this is the backstop for the ones that slip in, e.g. a presigned URL's
//! `X-Amz-Signature` in the path, or `Signature=…` from an `Authorization` header quoted in
//! a reason.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::Write as _;

use crate::AuditRecord;

/// Names (compared case-insensitively) whose value is replaced by `***` wherever they
/// appear as `name=value` or `name: value`.
const SENSITIVE_NAMES: &[&str] = &[
    "signature",
    "x-amz-signature",
    "x-amz-security-token",
    "securitytoken",
    "security-token",
    "sessiontoken",
    "session-token",
    "session_token",
    "aws_session_token",
    "secretaccesskey",
    "secret_access_key",
    "aws_secret_access_key",
    "password",
];

/// What replaces a redacted value.
const REDACTED: &str = "***";

const MAX_REQUEST_ID: usize = 128;
const MAX_ACCESS_KEY_ID: usize = 128;
const MAX_PRINCIPAL: usize = 2048;
const MAX_METHOD: usize = 16;
const MAX_PATH: usize = 2048;
const MAX_REASON: usize = 1024;

/// One stored event, as its batch's JSON array holds it: `[time, request_id,
/// access_key_id, principal, method, path, outcome, reason]`, time in Unix nanoseconds
/// and the two ids `null` when absent.
pub(crate) type StoredEvent = (
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
);

/// The events of one audit batch row, as the JSON array stored in its `log` column,
/// with the figures its other columns hold.
pub(crate) struct BatchLog {
    json: Vec<u8>,
    /// Earliest and latest event time (Unix nanoseconds).
    pub(crate) first_time: i64,
    pub(crate) last_time: i64,
    /// How many events.
    pub(crate) events: i64,
}

impl BatchLog {
    pub(crate) fn new() -> Self {
        Self {
            json: Vec::with_capacity(16 * 1024),
            first_time: i64::MAX,
            last_time: i64::MIN,
            events: 0,
        }
    }

    /// Appends an event already sanitized (read back from a batch or an older file).
    #[allow(clippy::too_many_arguments)] // the stored columns, one by one
    pub(crate) fn push(
        &mut self,
        time: i64,
        request_id: &str,
        access_key_id: Option<&str>,
        principal: Option<&str>,
        method: &str,
        path: &str,
        outcome: &str,
        reason: &str,
    ) {
        let event = (
            time,
            request_id,
            access_key_id,
            principal,
            method,
            path,
            outcome,
            reason,
        );
        let mut json = Vec::with_capacity(256);
        // Serializing integers, strings and nulls into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut json, &event);
        self.push_encoded(&EncodedAuditEvent { time, json });
    }

    /// Appends an event encoded by [`EncodedAuditEvent::encode`].
    pub(crate) fn push_encoded(&mut self, event: &EncodedAuditEvent) {
        self.json.push(if self.events == 0 { b'[' } else { b',' });
        self.json.extend_from_slice(&event.json);
        self.first_time = self.first_time.min(event.time);
        self.last_time = self.last_time.max(event.time);
        self.events += 1;
    }

    /// Whether it holds no event.
    pub(crate) fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Bytes of JSON held so far.
    pub(crate) fn len_bytes(&self) -> usize {
        self.json.len()
    }

    /// The JSON array (`[]` for no event).
    pub(crate) fn into_json(mut self) -> String {
        if self.events == 0 {
            return "[]".to_owned();
        }
        self.json.push(b']');
        // serde_json writes UTF-8, and the brackets and commas are ASCII: the lossy
        // branch is never taken.
        String::from_utf8(self.json)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// One audit event, sanitized and encoded as the JSON array a batch holds it as (see
/// [`StoredEvent`]). Made on the request's thread, so that the writer only concatenates.
/// Every text is redacted of sensitive values and cut to a sane length (an attacker
/// controls most of them, and must not be able to bloat the database).
#[derive(Debug)]
pub(crate) struct EncodedAuditEvent {
    /// When the request arrived, Unix nanoseconds.
    time: i64,
    json: Vec<u8>,
}

impl EncodedAuditEvent {
    /// `record`, sanitized and encoded; `time` is its time as Unix nanoseconds.
    pub(crate) fn encode(record: &AuditRecord<'_>, time: i64) -> Self {
        // Typical events are well under this; a longer one grows the buffer once or twice.
        let mut json = Vec::with_capacity(320);
        json.push(b'[');
        // Writing to a `Vec` cannot fail.
        let _ = write!(json, "{time}");
        // Texts given as they are need no formatting, and usually no change.
        let put_str = |json: &mut Vec<u8>, value: Option<&str>, max: usize, redact: bool| {
            json.push(b',');
            match value {
                None => json.extend_from_slice(b"null"),
                Some(value) => push_json_string(json, &sanitized(value, max, redact)),
            }
        };
        put_str(&mut json, Some(record.request_id), MAX_REQUEST_ID, false);
        put_str(&mut json, record.access_key_id, MAX_ACCESS_KEY_ID, false);
        // The others are formatted into one scratch buffer first.
        let mut field = String::with_capacity(128);
        let mut put_display = |json: &mut Vec<u8>, value: &dyn fmt::Display, max, redact| {
            field.clear();
            // Writing to a `String` cannot fail; a `Display` impl that reports an error
            // leaves whatever it wrote, which is then capped like the rest.
            let _ = write!(field, "{value}");
            put_str(json, Some(&field), max, redact);
        };
        match record.principal {
            Some(principal) => put_display(&mut json, principal, MAX_PRINCIPAL, false),
            None => json.extend_from_slice(b",null"),
        }
        put_str(&mut json, Some(record.method), MAX_METHOD, false);
        put_display(&mut json, record.path, MAX_PATH, true);
        put_str(&mut json, Some(record.outcome.as_str()), usize::MAX, false);
        put_display(&mut json, record.reason, MAX_REASON, true);
        json.push(b']');
        Self { time, json }
    }
}

/// Appends `text` as a JSON string. Audit texts rarely hold anything JSON must escape, so
/// those are copied as they are; the rest go through serde_json.
fn push_json_string(json: &mut Vec<u8>, text: &str) {
    // A fold rather than `all`: without the early exit the check is vectorised, and it
    // runs over every byte of every event.
    let needs_escape = text.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        json.push(b'"');
        json.extend_from_slice(text.as_bytes());
        json.push(b'"');
    } else {
        // Serializing a string into a `Vec` cannot fail.
        let _ = serde_json::to_writer(json, text);
    }
}

/// `text` redacted (if `redact`) and capped at `max` bytes: borrowed when neither changes
/// it, as for most texts.
fn sanitized(text: &str, max: usize, redact: bool) -> Cow<'_, str> {
    let mut out = if redact {
        redacted(text)
    } else {
        Cow::Borrowed(text)
    };
    if out.len() > max {
        let mut capped = String::with_capacity(max);
        push_capped(&mut capped, &out, max);
        out = Cow::Owned(capped);
    }
    out
}

/// The events of a batch's `log` column, in the order they were recorded.
pub(crate) fn decode_batch(log: &str) -> Result<Vec<StoredEvent>, serde_json::Error> {
    serde_json::from_str(log)
}

/// `text` with the value after each sensitive `name=` or `name:` replaced by `***`
/// (borrowed as it is when there is none).
/// A name is a run of `[A-Za-z0-9_-]`; the value runs to the next `&`, whitespace, `,`,
/// `;` or `"`.
fn redacted(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    // Only a value after `name=` or `name:` is ever redacted: most paths and reasons have
    // neither, and need no scan.
    // (A fold, vectorised, as in `push_json_string`.)
    if !bytes
        .iter()
        .fold(false, |found, &b| found | (b == b'=') | (b == b':'))
    {
        return Cow::Borrowed(text);
    }
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let is_value_end = |b: u8| matches!(b, b'&' | b',' | b';' | b'"') || b.is_ascii_whitespace();
    let mut out = String::new();
    // Every index below stops at an ASCII byte or the end, so each slice is on a char
    // boundary.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_name_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let name_end = (i..bytes.len())
            .find(|&j| !is_name_byte(bytes[j]))
            .unwrap_or(bytes.len());
        let name = &text[i..name_end];
        i = name_end;
        if !SENSITIVE_NAMES.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        // Optional closing quote and spaces, then `=` or `:`, then optional spaces/quote.
        let mut j = name_end;
        while j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b' ') {
            j += 1;
        }
        if j >= bytes.len() || !matches!(bytes[j], b'=' | b':') {
            continue;
        }
        j += 1;
        while j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b' ') {
            j += 1;
        }
        let value_end = (j..bytes.len())
            .find(|&k| is_value_end(bytes[k]))
            .unwrap_or(bytes.len());
        if value_end > j {
            out.push_str(&text[copied..j]);
            out.push_str(REDACTED);
            copied = value_end;
        }
        i = value_end.max(j);
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Appends `text` cut to at most `max` bytes (on a char boundary), marked with `...` when
/// cut.
fn push_capped(out: &mut String, text: &str, max: usize) {
    if text.len() <= max {
        out.push_str(text);
        return;
    }
    let mut cut = max.saturating_sub(3);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push_str(&text[..cut]);
    out.push_str("...");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_url_signature_and_token_are_redacted_from_the_path() {
        let path = "/v1/x?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101&X-Amz-Signature=abcdef0123&X-Amz-Security-Token=FwoGZXIvYXdz&limit=5";
        assert_eq!(
            redacted(path),
            "/v1/x?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101&X-Amz-Signature=***&X-Amz-Security-Token=***&limit=5"
        );
    }

    #[test]
    fn authorization_header_signature_is_redacted_from_a_reason() {
        let reason = "bad header: AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";
        assert_eq!(
            redacted(reason),
            "bad header: AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host;x-amz-date, Signature=***"
        );
    }

    #[test]
    fn header_lines_and_json_secrets_are_redacted() {
        assert_eq!(
            redacted("x-amz-security-token:FwoGZX\nhost:k9"),
            "x-amz-security-token:***\nhost:k9"
        );
        assert_eq!(
            redacted(r#"{"SecretAccessKey": "wJalr/K7"}"#),
            r#"{"SecretAccessKey": "***"}"#
        );
    }

    #[test]
    fn aws_error_codes_that_mention_signatures_are_kept() {
        let reason = "SignatureDoesNotMatch: The request signature we calculated does not match; ExpiredToken: token expired";
        assert_eq!(redacted(reason), reason);
    }

    #[test]
    fn non_ascii_text_survives_redaction() {
        assert_eq!(redacted("é?signature=ü&x=é"), "é?signature=***&x=é");
    }

    fn capped(text: &str, max: usize) -> String {
        let mut out = String::new();
        push_capped(&mut out, text, max);
        out
    }

    #[test]
    fn long_fields_are_capped_on_a_char_boundary() {
        assert_eq!(capped(&"é".repeat(100), 11), "éééé...");
        assert_eq!(capped("short", 11), "short");
    }

    #[test]
    fn encoded_event_gives_back_each_field_sanitized() {
        let event = crate::AuditEvent {
            time: time::OffsetDateTime::UNIX_EPOCH,
            request_id: "r-1".into(),
            access_key_id: None,
            principal: Some("arn:aws:iam::123456789012:user/alice".into()),
            method: "GET".into(),
            path: format!("/x?X-Amz-Signature=abc&pad={}", "p".repeat(MAX_PATH)),
            outcome: crate::AuditOutcome::AuthenticationFailed,
            reason: String::new(),
        };
        let encoded = EncodedAuditEvent::encode(&event.as_record(), 42);
        let (time, request_id, access_key_id, principal, method, path, outcome, reason): StoredEvent =
            serde_json::from_slice(&encoded.json).unwrap();
        assert_eq!(time, 42);
        assert_eq!(encoded.time, 42);
        assert_eq!(outcome, "AuthenticationFailed");
        assert_eq!(request_id, "r-1");
        assert_eq!(access_key_id, None);
        assert_eq!(
            principal.as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );
        assert_eq!(method, "GET");
        assert!(path.starts_with("/x?X-Amz-Signature=***&pad=pp"));
        assert!(path.ends_with("..."));
        assert_eq!(path.len(), MAX_PATH);
        assert_eq!(reason, "");
    }

    #[test]
    fn texts_that_json_must_escape_survive_encoding() {
        let tricky = "q\"b\\s\nnl\u{1}é/";
        let record = AuditRecord {
            time: time::OffsetDateTime::UNIX_EPOCH,
            request_id: tricky,
            access_key_id: Some("plain"),
            principal: Some(&tricky),
            method: "GET",
            path: &tricky,
            outcome: crate::AuditOutcome::Denied,
            reason: &tricky,
        };
        let encoded = EncodedAuditEvent::encode(&record, -5);
        let stored: StoredEvent = serde_json::from_slice(&encoded.json).unwrap();
        assert_eq!(stored.0, -5);
        assert_eq!(stored.1, tricky);
        assert_eq!(stored.2.as_deref(), Some("plain"));
        assert_eq!(stored.3.as_deref(), Some(tricky));
        assert_eq!(stored.5, tricky);
        assert_eq!(stored.6, "Denied");
        assert_eq!(stored.7, tricky);
    }

    #[test]
    fn a_batch_log_gives_back_its_events_in_order() {
        assert_eq!(BatchLog::new().into_json(), "[]");
        let mut log = BatchLog::new();
        log.push(
            7,
            "r-1",
            None,
            Some("arn"),
            "GET",
            "/a\"b",
            "Allowed",
            "why",
        );
        log.push(3, "r-2", Some("AKIA"), None, "POST", "/é", "Denied", "");
        assert_eq!((log.first_time, log.last_time, log.events), (3, 7, 2));
        let events = decode_batch(&log.into_json()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].0, 7);
        assert_eq!(events[0].5, "/a\"b");
        assert_eq!(events[1].2.as_deref(), Some("AKIA"));
        assert_eq!(events[1].3, None);
        assert_eq!(events[1].5, "/é");
    }

    #[test]
    fn text_without_secrets_is_not_copied() {
        assert!(matches!(
            redacted("/customer/C123456/account/123456789012/analysis"),
            Cow::Borrowed(_)
        ));
    }
}
