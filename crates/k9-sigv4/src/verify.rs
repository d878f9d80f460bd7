//! The verifier: AWS's checks, in AWS's order, ending in a constant-time signature compare.

use std::time::{Duration, SystemTime};

use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::auth::{self, AuthMechanism, ParsedAuth};
use crate::canonical::{
    canonical_query_from, canonical_uri, payload_sha256_hex, string_to_sign, CanonicalRequest,
};
use crate::date::{format_amz_date, parse_amz_date, parse_date_header};
use crate::error::VerifyError;
use crate::key::{hmac_sha256, SigningKeyCache};
use crate::request::HttpRequest;
use crate::settings::VerifierConfig;
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
    /// required parameters; `host` signed; date format; clock window; credential scope; body
    /// hash. On success the caller looks up the secret for
    /// [`PendingVerification::access_key_id`] and finishes with
    /// [`PendingVerification::verify_with_secret`].
    pub fn check<'v, 'r>(
        &'v self,
        request: &'v HttpRequest<'r>,
        now: SystemTime,
    ) -> Result<PendingVerification<'v, 'r>, VerifyError> {
        let parsed = auth::parse(request)?;

        let signed_headers: Vec<String> = parsed
            .signed_headers
            .split(';')
            .map(str::to_ascii_lowercase)
            .collect();
        if !signed_headers.iter().any(|h| h == "host" || h == ":authority") {
            return Err(VerifyError::HostNotSigned);
        }

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
        let amz_date = format_amz_date(signed_at);

        let now = OffsetDateTime::from(now);
        check_time_window(&parsed, signed_at, now, self.config.clock_skew)?;

        let scope = self.check_scope(&parsed, &amz_date)?;

        let payload_hash = match request.header_str("x-amz-content-sha256") {
            Some(UNSIGNED_PAYLOAD)
                if self.config.settings.uri_encoding == crate::UriEncoding::Single =>
            {
                UNSIGNED_PAYLOAD.to_owned()
            }
            Some(claimed) => {
                let actual = payload_sha256_hex(request.body);
                if !claimed.eq_ignore_ascii_case(&actual) {
                    return Err(VerifyError::ContentSha256Mismatch);
                }
                actual
            }
            None if request.header_values("x-amz-content-sha256").next().is_some() => {
                return Err(VerifyError::ContentSha256Mismatch)
            }
            None => payload_sha256_hex(request.body),
        };

        Ok(PendingVerification {
            verifier: self,
            request,
            parsed,
            signed_headers,
            amz_date,
            signed_at,
            now,
            scope,
            payload_hash,
        })
    }

    fn check_scope(&self, parsed: &ParsedAuth<'_>, amz_date: &str) -> Result<SignedScope, VerifyError> {
        let parts: Vec<&str> = parsed.credential.split('/').collect();
        let [_key, date, region, service, terminator] = parts[..] else {
            return Err(VerifyError::InvalidParameter {
                message: format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
                    parsed.credential
                ),
            });
        };
        let request_day = &amz_date[..8];
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
        Ok(SignedScope {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }
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
    let (lifetime, lifetime_text) = match &parsed.expires {
        None => (skew, window_text(skew.unsigned_abs())),
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
            let lifetime = time::Duration::seconds(seconds as i64);
            (lifetime, window_text(lifetime.unsigned_abs()))
        }
    };
    let earliest = now.checked_sub(lifetime).unwrap_or(now);
    if signed_at < earliest {
        return Err(VerifyError::SignatureExpired {
            signed_at: format_amz_date(signed_at),
            earliest: format_amz_date(earliest),
            now: format_amz_date(now),
            window: lifetime_text,
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

/// A request that passed every check not needing the secret.
pub struct PendingVerification<'v, 'r> {
    verifier: &'v Verifier,
    request: &'v HttpRequest<'r>,
    parsed: ParsedAuth<'r>,
    signed_headers: Vec<String>,
    amz_date: String,
    signed_at: OffsetDateTime,
    now: OffsetDateTime,
    scope: SignedScope,
    payload_hash: String,
}

impl std::fmt::Debug for PendingVerification<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingVerification")
            .field("access_key_id", &self.access_key_id())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl PendingVerification<'_, '_> {
    /// The access key id the request claims to be signed with.
    pub fn access_key_id(&self) -> &str {
        self.parsed.credential.split('/').next().unwrap_or_default()
    }

    /// The session token sent with the request, if any.
    pub fn session_token(&self) -> Option<&str> {
        self.parsed.session_token.as_deref()
    }

    /// The mechanism that carried the signature.
    pub fn mechanism(&self) -> AuthMechanism {
        self.parsed.mechanism
    }

    /// Computes the signature with `secret` and compares it, in constant time, with the one
    /// sent. Presigned requests are also accepted when signed over `UNSIGNED-PAYLOAD` (as
    /// botocore's `SigV4QueryAuth` does) or with the session token added after signing.
    pub fn verify_with_secret(self, secret: &[u8]) -> Result<VerifiedRequest, VerifyError> {
        let config = &self.verifier.config;
        let credential = &self.parsed.credential;
        // `credential` ends in "/aws4_request" (checked in `check_scope`); the rest keys the cache.
        let scope_key = &credential[..credential.len() - "/aws4_request".len()];
        let signing_key = self.verifier.keys.get_or_derive(
            scope_key,
            secret,
            &self.scope.date,
            &self.scope.region,
            &self.scope.service,
        );
        let credential_scope = &credential[credential.find('/').map_or(0, |i| i + 1)..];
        let uri = canonical_uri(self.request.path, config.settings);
        let header_names: Vec<&str> = self.signed_headers.iter().map(String::as_str).collect();
        let presigned = self.parsed.mechanism == AuthMechanism::Presigned;

        let mut first_attempt = None;
        let variants: &[(bool, bool)] = if presigned {
            &[(false, false), (true, false), (false, true), (true, true)]
        } else {
            &[(false, false)]
        };
        for &(unsigned_payload, token_unsigned) in variants {
            if token_unsigned && self.parsed.session_token.is_none() {
                continue;
            }
            let query = canonical_query_from(&self.parsed.query, |key| {
                key == "X-Amz-Signature" || (token_unsigned && key == "X-Amz-Security-Token")
            });
            let payload_hash = if unsigned_payload {
                UNSIGNED_PAYLOAD
            } else {
                self.payload_hash.as_str()
            };
            let canonical =
                CanonicalRequest::new(self.request, &uri, &query, &header_names, payload_hash);
            let to_sign = string_to_sign(&self.amz_date, credential_scope, &canonical.sha256_hex());
            let expected = hex::encode(hmac_sha256(&signing_key, to_sign.as_bytes()));
            if bool::from(expected.as_bytes().ct_eq(self.parsed.signature.as_bytes())) {
                return Ok(VerifiedRequest {
                    access_key_id: self.access_key_id().to_owned(),
                    session_token: self.parsed.session_token.as_deref().map(str::to_owned),
                    scope: self.scope,
                    mechanism: self.parsed.mechanism,
                    signed_at: self.signed_at,
                    verified_at: self.now,
                });
            }
            if first_attempt.is_none() {
                first_attempt = Some((canonical, to_sign));
            }
        }
        let (canonical, to_sign) = first_attempt.unwrap_or_else(|| {
            unreachable!("the first variant (false, false) is always attempted")
        });
        Err(VerifyError::SignatureMismatch {
            canonical_request: canonical.to_text(),
            string_to_sign: to_sign,
        })
    }
}
