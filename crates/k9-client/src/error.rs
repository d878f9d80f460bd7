//! What can go wrong talking to the k9 API, sorted so that a caller can act on it.

use crate::signing::SigningError;

/// A failed k9 API call.
///
/// Each variant says whose move it is: [`ClientError::Api`] is the API refusing the request
/// (fix the request or the caller's permissions), [`ClientError::Network`] and
/// [`ClientError::Server`] mean the API could not answer (try later, check the endpoint),
/// [`ClientError::Usage`] is a mistake in how the client was called. [`ClientError::class`]
/// condenses this for exit codes.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with a 4xx (or other non-success, non-5xx) status. Never retried.
    #[error("{message}")]
    Api {
        /// The HTTP status, e.g. 403.
        status: u16,
        /// The `x-amzn-ErrorType` header, e.g. `InvalidSignatureException` or
        /// `AccessDeniedException`, without the `:namespace` suffix AWS sometimes adds.
        error_type: Option<String>,
        /// The API's own explanation (the body's `message`), or a description of the status
        /// when the body had none.
        message: String,
        /// The `x-amzn-RequestId` header, to quote to the API's operator.
        request_id: Option<String>,
    },
    /// The API could not be reached: connection refused or reset, DNS, TLS, or timeout,
    /// on every attempt.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The API answered 5xx on every attempt.
    #[error("the k9 API failed with HTTP {status} after {attempts} attempt(s): {message}")]
    Server {
        /// The HTTP status of the last attempt, e.g. 503.
        status: u16,
        /// The API's explanation from the last attempt, if it gave one.
        message: String,
        /// The `x-amzn-RequestId` of the last attempt.
        request_id: Option<String>,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The request could not be signed with the given credentials.
    #[error("cannot sign the request: {0}")]
    Signing(#[from] SigningError),
    /// The API answered with success but a body this client does not understand (for
    /// example the endpoint is not a k9 API).
    #[error("unexpected response from the k9 API: {0}")]
    InvalidResponse(String),
    /// The client was used wrongly: a malformed endpoint URL, an unreadable CA certificate.
    #[error("{0}")]
    Usage(String),
}

/// The broad kind of a [`ClientError`]: what the user has to do about it. The CLI turns it
/// into an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The client was called wrongly; fix the arguments.
    Usage,
    /// The caller is not authenticated or not authorized (401/403), or its credentials could
    /// not be used to sign.
    Auth,
    /// The API could not be reached or failed (network, TLS, timeout, 5xx, garbled answer).
    Unavailable,
    /// The API rejected the request (4xx other than 401/403: bad request, not found, too
    /// large).
    Rejected,
}

impl ClientError {
    /// The broad kind of this failure.
    pub fn class(&self) -> FailureClass {
        match self {
            ClientError::Api {
                status: 401 | 403, ..
            } => FailureClass::Auth,
            ClientError::Api { .. } => FailureClass::Rejected,
            ClientError::Signing(_) => FailureClass::Auth,
            ClientError::Network(_) | ClientError::Server { .. } => FailureClass::Unavailable,
            ClientError::InvalidResponse(_) => FailureClass::Unavailable,
            ClientError::Usage(_) => FailureClass::Usage,
        }
    }

    /// Whether the API refused to authenticate or authorize the caller (HTTP 401 or 403).
    pub fn is_auth_refusal(&self) -> bool {
        matches!(
            self,
            ClientError::Api {
                status: 401 | 403,
                ..
            }
        )
    }

    /// The HTTP status the API answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API's error type (`x-amzn-ErrorType`), e.g. `ExpiredTokenException`.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            ClientError::Api { error_type, .. } => error_type.as_deref(),
            _ => None,
        }
    }

    /// The API's request id (`x-amzn-RequestId`), if it answered with one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ClientError::Api { request_id, .. } | ClientError::Server { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }
}

/// The k9 API could not be reached, on every attempt.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub struct NetworkError {
    /// What went wrong, broadly.
    pub kind: NetworkErrorKind,
    /// The URL that was requested.
    pub url: String,
    /// The underlying error and its causes, as text.
    pub detail: String,
    /// How many attempts were made.
    pub attempts: u32,
}

/// The kind of a [`NetworkError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkErrorKind {
    /// The TCP connection could not be made (refused, unreachable, DNS failure).
    Connect,
    /// The TLS handshake failed, typically because the server's certificate is not trusted.
    Tls,
    /// No answer within the connect or request timeout.
    Timeout,
    /// The connection broke while sending the request or reading the answer.
    Broken,
}

impl NetworkError {
    fn describe(&self) -> String {
        let what = match self.kind {
            NetworkErrorKind::Connect => "cannot connect to",
            NetworkErrorKind::Tls => "TLS handshake failed with",
            NetworkErrorKind::Timeout => "timed out waiting for",
            NetworkErrorKind::Broken => "connection broke talking to",
        };
        format!(
            "{what} the k9 API at {} ({} attempt(s)): {}",
            self.url, self.attempts, self.detail
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> ClientError {
        ClientError::Api {
            status,
            error_type: Some("AccessDeniedException".into()),
            message: "no".into(),
            request_id: Some("rid".into()),
        }
    }

    #[test]
    fn refusals_are_auth_failures() {
        for status in [401, 403] {
            assert!(api(status).is_auth_refusal());
            assert_eq!(api(status).class(), FailureClass::Auth);
        }
    }

    #[test]
    fn other_4xx_are_rejections() {
        for status in [400, 404, 409, 413, 429] {
            assert!(!api(status).is_auth_refusal());
            assert_eq!(api(status).class(), FailureClass::Rejected);
        }
    }

    #[test]
    fn unreachable_and_failing_servers_are_unavailable() {
        let network = ClientError::Network(NetworkError {
            kind: NetworkErrorKind::Connect,
            url: "http://127.0.0.1:1/x".into(),
            detail: "connection refused".into(),
            attempts: 3,
        });
        assert_eq!(network.class(), FailureClass::Unavailable);
        assert!(network
            .to_string()
            .contains("cannot connect to the k9 API at http://127.0.0.1:1/x"));
        let server = ClientError::Server {
            status: 503,
            message: "busy".into(),
            request_id: None,
            attempts: 3,
        };
        assert_eq!(server.class(), FailureClass::Unavailable);
        assert_eq!(server.status(), Some(503));
        assert_eq!(
            ClientError::InvalidResponse("x".into()).class(),
            FailureClass::Unavailable
        );
    }

    #[test]
    fn usage_and_signing() {
        assert_eq!(
            ClientError::Usage("bad url".into()).class(),
            FailureClass::Usage
        );
        let signing: SigningError = crate::signing::sign_request(
            &mut http::Request::new(Vec::new()),
            &aws_credential_types::Credentials::from_keys("a", "b", None),
            "us-east-1",
            "execute-api",
            std::time::SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(ClientError::Signing(signing).class(), FailureClass::Auth);
    }

    #[test]
    fn api_error_displays_the_servers_message_and_exposes_details() {
        let err = api(403);
        assert_eq!(err.to_string(), "no");
        assert_eq!(err.error_type(), Some("AccessDeniedException"));
        assert_eq!(err.request_id(), Some("rid"));
        assert_eq!(err.status(), Some(403));
    }
}
