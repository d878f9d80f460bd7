//! The values the [`crate::Store`] takes and returns.

use std::fmt;
use std::str::FromStr;

use k9_domain::{AccessKeyId, AccountId, CustomerId, ExecutionId, ExecutionStatus, PrincipalArn};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::secret::serialize_exposed;
use crate::SecretString;

/// Whether a long-term access key may be used. Serialized `Active` / `Inactive`, as IAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyStatus {
    /// The key authenticates requests.
    Active,
    /// The key is kept but every request signed with it is refused.
    Inactive,
}

impl KeyStatus {
    /// `Active` or `Inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not `Active` or `Inactive`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key status '{0}': expected Active or Inactive")]
pub struct ParseKeyStatusError(String);

impl FromStr for KeyStatus {
    type Err = ParseKeyStatusError;

    /// Parses `Active` / `Inactive` (case-insensitively, as the AWS CLI accepts).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("active") {
            Ok(Self::Active)
        } else if s.eq_ignore_ascii_case("inactive") {
            Ok(Self::Inactive)
        } else {
            Err(ParseKeyStatusError(s.chars().take(40).collect()))
        }
    }
}

/// Everything the authentication layer needs to verify a request signed with one
/// access key id.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The key id the request named.
    pub access_key_id: AccessKeyId,
    /// The secret to derive the signing key from.
    pub secret_access_key: SecretString,
    /// Who the request is from: the user for a long-term key, the assumed-role session
    /// (`arn:aws:sts::…:assumed-role/<role>/<session>`) for a temporary one.
    pub principal: PrincipalArn,
    /// Long-term or temporary, with what must be checked for each.
    pub kind: CredentialKind,
}

/// What kind of credential, and what the authentication layer must check besides the
/// signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialKind {
    /// An `AKIA…` user key: refuse it unless `status` is `Active`.
    LongTerm {
        /// Whether the key may be used.
        status: KeyStatus,
    },
    /// An `ASIA…` session key: the request must carry a session token whose SHA-256
    /// equals `session_token_sha256` (compare in constant time), before `expires_at`.
    Temporary {
        /// SHA-256 of the session token; the token itself is never stored.
        session_token_sha256: [u8; 32],
        /// When the session ends.
        expires_at: OffsetDateTime,
    },
}

/// One on-demand analysis run. Serialized camelCase with RFC 3339 times, as the API
/// returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// The execution's id (contains customer, account and date).
    pub execution_id: ExecutionId,
    /// The customer it runs for.
    pub customer_id: CustomerId,
    /// The account it analyses.
    pub account_id: AccountId,
    /// Where it is in its life.
    pub status: ExecutionStatus,
    /// Who asked for it.
    pub requested_by: PrincipalArn,
    /// When it was asked for (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// When a worker started it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it succeeded or failed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Why it failed.
    pub error: Option<String>,
}

/// One page of executions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionPage {
    /// Up to the requested number of executions, newest first.
    pub executions: Vec<Execution>,
    /// Opaque token for the next page; `None` on the last page.
    pub next_token: Option<String>,
}

/// An authorization decision ([`crate::Store::authorization`]): allowed, or refused and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// The caller may act on the account for the customer.
    Allowed,
    /// The caller may not.
    Denied(DenialReason),
}

impl Authorization {
    /// Whether the caller may act.
    pub fn is_allowed(self) -> bool {
        matches!(self, Authorization::Allowed)
    }

    /// Why the caller may not act, if it may not.
    pub fn denial_reason(self) -> Option<DenialReason> {
        match self {
            Authorization::Allowed => None,
            Authorization::Denied(reason) => Some(reason),
        }
    }
}

/// Why an [`Authorization`] is a refusal, for the audit log only: callers get one answer
/// whatever the reason, so that a refusal does not reveal what exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialReason {
    /// No such customer.
    UnknownCustomer,
    /// The account is not registered to the customer (it may be to another one).
    AccountNotRegistered,
    /// The customer and account are there; no approved principal covers the caller.
    NotApproved,
}

