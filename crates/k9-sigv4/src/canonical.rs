//! The canonical request: the one string both sides must build identically.
//!
//! [`write_canonical_request`] writes it into any [`Sink`]. The verifier uses one reused
//! buffer and hashes it in a single call, which measured faster than streaming dozens of
//! small pieces into the hasher.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use crate::encoding::{
    decode, encode_component, encode_path, hex32, is_plain_path, normalize_path,
};
use crate::request::HttpRequest;
use crate::settings::{PathNormalization, SigningSettings, UriEncoding};
use crate::text;

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
    canonical_uri_cow(path, settings).into_owned()
}

/// [`canonical_uri`], borrowing when the path is already canonical.
pub(crate) fn canonical_uri_cow(path: &str, settings: SigningSettings) -> Cow<'_, str> {
    // A path of unreserved characters and `/` only (most API paths) decodes and encodes to
    // itself in either mode, and normalising it keeps it so: only segments go or `/` comes.
    if is_plain_path(path.as_bytes()) {
        return match settings.path_normalization {
            PathNormalization::Enabled => normalize_path(path),
            PathNormalization::Disabled if path.is_empty() => Cow::Borrowed("/"),
            PathNormalization::Disabled => Cow::Borrowed(path),
        };
    }
    let mut out = String::with_capacity(path.len() + 8);
    match settings.uri_encoding {
        UriEncoding::Double => {
            let path = match settings.path_normalization {
                PathNormalization::Enabled => normalize_path(path),
                PathNormalization::Disabled => Cow::Borrowed(path),
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
    Cow::Owned(out)
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
    if query.is_empty() {
        return Vec::new();
    }
    text::split(query, b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (raw_key, raw_value) = text::split_once(piece, b'=').unwrap_or((piece, ""));
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

/// Where a canonical request is written.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Writes a header name (or list of names) lower-cased, without allocating.
fn put_lowercase(name: &str, sink: &mut impl Sink) {
    if !text::has_ascii_uppercase(name.as_bytes()) {
        sink.put(name.as_bytes());
        return;
    }
    let mut buffer = [0u8; 64];
    for chunk in name.as_bytes().chunks(buffer.len()) {
        let lower = &mut buffer[..chunk.len()];
        lower.copy_from_slice(chunk);
        lower.make_ascii_lowercase();
        sink.put(lower);
    }
}

/// Writes a header value with leading and trailing spaces trimmed and inner runs of spaces
/// folded to one, as AWS (and the `aws-sigv4` crate) do. Only spaces: tabs are data.
fn put_trimmed_value(value: &[u8], sink: &mut impl Sink) {
    let start = value.iter().position(|b| *b != b' ').unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |i| i + 1);
    let value = &value[start..end];
    // Most values (dates, hashes, tokens, media types) have no double space: they are
    // written whole after a word-at-a-time search for spaces.
    let mut search_from = 0;
    loop {
        match text::find_byte(&value[search_from..], b' ') {
            None => {
                sink.put(value);
                return;
            }
            Some(i) if value.get(search_from + i + 1) == Some(&b' ') => break,
            Some(i) => search_from += i + 1,
        }
    }
    // `value` neither starts nor ends with a space, so every run of spaces is inner.
    let mut chunk_start = 0;
    let mut i = 0;
    while i < value.len() {
        if value[i] == b' ' && value.get(i + 1) == Some(&b' ') {
            sink.put(&value[chunk_start..=i]);
            i += 1;
            while value.get(i) == Some(&b' ') {
                i += 1;
            }
            chunk_start = i;
        } else {
            i += 1;
        }
    }
    sink.put(&value[chunk_start..]);
}

/// The signed header names, in the order the signature lists them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SignedHeaderNames<'a> {
    /// As the request sent them: `host;x-amz-date` (`SignedHeaders` / `X-Amz-SignedHeaders`).
    Joined(&'a str),
    /// One name per item.
    List(&'a [&'a str]),
}

/// Writes the canonical request:
/// `METHOD\nURI\nQUERY\n(name:value\n)*\nSIGNED_HEADERS\nPAYLOAD_HASH`.
///
/// Header names are written lower-cased. Each signed name contributes all of the request's
/// values for that name, in arrival order, joined with `,`. A name the request lacks
/// contributes an empty value (and the signature will not match).
pub(crate) fn write_canonical_request(
    sink: &mut impl Sink,
    request: &HttpRequest<'_>,
    canonical_uri: &str,
    canonical_query: &str,
    signed_headers: SignedHeaderNames<'_>,
    payload_hash: &[u8],
) {
    sink.put(request.method.as_bytes());
    sink.put(b"\n");
    sink.put(canonical_uri.as_bytes());
    sink.put(b"\n");
    sink.put(canonical_query.as_bytes());
    sink.put(b"\n");
    match signed_headers {
        SignedHeaderNames::Joined(names) => {
            put_header_lines(sink, request, text::split(names, b';'));
            sink.put(b"\n");
            // Lower-casing the joined list is joining the lower-cased names.
            put_lowercase(names, sink);
        }
        SignedHeaderNames::List(names) => {
            put_header_lines(sink, request, names.iter().copied());
            sink.put(b"\n");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    sink.put(b";");
                }
                put_lowercase(name, sink);
            }
        }
    }
    sink.put(b"\n");
    sink.put(payload_hash);
}

