//! The verifier: AWS's checks, in AWS's order, ending in a constant-time signature compare.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

use crate::auth::{self, AuthMechanism, ParsedAuth};
use sha2::{Digest, Sha256};

use crate::canonical::{
    canonical_query_from, canonical_uri_cow, payload_sha256, string_to_sign, string_to_sign_parts,
    write_canonical_request, SignedHeaderNames,
};
use crate::date::{format_amz_date, parse_amz_date, parse_date_header, AmzDate};
use crate::encoding::{hex32, hex_str};
use crate::error::VerifyError;
use crate::key::{constant_time_eq, hmac_sha256_parts, SigningKeyCache};
use crate::request::HttpRequest;
use crate::settings::VerifierConfig;
use crate::text;
use crate::{MAX_PRESIGN_EXPIRES_SECONDS, UNSIGNED_PAYLOAD};

/// Why a [`SecretLookup`] could not supply a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No such access key, or it is inactive, or the session token does not belong to it.
    #[error("unknown or inactive access key, or wrong session token")]
    Unrecognized,
    /// The temporary credentials have expired.
    #[error("expired session token")]
    Expired,
}

impl From<LookupError> for VerifyError {
    fn from(error: LookupError) -> Self {
        match error {
            LookupError::Unrecognized => VerifyError::UnrecognizedClient,
            LookupError::Expired => VerifyError::ExpiredToken,
        }
    }
}

/// Supplies the secret for an access key id. The verifier never sees a database: the caller
/// implements this over whatever holds the keys.
pub trait SecretLookup {
    /// The secret access key, as bytes.
    type Secret: AsRef<[u8]>;
    /// The secret for `access_key_id`, checking `session_token` if the key is temporary.
    fn secret(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Self::Secret, LookupError>;
}

/// The scope a request was signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedScope {
    /// `YYYYMMDD`.
    pub date: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// e.g. `execute-api`.
    pub service: String,
}

/// A request whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// Who signed: resolve the principal from this.
    pub access_key_id: String,
    /// The session token sent with temporary credentials, if any.
    pub session_token: Option<String>,
    /// What the signature was scoped to.
    pub scope: SignedScope,
    /// Which mechanism carried the signature.
    pub mechanism: AuthMechanism,
    /// The date the client signed at.
    pub signed_at: OffsetDateTime,
    /// The verifier's clock when it checked.
    pub verified_at: OffsetDateTime,
}

/// Verifies SigV4 signatures for one region and service.
#[derive(Debug)]
pub struct Verifier {
    config: VerifierConfig,
    keys: SigningKeyCache,
}

