//! The endpoints. Each parses its input into domain ids, authorizes, and delegates to the store.

use std::fmt;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use k9_domain::{AccountId, CustomerId, ExecutionId};
use k9_store::{AuditOutcome, AuditRecord, EnqueueOutcome};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api_error::ApiError;
use crate::auth::Caller;
use crate::request_id::RequestId;
use crate::{cached_or, AppState};

/// `GET /health`: unauthenticated liveness.
pub async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Unknown routes and methods: API Gateway answers these with 403, not 404, so that the
/// API's shape is not revealed to unauthenticated callers.
pub async fn unknown_route() -> ApiError {
    ApiError::missing_authentication_token()
}

fn parse_customer(raw: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(raw).map_err(|e| ApiError::bad_request(format!("Invalid customerId: {e}")))
}

fn parse_account(raw: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(raw).map_err(|e| ApiError::bad_request(format!("Invalid accountId: {e}")))
}

/// The action a caller asks for, for the refusal message and the audit log.
#[derive(Clone, Copy)]
enum Action {
    Trigger,
    Read,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Trigger => "trigger analysis",
            Action::Read => "read analyses",
        }
    }
}

/// What a caller asks to do, for [`authorize`] and its audit row.
struct Ask<'a> {
    request_id: &'a RequestId,
    method: &'static str,
    customer: &'a CustomerId,
    account: &'a AccountId,
    /// Set when the request names one execution.
    execution: Option<&'a ExecutionId>,
    action: Action,
}

impl Ask<'_> {
    /// The resource's path for the audit row, written from the parsed ids: the canonical
    /// form, whatever encoding the request used.
    fn write_path(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/customer/{}/account/{}/analysis",
            self.customer, self.account
        )?;
        match self.execution {
            Some(execution) => write!(f, "/{execution}"),
            None => Ok(()),
        }
    }

    fn write_reason(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} for {}/{}",
            self.action.verb(),
            self.customer,
            self.account
        )
    }
}

/// Formats with a function: the audit row's texts are written straight into its buffer.
struct Written<F>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Written<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// Allows the call only if the caller is an approved principal of the customer and the
/// account is registered to it. The refusal is the same whether or not the customer or account
/// exists.
async fn authorize(state: &AppState, caller: &Caller, ask: Ask<'_>) -> Result<(), ApiError> {
    let Ask {
        request_id,
        method,
        customer,
        account,
        action,
        ..
    } = ask;
    let allowed = cached_or(
        state
            .store
            .is_authorized_now(caller.arn(), customer, account),
        || state.store.is_authorized(caller.arn(), customer, account),
    )
    .await
    .map_err(|error| {
        tracing::error!(%error, "authorization lookup failed");
        ApiError::internal()
    })?;
    caller.mark_audited();
    k9_store::record_audit(
        &*state.store,
        AuditRecord {
            time: OffsetDateTime::now_utc(),
            request_id: request_id.as_str(),
            access_key_id: Some(caller.access_key_id().as_str()),
            principal: Some(caller.arn()),
            method,
            path: &Written(|f: &mut fmt::Formatter<'_>| ask.write_path(f)),
            outcome: if allowed {
                AuditOutcome::Allowed
            } else {
                AuditOutcome::Denied
            },
            reason: &Written(|f: &mut fmt::Formatter<'_>| ask.write_reason(f)),
        },
    )
    .await;
    if allowed {
        Ok(())
    } else {
        Err(ApiError::access_denied(format!(
            "Caller is not authorized to {} for k9 customerId ({customer}) and accountId ({account})",
            action.verb()
        )))
    }
}

/// The trigger request body; both fields must repeat the path.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TriggerBody {
    customer_id: serde_json::Value,
    account_id: serde_json::Value,
}

/// The 202 answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TriggerAnswer {
    customer_id: String,
    account_id: String,
    execution_id: String,
}

fn body_field(value: &serde_json::Value, field: &str, expected: &str) -> Result<(), ApiError> {
    match value.as_str() {
        Some(text) if text == expected => Ok(()),
        Some(text) => Err(ApiError::bad_request(format!(
            "Field '{field}' in the body ({text}) does not match the path ({expected})"
        ))),
        None => Err(ApiError::bad_request(format!(
            "Field '{field}' in the body must be a string equal to the path ({expected})"
        ))),
    }
}