/// `name:value1,value2\n` for each signed name.
fn put_header_lines<'n>(
    sink: &mut impl Sink,
    request: &HttpRequest<'_>,
    names: impl Iterator<Item = &'n str>,
) {
    for name in names {
        put_lowercase(name, sink);
        sink.put(b":");
        let mut first = true;
        for (_, value) in request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            if !first {
                sink.put(b",");
            }
            first = false;
            put_trimmed_value(value, sink);
        }
        sink.put(b"\n");
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
    /// `signed_headers` are the names in the order given by the signature (written
    /// lower-cased); each contributes all of the request's values for that name, in arrival
    /// order, joined with `,`. A name the request lacks contributes an empty value (and the
    /// signature will not match).
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
                + request
                    .headers
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 2)
                    .sum::<usize>(),
        );
        write_canonical_request(
            &mut bytes,
            request,
            canonical_uri,
            canonical_query,
            SignedHeaderNames::List(signed_headers),
            payload_hash.as_bytes(),
        );
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

    /// [`Self::to_text`], without copying when the bytes are UTF-8 (they always are for a
    /// request the signer built from `&str`s, save for binary header values).
    pub fn into_text(self) -> String {
        text_of(self.bytes)
    }

    /// Hex SHA-256 of the canonical request: the last line of the string to sign.
    pub fn sha256_hex(&self) -> String {
        crate::encoding::hex_str(&self.sha256_hex_bytes()).to_owned()
    }

    /// [`Self::sha256_hex`], on the stack.
    pub(crate) fn sha256_hex_bytes(&self) -> [u8; 64] {
        hex32(&Sha256::digest(&self.bytes).into())
    }
}

/// The pieces of the string to sign: algorithm, date, scope, and the hash of the canonical
/// request, one per line. The signer joins them; the verifier streams them into the HMAC.
pub(crate) fn string_to_sign_parts<'a>(
    amz_date: &'a [u8],
    scope: &'a [u8],
    canonical_request_hash: &'a [u8],
) -> [&'a [u8]; 7] {
    [
        crate::ALGORITHM.as_bytes(),
        b"\n",
        amz_date,
        b"\n",
        scope,
        b"\n",
        canonical_request_hash,
    ]
}

/// The string to sign, as text.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request_hash: &str) -> String {
    let parts = string_to_sign_parts(
        amz_date.as_bytes(),
        scope.as_bytes(),
        canonical_request_hash.as_bytes(),
    );
    // Every part is a whole `&str`, so the concatenation is UTF-8.
    text_of(parts.concat())
}

/// `bytes` as text, taken over without a copy when they are UTF-8, invalid sequences
/// replaced otherwise.
fn text_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