impl Verifier {
    /// A verifier for `config`.
    pub fn new(config: VerifierConfig) -> Self {
        let keys = SigningKeyCache::new(config.key_cache_capacity);
        Self { config, keys }
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// The derived-key cache (exposed for benchmarks and tests).
    pub fn key_cache(&self) -> &SigningKeyCache {
        &self.keys
    }

    /// Verifies `request` at `now`, looking the secret up through `lookup`.
    pub fn verify(
        &self,
        request: &HttpRequest<'_>,
        now: SystemTime,
        lookup: &impl SecretLookup,
    ) -> Result<VerifiedRequest, VerifyError> {
        let pending = self.check(request, now)?;
        let secret = lookup.secret(pending.access_key_id(), pending.session_token())?;
        pending.verify_with_secret(secret.as_ref())
    }

    /// Every check that needs no secret, in AWS's order: one mechanism; well-formed parts;
    /// required parameters; `host` signed and no name listed twice; every signed header
    /// present (ours: AWS would answer a mismatch); date format; clock window; credential
    /// scope; body hash. On success the caller looks up the secret for
    /// [`PendingVerification::access_key_id`] and finishes with
    /// [`PendingVerification::verify_with_secret`].
    pub fn check<'v, 'r>(
        &'v self,
        request: &'v HttpRequest<'r>,
        now: SystemTime,
    ) -> Result<PendingVerification<'v, 'r>, VerifyError> {
        let parsed = auth::parse(request)?;

        check_signed_headers(&parsed.signed_headers)?;
        check_signed_headers_present(&parsed.signed_headers, request)?;

        let signed_at = match parsed.date_source {
            "Date" => parse_date_header(&parsed.date),
            _ => parse_amz_date(&parsed.date),
        }
        .ok_or_else(|| VerifyError::InvalidParameter {
            message: format!(
                "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
                parsed.date
            ),
        })?;
        let amz_date = match parsed.date_source {
            "Date" => AmzDate::new(signed_at),
            // It parsed, so it is already `YYYYMMDDTHHMMSSZ`.
            _ => AmzDate::from_parsed(&parsed.date),
        };

        let now = OffsetDateTime::from(now);
        check_time_window(&parsed, signed_at, now, self.config.clock_skew)?;

        self.check_scope(&parsed, amz_date.day())?;

        let payload_hash = match parsed.content_sha256.map(std::str::from_utf8) {
            Some(Ok(UNSIGNED_PAYLOAD))
                if self.config.settings.uri_encoding == crate::UriEncoding::Single =>
            {
                PayloadHash::Unsigned
            }
            Some(Ok(claimed)) => {
                let actual = payload_sha256(request.body);
                if !claimed.as_bytes().eq_ignore_ascii_case(&actual) {
                    return Err(VerifyError::ContentSha256Mismatch);
                }
                PayloadHash::Sha256(actual)
            }
            Some(Err(_)) => return Err(VerifyError::ContentSha256Mismatch),
            None => PayloadHash::Sha256(payload_sha256(request.body)),
        };

        Ok(PendingVerification {
            verifier: self,
            request,
            parsed,
            amz_date,
            signed_at,
            now,
            payload_hash,
        })
    }

    /// Checks the credential scope against the request's day and the verifier's region and
    /// service: a scope that passes is exactly those three (see
    /// [`PendingVerification::scope`]).
    fn check_scope(&self, parsed: &ParsedAuth<'_>, request_day: &str) -> Result<(), VerifyError> {
        let mut parts = text::split(&parsed.credential, b'/');
        let (Some(_key), Some(date), Some(region), Some(service), Some(terminator), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(VerifyError::InvalidParameter {
                message: format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
                    parsed.credential
                ),
            });
        };
        if date != request_day {
            return Err(VerifyError::WrongScope {
                message: format!(
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{request_day}', from '{}'.",
                    parsed.date_source
                ),
            });
        }
        if region != self.config.region {
            return Err(VerifyError::WrongScope {
                message: format!("Credential should be scoped to a valid region, not '{region}'. "),
            });
        }
        if service != self.config.service {
            return Err(VerifyError::WrongScope {
                message: format!(
                    "Credential should be scoped to correct service: '{}'. ",
                    self.config.service
                ),
            });
        }
        if terminator != "aws4_request" {
            return Err(VerifyError::WrongScope {
                message: format!(
                    "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
                ),
            });
        }
        Ok(())
    }
}

/// The signed header list names `host` (or HTTP/2's `:authority`), as AWS requires, and no
/// name twice.
///
/// Each listed name copies all of that header's values into the canonical request, so a name
/// listed N times copies them N times: a few kilobytes of `x;x;x;…` would make the verifier
/// hash megabytes before it can tell the signature is wrong. Signers send the list lower-case
/// and sorted, which the same pass confirms; only other lists are sorted to look for repeats.
fn check_signed_headers(signed_headers: &str) -> Result<(), VerifyError> {
    let mut host_signed = false;
    let mut ascending = true;
    let mut previous: Option<&str> = None;
    for name in text::split(signed_headers, b';') {
        host_signed |= name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case(":authority");
        ascending &= previous.is_none_or(|previous| previous < name);
        previous = Some(name);
    }
    if !host_signed {
        return Err(VerifyError::HostNotSigned);
    }
    // Strictly ascending and without upper case, no name can repeat, even ignoring case.
    if ascending && !text::has_ascii_uppercase(signed_headers.as_bytes()) {
        return Ok(());
    }
    match repeated_name(signed_headers) {
        Some(name) => Err(VerifyError::InvalidParameter {
            message: format!("SignedHeaders must list each header once, not '{name}' twice"),
        }),
        None => Ok(()),
    }
}

/// Every name in the signed header list is a header of the request.
///
/// A signer signs the headers it sends; a listed name the request lacks would be signed as an
/// empty value, which no standard signer produces (AWS then answers a mismatch). Refusing it
/// here names the header, ties every signature to a host that was really sent (`:authority`
/// on HTTP/1.1 is absent), and bounds the work of building the canonical headers. The names
/// are distinct ([`check_signed_headers`] ran first), so at most as many can be present as
/// the request has headers: the loop stops within headers + 1 names, at most headers²
/// comparisons however long the list is.
fn check_signed_headers_present(
    signed_headers: &str,
    request: &HttpRequest<'_>,
) -> Result<(), VerifyError> {
    for name in text::split(signed_headers, b';') {
        if request.header_values(name).next().is_none() {
            return Err(VerifyError::InvalidParameter {
                message: format!(
                    "Header '{name}' is listed in SignedHeaders but is not present in the request"
                ),
            });
        }
    }
    Ok(())
}