/// `POST /customer/{cid}/account/{aid}/analysis`: queue an analysis; 202 once it is durable.
pub async fn trigger_analysis(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(request_id): Extension<RequestId>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Path((raw_customer, raw_account)) = path?;
    let customer = parse_customer(&raw_customer)?;
    let account = parse_account(&raw_account)?;
    let parsed: TriggerBody = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ApiError::bad_request(format!("Invalid request body: {e}"))
        } else {
            ApiError::bad_request(format!("Request body is not valid JSON: {e}"))
        }
    })?;
    body_field(&parsed.customer_id, "customerId", customer.as_str())?;
    body_field(&parsed.account_id, "accountId", account.as_str())?;
    let ask = Ask {
        request_id: &request_id,
        method: "POST",
        customer: &customer,
        account: &account,
        execution: None,
        action: Action::Trigger,
    };
    authorize(&state, &caller, ask).await?;
    let outcome = state
        .store
        .enqueue_execution(&customer, &account, caller.arn(), OffsetDateTime::now_utc())
        .await
        .map_err(|error| {
            tracing::error!(%error, "enqueue failed");
            ApiError::internal()
        })?;
    let execution = match outcome {
        EnqueueOutcome::Queued(execution) | EnqueueOutcome::Coalesced(execution) => execution,
    };
    let answer = TriggerAnswer {
        customer_id: customer.to_string(),
        account_id: account.to_string(),
        execution_id: execution.execution_id.to_string(),
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// `GET /customer/{cid}/account/{aid}/analysis/{executionId}`.
pub async fn get_analysis(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(request_id): Extension<RequestId>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((raw_customer, raw_account, raw_execution)) = path?;
    let customer = parse_customer(&raw_customer)?;
    let account = parse_account(&raw_account)?;
    let execution_id = ExecutionId::parse(&raw_execution)
        .map_err(|e| ApiError::bad_request(format!("Invalid executionId: {e}")))?;
    let ask = Ask {
        request_id: &request_id,
        method: "GET",
        customer: &customer,
        account: &account,
        execution: Some(&execution_id),
        action: Action::Read,
    };
    authorize(&state, &caller, ask).await?;
    let not_found = || ApiError::not_found(format!("Execution {execution_id} not found"));
    if !execution_id.belongs_to(&customer, &account) {
        return Err(not_found());
    }
    let execution = cached_or(
        state
            .store
            .execution_now(&customer, &account, &execution_id)
            .map(Some),
        || state.store.execution(&customer, &account, &execution_id),
    )
    .await
    .map_err(|error| {
        tracing::error!(%error, "execution lookup failed");
        ApiError::internal()
    })?
    .ok_or_else(not_found)?;
    let json = state.execution_json.of(&execution).map_err(|error| {
        tracing::error!(%error, "execution serialization failed");
        ApiError::internal()
    })?;
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        json,
    )
        .into_response())
}

/// Query parameters of the list endpoint.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    limit: Option<String>,
    next_token: Option<String>,
}

/// Default and largest page sizes of the list endpoint.
const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

/// `GET /customer/{cid}/account/{aid}/analysis[?limit=N&nextToken=T]`: newest first.
pub async fn list_analyses(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(request_id): Extension<RequestId>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path((raw_customer, raw_account)) = path?;
    let Query(query) = query?;
    let customer = parse_customer(&raw_customer)?;
    let account = parse_account(&raw_account)?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid limit '{raw}': expected a whole number from 1 to {MAX_PAGE}"
                ))
            })?,
    };
    let ask = Ask {
        request_id: &request_id,
        method: "GET",
        customer: &customer,
        account: &account,
        execution: None,
        action: Action::Read,
    };
    authorize(&state, &caller, ask).await?;
    let page = state
        .store
        .list_executions(&customer, &account, limit, query.next_token.as_deref())
        .await
        .map_err(|error| match error {
            k9_store::StoreError::InvalidPageToken => {
                ApiError::bad_request("Invalid nextToken: pass the value a previous page returned")
            }
            error => {
                tracing::error!(%error, "list failed");
                ApiError::internal()
            }
        })?;
    Ok(Json(serde_json::json!({
        "executions": page.executions,
        "nextToken": page.next_token,
    }))
    .into_response())
}
