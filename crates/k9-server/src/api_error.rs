//! Error responses shaped like API Gateway's: a status, `x-amzn-ErrorType`, and
//! `{"message": ...}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `x-amzn-ErrorType`, e.g. `InvalidSignatureException`.
    pub error_type: &'static str,
    /// The message returned to the client.
    pub message: String,
}

impl ApiError {
    /// 403 `Missing Authentication Token`, API Gateway's answer to unsigned requests and to
    /// unknown routes.
    pub fn missing_authentication_token() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error_type: "MissingAuthenticationTokenException",
            message: "Missing Authentication Token".into(),
        }
    }

    /// 400 with a message naming what is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error_type: "BadRequestException",
            message: message.into(),
        }
    }

    /// 403 for an authenticated caller that may not act for the customer.
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error_type: "AccessDeniedException",
            message: message.into(),
        }
    }

    /// 404 for something that does not exist (only said to authorized callers).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            error_type: "NotFoundException",
            message: message.into(),
        }
    }

    /// 413 for a body over the limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            error_type: "RequestEntityTooLargeException",
            message: format!("Request body is larger than the limit of {limit} bytes"),
        }
    }

    /// 500; the details go to the log, not to the client.
    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error_type: "InternalServerErrorException",
            message: "Internal server error".into(),
        }
    }
}

impl From<&k9_sigv4::VerifyError> for ApiError {
    fn from(error: &k9_sigv4::VerifyError) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error_type: error.error_type().as_str(),
            message: error.to_string(),
        }
    }
}

/// A query string axum could not read into the endpoint's parameters (e.g. `limit` twice).
impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Self::bad_request(format!("Invalid query string: {}", rejection.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "message": self.message })),
        )
            .into_response();
        response.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.error_type),
        );
        response
    }
}
