//! Independent cross-checks against the AWS SDK's own signer, the `aws-sigv4` crate.
//!
//! Random requests (methods, paths with reserved characters, percent-escapes and Unicode,
//! repeated query keys, repeated and space-padded headers, bodies, session tokens, both
//! signature locations, execute-api and S3 settings) are signed by `aws-sigv4` and must verify
//! with our verifier; the same requests signed by our signer must carry the same signature.
//!
//! The request our verifier sees is the one `aws-sigv4` signed, as an HTTP client sends it:
//! the `http::Request`'s URI path and query strings and its header map, after applying the
//! signing instructions.
//!
//! Where `aws-sigv4` and AWS could disagree, the generator stays on inputs that SDKs actually
//! produce; each such constraint says why.

mod support;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody,
    SignableRequest, SignatureLocation, SigningSettings as AwsSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use k9_sigv4::{
    presign, sign_with_header, AuthMechanism, Credentials, PathNormalization, SigningParams,
    SigningSettings, UriEncoding, Verifier, VerifierConfig,
};
use proptest::prelude::*;
use support::{uri_encode, OneKey, OwnedRequest};

const HOST: &str = "api.example.com";
const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Which service's canonicalisation rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// execute-api and every other non-S3 service: double encoding, normalisation on or off
    /// (`aws-sigv4` allows both, so we test both).
    DoubleEncoded { normalize: bool },
    /// S3: single encoding, no normalisation.
    S3,
}

impl Profile {
    fn ours(self) -> SigningSettings {
        match self {
            Profile::DoubleEncoded { normalize } => SigningSettings {
                uri_encoding: UriEncoding::Double,
                path_normalization: if normalize {
                    PathNormalization::Enabled
                } else {
                    PathNormalization::Disabled
                },
            },
            Profile::S3 => SigningSettings::s3(),
        }
    }
}

/// What the payload hash is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// The body's SHA-256, not sent as a header.
    Hashed,
    /// The body's SHA-256, also sent (and signed) as `x-amz-content-sha256`.
    HashedWithHeader,
    /// `UNSIGNED-PAYLOAD` (presigned URLs; S3 with `x-amz-content-sha256: UNSIGNED-PAYLOAD`).
    Unsigned,
}

/// One generated request and how to sign it.
#[derive(Debug, Clone)]
struct Case {
    method: String,
    /// Wire path, as the HTTP client sends it.
    path: String,
    /// Wire query, without `?`.
    query: String,
    /// Headers other than `host`, in order; names may repeat and differ in case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    location: SignatureLocation,
    profile: Profile,
    payload: Payload,
    session_token: Option<String>,
    sign_token: bool,
    region: String,
    service: String,
    time: SystemTime,
    expires_in: u64,
    /// How long after signing the verifier checks it.
    verify_after: u64,
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
            .prop_map(str::to_owned),
        1 => "[A-Z]{1,10}",
    ]
}

/// UTF-8 percent-encoding with lower-case hex: legal, and what some clients send.
fn encode_lower(text: &str) -> String {
    let upper = uri_encode(text);
    let mut out = String::with_capacity(upper.len());
    let mut chars = upper.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

/// Encodes only what must be encoded in a query component for both sides to read it the
/// same way, leaving other reserved characters (`/ ? : @ ! $ ' ( ) * , ;`) raw as browsers
/// and curl do. `+` is always encoded: `aws-sigv4` parses queries as form data, where a raw
/// `+` is a space, whereas AWS reads it as a literal plus (suite case `get-query-plus`). SDKs
/// never send a raw `+`, so neither do we.
fn encode_relaxed(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-_.~/?:@!$'()*,;".contains(c) {
            out.push(c);
        } else {
            out.push_str(&uri_encode(c.encode_utf8(&mut [0; 4])));
        }
    }
    out
}

/// A path segment as it appears on the wire for a double-encoding service: reserved
/// characters that are legal raw in a path, percent-escapes of any byte in either hex case
/// (including `%2F` and `%25`), encoded Unicode, dot segments and empty segments.
fn wire_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._~-]{1,8}",
        "[a-z!$&'()*+,;=:@]{1,6}",
        (any::<u8>(), any::<bool>()).prop_map(|(b, upper)| if upper {
            format!("%{b:02X}")
        } else {
            format!("%{b:02x}")
        }),
        "\\PC{1,4}".prop_map(|s| uri_encode(&s)),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just(String::new()),
    ]
}

