//! The signer: used by tests, tools and the load benchmark. Production clients use the
//! `aws-sigv4` crate; this one exists so the crate can check itself against AWS's test suite
//! from both sides.

use std::borrow::Cow;
use std::time::SystemTime;

use time::OffsetDateTime;

use crate::canonical::{
    canonical_query_from, canonical_uri_cow, parse_query, payload_sha256_hex, string_to_sign,
    string_to_sign_parts, CanonicalRequest, EMPTY_PAYLOAD_SHA256,
};
use crate::date::format_amz_date;
use crate::key::{hmac_sha256_parts, SigningKeyCache};
use crate::request::HttpRequest;
use crate::settings::SigningSettings;
use crate::{ALGORITHM, MAX_PRESIGN_EXPIRES_SECONDS, UNSIGNED_PAYLOAD};

/// AWS credentials. `Debug` never prints the secret.
#[derive(Clone)]
pub struct Credentials {
    /// e.g. `AKIAIOSFODNN7EXAMPLE`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl Credentials {
    /// Credentials from their parts.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// What to sign for, and how.
#[derive(Debug, Clone)]
pub struct SigningParams {
    /// e.g. `us-east-1`.
    pub region: String,
    /// e.g. `execute-api`.
    pub service: String,
    /// The signing time.
    pub time: SystemTime,
    /// Canonicalisation settings.
    pub settings: SigningSettings,
    /// Add and sign `x-amz-content-sha256` (header signing only).
    pub sign_payload_header: bool,
    /// Sign over `UNSIGNED-PAYLOAD` instead of the body's hash.
    pub unsigned_payload: bool,
    /// Leave the session token out of the signature and add it afterwards (some services,
    /// e.g. IoT, expect this).
    pub omit_session_token: bool,
    /// Presigned validity in seconds (`X-Amz-Expires`).
    pub expires_in: u64,
}

impl SigningParams {
    /// Parameters with AWS's defaults for everything but region, service and time.
    pub fn new(region: impl Into<String>, service: impl Into<String>, time: SystemTime) -> Self {
        Self {
            region: region.into(),
            service: service.into(),
            time,
            settings: SigningSettings::default(),
            sign_payload_header: false,
            unsigned_payload: false,
            omit_session_token: false,
            expires_in: 900,
        }
    }
}

/// The result of header signing.
#[derive(Debug, Clone)]
pub struct SignedOutput {
    /// Headers to add to the request, `authorization` last.
    pub headers: Vec<(String, String)>,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

/// The result of presigning.
#[derive(Debug, Clone)]
pub struct PresignedOutput {
    /// Query parameters (decoded) to append, in AWS's order, `X-Amz-Signature` last.
    pub query_params: Vec<(String, String)>,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The request has no `host` header (nor HTTP/2's `:authority`) to sign.
    #[error("the request has no Host header (or HTTP/2 :authority); SigV4 requires one")]
    MissingHost,
    /// `expires_in` exceeds a week.
    #[error("presigned requests may be valid for at most {MAX_PRESIGN_EXPIRES_SECONDS} seconds")]
    ExpiresTooLong,
}

/// Headers a signer leaves unsigned because proxies rewrite or drop them: the `aws-sigv4`
/// crate's list (`authorization`, `user-agent`, `x-amzn-trace-id`, and `transfer-encoding`,
/// which CloudFront may remove), plus `expect`, which the Go and Java SDKs also leave out.
const UNSIGNED_HEADERS: [&str; 5] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
    "expect",
];

/// The names to sign, lowercase, sorted and once each (copied only when not already
/// lowercase).
fn headers_to_sign<'a>(request: &HttpRequest<'a>, extra: &[(&'a str, &[u8])]) -> Vec<Cow<'a, str>> {
    let mut names: Vec<Cow<'a, str>> = request
        .headers
        .iter()
        .map(|&(name, _)| lowercase(name))
        .filter(|name| !UNSIGNED_HEADERS.contains(&&**name))
        .chain(extra.iter().map(|&(name, _)| Cow::Borrowed(name)))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn lowercase(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// `names` joined with `;`, as `SignedHeaders` lists them.
fn joined(names: &[Cow<'_, str>]) -> String {
    let mut out = String::with_capacity(names.iter().map(|n| n.len() + 1).sum());
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name);
    }
    out
}

/// `access_key_id/date/region/service/aws4_request`: the credential the signature names,
/// from which the scope and the key cache's key are slices.
struct Credential {
    text: String,
    access_key_id_len: usize,
}

impl Credential {
    fn new(creds: &Credentials, amz_date: &str, params: &SigningParams) -> Self {
        let date = &amz_date[..8];
        let mut text = String::with_capacity(
            creds.access_key_id.len()
                + date.len()
                + params.region.len()
                + params.service.len()
                + 17,
        );
        for (i, part) in [
            creds.access_key_id.as_str(),
            date,
            &params.region,
            &params.service,
            "aws4_request",
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                text.push('/');
            }
            text.push_str(part);
        }
        Self {
            text,
            access_key_id_len: creds.access_key_id.len(),
        }
    }

    /// `date/region/service/aws4_request`.
    fn scope(&self) -> &str {
        &self.text[self.access_key_id_len + 1..]
    }

    /// `access_key_id/date/region/service`: what a derived key is cached under.
    fn cache_key(&self) -> &str {
        &self.text[..self.text.len() - "/aws4_request".len()]
    }
}

/// What [`compute`] signs with: the credentials, and where derived keys may be cached.
struct Keys<'a> {
    creds: &'a Credentials,
    cache: &'a SigningKeyCache,
}

/// A computed signature, with what went into it: each public signing function takes the
/// parts it reports.
struct Computed {
    canonical: CanonicalRequest,
    /// Hex SHA-256 of the canonical request, the string to sign's last line.
    canonical_hash: [u8; 64],
    /// The hex signature.
    signature: [u8; 64],
}

impl Computed {
    fn signature(&self) -> &str {
        crate::encoding::hex_str(&self.signature)
    }

    /// The string to sign, as text (the signature streams its parts into the HMAC).
    fn string_to_sign(&self, amz_date: &str, credential: &Credential) -> String {
        string_to_sign(
            amz_date,
            credential.scope(),
            crate::encoding::hex_str(&self.canonical_hash),
        )
    }
}

#[allow(clippy::too_many_arguments)] // the parts of a signature, each already computed
fn compute(
    request: &HttpRequest<'_>,
    keys: Keys<'_>,
    params: &SigningParams,
    amz_date: &str,
    credential: &Credential,
    canonical_query: &str,
    signed_headers: &[Cow<'_, str>],
    payload_hash: &str,
) -> Computed {
    let uri = canonical_uri_cow(request.path, params.settings);
    let names: Vec<&str> = signed_headers.iter().map(|name| &**name).collect();
    let canonical = CanonicalRequest::new(request, &uri, canonical_query, &names, payload_hash);
    let canonical_hash = canonical.sha256_hex_bytes();
    let keyed_mac = keys.cache.get_or_derive(
        credential.cache_key(),
        keys.creds.secret_access_key.as_bytes(),
        &amz_date[..8],
        &params.region,
        &params.service,
    );
    // The string to sign is streamed into the HMAC, not assembled.
    let signature = crate::encoding::hex32(&hmac_sha256_parts(
        keyed_mac,
        &string_to_sign_parts(
            amz_date.as_bytes(),
            credential.scope().as_bytes(),
            &canonical_hash,
        ),
    ));
    Computed {
        canonical,
        canonical_hash,
        signature,
    }
}

fn payload_hash(request: &HttpRequest<'_>, params: &SigningParams) -> Cow<'static, str> {
    if params.unsigned_payload {
        Cow::Borrowed(UNSIGNED_PAYLOAD)
    } else if request.body.is_empty() {
        Cow::Borrowed(EMPTY_PAYLOAD_SHA256)
    } else {
        Cow::Owned(payload_sha256_hex(request.body))
    }
}

/// Whether the request names its host: a `host` header, or HTTP/2's `:authority`.
fn has_host(request: &HttpRequest<'_>) -> bool {
    request.header_values("host").next().is_some()
        || request.header_values(":authority").next().is_some()
}

/// Signs `request` with an `Authorization` header. The returned headers (`x-amz-date`,
/// optional `x-amz-security-token` and `x-amz-content-sha256`, and `authorization`) must be
/// added to the request as they are. Every header the request already has is signed, except
/// `authorization`, `user-agent`, `x-amzn-trace-id`, `transfer-encoding` and `expect`.
pub fn sign_with_header(
    request: &HttpRequest<'_>,
    creds: &Credentials,
    params: &SigningParams,
) -> Result<SignedOutput, SignError> {
    sign_with_header_cached(request, creds, params, &SigningKeyCache::new(0))
}

/// [`sign_with_header`], taking the signing key from `keys` when it holds one for these
/// credentials, day, region and service (and deriving and keeping it otherwise), as a
/// client signing many requests would: deriving a key costs four HMACs.
pub fn sign_with_header_cached(
    request: &HttpRequest<'_>,
    creds: &Credentials,
    params: &SigningParams,
    keys: &SigningKeyCache,
) -> Result<SignedOutput, SignError> {
    let signed = HeaderSignature::compute(request, creds, params, keys)?;
    let string_to_sign = signed
        .computed
        .string_to_sign(&signed.amz_date, &signed.credential);
    let (headers, computed) = signed.into_headers();
    let signature = computed.signature().to_owned();
    Ok(SignedOutput {
        headers: headers
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        canonical_request: computed.canonical.into_text(),
        string_to_sign,
        signature,
    })
}

/// The headers header signing adds to a request: what [`sign_headers_cached`] returns.
/// `Debug` hides the session token and the signature, so the value can be logged.
#[derive(Clone)]
pub struct SignatureHeaders {
    /// `x-amz-date`.
    pub amz_date: String,
    /// `x-amz-content-sha256`, when [`SigningParams::sign_payload_header`] asks for it.
    pub content_sha256: Option<String>,
    /// `x-amz-security-token`, when the credentials carry a session token.
    pub security_token: Option<String>,
    /// `authorization`.
    pub authorization: String,
}

impl std::fmt::Debug for SignatureHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signature stays valid for the clock window, the token for the session: both
        // let whoever reads them act as the caller.
        let authorization = match self.authorization.rsplit_once("Signature=") {
            Some((head, _)) => format!("{head}Signature=***"),
            None => "***".to_owned(),
        };
        f.debug_struct("SignatureHeaders")
            .field("amz_date", &self.amz_date)
            .field("content_sha256", &self.content_sha256)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "***"),
            )
            .field("authorization", &authorization)
            .finish()
    }
}

impl SignatureHeaders {
    /// The headers as `(name, value)`, in the order [`SignedOutput::headers`] lists them.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            Some(("x-amz-date", self.amz_date.as_str())),
            self.content_sha256
                .as_deref()
                .map(|hash| ("x-amz-content-sha256", hash)),
            self.security_token
                .as_deref()
                .map(|token| ("x-amz-security-token", token)),
            Some(("authorization", self.authorization.as_str())),
        ]
        .into_iter()
        .flatten()
    }
}

