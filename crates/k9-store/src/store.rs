//! The [`Store`] trait: every storage operation k9 needs, independent of the backend.

use std::sync::Arc;

use async_trait::async_trait;
use k9_domain::{AccessKeyId, AccountId, CustomerId, ExecutionId, ExecutionStatus, PrincipalArn};
use time::{Duration, OffsetDateTime};

use crate::{
    AccessKeyInfo, AuditEvent, AuditRecord, Authorization, Credential, CustomerInfo,
    EnqueueOutcome, Execution, ExecutionPage, KeyStatus, NewAccessKey, NewSession, StoreError,
};

/// Largest page [`Store::list_executions`] returns; larger limits are lowered to it.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Shortest session [`Store::create_session`] issues (15 minutes, as STS).
pub const MIN_SESSION_DURATION: Duration = Duration::seconds(900);
/// Longest session [`Store::create_session`] issues (12 hours, as STS).
pub const MAX_SESSION_DURATION: Duration = Duration::seconds(43_200);

/// What [`Store::record_audit`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a backlogged audit log asks the caller to await `Store::flush` before going on"]
pub enum AuditQueue {
    /// The event is queued.
    Queued,
    /// The event is queued, behind more than the writer should have waiting: await
    /// [`Store::flush`] before sending more.
    Backlogged,
}

/// Records `record` and, when the audit log is backlogged, waits for the writer to catch
/// up (a failure to is logged: the event itself is queued either way).
pub async fn record_audit(store: &dyn Store, record: AuditRecord<'_>) {
    if store.record_audit(record) == AuditQueue::Backlogged {
        if let Err(e) = store.flush().await {
            tracing::warn!(error = %e, "waiting for audit events to be written failed");
        }
    }
}

/// k9's storage. Handlers and the admin CLI use it as `Arc<dyn Store>`; the embedded
/// backend is [`crate::SqliteStore`].
///
/// Times passed in (`now`, `at`) are taken as given, so tests control the clock; they
/// are stored and returned in UTC.
#[async_trait]
pub trait Store: Send + Sync {
    // ---- request path ----

    /// The credential for `id`, or `None` if no such key exists (deleted, never issued).
    /// Inactive keys and expired sessions are returned: the caller decides (and says
    /// which error applies).
    /// Shared (`Arc`): the request path reads it from a cache, and copying the secret and
    /// ARN out of it for every request would cost more than the lookup.
    async fn credential(&self, id: &AccessKeyId) -> Result<Option<Arc<Credential>>, StoreError>;

    /// What [`Store::credential`] would answer, if the backend has it at hand (a cache)
    /// without waiting; `None` means "ask [`Store::credential`]". The request path asks
    /// this first: an `async` call through `dyn Store` costs an allocation and a copy of
    /// its state, however quick its answer.
    fn credential_now(&self, id: &AccessKeyId) -> Option<Arc<Credential>> {
        let _ = id;
        None
    }

    /// Notes that `id` authenticated a request at `at`. Fire-and-forget and best effort:
    /// at most one stamp per key and second reaches the database, batched with other
    /// writes; it never fails or delays the request (when the writer is far behind, a
    /// stamp may be skipped; the next second's is sent again).
    fn record_key_use(&self, id: &AccessKeyId, at: OffsetDateTime);

    /// Whether `caller` may act on `account` for `customer` (the account is registered to
    /// the customer and the caller is covered by one of the customer's approved
    /// principals, see [`PrincipalArn::is_covered_by`]), and if not, why.
    async fn authorization(
        &self,
        caller: &PrincipalArn,
        customer: &CustomerId,
        account: &AccountId,
    ) -> Result<Authorization, StoreError>;

    /// What [`Store::authorization`] would answer, if the backend has it at hand without
    /// waiting (see [`Store::credential_now`]).
    fn authorization_now(
        &self,
        caller: &PrincipalArn,
        customer: &CustomerId,
        account: &AccountId,
    ) -> Option<Authorization> {
        let _ = (caller, customer, account);
        None
    }

