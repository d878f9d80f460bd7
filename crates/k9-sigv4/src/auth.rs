//! Parsing the two ways a SigV4 signature travels: the `Authorization` header and presigned
//! query parameters. Only parsing and presence checks happen here; meaning is checked in
//! `verify`.

use std::borrow::Cow;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::canonical::{parse_query, QueryParam};
use crate::error::VerifyError;
use crate::request::HttpRequest;
use crate::{text, ALGORITHM};

/// Which mechanism carried the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    Header,
    /// `X-Amz-Algorithm`, `X-Amz-Credential`, … in the query string.
    Presigned,
}

/// A signature's parts, before any of them is trusted.
pub(crate) struct ParsedAuth<'r> {
    pub mechanism: AuthMechanism,
    pub credential: Cow<'r, str>,
    pub signed_headers: Cow<'r, str>,
    pub signature: Cow<'r, str>,
    /// The request date as sent, and where it came from (`X-Amz-Date` or `Date`).
    pub date: Cow<'r, str>,
    pub date_source: &'static str,
    /// Presigned only: `X-Amz-Expires`, still unparsed.
    pub expires: Option<Cow<'r, str>>,
    pub session_token: Option<Cow<'r, str>>,
    /// The query, parsed once (needed for the canonical query string).
    pub query: Vec<QueryParam<'r>>,
    /// The first `x-amz-content-sha256` value, if any.
    pub content_sha256: Option<&'r [u8]>,
}

/// The headers SigV4 gives a meaning to, found in one pass over the request's headers (the
/// first value of each, ASCII case-insensitively), instead of one pass per name.
#[derive(Default)]
struct AuthHeaders<'r> {
    authorization: Option<&'r [u8]>,
    authorization_count: usize,
    x_amz_date: Option<&'r [u8]>,
    date: Option<&'r [u8]>,
    security_token: Option<&'r [u8]>,
    content_sha256: Option<&'r [u8]>,
}

impl<'r> AuthHeaders<'r> {
    fn scan(request: &HttpRequest<'r>) -> Self {
        let mut found = Self::default();
        for &(name, value) in request.headers {
            let slot = match name.len() {
                4 if name.eq_ignore_ascii_case("date") => &mut found.date,
                10 if name.eq_ignore_ascii_case("x-amz-date") => &mut found.x_amz_date,
                13 if name.eq_ignore_ascii_case("authorization") => {
                    found.authorization_count += 1;
                    &mut found.authorization
                }
                20 if name.eq_ignore_ascii_case("x-amz-security-token") => {
                    &mut found.security_token
                }
                20 if name.eq_ignore_ascii_case("x-amz-content-sha256") => {
                    &mut found.content_sha256
                }
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }
}

/// A header value as text, if it is UTF-8.
fn text_of(value: Option<&[u8]>) -> Option<&str> {
    value.and_then(|v| std::str::from_utf8(v).ok())
}

fn decoded(raw: &str) -> Cow<'_, str> {
    match crate::encoding::decode(raw) {
        Cow::Borrowed(_) => Cow::Borrowed(raw),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

fn query_value<'r>(query: &[QueryParam<'r>], name: &str) -> Option<Cow<'r, str>> {
    query
        .iter()
        .find(|p| p.raw_key == name)
        .map(|p| decoded(p.raw_value))
}

fn hashed_header(header: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(header))
}

/// Finds and parses the request's signature, applying AWS's first checks in AWS's order:
/// one mechanism only; well-formed `key=value` parts; every required parameter present.
pub(crate) fn parse<'r>(request: &HttpRequest<'r>) -> Result<ParsedAuth<'r>, VerifyError> {
    let query = parse_query(request.query);
    let has_query_auth = query.iter().any(|p| p.raw_key == "X-Amz-Algorithm");
    let headers = AuthHeaders::scan(request);
    match (headers.authorization, has_query_auth) {
        (None, false) => Err(VerifyError::MissingAuthenticationToken),
        (Some(_), true) => Err(VerifyError::MultipleAuthMechanisms),
        (Some(_), false) if headers.authorization_count > 1 => {
            Err(VerifyError::MultipleAuthMechanisms)
        }
        (Some(header), false) => parse_header(&headers, header, query),
        (None, true) => parse_presigned(query, headers.content_sha256),
    }
}