impl DenialReason {
    /// The reason as the audit log words it.
    pub fn as_str(self) -> &'static str {
        match self {
            DenialReason::UnknownCustomer => "no such customer",
            DenialReason::AccountNotRegistered => "account not registered to the customer",
            DenialReason::NotApproved => "caller not approved for the customer",
        }
    }
}

/// What [`crate::Store::enqueue_execution`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// A new execution was queued.
    Queued(Execution),
    /// An execution for the same customer and account was already queued; it is
    /// returned instead of queueing a second one.
    Coalesced(Execution),
}

impl EnqueueOutcome {
    /// The queued (new or existing) execution.
    pub fn execution(&self) -> &Execution {
        match self {
            Self::Queued(e) | Self::Coalesced(e) => e,
        }
    }

    /// The queued (new or existing) execution, by value.
    pub fn into_execution(self) -> Execution {
        match self {
            Self::Queued(e) | Self::Coalesced(e) => e,
        }
    }
}

/// How a request fared at one step of authentication or authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditOutcome {
    /// The signature and credential checked out.
    Authenticated,
    /// The request was refused before its sender was known (bad signature, unknown or
    /// inactive key, expired session...).
    AuthenticationFailed,
    /// The authenticated caller may do what it asked.
    Allowed,
    /// The authenticated caller may not do what it asked.
    Denied,
}

impl AuditOutcome {
    /// The variant's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authenticated => "Authenticated",
            Self::AuthenticationFailed => "AuthenticationFailed",
            Self::Allowed => "Allowed",
            Self::Denied => "Denied",
        }
    }
}

impl AuditOutcome {
    /// The outcome named `s` (as written by [`AuditOutcome::as_str`]), if any.
    pub(crate) fn from_stored(s: &str) -> Option<Self> {
        match s {
            "Authenticated" => Some(Self::Authenticated),
            "AuthenticationFailed" => Some(Self::AuthenticationFailed),
            "Allowed" => Some(Self::Allowed),
            "Denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// One audit record: who tried what, and what k9 decided.
///
/// Must never hold a secret or a signature. The store redacts the values of query
/// parameters and header-like `name=value` / `name: value` pairs named like signatures,
/// session tokens or secret keys in `path` and `reason`, and caps each field's length,
/// but callers should not put canonical requests or headers in `reason` to begin with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// When the request arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// The request id returned to the caller (`x-amzn-RequestId`).
    pub request_id: String,
    /// The access key id the request named, if any (not a secret).
    pub access_key_id: Option<String>,
    /// The authenticated principal's ARN, once known.
    pub principal: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Request path (and query, which is redacted).
    pub path: String,
    /// The decision.
    pub outcome: AuditOutcome,
    /// Why, in words (e.g. the AWS error code and message).
    pub reason: String,
}

/// An audit record to write: an [`AuditEvent`]'s fields, borrowed. The request path
/// writes one for every request, and these fields are parts of the request or values the
/// server already holds; copying each into its own `String` first would cost more than
/// the rest of the row. The store writes the texts (the [`fmt::Display`] ones formatted)
/// into one buffer, redacted and capped as described on [`AuditEvent`].
#[derive(Clone, Copy)]
pub struct AuditRecord<'a> {
    /// When the request arrived.
    pub time: OffsetDateTime,
    /// The request id returned to the caller (`x-amzn-RequestId`).
    pub request_id: &'a str,
    /// The access key id the request named, if any (not a secret).
    pub access_key_id: Option<&'a str>,
    /// The authenticated principal's ARN, once known.
    pub principal: Option<&'a (dyn fmt::Display + Sync)>,
    /// HTTP method.
    pub method: &'a str,
    /// Request path (and query, which is redacted).
    pub path: &'a (dyn fmt::Display + Sync),
    /// The decision.
    pub outcome: AuditOutcome,
    /// Why, in words.
    pub reason: &'a (dyn fmt::Display + Sync),
}

impl fmt::Debug for AuditRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditRecord")
            .field("request_id", &self.request_id)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl AuditEvent {
    /// This event as a record to write.
    pub fn as_record(&self) -> AuditRecord<'_> {
        AuditRecord {
            time: self.time,
            request_id: &self.request_id,
            access_key_id: self.access_key_id.as_deref(),
            principal: self
                .principal
                .as_ref()
                .map(|p| p as &(dyn fmt::Display + Sync)),
            method: &self.method,
            path: &self.path,
            outcome: self.outcome,
            reason: &self.reason,
        }
    }
}