/// Hex SHA-256 of a payload, on the stack.
pub(crate) fn payload_sha256(body: &[u8]) -> [u8; 64] {
    if body.is_empty() {
        let mut out = [0u8; 64];
        out.copy_from_slice(EMPTY_PAYLOAD_SHA256.as_bytes());
        return out;
    }
    hex32(&Sha256::digest(body).into())
}

/// Hex SHA-256 of a payload.
pub(crate) fn payload_sha256_hex(body: &[u8]) -> String {
    crate::encoding::hex_str(&payload_sha256(body)).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_sorted_by_encoded_key_then_value_and_repeats_are_kept() {
        assert_eq!(canonical_query_string("b=2&a=z&a=y&c"), "a=y&a=z&b=2&c=");
    }

    #[test]
    fn query_is_decoded_then_reencoded_with_upper_case_hex() {
        assert_eq!(
            canonical_query_string("k%3d=%7e+x&s p=a%2fb"),
            "k%3D=~%2Bx&s%20p=a%2Fb"
        );
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

    fn trimmed(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_trimmed_value(value, &mut out);
        out
    }

    #[test]
    fn header_values_are_trimmed_and_inner_spaces_folded() {
        assert_eq!(trimmed(b"  a   b \t c  "), b"a b \t c");
        for (value, expected) in [
            (&b""[..], &b""[..]),
            (b"   ", b""),
            (b"a", b"a"),
            (b" a ", b"a"),
            (b"a  b", b"a b"),
            (b"a b  c   d", b"a b c d"),
            (b"\ta  b\t", b"\ta b\t"),
        ] {
            assert_eq!(
                trimmed(value),
                expected,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn joined_and_listed_signed_headers_write_the_same_request() {
        let headers = [
            ("Host", &b"example.com"[..]),
            ("X-Note", b"  a   b "),
            ("x-note", b"c"),
        ];
        let request = HttpRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let names = ["host", "X-Note"];
        let listed = CanonicalRequest::new(&request, "/", "", &names, EMPTY_PAYLOAD_SHA256);
        assert_eq!(
            listed.to_text(),
            format!(
                "GET\n/\n\nhost:example.com\nx-note:a b,c\n\nhost;x-note\n{EMPTY_PAYLOAD_SHA256}"
            )
        );
        let mut joined = Vec::new();
        write_canonical_request(
            &mut joined,
            &request,
            "/",
            "",
            SignedHeaderNames::Joined("host;X-Note"),
            EMPTY_PAYLOAD_SHA256.as_bytes(),
        );
        assert_eq!(joined, listed.as_bytes());
    }

    #[test]
    fn plain_paths_are_borrowed_and_equal_the_general_computation() {
        for settings in [SigningSettings::default(), SigningSettings::s3()] {
            for path in ["/a/b", "/a//b/../c/", "", "/-_.~", "x"] {
                let fast = canonical_uri_cow(path, settings);
                let mut general = String::new();
                let normalized = match settings.path_normalization {
                    PathNormalization::Enabled => normalize_path(path).into_owned(),
                    PathNormalization::Disabled if path.is_empty() => "/".to_owned(),
                    PathNormalization::Disabled => path.to_owned(),
                };
                encode_path(normalized.as_bytes(), &mut general);
                assert_eq!(fast, general, "{path:?} {settings:?}");
            }
        }
        assert!(matches!(
            canonical_uri_cow("/customer/C1/analysis", SigningSettings::default()),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn double_encoding_encodes_the_wire_path_again() {
        let s = SigningSettings::default();
        assert_eq!(
            canonical_uri("/test/@connections/JBDvjfGEIAMCERw%3D", s),
            "/test/%40connections/JBDvjfGEIAMCERw%253D"
        );
        assert_eq!(canonical_uri("", s), "/");
    }

    #[test]
    fn single_encoding_decodes_first_and_keeps_dots() {
        let s = SigningSettings::s3();
        assert_eq!(canonical_uri("/a%20b/./c//d", s), "/a%20b/./c//d");
    }
}