fn parse_header<'r>(
    headers: &AuthHeaders<'r>,
    header: &'r [u8],
    query: Vec<QueryParam<'r>>,
) -> Result<ParsedAuth<'r>, VerifyError> {
    let malformed = || VerifyError::MalformedAuthorization {
        header_sha256_base64: hashed_header(header),
    };
    let text = std::str::from_utf8(header).map_err(|_| malformed())?;
    let (algorithm, components) =
        text::split_once(text.trim_ascii_start(), b' ').unwrap_or((text.trim_ascii(), ""));
    if algorithm != ALGORITHM {
        return Err(malformed());
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in text::split(components, b',') {
        let component = component.trim_ascii();
        if component.is_empty() {
            continue;
        }
        let (key, value) = text::split_once(component, b'=').ok_or_else(malformed)?;
        match key.trim_ascii() {
            "Credential" => credential = Some(value.trim_ascii()),
            "SignedHeaders" => signed_headers = Some(value.trim_ascii()),
            "Signature" => signature = Some(value.trim_ascii()),
            _ => {}
        }
    }
    let date = text_of(headers.x_amz_date)
        .map(|d| (d, "X-Amz-Date"))
        .or_else(|| text_of(headers.date).map(|d| (d, "Date")));

    let mut missing = String::new();
    for (name, present) in [
        ("Credential", credential.is_some()),
        ("Signature", signature.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
    ] {
        if !present {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if date.is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !missing.is_empty() {
        missing.push_str("Authorization=");
        missing.push_str(text);
        return Err(VerifyError::MissingParameters { message: missing });
    }
    // Every option was checked for presence just above.
    let (Some(credential), Some(signed_headers), Some(signature), Some((date, date_source))) =
        (credential, signed_headers, signature, date)
    else {
        unreachable!("presence checked above")
    };
    Ok(ParsedAuth {
        mechanism: AuthMechanism::Header,
        credential: Cow::Borrowed(credential),
        signed_headers: Cow::Borrowed(signed_headers),
        signature: Cow::Borrowed(signature),
        date: Cow::Borrowed(date),
        date_source,
        expires: None,
        session_token: text_of(headers.security_token).map(Cow::Borrowed),
        query,
        content_sha256: headers.content_sha256,
    })
}

fn parse_presigned<'r>(
    query: Vec<QueryParam<'r>>,
    content_sha256: Option<&'r [u8]>,
) -> Result<ParsedAuth<'r>, VerifyError> {
    let algorithm = query_value(&query, "X-Amz-Algorithm");
    let credential = query_value(&query, "X-Amz-Credential");
    let signature = query_value(&query, "X-Amz-Signature");
    let signed_headers = query_value(&query, "X-Amz-SignedHeaders");
    let date = query_value(&query, "X-Amz-Date");
    let expires = query_value(&query, "X-Amz-Expires");
    let mut missing = String::new();
    for (name, present) in [
        ("X-Amz-Algorithm", algorithm.is_some()),
        ("X-Amz-Credential", credential.is_some()),
        ("X-Amz-Signature", signature.is_some()),
        ("X-Amz-SignedHeaders", signed_headers.is_some()),
        ("X-Amz-Date", date.is_some()),
        ("X-Amz-Expires", expires.is_some()),
    ] {
        if !present {
            missing.push_str(&format!(
                "AWS query-string parameters must include '{name}'. "
            ));
        }
    }
    if !missing.is_empty() {
        missing.push_str("Re-examine the query-string parameters.");
        return Err(VerifyError::MissingParameters { message: missing });
    }
    let (Some(algorithm), Some(credential), Some(signature), Some(signed_headers), Some(date)) =
        (algorithm, credential, signature, signed_headers, date)
    else {
        unreachable!("presence checked above")
    };
    if algorithm != ALGORITHM {
        return Err(VerifyError::InvalidParameter {
            message: format!("X-Amz-Algorithm only supports '{ALGORITHM}'"),
        });
    }
    let session_token = query_value(&query, "X-Amz-Security-Token");
    Ok(ParsedAuth {
        mechanism: AuthMechanism::Presigned,
        credential,
        signed_headers,
        signature,
        date,
        date_source: "X-Amz-Date",
        expires,
        session_token,
        query,
        content_sha256,
    })
}
