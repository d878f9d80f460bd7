//! The k9 API server: one authentication step and a few short handlers.
//!
//! Every request for a path other than `/health` goes to one service ([`api`]): it matches
//! the route, then [`auth::authenticate`] verifies the SigV4 signature with `k9-sigv4` and
//! resolves the caller; handlers receive the verified [`Caller`] and never see an
//! unauthenticated request. Unknown routes and methods answer as API Gateway does: 403
//! `Missing Authentication Token`, before any authentication.

mod api;
mod api_error;
mod auth;
mod execution_json;
mod handlers;
mod request_id;
pub mod retention;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::any;
use axum::{middleware, Router};
use k9_sigv4::{Verifier, VerifierConfig};
use k9_store::Store;

pub use api_error::ApiError;
pub use auth::Caller;

/// The signing service every k9 request is scoped to, as for AWS API Gateway.
pub const SIGNING_SERVICE: &str = "execute-api";
/// The largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Shared state handed to authentication and the handlers. One reference count for all of
/// it: the state is cloned for every request.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

/// What [`AppState`] shares.
pub struct SharedState {
    /// Where everything is kept.
    pub store: Arc<dyn Store>,
    /// The SigV4 verifier (holds the derived-key cache).
    pub verifier: Verifier,
    /// JSON of recently served executions.
    execution_json: execution_json::ExecutionJson,
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    /// State for a server that accepts requests signed for `region` and `execute-api`, with
    /// AWS's 5-minute clock window.
    pub fn new(store: Arc<dyn Store>, region: &str) -> Self {
        Self::with_verifier_config(store, VerifierConfig::new(region, SIGNING_SERVICE))
    }

    /// State with an explicit verifier configuration (tests use a different clock window).
    pub fn with_verifier_config(store: Arc<dyn Store>, config: VerifierConfig) -> Self {
        Self(Arc::new(SharedState {
            store,
            verifier: Verifier::new(config),
            execution_json: execution_json::ExecutionJson::default(),
        }))
    }
}

/// The store's answer from memory when it has one (a `Store::*_now` method), else the
/// awaited lookup: an `async` call through `dyn Store` costs an allocation however quick its
/// answer, and these lookups run on every request.
pub(crate) async fn cached_or<T, F>(
    cached: Option<T>,
    lookup: impl FnOnce() -> F,
) -> Result<T, k9_store::StoreError>
where
    F: std::future::Future<Output = Result<T, k9_store::StoreError>>,
{
    match cached {
        Some(answer) => Ok(answer),
        None => lookup().await,
    }
}

/// The whole HTTP API: `/health`, and every other path to the authenticated API, which
/// routes its endpoints itself (see `routes.rs`):
///
/// - `POST /customer/{customer_id}/account/{account_id}/analysis`: trigger an analysis;
/// - `GET  /customer/{customer_id}/account/{account_id}/analysis`: list executions;
/// - `GET  /customer/{customer_id}/account/{account_id}/analysis/{execution_id}`: one.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", any(handlers::health))
        .fallback_service(api::Api::new(state.clone()))
        .layer(middleware::from_fn(request_id::assign_request_id))
        .with_state(state)
}

/// TLS certificate and key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The TLS files could not be loaded.
    #[error("cannot load TLS certificate/key: {0}")]
    Tls(std::io::Error),
    /// The listener failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves the API on `listener` until `shutdown` completes, then stops accepting connections
/// and lets in-flight requests finish (for up to `drain`).
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<TlsFiles>,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> Result<(), ServeError> {
    listener.set_nonblocking(true)?;
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let shutdown_handle = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        shutdown_handle.graceful_shutdown(Some(drain));
    });
    match tls {
        None => {
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(app)
                .await?
        }
        Some(files) => {
            // Several rustls crypto providers may be compiled in (the client side brings its
            // own); pick one explicitly. Failing means one is already installed, which is fine.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(ServeError::Tls)?;
            axum_server::from_tcp_rustls(listener, config)
                .handle(handle)
                .serve(app)
                .await?
        }
    }
    Ok(())
}
