//! The endpoints. Each parses its input into domain ids, authorizes, and delegates to the store.

use std::fmt;

use axum::extract::Query;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::http::{HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use k9_domain::{AccountId, CustomerId, ExecutionId};
use k9_store::{AuditOutcome, AuditRecord, DenialReason, EnqueueOutcome};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api_error::ApiError;
use crate::auth::Caller;
use crate::request_id::RequestId;
use crate::routes::{decoded, Endpoint, Route};
use crate::{cached_or, AppState};

/// `GET /health`: unauthenticated liveness. Another method answers as an unknown route
/// does, and (this handler taking every method) without the `Allow` header axum's method
/// router would add, which would reveal what the path accepts.
pub async fn health(method: Method) -> Response {
    if method == Method::GET || method == Method::HEAD {
        Json(serde_json::json!({ "status": "ok" })).into_response()
    } else {
        ApiError::missing_authentication_token().into_response()
    }
}

/// Serves an authenticated request for `route`: its parameters are decoded and parsed into
/// domain ids, then the endpoint authorizes the caller and does its work.
pub(crate) async fn handle(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    route: &Route<'_>,
    uri: &Uri,
    body: &[u8],
) -> Result<Response, ApiError> {
    // Checked in the order axum's extractors did (every path segment decoded, then the
    // query string, then the ids parsed), so each bad request keeps the 400 it had.
    let raw_customer = decoded(route.customer, "customerId")?;
    let raw_account = decoded(route.account, "accountId")?;
    let ids = || Ok::<_, ApiError>((parse_customer(&raw_customer)?, parse_account(&raw_account)?));
    let served = Served {
        state,
        caller,
        request_id,
        method: route.method,
    };
    match route.endpoint {
        Endpoint::Trigger => {
            let (customer, account) = ids()?;
            trigger_analysis(&served, customer, account, body).await
        }
        Endpoint::List => {
            let Query(query) = Query::<ListQuery>::try_from_uri(uri)?;
            let (customer, account) = ids()?;
            list_analyses(&served, customer, account, query).await
        }
        Endpoint::Get { execution } => {
            let raw_execution = decoded(execution, "executionId")?;
            let (customer, account) = ids()?;
            let execution_id = ExecutionId::parse(&raw_execution)
                .map_err(|e| ApiError::bad_request(format!("Invalid executionId: {e}")))?;
            get_analysis(&served, customer, account, execution_id).await
        }
    }
}

/// What an endpoint is served with: the server, the verified caller, and the request's id
/// and method (for its audit row).
struct Served<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    request_id: &'a RequestId,
    method: &'static str,
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

    /// What was asked, and for a refusal why (`trigger analysis for C123456/123456789012:
    /// caller not approved for the customer`).
    fn write_reason(
        &self,
        f: &mut fmt::Formatter<'_>,
        denial: Option<DenialReason>,
    ) -> fmt::Result {
        write!(
            f,
            "{} for {}/{}",
            self.action.verb(),
            self.customer,
            self.account
        )?;
        match denial {
            Some(reason) => write!(f, ": {}", reason.as_str()),
            None => Ok(()),
        }
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
async fn authorize(served: &Served<'_>, ask: Ask<'_>) -> Result<(), ApiError> {
    let Served {
        state,
        caller,
        request_id,
        method,
    } = *served;
    let Ask {
        customer,
        account,
        action,
        ..
    } = ask;
    let decision = cached_or(
        state
            .store
            .authorization_now(caller.arn(), customer, account),
        || state.store.authorization(caller.arn(), customer, account),
    )
    .await
    .map_err(|error| {
        tracing::error!(%error, "authorization lookup failed");
        ApiError::internal()
    })?;
    let allowed = decision.is_allowed();
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
            // Only the audit log learns why: the caller's answer is the same whatever it is.
            reason: &Written(|f: &mut fmt::Formatter<'_>| {
                ask.write_reason(f, decision.denial_reason())
            }),
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
async fn trigger_analysis(
    served: &Served<'_>,
    customer: CustomerId,
    account: AccountId,
    body: &[u8],
) -> Result<Response, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(format!(
            "Request body is empty: expected {{\"customerId\": \"{customer}\", \"accountId\": \"{account}\"}}"
        )));
    }
    let parsed: TriggerBody = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::bad_request(format!("Invalid request body: {e}"))
        } else {
            ApiError::bad_request(format!("Request body is not valid JSON: {e}"))
        }
    })?;
    body_field(&parsed.customer_id, "customerId", customer.as_str())?;
    body_field(&parsed.account_id, "accountId", account.as_str())?;
    let ask = Ask {
        customer: &customer,
        account: &account,
        execution: None,
        action: Action::Trigger,
    };
    authorize(served, ask).await?;
    let outcome = served
        .state
        .store
        .enqueue_execution(
            &customer,
            &account,
            served.caller.arn(),
            OffsetDateTime::now_utc(),
        )
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
async fn get_analysis(
    served: &Served<'_>,
    customer: CustomerId,
    account: AccountId,
    execution_id: ExecutionId,
) -> Result<Response, ApiError> {
    let ask = Ask {
        customer: &customer,
        account: &account,
        execution: Some(&execution_id),
        action: Action::Read,
    };
    authorize(served, ask).await?;
    let not_found = || ApiError::not_found(format!("Execution {execution_id} not found"));
    if !execution_id.belongs_to(&customer, &account) {
        return Err(not_found());
    }
    let store = &served.state.store;
    let execution = cached_or(
        store
            .execution_now(&customer, &account, &execution_id)
            .map(Some),
        || store.execution(&customer, &account, &execution_id),
    )
    .await
    .map_err(|error| {
        tracing::error!(%error, "execution lookup failed");
        ApiError::internal()
    })?
    .ok_or_else(not_found)?;
    let json = served
        .state
        .execution_json
        .of(&execution)
        .map_err(|error| {
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
pub(crate) struct ListQuery {
    limit: Option<String>,
    next_token: Option<String>,
}

/// Default and largest page sizes of the list endpoint.
const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

/// `GET /customer/{cid}/account/{aid}/analysis[?limit=N&nextToken=T]`: newest first.
async fn list_analyses(
    served: &Served<'_>,
    customer: CustomerId,
    account: AccountId,
    query: ListQuery,
) -> Result<Response, ApiError> {
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
        customer: &customer,
        account: &account,
        execution: None,
        action: Action::Read,
    };
    authorize(served, ask).await?;
    let page = served
        .state
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
