//! The authenticated API as one service: route, authenticate, handle, audit.
//!
//! Every path but `/health` reaches this service (it is the router's fallback). It
//! matches the route first ([`Route::parse`]): an unknown route or method answers
//! `Missing Authentication Token` before any signature is looked at, as API Gateway does.
//! A known route is authenticated ([`authenticate`]), and only then handed to its
//! endpoint, with the verified [`Caller`](crate::Caller) by reference.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower::Service;

use crate::api_error::ApiError;
use crate::auth::{audit_authenticated, authenticate, Authenticated};
use crate::handlers;
use crate::request_id::RequestId;
use crate::routes::Route;
use crate::AppState;

/// The service serving the authenticated endpoints (see the module's documentation).
#[derive(Clone)]
pub(crate) struct Api {
    state: AppState,
}

impl Api {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl Service<Request> for Api {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move { Ok(serve(&state, request).await) })
    }
}

async fn serve(state: &AppState, request: Request) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .copied()
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let Some(route) = Route::parse(&parts.method, parts.uri.path()) else {
        return ApiError::missing_authentication_token().into_response();
    };
    let Authenticated { caller, body, now } =
        match authenticate(state, &parts, body, &request_id).await {
            Ok(authenticated) => authenticated,
            Err(refusal) => return refusal,
        };
    let response = handlers::handle(state, &caller, &request_id, &route, &parts.uri, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    audit_authenticated(state, &parts, &caller, &request_id, now).await;
    response
}