/// [`sign_with_header_cached`] for a client that only sends the request: the same headers,
/// without the canonical request, string to sign and signature as separate texts, which
/// cost a dozen allocations per request that such a client never reads.
pub fn sign_headers_cached(
    request: &HttpRequest<'_>,
    creds: &Credentials,
    params: &SigningParams,
    keys: &SigningKeyCache,
) -> Result<SignatureHeaders, SignError> {
    Ok(HeaderSignature::compute(request, creds, params, keys)?
        .into_headers()
        .0)
}

/// A header signature and what went into it, for both header-signing functions.
struct HeaderSignature<'a> {
    amz_date: String,
    payload_hash: Cow<'static, str>,
    credential: Credential,
    /// `SignedHeaders`: the signed names joined with `;`.
    signed_header_list: String,
    computed: Computed,
    creds: &'a Credentials,
    params: &'a SigningParams,
}

impl<'a> HeaderSignature<'a> {
    fn compute(
        request: &HttpRequest<'_>,
        creds: &'a Credentials,
        params: &'a SigningParams,
        keys: &SigningKeyCache,
    ) -> Result<Self, SignError> {
        if !has_host(request) {
            return Err(SignError::MissingHost);
        }
        let amz_date = format_amz_date(OffsetDateTime::from(params.time));
        let payload_hash = payload_hash(request, params);
        let signed_token = creds
            .session_token
            .as_deref()
            .filter(|_| !params.omit_session_token);
        // The request's headers, then those this signature adds that it also signs:
        // `x-amz-date`, and the body hash and session token when they are sent.
        let mut all_headers: Vec<(&str, &[u8])> = Vec::with_capacity(request.headers.len() + 3);
        all_headers.extend_from_slice(request.headers);
        all_headers.push(("x-amz-date", amz_date.as_bytes()));
        if params.sign_payload_header {
            all_headers.push(("x-amz-content-sha256", payload_hash.as_bytes()));
        }
        if let Some(token) = signed_token {
            all_headers.push(("x-amz-security-token", token.as_bytes()));
        }
        let with_added = HttpRequest {
            headers: &all_headers,
            ..*request
        };
        let signed_headers = headers_to_sign(request, &all_headers[request.headers.len()..]);
        let query = canonical_query_from(&parse_query(request.query), |_| false);
        let credential = Credential::new(creds, &amz_date, params);
        let computed = compute(
            &with_added,
            Keys { creds, cache: keys },
            params,
            &amz_date,
            &credential,
            &query,
            &signed_headers,
            &payload_hash,
        );
        let signed_header_list = joined(&signed_headers);
        Ok(Self {
            amz_date,
            payload_hash,
            credential,
            signed_header_list,
            computed,
            creds,
            params,
        })
    }