/// A new long-term access key, shaped like `aws iam create-access-key` output:
/// serializes to `{"AccessKey": {"UserName", "AccessKeyId", "Status",
/// "SecretAccessKey", "CreateDate"}}`. This is the only time the secret is shown.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewAccessKey {
    /// The key.
    pub access_key: AccessKey,
}

/// The key inside [`NewAccessKey`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKey {
    /// The user's name (without path).
    pub user_name: String,
    /// The user's ARN (not part of the AWS output, so not serialized).
    #[serde(skip)]
    pub user_arn: PrincipalArn,
    /// The new `AKIA…` id.
    pub access_key_id: AccessKeyId,
    /// Always `Active` for a new key.
    pub status: KeyStatus,
    /// The 40-character secret, serialized in clear on purpose: shown once to its owner.
    #[serde(serialize_with = "serialize_exposed")]
    pub secret_access_key: SecretString,
    /// When the key was created (whole seconds, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub create_date: OffsetDateTime,
}

/// A new role session, shaped like `aws sts assume-role` output: serializes to
/// `{"Credentials": {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"},
/// "AssumedRoleUser": {"AssumedRoleId", "Arn"}}`. This is the only time the secret and
/// token are shown.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewSession {
    /// The temporary credentials.
    pub credentials: SessionCredentials,
    /// Who they authenticate as.
    pub assumed_role_user: AssumedRoleUser,
}

/// The temporary credentials inside [`NewSession`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionCredentials {
    /// The new `ASIA…` id.
    pub access_key_id: AccessKeyId,
    /// The 40-character secret, serialized in clear on purpose.
    #[serde(serialize_with = "serialize_exposed")]
    pub secret_access_key: SecretString,
    /// The session token to send as `X-Amz-Security-Token`, serialized in clear on
    /// purpose; only its SHA-256 is stored.
    #[serde(serialize_with = "serialize_exposed")]
    pub session_token: SecretString,
    /// When the credentials stop working (whole seconds, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub expiration: OffsetDateTime,
}

/// The session identity inside [`NewSession`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    /// `<role unique id>:<session name>`, e.g. `AROA3XFRBF535PLBIFPI4:ci`.
    pub assumed_role_id: String,
    /// The session ARN, `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: PrincipalArn,
}

/// A long-term access key as listed for administration (no secret). Serialized with
/// IAM's PascalCase names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyInfo {
    /// The user's name (without path).
    pub user_name: String,
    /// The user's ARN.
    pub user_arn: PrincipalArn,
    /// The key id.
    pub access_key_id: AccessKeyId,
    /// Whether it may be used.
    pub status: KeyStatus,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub create_date: OffsetDateTime,
    /// When it last authenticated a request (recorded in batches, so slightly behind).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_date: Option<OffsetDateTime>,
}