    /// [`Store::authorization`] as yes or no.
    async fn is_authorized(
        &self,
        caller: &PrincipalArn,
        customer: &CustomerId,
        account: &AccountId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .authorization(caller, customer, account)
            .await?
            .is_allowed())
    }

    /// [`Store::authorization_now`] as yes or no.
    fn is_authorized_now(
        &self,
        caller: &PrincipalArn,
        customer: &CustomerId,
        account: &AccountId,
    ) -> Option<bool> {
        self.authorization_now(caller, customer, account)
            .map(Authorization::is_allowed)
    }

    /// Queues an execution for `customer` and `account`, or returns the one already
    /// queued for them ([`EnqueueOutcome::Coalesced`]). Returns only once the execution
    /// is durably committed. `NotFound` if the account is not registered to the customer.
    async fn enqueue_execution(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        requested_by: &PrincipalArn,
        now: OffsetDateTime,
    ) -> Result<EnqueueOutcome, StoreError>;

    /// The execution `id` of `customer` and `account`, or `None` (also when the id
    /// belongs to another customer or account). Shared (`Arc`), as it may come from a cache.
    async fn execution(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        id: &ExecutionId,
    ) -> Result<Option<Arc<Execution>>, StoreError>;

    /// The execution [`Store::execution`] would return, if the backend has it at hand
    /// without waiting (see [`Store::credential_now`]).
    fn execution_now(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        id: &ExecutionId,
    ) -> Option<Arc<Execution>> {
        let _ = (customer, account, id);
        None
    }

    /// Executions of `customer` and `account`, newest first, `limit` (1 to
    /// [`MAX_PAGE_SIZE`]) at a time. Pass the previous page's `next_token` to continue;
    /// a token not handed out for this customer and account gives
    /// [`StoreError::InvalidPageToken`].
    async fn list_executions(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<ExecutionPage, StoreError>;

    /// Moves execution `id` on (for workers): `queued` -> `running` sets `started_at`;
    /// `queued`/`running` -> `succeeded`/`failed` sets `finished_at` (and `error`, which
    /// only a failure may carry). Other moves are `Invalid`. Returns the updated execution.
    async fn set_execution_status(
        &self,
        id: &ExecutionId,
        status: ExecutionStatus,
        at: OffsetDateTime,
        error: Option<&str>,
    ) -> Result<Execution, StoreError>;

    /// Records an audit event. Batched: never waits for its commit. When many events are
    /// already waiting for the writer, says so ([`AuditQueue::Backlogged`]): the caller
    /// then awaits [`Store::flush`] before going on (back-pressure; see
    /// [`record_audit`](crate::record_audit), which does both). Values that look like
    /// signatures, tokens or secrets are redacted before storing.
    fn record_audit(&self, record: AuditRecord<'_>) -> AuditQueue;

    /// Commits every write submitted before this call, including pending audit events
    /// and key-use updates. Used at shutdown and in tests.
    async fn flush(&self) -> Result<(), StoreError>;

    // ---- administration ----

    /// Creates the IAM user `arn` if it does not exist, and a new long-term key for it
    /// with a 40-character secret. The secret is in the result and nowhere else.
    /// `AlreadyExists` if a user of the same name exists under another path.
    async fn create_user(
        &self,
        arn: &PrincipalArn,
        now: OffsetDateTime,
    ) -> Result<NewAccessKey, StoreError>;

    /// Creates the IAM role `arn`, which sessions can then be created for.
    /// `AlreadyExists` if a role of that name exists in the account (whatever its path).
    async fn create_role(&self, arn: &PrincipalArn, now: OffsetDateTime) -> Result<(), StoreError>;

    /// All long-term keys, by user.
    async fn list_keys(&self) -> Result<Vec<AccessKeyInfo>, StoreError>;

    /// Activates or deactivates long-term key `id`. `NotFound` if absent; `Invalid` for
    /// a temporary key (delete it instead).
    async fn set_key_status(&self, id: &AccessKeyId, status: KeyStatus) -> Result<(), StoreError>;

    /// Deletes key `id` (long-term, or a session's temporary key, which ends that
    /// session). `NotFound` if absent.
    async fn delete_key(&self, id: &AccessKeyId) -> Result<(), StoreError>;

    /// Creates customer `id` with an optional display name. `AlreadyExists` if present.
    async fn create_customer(
        &self,
        id: &CustomerId,
        name: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Registers `account` to `customer` (idempotent). `NotFound` if the customer does not
    /// exist; `AlreadyExists` if the account belongs to another customer.
    async fn add_account(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Approves a user or role ARN to act for `customer` (idempotent); approving a role
    /// covers its sessions. A session ARN is `Invalid` (approve its role). `NotFound` if
    /// the customer does not exist. The principal need not exist yet.
    async fn approve(
        &self,
        customer: &CustomerId,
        arn: &PrincipalArn,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Withdraws an approval. `NotFound` if `arn` was not approved for `customer`.
    async fn revoke(&self, customer: &CustomerId, arn: &PrincipalArn) -> Result<(), StoreError>;

    /// Customer `id` with its accounts and approved principals, or `None`.
    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerInfo>, StoreError>;

    /// Starts a session of role `role` (which must exist) named `session_name`, lasting
    /// `duration` ([`MIN_SESSION_DURATION`] to [`MAX_SESSION_DURATION`]) from `now`.
    /// Returns the temporary credentials once; only the session token's SHA-256 is kept.
    async fn create_session(
        &self,
        role: &PrincipalArn,
        session_name: &str,
        duration: Duration,
        now: OffsetDateTime,
    ) -> Result<NewSession, StoreError>;

    /// The latest `limit` (1 to [`MAX_PAGE_SIZE`]) audit events, newest first.
    async fn audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;

    /// Deletes audit events older than `before` and returns how many went. One row is
    /// written per request, so a long-running server needs this to bound its disk use.
    /// Deletes in bounded chunks, so the request path's writes never wait long behind it.
    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}