/// A wire path for a double-encoding service.
fn double_encoded_path() -> impl Strategy<Value = String> {
    (prop::collection::vec(wire_segment(), 0..6), any::<bool>()).prop_map(|(segments, slash)| {
        let mut path = format!("/{}", segments.join("/"));
        if slash && !path.ends_with('/') {
            path.push('/');
        }
        path
    })
}

/// A wire path for S3: an object key of arbitrary Unicode, each segment encoded as the SDK
/// does. Segments never contain `/`: the SDK sends the key's slashes as they are, and an
/// encoded `%2F` is where signers disagree (`aws-sigv4` takes a single-encoded path as is,
/// while S3 decodes it first), so it is not something a client produces.
fn s3_path() -> impl Strategy<Value = String> {
    prop::collection::vec("[^/\\p{C}]{0,6}", 1..5).prop_map(|segments| {
        let encoded: Vec<String> = segments.iter().map(|s| uri_encode(s)).collect();
        format!("/{}", encoded.join("/"))
    })
}

/// A query: parameters with keys from a small set (so keys repeat), arbitrary Unicode
/// values, valueless keys, each encoded in one of three ways clients use.
fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(vec!["tag", "a", "B", "sort", "x y", "ключ", "a=b&c"])
            .prop_map(str::to_owned),
        "[a-z]{1,5}",
        "\\PC{0,4}",
    ];
    let param = (key, "\\PC{0,6}", any::<bool>(), 0..3u8);
    prop::collection::vec(param, 0..6).prop_map(|params| {
        let mut pieces = Vec::new();
        for (key, value, with_equals, style) in params {
            // Presigning adds X-Amz-* parameters; the request's own must not collide.
            if key.starts_with("X-Amz-") {
                continue;
            }
            let encode = |text: &str| match style {
                0 => uri_encode(text),
                1 => encode_lower(text),
                _ => encode_relaxed(text),
            };
            if value.is_empty() && !with_equals {
                pieces.push(encode(&key));
            } else {
                pieces.push(format!("{}={}", encode(&key), encode(&value)));
            }
        }
        pieces.join("&")
    })
}

/// Header names the signers treat specially: added by the signer, or (`expect`) left unsigned
/// by ours but signed by `aws-sigv4`. The generator leaves them out.
const RESERVED_HEADERS: [&str; 6] = [
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "expect",
];

/// Headers: a few names that repeat (in different cases), arbitrary token names, and values
/// of visible ASCII padded with spaces, with inner runs of spaces and tabs. No leading or
/// trailing tab: an HTTP/1.1 server strips that as whitespace before any signer sees it.
fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "x-custom",
            "X-Custom",
            "content-type",
            "Accept",
            "x-amz-meta-tag"
        ])
        .prop_map(str::to_owned),
        "[a-z][a-z0-9-]{0,10}",
    ]
    .prop_filter("reserved header", |n| {
        !RESERVED_HEADERS.contains(&n.to_ascii_lowercase().as_str())
    });
    let value = prop_oneof![
        Just(String::new()),
        " {0,3}[!-~]{1,6}(( {1,3}|\t)[!-~]{1,6}){0,3} {0,3}",
    ];
    prop::collection::vec((name, value), 0..6)
}

