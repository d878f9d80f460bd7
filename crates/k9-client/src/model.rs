//! The JSON documents of the k9 API, as Rust types. Field names follow the API
//! (`camelCase`); ids are validated domain types, so a malformed id from a server is caught
//! when the answer is read.

use k9_domain::{AccountId, CustomerId, ExecutionId, ExecutionStatus, PrincipalArn};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The body of `POST /customer/{cid}/account/{aid}/analysis`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TriggerRequest<'a> {
    pub(crate) customer_id: &'a CustomerId,
    pub(crate) account_id: &'a AccountId,
}

/// The answer to a trigger (HTTP 202): the execution that was queued, or the one already
/// queued for this account that the request was coalesced into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerResponse {
    /// The customer the analysis is for.
    pub customer_id: CustomerId,
    /// The account to analyse.
    pub account_id: AccountId,
    /// The queued execution; pass it to `k9 analysis get`.
    pub execution_id: ExecutionId,
}

/// One analysis execution and where it is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// The execution's id.
    pub execution_id: ExecutionId,
    /// The customer the analysis is for.
    pub customer_id: CustomerId,
    /// The account analysed.
    pub account_id: AccountId,
    /// Queued, running, succeeded or failed.
    pub status: ExecutionStatus,
    /// The principal whose signed request queued it.
    pub requested_by: PrincipalArn,
    /// When it was requested.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// When a worker started it, once one has.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it finished, once it has.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Why it failed, if it did.
    #[serde(default)]
    pub error: Option<String>,
}

/// One page of executions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionList {
    /// The executions on this page.
    pub executions: Vec<Execution>,
    /// Pass this to get the next page; `None` on the last page.
    #[serde(default)]
    pub next_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXECUTION: &str = r#"{
        "executionId": "ondemand-C123456-123456789012-2024-05-06_AB12",
        "customerId": "C123456",
        "accountId": "123456789012",
        "status": "running",
        "requestedBy": "arn:aws:iam::123456789012:user/alice",
        "requestedAt": "2024-05-06T07:08:09Z",
        "startedAt": "2024-05-06T07:08:10.5Z",
        "finishedAt": null,
        "error": null
    }"#;

    #[test]
    fn execution_reads_the_api_document() {
        let execution: Execution = serde_json::from_str(EXECUTION).unwrap();
        assert_eq!(execution.status, ExecutionStatus::Running);
        assert_eq!(execution.customer_id.as_str(), "C123456");
        assert_eq!(execution.requested_at.unix_timestamp(), 1_714_979_289);
        assert!(execution.started_at.is_some());
        assert_eq!(execution.finished_at, None);
    }

    #[test]
    fn execution_round_trips_with_api_field_names() {
        let execution: Execution = serde_json::from_str(EXECUTION).unwrap();
        let json = serde_json::to_value(&execution).unwrap();
        assert_eq!(
            json["executionId"],
            "ondemand-C123456-123456789012-2024-05-06_AB12"
        );
        assert_eq!(json["requestedAt"], "2024-05-06T07:08:09Z");
        assert_eq!(json["finishedAt"], serde_json::Value::Null);
        assert_eq!(
            serde_json::from_value::<Execution>(json).unwrap(),
            execution
        );
    }

    #[test]
    fn list_without_next_token_is_the_last_page() {
        let list: ExecutionList =
            serde_json::from_str(&format!(r#"{{"executions":[{EXECUTION}]}}"#)).unwrap();
        assert_eq!(list.executions.len(), 1);
        assert_eq!(list.next_token, None);
    }

    #[test]
    fn malformed_ids_in_an_answer_are_rejected() {
        let bad = EXECUTION.replace("C123456\"", "X1\"");
        assert!(serde_json::from_str::<Execution>(&bad).is_err());
    }

    #[test]
    fn trigger_request_uses_api_field_names() {
        let customer: CustomerId = "C123456".parse().unwrap();
        let account: AccountId = "123456789012".parse().unwrap();
        let body = serde_json::to_string(&TriggerRequest {
            customer_id: &customer,
            account_id: &account,
        })
        .unwrap();
        assert_eq!(
            body,
            r#"{"customerId":"C123456","accountId":"123456789012"}"#
        );
    }
}
