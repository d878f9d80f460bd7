//! AWS Signature Version 4 (SigV4), both sides: a signer and a verifier that agree with AWS
//! byte for byte.
//!
//! This crate is pure: no I/O, no async, no global state. The verifier never sees a database:
//! the caller either supplies a [`SecretLookup`] or uses the two-phase API
//! ([`Verifier::check`] then [`PendingVerification::verify_with_secret`]) so that an async
//! caller can look the secret up itself between the two phases.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use k9_sigv4::{sign_with_header, Credentials, HttpRequest, SigningParams, Verifier, VerifierConfig};
//!
//! let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_668_124_800);
//! let headers = [("host", b"api.example.com".as_slice())];
//! let request = HttpRequest { method: "GET", path: "/health", query: "", headers: &headers, body: b"" };
//! let params = SigningParams::new("us-east-1", "execute-api", now);
//! let signed = sign_with_header(&request, &creds, &params).unwrap();
//!
//! let mut all_headers: Vec<(&str, &[u8])> = headers.to_vec();
//! for (name, value) in &signed.headers {
//!     all_headers.push((name, value.as_bytes()));
//! }
//! let request = HttpRequest { headers: &all_headers, ..request };
//! let verifier = Verifier::new(VerifierConfig::new("us-east-1", "execute-api"));
//! let pending = verifier.check(&request, now).unwrap();
//! assert_eq!(pending.access_key_id(), "AKIDEXAMPLE");
//! let verified = pending.verify_with_secret(b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").unwrap();
//! assert_eq!(verified.access_key_id, "AKIDEXAMPLE");
//! ```

mod auth;
mod canonical;
mod date;
mod encoding;
mod error;
mod key;
mod request;
mod settings;
mod sign;
mod text;
mod verify;

pub use auth::AuthMechanism;
pub use canonical::{
    canonical_query_string, canonical_uri, CanonicalRequest, EMPTY_PAYLOAD_SHA256,
};
pub use date::{format_amz_date, parse_amz_date};
pub use error::{ErrorType, VerifyError};
pub use key::{derive_signing_key, SigningKeyCache};
pub use request::HttpRequest;
pub use settings::{PathNormalization, SigningSettings, UriEncoding, VerifierConfig};
pub use sign::{
    presign, sign_headers_cached, sign_with_header, sign_with_header_cached, Credentials,
    PresignedOutput, SignError, SignatureHeaders, SignedOutput, SigningParams,
};
pub use verify::{
    LookupError, PendingVerification, SecretLookup, SignedScope, VerifiedRequest, Verifier,
};

/// The only algorithm SigV4 defines for HMAC signing.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Payload hash value meaning "the body is not signed" (S3 and presigned URLs).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The longest validity AWS allows for a presigned request: one week, in seconds.
pub const MAX_PRESIGN_EXPIRES_SECONDS: u64 = 604_800;