/// A header name `signed_headers` lists more than once (ASCII case-insensitively), lower-cased.
fn repeated_name(signed_headers: &str) -> Option<String> {
    let mut all: Vec<String> = text::split(signed_headers, b';')
        .map(str::to_ascii_lowercase)
        .collect();
    all.sort_unstable();
    all.windows(2)
        .find(|pair| pair[0] == pair[1])
        .map(|pair| pair[0].clone())
}

fn window_text(window: Duration) -> String {
    let seconds = window.as_secs();
    if seconds % 60 == 0 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} sec")
    }
}

/// Header signatures are valid within `skew` of the verifier's clock. Presigned requests are
/// valid from `skew` before their date until `X-Amz-Expires` seconds after it.
fn check_time_window(
    parsed: &ParsedAuth<'_>,
    signed_at: OffsetDateTime,
    now: OffsetDateTime,
    skew: Duration,
) -> Result<(), VerifyError> {
    let skew = time::Duration::try_from(skew).unwrap_or(time::Duration::MAX);
    let lifetime = match &parsed.expires {
        None => skew,
        Some(expires) => {
            let seconds: u64 = expires.parse().map_err(|_| VerifyError::InvalidParameter {
                message: format!("X-Amz-Expires should be a number, not '{expires}'"),
            })?;
            if seconds > MAX_PRESIGN_EXPIRES_SECONDS {
                return Err(VerifyError::InvalidParameter {
                    message: format!(
                        "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES_SECONDS}"
                    ),
                });
            }
            // Bounded by a week just above, so this fits.
            time::Duration::seconds(seconds as i64)
        }
    };
    let earliest = now.checked_sub(lifetime).unwrap_or(now);
    if signed_at < earliest {
        return Err(VerifyError::SignatureExpired {
            signed_at: format_amz_date(signed_at),
            earliest: format_amz_date(earliest),
            now: format_amz_date(now),
            window: window_text(lifetime.unsigned_abs()),
        });
    }
    let latest = now.checked_add(skew).unwrap_or(now);
    if signed_at > latest {
        return Err(VerifyError::SignatureNotYetCurrent {
            signed_at: format_amz_date(signed_at),
            latest: format_amz_date(latest),
            now: format_amz_date(now),
            window: window_text(skew.unsigned_abs()),
        });
    }
    Ok(())
}

/// The payload hash the canonical request ends with.
#[derive(Clone, Copy)]
enum PayloadHash {
    /// Hex SHA-256 of the body.
    Sha256([u8; 64]),
    /// `UNSIGNED-PAYLOAD` (S3, when `x-amz-content-sha256` says so).
    Unsigned,
}

impl PayloadHash {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Sha256(hex) => hex,
            Self::Unsigned => UNSIGNED_PAYLOAD.as_bytes(),
        }
    }
}

/// A request that passed every check not needing the secret.
pub struct PendingVerification<'v, 'r> {
    verifier: &'v Verifier,
    request: &'v HttpRequest<'r>,
    parsed: ParsedAuth<'r>,
    amz_date: AmzDate,
    signed_at: OffsetDateTime,
    now: OffsetDateTime,
    payload_hash: PayloadHash,
}

impl std::fmt::Debug for PendingVerification<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingVerification")
            .field("access_key_id", &self.access_key_id())
            .field("scope", &self.scope())
            .finish_non_exhaustive()
    }
}

impl PendingVerification<'_, '_> {
    /// The access key id the request claims to be signed with.
    pub fn access_key_id(&self) -> &str {
        let credential: &str = &self.parsed.credential;
        text::split_once(credential, b'/').map_or(credential, |(key, _)| key)
    }

    /// The session token sent with the request, if any.
    pub fn session_token(&self) -> Option<&str> {
        self.parsed.session_token.as_deref()
    }

    /// The mechanism that carried the signature.
    pub fn mechanism(&self) -> AuthMechanism {
        self.parsed.mechanism
    }

    /// The scope the request was signed for: its checks passed, so it is the request's
    /// day and the verifier's region and service.
    pub fn scope(&self) -> SignedScope {
        SignedScope {
            date: self.amz_date.day().to_owned(),
            region: self.verifier.config.region.clone(),
            service: self.verifier.config.service.clone(),
        }
    }

    /// Computes the signature with `secret` and compares it, in constant time, with the one
    /// sent; on success, what was verified. See [`PendingVerification::check_secret`].
    pub fn verify_with_secret(self, secret: &[u8]) -> Result<VerifiedRequest, VerifyError> {
        self.check_secret(secret)?;
        Ok(VerifiedRequest {
            access_key_id: self.access_key_id().to_owned(),
            session_token: self.parsed.session_token.as_deref().map(str::to_owned),
            scope: self.scope(),
            mechanism: self.parsed.mechanism,
            signed_at: self.signed_at,
            verified_at: self.now,
        })
    }