    /// The `Authorization` header's value.
    fn authorization(&self) -> String {
        let parts = [
            ALGORITHM,
            " Credential=",
            &self.credential.text,
            ", SignedHeaders=",
            &self.signed_header_list,
            ", Signature=",
            self.computed.signature(),
        ];
        // Exactly as long as its text: a client can then hand the buffer over as the header
        // value without another allocation (`Bytes::from` a full `Vec`).
        let mut authorization = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            authorization.push_str(part);
        }
        authorization
    }

    /// The headers to add (a session token the signature does not cover is still sent),
    /// and the signature they carry.
    fn into_headers(self) -> (SignatureHeaders, Computed) {
        let authorization = self.authorization();
        let headers = SignatureHeaders {
            content_sha256: self
                .params
                .sign_payload_header
                .then(|| self.payload_hash.into_owned()),
            security_token: self.creds.session_token.clone(),
            amz_date: self.amz_date,
            authorization,
        };
        (headers, self.computed)
    }
}

/// Presigns `request`: the returned query parameters, percent-encoded and appended to the
/// request's query, make it valid for `params.expires_in` seconds without any header.
pub fn presign(
    request: &HttpRequest<'_>,
    creds: &Credentials,
    params: &SigningParams,
) -> Result<PresignedOutput, SignError> {
    if !has_host(request) {
        return Err(SignError::MissingHost);
    }
    if params.expires_in > MAX_PRESIGN_EXPIRES_SECONDS {
        return Err(SignError::ExpiresTooLong);
    }
    let amz_date = format_amz_date(OffsetDateTime::from(params.time));
    let signed_headers = headers_to_sign(request, &[]);
    let credential = Credential::new(creds, &amz_date, params);
    let mut added: Vec<(String, String)> = vec![
        ("X-Amz-Algorithm".into(), ALGORITHM.into()),
        ("X-Amz-Credential".into(), credential.text.clone()),
        ("X-Amz-Date".into(), amz_date.clone()),
        ("X-Amz-SignedHeaders".into(), joined(&signed_headers)),
        ("X-Amz-Expires".into(), params.expires_in.to_string()),
    ];
    let token_signed = creds.session_token.is_some() && !params.omit_session_token;
    if let (Some(token), true) = (&creds.session_token, token_signed) {
        added.push(("X-Amz-Security-Token".into(), token.clone()));
    }
    let mut query = request.query.to_owned();
    for (name, value) in &added {
        if !query.is_empty() {
            query.push('&');
        }
        crate::encoding::encode_component(name.as_bytes(), &mut query);
        query.push('=');
        crate::encoding::encode_component(value.as_bytes(), &mut query);
    }
    let canonical_query = canonical_query_from(&parse_query(&query), |_| false);
    let computed = compute(
        request,
        Keys {
            creds,
            cache: &SigningKeyCache::new(0),
        },
        params,
        &amz_date,
        &credential,
        &canonical_query,
        &signed_headers,
        &payload_hash(request, params),
    );
    if let (Some(token), false) = (&creds.session_token, token_signed) {
        added.push(("X-Amz-Security-Token".into(), token.clone()));
    }
    let signature = computed.signature().to_owned();
    added.push(("X-Amz-Signature".into(), signature.clone()));
    Ok(PresignedOutput {
        query_params: added,
        string_to_sign: computed.string_to_sign(&amz_date, &credential),
        canonical_request: computed.canonical.into_text(),
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(headers: &'a [(&'a str, &'a [u8])]) -> HttpRequest<'a> {
        HttpRequest {
            method: "GET",
            path: "/customer/C123456/account/123456789012/analysis",
            query: "limit=5",
            headers,
            body: b"",
        }
    }

    #[test]
    fn cached_signing_key_signs_as_a_fresh_one_and_follows_a_new_secret() {
        let headers: [(&str, &[u8]); 1] = [("host", b"k9.example.com")];
        let params = SigningParams::new(
            "us-east-1",
            "execute-api",
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
        );
        let keys = SigningKeyCache::new(4);
        for secret in ["first-secret", "second-secret"] {
            let creds = Credentials::new("AKIDEXAMPLE", secret, None);
            let fresh = sign_with_header(&request(&headers), &creds, &params).unwrap();
            for _ in 0..2 {
                let cached =
                    sign_with_header_cached(&request(&headers), &creds, &params, &keys).unwrap();
                assert_eq!(cached.signature, fresh.signature, "{secret}");
                assert_eq!(cached.headers, fresh.headers, "{secret}");
            }
        }
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn lean_headers_are_the_full_signers_headers() {
        let host: [(&str, &[u8]); 1] = [("host", b"k9.example.com")];
        let with_body: [(&str, &[u8]); 2] = [
            ("host", b"k9.example.com"),
            ("content-type", b"application/json"),
        ];
        let keys = SigningKeyCache::new(4);
        for token in [None, Some("session-token".to_owned())] {
            let creds = Credentials::new("AKIDEXAMPLE", "secret", token);
            for (sign_payload_header, omit_session_token, body) in [
                (false, false, &b""[..]),
                (true, false, &b"{\"a\":1}"[..]),
                (false, true, &b"{}"[..]),
                (true, true, &b""[..]),
            ] {
                let mut params = SigningParams::new(
                    "us-east-1",
                    "execute-api",
                    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
                );
                params.sign_payload_header = sign_payload_header;
                params.omit_session_token = omit_session_token;
                let headers: &[(&str, &[u8])] = if body.is_empty() { &host } else { &with_body };
                let request = HttpRequest {
                    method: "POST",
                    body,
                    ..request(headers)
                };
                let full = sign_with_header(&request, &creds, &params).unwrap();
                let lean = sign_headers_cached(&request, &creds, &params, &keys).unwrap();
                let lean: Vec<(String, String)> = lean
                    .iter()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect();
                assert_eq!(
                    lean, full.headers,
                    "token {:?}, payload header {sign_payload_header}, omit token {omit_session_token}",
                    creds.session_token
                );
                assert!(full.headers.last().unwrap().1.ends_with(&full.signature));
                // AWS's order; a session token is sent even when the signature omits it.
                let names: Vec<&str> = full.headers.iter().map(|(n, _)| n.as_str()).collect();
                let expected: Vec<&str> = [
                    Some("x-amz-date"),
                    sign_payload_header.then_some("x-amz-content-sha256"),
                    creds.session_token.as_ref().map(|_| "x-amz-security-token"),
                    Some("authorization"),
                ]
                .into_iter()
                .flatten()
                .collect();
                assert_eq!(names, expected);
                let signed_names = full
                    .headers
                    .last()
                    .unwrap()
                    .1
                    .contains("x-amz-security-token");
                assert_eq!(
                    signed_names,
                    creds.session_token.is_some() && !omit_session_token
                );
            }
        }
        let no_host = sign_headers_cached(
            &request(&[]),
            &Credentials::new("A", "s", None),
            &SigningParams::new("r", "s", SystemTime::UNIX_EPOCH),
            &keys,
        );
        assert_eq!(no_host.unwrap_err(), SignError::MissingHost);
    }

    #[test]
    fn signature_headers_debug_hides_the_token_and_the_signature() {
        let keys = SigningKeyCache::new(1);
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("the-session-token".into()));
        let params = SigningParams::new("us-east-1", "execute-api", SystemTime::UNIX_EPOCH);
        let host: [(&str, &[u8]); 1] = [("host", b"k9.example.com")];
        let headers = sign_headers_cached(&request(&host), &creds, &params, &keys).unwrap();
        let signature = headers.authorization.rsplit('=').next().unwrap().to_owned();
        let debug = format!("{headers:?}");
        assert!(!debug.contains("the-session-token"), "{debug}");
        assert!(!debug.contains(&signature), "{debug}");
        assert!(
            debug.contains("Credential=AKIDEXAMPLE/19700101/"),
            "{debug}"
        );
        assert!(debug.contains("Signature=***"), "{debug}");
    }
}
