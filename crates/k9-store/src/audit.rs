//! Making an [`AuditEvent`] safe to store: secrets redacted, fields capped.
//!
//! The audit log must never hold a signature or a secret. Callers should not put them in
//! an event at all; this is the backstop for the ones that slip in, e.g. a presigned URL's
//! `X-Amz-Signature` in the path, or `Signature=…` from an `Authorization` header quoted in
//! a reason.

use crate::AuditEvent;

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

/// `event` with sensitive values redacted and every text field cut to a sane length (an
/// attacker controls most of them, and must not be able to bloat the database).
pub(crate) fn sanitized(event: AuditEvent) -> AuditEvent {
    AuditEvent {
        time: event.time,
        request_id: capped(event.request_id, MAX_REQUEST_ID),
        access_key_id: event.access_key_id.map(|id| capped(id, MAX_ACCESS_KEY_ID)),
        principal: event.principal.map(|p| capped(p, MAX_PRINCIPAL)),
        method: capped(event.method, MAX_METHOD),
        path: capped(redacted(&event.path), MAX_PATH),
        outcome: event.outcome,
        reason: capped(redacted(&event.reason), MAX_REASON),
    }
}

/// `text` with the value after each sensitive `name=` or `name:` replaced by `***`.
/// A name is a run of `[A-Za-z0-9_-]`; the value runs to the next `&`, whitespace, `,`,
/// `;` or `"`.
fn redacted(text: &str) -> String {
    let bytes = text.as_bytes();
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let is_value_end = |b: u8| matches!(b, b'&' | b',' | b';' | b'"') || b.is_ascii_whitespace();
    let mut out = String::with_capacity(text.len());
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
    out.push_str(&text[copied..]);
    out
}

/// `text` cut to at most `max` bytes (on a char boundary), marked with `...` when cut.
fn capped(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max.saturating_sub(3);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
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

    #[test]
    fn long_fields_are_capped_on_a_char_boundary() {
        let capped = capped("é".repeat(100), 11);
        assert_eq!(capped, "éééé...");
        assert_eq!(super::capped("short".into(), 11), "short");
    }
}