    /// Computes the signature with `secret` and compares it, in constant time, with the one
    /// sent. Presigned requests are also accepted when signed over `UNSIGNED-PAYLOAD` (as
    /// botocore's `SigV4QueryAuth` does) or with the session token added after signing.
    /// Copies nothing out of the request: for a caller that already knows what it needs
    /// (the server, which has the key's credential).
    pub fn check_secret(&self, secret: &[u8]) -> Result<(), VerifyError> {
        let config = &self.verifier.config;
        let credential = &self.parsed.credential;
        // `credential` ends in "/aws4_request" (checked in `check_scope`); the rest keys the cache.
        let scope_key = &credential[..credential.len() - "/aws4_request".len()];
        let keyed_mac = self.verifier.keys.get_or_derive(
            scope_key,
            secret,
            self.amz_date.day(),
            &config.region,
            &config.service,
        );
        let credential_scope = text::split_once(credential, b'/').map_or(&**credential, |(_, s)| s);
        let uri = canonical_uri_cow(self.request.path, config.settings);
        let signed_headers = SignedHeaderNames::Joined(&self.parsed.signed_headers);
        let presigned = self.parsed.mechanism == AuthMechanism::Presigned;

        // Header signatures have one reading. Presigned ones are also accepted when signed
        // over UNSIGNED-PAYLOAD or with the session token added after signing.
        let variants: &[(bool, bool)] = if presigned {
            &[(false, false), (true, false), (false, true), (true, true)]
        } else {
            &[(false, false)]
        };
        let canonical_query = |token_unsigned: bool| {
            canonical_query_from(&self.parsed.query, |key| {
                // Only a presigned request carries its signature in the query; with an
                // `Authorization` header every query parameter is signed, this one too.
                (presigned && key == "X-Amz-Signature")
                    || (token_unsigned && key == "X-Amz-Security-Token")
            })
        };
        let payload_hash = |unsigned_payload: bool| {
            if unsigned_payload {
                UNSIGNED_PAYLOAD.as_bytes()
            } else {
                self.payload_hash.as_bytes()
            }
        };
        // Reused across the presigned readings; a typical request needs a few hundred bytes.
        let mut canonical = Vec::with_capacity(1024);
        for &(unsigned_payload, token_unsigned) in variants {
            if token_unsigned && self.parsed.session_token.is_none() {
                continue;
            }
            // The canonical request is hashed in one call and the string to sign streamed
            // into an HMAC keyed in advance; hashes stay on the stack as hex.
            let query = canonical_query(token_unsigned);
            canonical.clear();
            write_canonical_request(
                &mut canonical,
                self.request,
                &uri,
                &query,
                signed_headers,
                payload_hash(unsigned_payload),
            );
            let canonical_hash = hex32(&Sha256::digest(canonical.as_slice()).into());
            let parts = string_to_sign_parts(
                self.amz_date.as_bytes(),
                credential_scope.as_bytes(),
                &canonical_hash,
            );
            let expected = hex32(&hmac_sha256_parts(keyed_mac.clone(), &parts));
            if constant_time_eq(&expected, self.parsed.signature.as_bytes()) {
                return Ok(());
            }
        }

        // AWS's mismatch message shows the first reading, in full.
        let query = canonical_query(false);
        canonical.clear();
        write_canonical_request(
            &mut canonical,
            self.request,
            &uri,
            &query,
            signed_headers,
            payload_hash(false),
        );
        let canonical_hash = hex32(&Sha256::digest(canonical.as_slice()).into());
        Err(VerifyError::SignatureMismatch {
            canonical_request: String::from_utf8_lossy(canonical.as_slice()).into_owned(),
            string_to_sign: string_to_sign(
                self.amz_date.as_str(),
                credential_scope,
                hex_str(&canonical_hash),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_signed_header_names_are_found_in_any_order_and_case() {
        for (list, repeated) in [
            ("host", None),
            ("content-type;host;x-amz-date", None),
            ("x-amz-date;host", None),
            ("Host;X-Amz-Date", None),
            ("host;host", Some("host")),
            ("host;x-amz-date;Host", Some("host")),
            ("Host;host", Some("host")),
            ("a;b;host;b", Some("b")),
            ("host;;", Some("")),
        ] {
            let expected = match repeated {
                None => Ok(()),
                Some(name) => Err(VerifyError::InvalidParameter {
                    message: format!(
                        "SignedHeaders must list each header once, not '{name}' twice"
                    ),
                }),
            };
            assert_eq!(check_signed_headers(list), expected, "{list:?}");
        }
        assert_eq!(
            check_signed_headers("x-amz-date;content-type"),
            Err(VerifyError::HostNotSigned)
        );
        assert_eq!(check_signed_headers(":authority;x-amz-date"), Ok(()));
    }
}