prop_compose! {
    fn case()(
        method in method(),
        profile in prop_oneof![
            3 => any::<bool>().prop_map(|normalize| Profile::DoubleEncoded { normalize }),
            1 => Just(Profile::S3),
        ],
        double_path in double_encoded_path(),
        s3_path in s3_path(),
        query in query(),
        headers in headers(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        presigned in any::<bool>(),
        payload in prop::sample::select(vec![Payload::Hashed, Payload::HashedWithHeader, Payload::Unsigned]),
        session_token in prop::option::of("[A-Za-z0-9+/=]{16,64}"),
        sign_token in any::<bool>(),
        region in prop::sample::select(vec!["us-east-1", "eu-west-3", "ap-southeast-2"]),
        service in prop::sample::select(vec!["execute-api", "k9", "lambda"]),
        seconds in 1_400_000_000u64..2_000_000_000,
        expires_in in 1u64..=604_800,
        verify_after in 0u64..=300,
    ) -> Case {
        let location = if presigned { SignatureLocation::QueryParams } else { SignatureLocation::Headers };
        let payload = match (location, profile, payload) {
            // Header signing with UNSIGNED-PAYLOAD only exists for S3, which always sends
            // x-amz-content-sha256; other services always hash the body.
            (SignatureLocation::Headers, Profile::S3, Payload::Hashed) => Payload::HashedWithHeader,
            (SignatureLocation::Headers, Profile::DoubleEncoded { .. }, Payload::Unsigned) => Payload::Hashed,
            // A presigned request carries no x-amz-content-sha256 header.
            (SignatureLocation::QueryParams, _, Payload::HashedWithHeader) => Payload::Hashed,
            (_, _, payload) => payload,
        };
        let verify_after = match location {
            SignatureLocation::QueryParams => verify_after.min(expires_in),
            _ => verify_after,
        };
        Case {
            method,
            path: if profile == Profile::S3 { s3_path } else { double_path },
            query,
            headers,
            body,
            location,
            profile,
            payload,
            session_token,
            sign_token,
            region: region.to_owned(),
            service: if profile == Profile::S3 { "s3".to_owned() } else { service.to_owned() },
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(seconds),
            expires_in,
            verify_after,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Signing both ways
// ---------------------------------------------------------------------------------------

impl Case {
    fn uri(&self) -> String {
        if self.query.is_empty() {
            format!("https://{HOST}{}", self.path)
        } else {
            format!("https://{HOST}{}?{}", self.path, self.query)
        }
    }

    /// The unsigned request, `host` first, as our signer takes it.
    fn unsigned(&self) -> OwnedRequest {
        let mut request = OwnedRequest {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers: vec![("host".to_owned(), HOST.as_bytes().to_vec())],
            body: self.body.clone(),
        };
        for (name, value) in &self.headers {
            request
                .headers
                .push((name.clone(), value.clone().into_bytes()));
        }
        request
    }

    /// Signs with `aws-sigv4` and returns the request as sent: method, URI path and query,
    /// header map, body.
    fn sign_with_aws(&self) -> OwnedRequest {
        let identity: Identity = AwsCredentials::new(
            ACCESS_KEY,
            SECRET,
            self.session_token.clone(),
            None,
            "cross-check",
        )
        .into();
        let mut settings = AwsSettings::default();
        settings.signature_location = self.location;
        settings.expires_in = Some(Duration::from_secs(self.expires_in));
        settings.percent_encoding_mode = match self.profile {
            Profile::DoubleEncoded { .. } => PercentEncodingMode::Double,
            Profile::S3 => PercentEncodingMode::Single,
        };
        settings.uri_path_normalization_mode = match self.profile {
            Profile::DoubleEncoded { normalize: true } => UriPathNormalizationMode::Enabled,
            _ => UriPathNormalizationMode::Disabled,
        };
        settings.payload_checksum_kind = match self.payload {
            Payload::HashedWithHeader => PayloadChecksumKind::XAmzSha256,
            Payload::Unsigned if self.location == SignatureLocation::Headers => {
                PayloadChecksumKind::XAmzSha256
            }
            _ => PayloadChecksumKind::NoHeader,
        };
        settings.session_token_mode = if self.sign_token {
            SessionTokenMode::Include
        } else {
            SessionTokenMode::Exclude
        };
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .expect("signing params")
            .into();

        let uri = self.uri();
        let mut headers: Vec<(&str, &str)> = vec![("host", HOST)];
        headers.extend(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let body = match self.payload {
            Payload::Unsigned => SignableBody::UnsignedPayload,
            _ => SignableBody::Bytes(&self.body),
        };
        let signable =
            SignableRequest::new(&self.method, uri.as_str(), headers.iter().copied(), body)
                .expect("signable request");
        let (instructions, _signature) = sign(signable, &params)
            .expect("aws-sigv4 signs")
            .into_parts();

        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(uri.as_str());
        for (name, value) in &headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(()).expect("a valid http::Request");
        instructions.apply_to_request_http1x(&mut request);

        OwnedRequest {
            method: request.method().as_str().to_owned(),
            path: request.uri().path().to_owned(),
            query: request.uri().query().unwrap_or_default().to_owned(),
            headers: request
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: self.body.clone(),
        }
    }

    fn our_params(&self) -> SigningParams {
        let mut params = SigningParams::new(&self.region, &self.service, self.time);
        params.settings = self.profile.ours();
        params.sign_payload_header = self.location == SignatureLocation::Headers
            && matches!(self.payload, Payload::HashedWithHeader | Payload::Unsigned);
        params.unsigned_payload = self.payload == Payload::Unsigned;
        params.omit_session_token = !self.sign_token;
        params.expires_in = self.expires_in;
        params
    }

    fn our_credentials(&self) -> Credentials {
        Credentials::new(ACCESS_KEY, SECRET, self.session_token.clone())
    }

    fn verifier(&self) -> Verifier {
        let mut config = VerifierConfig::new(&self.region, &self.service);
        config.settings = self.profile.ours();
        Verifier::new(config)
    }

    fn lookup(&self) -> OneKey {
        OneKey::new(ACCESS_KEY, SECRET, self.session_token.as_deref())
    }

    fn verify_time(&self) -> SystemTime {
        self.time + Duration::from_secs(self.verify_after)
    }
}

/// The parameters a presigned request added (decoded), sorted, with the request's own query
/// removed.
fn added_query_params(signed: &OwnedRequest, original_query: &str) -> Vec<(String, String)> {
    let added = signed
        .query
        .strip_prefix(original_query)
        .expect("query appended to");
    let mut params: Vec<(String, String)> = added
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    params.sort();
    params
}

fn decode(text: &str) -> String {
    let mut bytes = Vec::new();
    let mut i = 0;
    let raw = text.as_bytes();
    while i < raw.len() {
        if raw[i] == b'%' && i + 3 <= raw.len() {
            let hex = std::str::from_utf8(&raw[i + 1..i + 3]).expect("ASCII");
            bytes.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(bytes).expect("UTF-8")
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    // aws-sigv4 signs, we verify.
    let theirs = case.sign_with_aws();
    let verifier = case.verifier();
    let verified = theirs
        .with(|r| verifier.verify(r, case.verify_time(), &case.lookup()))
        .map_err(|e| {
            TestCaseError::fail(format!(
                "aws-sigv4's signature rejected: {e}\nrequest: {theirs:#?}"
            ))
        })?;
    prop_assert_eq!(verified.access_key_id.as_str(), ACCESS_KEY);
    prop_assert_eq!(
        verified.session_token.as_deref(),
        case.session_token.as_deref()
    );
    let mechanism = match case.location {
        SignatureLocation::QueryParams => AuthMechanism::Presigned,
        _ => AuthMechanism::Header,
    };
    prop_assert_eq!(verified.mechanism, mechanism);

    // We sign the same request: same signature, same additions.
    let unsigned = case.unsigned();
    let ours = match case.location {
        SignatureLocation::QueryParams => {
            let out = unsigned
                .with(|r| presign(r, &case.our_credentials(), &case.our_params()))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut ours = out.query_params.clone();
            ours.sort();
            prop_assert_eq!(&ours, &added_query_params(&theirs, &case.query));
            unsigned.clone().with_query_params(&out.query_params)
        }
        _ => {
            let out = unsigned
                .with(|r| sign_with_header(r, &case.our_credentials(), &case.our_params()))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut ours: Vec<(String, String)> = out.headers.clone();
            ours.sort();
            let mut added: Vec<(String, String)> = theirs
                .headers
                .iter()
                .filter(|(n, _)| {
                    [
                        "authorization",
                        "x-amz-date",
                        "x-amz-security-token",
                        "x-amz-content-sha256",
                    ]
                    .contains(&n.as_str())
                })
                .map(|(n, v)| (n.clone(), String::from_utf8(v.clone()).unwrap()))
                .collect();
            added.sort();
            prop_assert_eq!(&ours, &added, "same Authorization and added headers");
            unsigned.clone().with_signed_headers(&out.headers)
        }
    };
    // And ours verifies too.
    ours.with(|r| verifier.verify(r, case.verify_time(), &case.lookup()))
        .map_err(|e| TestCaseError::fail(format!("our own signature rejected: {e}")))?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn aws_sigv4_signatures_verify_and_match_ours(case in case()) {
        check(&case)?;
    }
}

/// The benchmark's request, checked once by hand: a typical API call with a session token.
#[test]
fn typical_api_call_matches_aws_sigv4() {
    let case = Case {
        method: "POST".into(),
        path: "/customer/C123456/account/123456789012/analysis".into(),
        query: String::new(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"window":"P1D","checks":["iam","s3"],"notify":false}"#.to_vec(),
        location: SignatureLocation::Headers,
        profile: Profile::DoubleEncoded { normalize: true },
        payload: Payload::Hashed,
        session_token: Some("FwoGZXIvYXdzEXAMPLE".into()),
        sign_token: true,
        region: "us-east-1".into(),
        service: "execute-api".into(),
        time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_668_124_800),
        expires_in: 900,
        verify_after: 0,
    };
    check(&case).unwrap();
    check(&Case {
        location: SignatureLocation::QueryParams,
        ..case
    })
    .unwrap();
}