/// A customer with its accounts and approved principals. Serialized camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerInfo {
    /// The customer's id.
    pub customer_id: CustomerId,
    /// Display name, if one was given.
    pub name: Option<String>,
    /// When the customer was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Registered accounts, sorted.
    pub accounts: Vec<AccountId>,
    /// Approved user and role ARNs, sorted.
    pub approved_principals: Vec<PrincipalArn>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn key_status_serializes_as_iam_names_and_parses_case_insensitively() {
        assert_eq!(
            serde_json::to_string(&KeyStatus::Active).unwrap(),
            "\"Active\""
        );
        assert_eq!(
            serde_json::to_string(&KeyStatus::Inactive).unwrap(),
            "\"Inactive\""
        );
        assert_eq!(
            "inactive".parse::<KeyStatus>().unwrap(),
            KeyStatus::Inactive
        );
        assert_eq!(
            "off".parse::<KeyStatus>().unwrap_err().to_string(),
            "invalid key status 'off': expected Active or Inactive"
        );
    }

    #[test]
    fn execution_serializes_camel_case_with_rfc3339_times() {
        let execution = Execution {
            execution_id: "ondemand-C123456-123456789012-2022-11-11_ONO2"
                .parse()
                .unwrap(),
            customer_id: "C123456".parse().unwrap(),
            account_id: "123456789012".parse().unwrap(),
            status: ExecutionStatus::Queued,
            requested_by: "arn:aws:iam::123456789012:user/alice".parse().unwrap(),
            requested_at: datetime!(2022-11-11 10:00:00 UTC),
            started_at: None,
            finished_at: None,
            error: None,
        };
        let json = serde_json::to_value(&execution).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "executionId": "ondemand-C123456-123456789012-2022-11-11_ONO2",
                "customerId": "C123456",
                "accountId": "123456789012",
                "status": "queued",
                "requestedBy": "arn:aws:iam::123456789012:user/alice",
                "requestedAt": "2022-11-11T10:00:00Z",
                "startedAt": null,
                "finishedAt": null,
                "error": null
            })
        );
        assert_eq!(
            serde_json::from_value::<Execution>(json).unwrap(),
            execution
        );
    }

    #[test]
    fn new_access_key_serializes_like_aws_iam_create_access_key() {
        let key = NewAccessKey {
            access_key: AccessKey {
                user_name: "alice".into(),
                user_arn: "arn:aws:iam::123456789012:user/alice".parse().unwrap(),
                access_key_id: "AKIAIOSFODNN7EXAMPLE".parse().unwrap(),
                status: KeyStatus::Active,
                secret_access_key: SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                create_date: datetime!(2024-01-02 03:04:05 UTC),
            },
        };
        assert_eq!(
            serde_json::to_value(&key).unwrap(),
            serde_json::json!({"AccessKey": {
                "UserName": "alice",
                "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
                "Status": "Active",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "CreateDate": "2024-01-02T03:04:05Z"
            }})
        );
        assert!(!format!("{key:?}").contains("wJalrXUtnFEMI"));
    }

    #[test]
    fn new_session_serializes_like_aws_sts_assume_role() {
        let session = NewSession {
            credentials: SessionCredentials {
                access_key_id: "ASIAIOSFODNN7EXAMPLE".parse().unwrap(),
                secret_access_key: SecretString::new("secret"),
                session_token: SecretString::new("token"),
                expiration: datetime!(2024-01-02 04:04:05 UTC),
            },
            assumed_role_user: AssumedRoleUser {
                assumed_role_id: "AROA3XFRBF535PLBIFPI4:ci".into(),
                arn: "arn:aws:sts::123456789012:assumed-role/k9/ci"
                    .parse()
                    .unwrap(),
            },
        };
        assert_eq!(
            serde_json::to_value(&session).unwrap(),
            serde_json::json!({
                "Credentials": {
                    "AccessKeyId": "ASIAIOSFODNN7EXAMPLE",
                    "SecretAccessKey": "secret",
                    "SessionToken": "token",
                    "Expiration": "2024-01-02T04:04:05Z"
                },
                "AssumedRoleUser": {
                    "AssumedRoleId": "AROA3XFRBF535PLBIFPI4:ci",
                    "Arn": "arn:aws:sts::123456789012:assumed-role/k9/ci"
                }
            })
        );
    }
}
