//! Authentication: the only place a signature is checked.
//!
//! Order, as API Gateway: body read (64 KiB limit), the secret-free SigV4 checks, key lookup
//! (unknown, inactive, wrong or expired session token), then the signature compare.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::http::header::CONTENT_LENGTH;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use k9_domain::{AccessKeyId, AccountId, PrincipalArn};
use k9_sigv4::{HttpRequest, VerifyError};
use k9_store::{AuditOutcome, AuditRecord, Credential, CredentialKind, KeyStatus};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::api_error::ApiError;
use crate::request_id::RequestId;
use crate::{cached_or, AppState, MAX_BODY_BYTES};

/// The verified caller, handed to handlers by reference: only [`authenticate`] makes one.
pub struct Caller {
    credential: Arc<Credential>,
    /// Set once a handler has written this request's audit row (its authorization
    /// decision), which then also stands for the successful authentication: one row per
    /// request, not two.
    audited: AtomicBool,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("arn", self.arn())
            .field("access_key_id", self.access_key_id())
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// Who signed: an IAM user, or an assumed-role session.
    pub fn arn(&self) -> &PrincipalArn {
        &self.credential.principal
    }

    /// The access key that signed.
    pub fn access_key_id(&self) -> &AccessKeyId {
        &self.credential.access_key_id
    }

    /// The caller's AWS account.
    pub fn account(&self) -> &AccountId {
        self.credential.principal.account()
    }

    /// Records that this request's audit row has been written by the handler.
    pub(crate) fn mark_audited(&self) {
        self.audited.store(true, Ordering::Relaxed);
    }

    /// Whether a handler has written this request's audit row.
    pub(crate) fn audited(&self) -> bool {
        self.audited.load(Ordering::Relaxed)
    }
}

/// Reads the body up to the limit: `Err` is the 413 (or 400 for a broken body) to answer.
async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(current) = source {
                if current.is::<http_body_util::LengthLimitError>() {
                    return ApiError::payload_too_large(MAX_BODY_BYTES);
                }
                source = current.source();
            }
            ApiError::bad_request("The request body could not be read")
        })
}

struct Rejection {
    error: VerifyError,
    access_key_id: Option<String>,
}

impl From<VerifyError> for Rejection {
    fn from(error: VerifyError) -> Self {
        Self {
            error,
            access_key_id: None,
        }
    }
}

/// A request that passed authentication.
pub(crate) struct Authenticated {
    pub(crate) caller: Caller,
    /// The whole body, read within the limit.
    pub(crate) body: bytes::Bytes,
    /// When the request was authenticated (once its body was read): the time its clock
    /// window was checked against, and its audit row's time.
    pub(crate) now: OffsetDateTime,
}

