//! The canonical request: the one string both sides must build identically.

use sha2::{Digest, Sha256};

use crate::encoding::{decode, encode_component, encode_path, normalize_path};
use crate::request::HttpRequest;
use crate::settings::{PathNormalization, SigningSettings, UriEncoding};

/// SHA-256 of the empty string, hex: the payload hash of a request without a body.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The canonical URI of a wire path.
///
/// With [`UriEncoding::Double`] (every service but S3, `execute-api` included) the path as it
/// arrived, still percent-encoded, is normalised and then encoded again: `%3D` on the wire is
/// `%253D` in the canonical request. That is what AWS computes (see the smithy-rs
/// `double-encode-path` case, an API Gateway WebSocket path), so a verifier that decoded first
/// would reject every SDK-signed request whose path carries an escape.
pub fn canonical_uri(path: &str, settings: SigningSettings) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    match settings.uri_encoding {
        UriEncoding::Double => {
            let path = match settings.path_normalization {
                PathNormalization::Enabled => normalize_path(path),
                PathNormalization::Disabled if path.is_empty() => "/".into(),
                PathNormalization::Disabled => path.into(),
            };
            encode_path(path.as_bytes(), &mut out);
        }
        UriEncoding::Single => {
            let decoded = decode(path);
            let text = String::from_utf8_lossy(&decoded);
            let path = match settings.path_normalization {
                PathNormalization::Enabled => normalize_path(&text).into_owned(),
                PathNormalization::Disabled if text.is_empty() => "/".to_owned(),
                PathNormalization::Disabled => text.into_owned(),
            };
            encode_path(path.as_bytes(), &mut out);
        }
    }
    out
}

/// One query parameter, decoded, as the canonical query string sorts it.
pub(crate) struct QueryParam<'q> {
    pub raw_key: &'q str,
    pub raw_value: &'q str,
    pub key: String,
    pub value: String,
}

/// Splits a wire query into parameters and encodes each key and value the SigV4 way. Empty
/// pieces (`a=1&&b=2`) are dropped; a key without `=` has the empty value.
pub(crate) fn parse_query(query: &str) -> Vec<QueryParam<'_>> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (raw_key, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
            let mut key = String::with_capacity(raw_key.len());
            encode_component(&decode(raw_key), &mut key);
            let mut value = String::with_capacity(raw_value.len());
            encode_component(&decode(raw_value), &mut value);
            QueryParam {
                raw_key,
                raw_value,
                key,
                value,
            }
        })
        .collect()
}

/// Builds the canonical query string from parsed parameters, leaving out those for which
/// `exclude` (given the encoded key) returns true. Sorted by encoded key, then encoded value;
/// repeated keys are all kept.
pub(crate) fn canonical_query_from(
    params: &[QueryParam<'_>],
    exclude: impl Fn(&str) -> bool,
) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|p| !exclude(&p.key))
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    kept.sort_unstable();
    let mut out = String::with_capacity(kept.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (key, value)) in kept.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The canonical query string of a wire query (all parameters kept).
pub fn canonical_query_string(query: &str) -> String {
    canonical_query_from(&parse_query(query), |_| false)
}

/// Appends a header value with leading and trailing spaces trimmed and inner runs of spaces
/// folded to one, as AWS (and the `aws-sigv4` crate) do. Only spaces: tabs are data.
fn push_trimmed_value(value: &[u8], out: &mut Vec<u8>) {
    let start = value.iter().position(|b| *b != b' ').unwrap_or(value.len());
    let end = value.iter().rposition(|b| *b != b' ').map_or(start, |i| i + 1);
    let mut previous_space = false;
    for &byte in &value[start..end] {
        if byte == b' ' {
            if previous_space {
                continue;
            }
            previous_space = true;
        } else {
            previous_space = false;
        }
        out.push(byte);
    }
}

/// A canonical request, ready to hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    bytes: Vec<u8>,
}

