//! Settings that differ between AWS services, as plain documented values.

use std::time::Duration;

/// How the path is percent-encoded in the canonical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UriEncoding {
    /// Every service but S3: the path *as it appears on the wire* (already percent-encoded) is
    /// encoded once more, so `%20` becomes `%2520` and `@` becomes `%40`. API Gateway
    /// (`execute-api`) does this, and so do the SDK signers by default.
    #[default]
    Double,
    /// S3: the path is decoded and encoded once.
    Single,
}

/// Whether RFC 3986 dot segments and empty segments (`//`) are removed from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathNormalization {
    /// Every service but S3.
    #[default]
    Enabled,
    /// S3: object keys may legitimately contain `.` and `//`.
    Disabled,
}

/// Canonicalisation settings shared by the signer and the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigningSettings {
    /// Path encoding; see [`UriEncoding`].
    pub uri_encoding: UriEncoding,
    /// Path normalisation; see [`PathNormalization`].
    pub path_normalization: PathNormalization,
}

impl SigningSettings {
    /// The settings S3 uses: single encoding, no normalisation.
    pub fn s3() -> Self {
        Self {
            uri_encoding: UriEncoding::Single,
            path_normalization: PathNormalization::Disabled,
        }
    }
}

/// What a [`crate::Verifier`] accepts.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The region requests must be scoped to, e.g. `us-east-1`.
    pub region: String,
    /// The service requests must be scoped to, e.g. `execute-api`.
    pub service: String,
    /// How far the request's date may be from the verifier's clock, either way.
    /// AWS API Gateway uses 5 minutes.
    pub clock_skew: Duration,
    /// Canonicalisation settings; the defaults are those of `execute-api`.
    pub settings: SigningSettings,
    /// How many derived signing keys to keep (one per access key, day, region and service).
    pub key_cache_capacity: usize,
}

impl VerifierConfig {
    /// A configuration for `service` in `region` with AWS's defaults.
    pub fn new(region: impl Into<String>, service: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            service: service.into(),
            clock_skew: Duration::from_secs(300),
            settings: SigningSettings::default(),
            key_cache_capacity: 4096,
        }
    }
}
