//! Why a request was not verified, with what the HTTP layer needs to answer as AWS does.

use thiserror::Error;

/// The `x-amzn-ErrorType` AWS API Gateway sends with each kind of authentication failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// No `Authorization` header and no `X-Amz-Algorithm` query parameter.
    MissingAuthenticationToken,
    /// The signature is malformed or lacks a part.
    IncompleteSignature,
    /// The signature is well formed but wrong, out of its time window, or mis-scoped.
    InvalidSignature,
    /// The access key id (or session token) is not known.
    UnrecognizedClient,
    /// The session token has expired.
    ExpiredToken,
}

impl ErrorType {
    /// The header value, e.g. `InvalidSignatureException`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
        }
    }
}

/// A verification failure. `Display` is AWS's message text for it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// Both an `Authorization` header and an `X-Amz-Algorithm` query parameter.
    #[error("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")]
    MultipleAuthMechanisms,
    /// The `Authorization` header (or a component of it) is not a list of `key=value` pairs.
    /// AWS hashes the header instead of echoing it, since it may hold a bearer secret.
    #[error("Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '{header_sha256_base64}'.")]
    MalformedAuthorization {
        /// Base64 of the SHA-256 of the header value.
        header_sha256_base64: String,
    },
    /// Required parameters are missing; `message` lists each, as AWS does.
    #[error("{message}")]
    MissingParameters {
        /// AWS's message, one sentence per missing parameter.
        message: String,
    },
    /// A parameter is present but unusable (algorithm, expiry, credential format, date format).
    #[error("{message}")]
    InvalidParameter {
        /// AWS's message.
        message: String,
    },
    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// The request is older than the clock window allows.
    #[error("Signature expired: {signed_at} is now earlier than {earliest} ({now} - {window}.)")]
    SignatureExpired {
        /// The request's date.
        signed_at: String,
        /// The oldest date accepted now.
        earliest: String,
        /// The verifier's clock.
        now: String,
        /// The window, e.g. `5 min`.
        window: String,
    },
    /// The request is dated further in the future than the clock window allows.
    #[error(
        "Signature not yet current: {signed_at} is still later than {latest} ({now} + {window}.)"
    )]
    SignatureNotYetCurrent {
        /// The request's date.
        signed_at: String,
        /// The latest date accepted now.
        latest: String,
        /// The verifier's clock.
        now: String,
        /// The window, e.g. `5 min`.
        window: String,
    },
    /// The credential scope names another date, region, service or terminator.
    #[error("{message}")]
    WrongScope {
        /// AWS's message.
        message: String,
    },
    /// `x-amz-content-sha256` does not match the body.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// The access key id is unknown, inactive, or its session token is wrong.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The session token has expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The signature does not match. The message echoes what the verifier computed, as AWS
    /// does, so a client author can diff it against their own.
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n")]
    SignatureMismatch {
        /// The canonical request the verifier built.
        canonical_request: String,
        /// The string to sign the verifier built.
        string_to_sign: String,
    },
}

impl VerifyError {
    /// The `x-amzn-ErrorType` to answer with.
    pub fn error_type(&self) -> ErrorType {
        match self {
            Self::MissingAuthenticationToken => ErrorType::MissingAuthenticationToken,
            Self::MultipleAuthMechanisms
            | Self::MalformedAuthorization { .. }
            | Self::MissingParameters { .. }
            | Self::InvalidParameter { .. }
            | Self::HostNotSigned => ErrorType::IncompleteSignature,
            Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::WrongScope { .. }
            | Self::ContentSha256Mismatch
            | Self::SignatureMismatch { .. } => ErrorType::InvalidSignature,
            Self::UnrecognizedClient => ErrorType::UnrecognizedClient,
            Self::ExpiredToken => ErrorType::ExpiredToken,
        }
    }

    /// A short, stable reason for logs and audit rows (no request data).
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "missing_authentication",
            Self::MultipleAuthMechanisms => "multiple_auth_mechanisms",
            Self::MalformedAuthorization { .. } => "malformed_authorization",
            Self::MissingParameters { .. } => "missing_parameters",
            Self::InvalidParameter { .. } => "invalid_parameter",
            Self::HostNotSigned => "host_not_signed",
            Self::SignatureExpired { .. } => "signature_expired",
            Self::SignatureNotYetCurrent { .. } => "signature_not_yet_current",
            Self::WrongScope { .. } => "wrong_scope",
            Self::ContentSha256Mismatch => "content_sha256_mismatch",
            Self::UnrecognizedClient => "unrecognized_client",
            Self::ExpiredToken => "expired_token",
            Self::SignatureMismatch { .. } => "signature_mismatch",
        }
    }
}
