//! The authentication layer: the only place a signature is checked.
//!
//! Order, as API Gateway: body read (64 KiB limit), the secret-free SigV4 checks, key lookup
//! (unknown, inactive, wrong or expired session token), then the signature compare.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::response::{IntoResponse, Response};
use k9_domain::{AccessKeyId, AccountId, PrincipalArn};
use k9_sigv4::{HttpRequest, VerifyError};
use k9_store::{AuditOutcome, AuditRecord, Credential, CredentialKind, KeyStatus};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use tower::{Layer, Service};

use crate::api_error::ApiError;
use crate::request_id::RequestId;
use crate::{cached_or, AppState, MAX_BODY_BYTES};

/// The verified caller, handed to handlers as a request extension. Cheap to clone: one
/// reference count of this request's own, so that the clones the layers and extractors
/// make do not touch the store's credential, which every request with the same key shares
/// (a count both server threads bump moves between their caches at every change).
#[derive(Clone)]
pub struct Caller {
    state: Arc<CallerState>,
}

struct CallerState {
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
        &self.state.credential.principal
    }

    /// The access key that signed.
    pub fn access_key_id(&self) -> &AccessKeyId {
        &self.state.credential.access_key_id
    }

    /// The caller's AWS account.
    pub fn account(&self) -> &AccountId {
        self.state.credential.principal.account()
    }

    /// Records that this request's audit row has been written by the handler.
    pub fn mark_audited(&self) {
        self.state.audited.store(true, Ordering::Relaxed);
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

/// The authentication layer: wraps every authenticated route so that its handler runs only
/// for a request [`authenticate`] has verified.
#[derive(Clone)]
pub(crate) struct AuthLayer {
    state: AppState,
}

impl AuthLayer {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            state: self.state.clone(),
        }
    }
}

/// [`AuthLayer`]'s service. Written out rather than built with `axum::middleware::from_fn`,
/// which boxes the inner service again for every request: this runs on every request.
#[derive(Clone)]
pub(crate) struct Authenticate<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Authenticate<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service polled ready is the one to call; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move { Ok(authenticate(state, request, inner).await) })
    }
}

/// Verifies the request's signature and resolves the caller, or answers 403 as API Gateway
/// does. Every decision is written to the audit log (never a secret or a signature).
async fn authenticate<S>(state: AppState, request: Request, mut next: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .copied()
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let declared_length = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return ApiError::payload_too_large(MAX_BODY_BYTES).into_response();
    }
    // A request without a body (most GETs) has nothing to read.
    let body = if body.is_end_stream() {
        bytes::Bytes::new()
    } else {
        match read_body(body).await {
            Ok(body) => body,
            Err(error) => return error.into_response(),
        }
    };

    // Kept (cheaply: shared buffers) for the audit row, which most requests leave to the
    // handler.
    let (method, uri) = (parts.method.clone(), parts.uri.clone());
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
            method: method.as_str(),
            path: uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body: &body,
        };
        verify(&state, &wire, now).await
    };

    match outcome {
        Ok(caller) => {
            state.store.record_key_use(caller.access_key_id(), now);
            // An empty body needs no boxed buffer.
            let body = if body.is_empty() {
                Body::empty()
            } else {
                Body::from(body)
            };
            let mut request = Request::from_parts(parts, body);
            request.extensions_mut().insert(caller.clone());
            let response = match next.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if !caller.state.audited.load(Ordering::Relaxed) {
                k9_store::record_audit(
                    &*state.store,
                    AuditRecord {
                        time: now,
                        request_id: request_id.as_str(),
                        access_key_id: Some(caller.access_key_id().as_str()),
                        principal: Some(caller.arn()),
                        method: method.as_str(),
                        path: &uri.path(),
                        outcome: AuditOutcome::Authenticated,
                        reason: &"signature verified",
                    },
                )
                .await;
            }
            response
        }
        Err(Rejection {
            error,
            access_key_id,
        }) => {
            let (request_id, path) = (request_id.as_str(), uri.path());
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
                    method: method.as_str(),
                    path: &path,
                    outcome: AuditOutcome::AuthenticationFailed,
                    reason: &error.reason_code(),
                },
            )
            .await;
            ApiError::from(&error).into_response()
        }
    }
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
        state: Arc::new(CallerState {
            credential,
            audited: AtomicBool::new(false),
        }),
    })
}