/// Verifies the request's signature and resolves the caller, or answers 403 (413, 400) as
/// API Gateway does. A refusal is written to the audit log here (never a secret or a
/// signature); a success is the caller's to audit once the request has been handled (see
/// [`Caller::mark_audited`]).
pub(crate) async fn authenticate(
    state: &AppState,
    parts: &Parts,
    body: Body,
    request_id: &RequestId,
) -> Result<Authenticated, Response> {
    let declared_length = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES).into_response());
    }
    // A request without a body (most GETs) has nothing to read.
    let body = if body.is_end_stream() {
        bytes::Bytes::new()
    } else {
        read_body(body).await.map_err(IntoResponse::into_response)?
    };
    let now = OffsetDateTime::now_utc();

    let outcome = {
        let mut headers: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect();
        // HTTP/2 carries the host as the `:authority` pseudo-header, which is not in the
        // header map: offer it under both names, as signers sign one or the other.
        let authority = parts.uri.authority().map(|a| a.as_str().to_owned());
        if let Some(authority) = &authority {
            if !parts.headers.contains_key("host") {
                headers.push(("host", authority.as_bytes()));
            }
            if parts.version == http::Version::HTTP_2 {
                headers.push((":authority", authority.as_bytes()));
            }
        }
        let wire = HttpRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body: &body,
        };
        verify(state, &wire, now).await
    };

    match outcome {
        Ok(caller) => {
            state.store.record_key_use(caller.access_key_id(), now);
            Ok(Authenticated { caller, body, now })
        }
        Err(Rejection {
            error,
            access_key_id,
        }) => {
            let (request_id, method, path) =
                (request_id.as_str(), parts.method.as_str(), parts.uri.path());
            if let VerifyError::SignatureMismatch { .. } = error {
                tracing::info!(%request_id, %method, %path, reason = error.reason_code(), "authentication failed");
            } else {
                tracing::debug!(%request_id, %method, %path, reason = error.reason_code(), "authentication failed");
            }
            k9_store::record_audit(
                &*state.store,
                AuditRecord {
                    time: now,
                    request_id,
                    access_key_id: access_key_id.as_deref(),
                    principal: None,
                    method,
                    path: &path,
                    outcome: AuditOutcome::AuthenticationFailed,
                    reason: &error.reason_code(),
                },
            )
            .await;
            Err(ApiError::from(&error).into_response())
        }
    }
}

/// Writes the audit row of a successful authentication, unless the handler has already
/// written one for this request (its authorization decision, which implies it).
pub(crate) async fn audit_authenticated(
    state: &AppState,
    parts: &Parts,
    caller: &Caller,
    request_id: &RequestId,
    now: OffsetDateTime,
) {
    if caller.audited() {
        return;
    }
    k9_store::record_audit(
        &*state.store,
        AuditRecord {
            time: now,
            request_id: request_id.as_str(),
            access_key_id: Some(caller.access_key_id().as_str()),
            principal: Some(caller.arn()),
            method: parts.method.as_str(),
            path: &parts.uri.path(),
            outcome: AuditOutcome::Authenticated,
            reason: &"signature verified",
        },
    )
    .await;
}

async fn verify(
    state: &AppState,
    wire: &HttpRequest<'_>,
    now: OffsetDateTime,
) -> Result<Caller, Rejection> {
    let pending = state.verifier.check(wire, SystemTime::from(now))?;
    // The claimed key is copied out only for a refusal's audit row.
    let claimed_key = pending.access_key_id();
    let refusal = |error| Rejection {
        error,
        access_key_id: Some(claimed_key.to_owned()),
    };
    let unrecognized = || refusal(VerifyError::UnrecognizedClient);
    let access_key_id = AccessKeyId::parse(claimed_key).map_err(|_| unrecognized())?;
    let looked_up = cached_or(state.store.credential_now(&access_key_id).map(Some), || {
        state.store.credential(&access_key_id)
    });
    let credential = match looked_up.await {
        Ok(Some(credential)) => credential,
        Ok(None) => return Err(unrecognized()),
        Err(error) => {
            tracing::error!(%error, "credential lookup failed");
            // Fail closed; the client sees an authentication failure, not a 500 that would
            // reveal the key exists.
            return Err(unrecognized());
        }
    };
    match &credential.kind {
        CredentialKind::LongTerm { status } => {
            if *status != KeyStatus::Active || pending.session_token().is_some() {
                return Err(unrecognized());
            }
        }
        CredentialKind::Temporary {
            session_token_sha256,
            expires_at,
        } => {
            let token = pending.session_token().ok_or_else(unrecognized)?;
            let sent: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            if !bool::from(sent.ct_eq(session_token_sha256)) {
                return Err(unrecognized());
            }
            if *expires_at <= now {
                return Err(refusal(VerifyError::ExpiredToken));
            }
        }
    }
    pending
        .check_secret(credential.secret_access_key.expose().as_bytes())
        .map_err(refusal)?;
    Ok(Caller {
        credential,
        audited: AtomicBool::new(false),
    })
}