impl CanonicalRequest {
    /// Builds the canonical request:
    /// `METHOD\nURI\nQUERY\n(name:value\n)*\nSIGNED_HEADERS\nPAYLOAD_HASH`.
    ///
    /// `signed_headers` are lower-case names in the order given by the signature; each
    /// contributes all of the request's values for that name, in arrival order, joined with `,`.
    /// A name the request lacks contributes an empty value (and the signature will not match).
    pub fn new(
        request: &HttpRequest<'_>,
        canonical_uri: &str,
        canonical_query: &str,
        signed_headers: &[&str],
        payload_hash: &str,
    ) -> Self {
        let mut bytes = Vec::with_capacity(
            256 + canonical_uri.len()
                + canonical_query.len()
                + request.headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum::<usize>(),
        );
        bytes.extend_from_slice(request.method.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(canonical_uri.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(canonical_query.as_bytes());
        bytes.push(b'\n');
        for name in signed_headers {
            bytes.extend_from_slice(name.as_bytes());
            bytes.push(b':');
            let mut first = true;
            for value in request.header_values(name) {
                if !first {
                    bytes.push(b',');
                }
                first = false;
                push_trimmed_value(value, &mut bytes);
            }
            bytes.push(b'\n');
        }
        bytes.push(b'\n');
        for (i, name) in signed_headers.iter().enumerate() {
            if i > 0 {
                bytes.push(b';');
            }
            bytes.extend_from_slice(name.as_bytes());
        }
        bytes.push(b'\n');
        bytes.extend_from_slice(payload_hash.as_bytes());
        Self { bytes }
    }

    /// The canonical request's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The canonical request as text (invalid UTF-8 in header values is replaced), for
    /// AWS's mismatch message and for debugging.
    pub fn to_text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Hex SHA-256 of the canonical request: the last line of the string to sign.
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }
}

/// The string to sign: algorithm, date, scope, and the hash of the canonical request.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request_hash: &str) -> String {
    let mut out = String::with_capacity(32 + amz_date.len() + scope.len() + 64);
    out.push_str(crate::ALGORITHM);
    out.push('\n');
    out.push_str(amz_date);
    out.push('\n');
    out.push_str(scope);
    out.push('\n');
    out.push_str(canonical_request_hash);
    out
}

/// Hex SHA-256 of a payload.
pub(crate) fn payload_sha256_hex(body: &[u8]) -> String {
    if body.is_empty() {
        return EMPTY_PAYLOAD_SHA256.to_owned();
    }
    hex::encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_sorted_by_encoded_key_then_value_and_repeats_are_kept() {
        assert_eq!(
            canonical_query_string("b=2&a=z&a=y&c"),
            "a=y&a=z&b=2&c="
        );
    }

    #[test]
    fn query_is_decoded_then_reencoded_with_upper_case_hex() {
        assert_eq!(canonical_query_string("k%3d=%7e+x&s p=a%2fb"), "k%3D=~%2Bx&s%20p=a%2Fb");
    }

    #[test]
    fn query_plus_is_a_literal_plus() {
        assert_eq!(canonical_query_string("c%2Bd"), "c%2Bd=");
        assert_eq!(canonical_query_string("c+d"), "c%2Bd=");
    }

    #[test]
    fn empty_query_pieces_are_dropped() {
        assert_eq!(canonical_query_string("&a=1&&b=2&"), "a=1&b=2");
    }

    #[test]
    fn header_values_are_trimmed_and_inner_spaces_folded() {
        let mut out = Vec::new();
        push_trimmed_value(b"  a   b \t c  ", &mut out);
        assert_eq!(out, b"a b \t c");
    }

    #[test]
    fn double_encoding_encodes_the_wire_path_again() {
        let s = SigningSettings::default();
        assert_eq!(canonical_uri("/test/@connections/JBDvjfGEIAMCERw%3D", s), "/test/%40connections/JBDvjfGEIAMCERw%253D");
        assert_eq!(canonical_uri("", s), "/");
    }

    #[test]
    fn single_encoding_decodes_first_and_keeps_dots() {
        let s = SigningSettings::s3();
        assert_eq!(canonical_uri("/a%20b/./c//d", s), "/a%20b/./c//d");
    }
}
