//! The writes, as functions the writer thread runs inside its transaction.
//!
//! Each takes the writer's connection (inside a savepoint) and fully checks its own
//! preconditions, so no caller-side check can race with another write.

use k9_domain::{AccessKeyId, AccountId, CustomerId, ExecutionId, ExecutionStatus, PrincipalArn};
use rusqlite::{params, Connection, OptionalExtension};
use time::OffsetDateTime;

use crate::audit::{decode_batch, BatchLog};
use crate::sqlite::codec::{from_nanos, to_nanos};
use crate::sqlite::reads::{execution_by_id, queued_execution};
use crate::{EnqueueOutcome, Execution, KeyStatus, StoreError};

/// How many random execution ids to try before giving up. Ids carry 36^4 random
/// combinations per customer, account and day, so a second try is already rare.
const MAX_EXECUTION_ID_ATTEMPTS: usize = 16;

/// Sessions this long past their expiry are deleted when a new session is created
/// (until then a request with one is told it expired, rather than that it is unknown).
const EXPIRED_SESSION_RETENTION: time::Duration = time::Duration::days(1);

/// Queues an execution or returns the one already queued (see `Store::enqueue_execution`).
pub(crate) fn enqueue_execution(
    conn: &Connection,
    customer: &CustomerId,
    account: &AccountId,
    requested_by: &PrincipalArn,
    now: OffsetDateTime,
) -> Result<EnqueueOutcome, StoreError> {
    if let Some(existing) = queued_execution(conn, customer, account)? {
        return Ok(EnqueueOutcome::Coalesced(existing));
    }
    ensure_account_of(conn, customer, account)?;
    let requested_at = now.to_offset(time::UtcOffset::UTC);
    let nanos = to_nanos(requested_at)?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO executions (execution_id, customer_id, account_id, status, requested_by, requested_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5)
         ON CONFLICT (execution_id) DO NOTHING",
    )?;
    for _ in 0..MAX_EXECUTION_ID_ATTEMPTS {
        let id = ExecutionId::generate(customer, account, requested_at);
        let inserted = insert.execute(params![
            id.as_str(),
            customer.as_str(),
            account.as_str(),
            requested_by.to_string(),
            nanos
        ])?;
        if inserted == 1 {
            return Ok(EnqueueOutcome::Queued(Execution {
                execution_id: id,
                customer_id: customer.clone(),
                account_id: account.clone(),
                status: ExecutionStatus::Queued,
                requested_by: requested_by.clone(),
                requested_at,
                started_at: None,
                finished_at: None,
                error: None,
            }));
        }
    }
    Err(StoreError::WriteFailed {
        message: format!("no free execution id for {customer}/{account} after {MAX_EXECUTION_ID_ATTEMPTS} attempts"),
    })
}

/// Moves an execution to `status` (see `Store::set_execution_status`).
pub(crate) fn set_execution_status(
    conn: &Connection,
    id: &ExecutionId,
    status: ExecutionStatus,
    at: OffsetDateTime,
    error: Option<&str>,
) -> Result<Execution, StoreError> {
    let current = execution_by_id(conn, id)?
        .ok_or_else(|| StoreError::not_found(format!("execution {id}")))?;
    let allowed = match status {
        ExecutionStatus::Queued => false,
        ExecutionStatus::Running => current.status == ExecutionStatus::Queued,
        ExecutionStatus::Succeeded | ExecutionStatus::Failed => !current.status.is_finished(),
    };
    if !allowed {
        return Err(StoreError::invalid(format!(
            "execution {id} is {} and cannot become {status}",
            current.status
        )));
    }
    if error.is_some() && status != ExecutionStatus::Failed {
        return Err(StoreError::invalid(
            "only a failed execution can carry an error",
        ));
    }
    let at = to_nanos(at)?;
    let (started, finished) = match status {
        ExecutionStatus::Running => (Some(at), None),
        _ => (None, Some(at)),
    };
    conn.prepare_cached(
        "UPDATE executions
         SET status = ?2, started_at = coalesce(?3, started_at), finished_at = ?4, error = ?5
         WHERE execution_id = ?1",
    )?
    .execute(params![
        id.as_str(),
        status.as_str(),
        started,
        finished,
        error
    ])?;
    execution_by_id(conn, id)?.ok_or_else(|| StoreError::not_found(format!("execution {id}")))
}

/// Creates the user if absent and inserts a new long-term key for it.
pub(crate) fn create_user_key(
    conn: &Connection,
    user: &PrincipalArn,
    unique_id: &str,
    key_id: &AccessKeyId,
    sealed_secret: &[u8],
    created_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let created = to_nanos(created_at)?;
    insert_principal_if_absent(conn, user, "user", unique_id, created)?;
    conn.prepare_cached(
        "INSERT INTO access_keys (access_key_id, user_arn, status, secret, created_at)
         VALUES (?1, ?2, 'Active', ?3, ?4)",
    )?
    .execute(params![
        key_id.as_str(),
        user.to_string(),
        sealed_secret,
        created
    ])?;
    Ok(())
}

/// Creates a role; `AlreadyExists` if a role of that name is in the account.
pub(crate) fn create_role(
    conn: &Connection,
    role: &PrincipalArn,
    unique_id: &str,
    created_at: OffsetDateTime,
) -> Result<(), StoreError> {
    if principal_named(conn, role, "role")?.is_some() {
        return Err(StoreError::already_exists(format!(
            "role {} in account {}",
            role.name(),
            role.account()
        )));
    }
    insert_principal_if_absent(conn, role, "role", unique_id, to_nanos(created_at)?)
}

/// Inserts a user or role unless that exact ARN exists; a same-named principal of that
/// kind under another path is `AlreadyExists`.
fn insert_principal_if_absent(
    conn: &Connection,
    arn: &PrincipalArn,
    kind: &str,
    unique_id: &str,
    created: i64,
) -> Result<(), StoreError> {
    let arn_text = arn.to_string();
    match principal_named(conn, arn, kind)? {
        Some(existing) if existing == arn_text => Ok(()),
        Some(existing) => Err(StoreError::already_exists(format!(
            "{kind} {} in account {} (as {existing})",
            arn.name(),
            arn.account()
        ))),
        None => {
            conn.prepare_cached(
                "INSERT INTO principals (arn, kind, account_id, name, unique_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                arn_text,
                kind,
                arn.account().as_str(),
                arn.name(),
                unique_id,
                created
            ])?;
            Ok(())
        }
    }
}

/// The ARN of the `kind` principal with `arn`'s account and name, if any.
fn principal_named(
    conn: &Connection,
    arn: &PrincipalArn,
    kind: &str,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT arn FROM principals WHERE kind = ?1 AND account_id = ?2 AND name = ?3",
        )?
        .query_row(params![kind, arn.account().as_str(), arn.name()], |row| {
            row.get(0)
        })
        .optional()?)
}

/// Sets a long-term key's status.
pub(crate) fn set_key_status(
    conn: &Connection,
    id: &AccessKeyId,
    status: KeyStatus,
) -> Result<(), StoreError> {
    let updated = conn
        .prepare_cached("UPDATE access_keys SET status = ?2 WHERE access_key_id = ?1")?
        .execute(params![id.as_str(), status.as_str()])?;
    if updated == 0 {
        return Err(StoreError::not_found(format!("access key {id}")));
    }
    Ok(())
}

/// Deletes a long-term key or a session.
pub(crate) fn delete_key(conn: &Connection, id: &AccessKeyId) -> Result<(), StoreError> {
    let sql = if id.is_temporary() {
        "DELETE FROM sessions WHERE access_key_id = ?1"
    } else {
        "DELETE FROM access_keys WHERE access_key_id = ?1"
    };
    if conn.prepare_cached(sql)?.execute([id.as_str()])? == 0 {
        return Err(StoreError::not_found(format!("access key {id}")));
    }
    Ok(())
}

/// Creates a customer; `AlreadyExists` if present.
pub(crate) fn create_customer(
    conn: &Connection,
    id: &CustomerId,
    name: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO customers (customer_id, name, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (customer_id) DO NOTHING",
        )?
        .execute(params![id.as_str(), name, to_nanos(now)?])?;
    if inserted == 0 {
        return Err(StoreError::already_exists(format!("customer {id}")));
    }
    Ok(())
}

/// Registers an account to a customer (idempotent).
pub(crate) fn add_account(
    conn: &Connection,
    customer: &CustomerId,
    account: &AccountId,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    ensure_customer(conn, customer)?;
    let owner: Option<String> = conn
        .prepare_cached("SELECT customer_id FROM accounts WHERE account_id = ?1")?
        .query_row([account.as_str()], |row| row.get(0))
        .optional()?;
    match owner {
        Some(owner) if owner == customer.as_str() => Ok(()),
        Some(owner) => Err(StoreError::already_exists(format!(
            "account {account} (registered to customer {owner})"
        ))),
        None => {
            conn.prepare_cached(
                "INSERT INTO accounts (account_id, customer_id, added_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![account.as_str(), customer.as_str(), to_nanos(now)?])?;
            Ok(())
        }
    }
}

/// Approves a user or role for a customer (idempotent).
pub(crate) fn approve(
    conn: &Connection,
    customer: &CustomerId,
    arn: &PrincipalArn,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    if let PrincipalArn::AssumedRole {
        account, role_name, ..
    } = arn
    {
        return Err(StoreError::invalid(format!(
            "cannot approve the role session {arn}: approve its role instead \
             (arn:aws:iam::{account}:role/<path/>{role_name}), which covers all its sessions"
        )));
    }
    ensure_customer(conn, customer)?;
    conn.prepare_cached(
        "INSERT INTO approvals (customer_id, principal_arn, principal_account, principal_name, approved_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (customer_id, principal_arn) DO NOTHING",
    )?
    .execute(params![customer.as_str(), arn.to_string(), arn.account().as_str(), arn.name(), to_nanos(now)?])?;
    Ok(())
}

/// Withdraws an approval.
pub(crate) fn revoke(
    conn: &Connection,
    customer: &CustomerId,
    arn: &PrincipalArn,
) -> Result<(), StoreError> {
    let deleted = conn
        .prepare_cached("DELETE FROM approvals WHERE customer_id = ?1 AND principal_arn = ?2")?
        .execute(params![customer.as_str(), arn.to_string()])?;
    if deleted == 0 {
        return Err(StoreError::not_found(format!(
            "approval of {arn} for customer {customer}"
        )));
    }
    Ok(())
}

/// A new session's row, prepared (ids, encryption, hashing) outside the writer.
pub(crate) struct SessionRow {
    pub role: PrincipalArn,
    pub session_arn: PrincipalArn,
    pub key_id: AccessKeyId,
    pub sealed_secret: Vec<u8>,
    pub token_sha256: [u8; 32],
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Inserts a session of an existing role; returns the role's unique id. Also deletes
/// sessions that expired more than [`EXPIRED_SESSION_RETENTION`] ago.
pub(crate) fn create_session(conn: &Connection, row: &SessionRow) -> Result<String, StoreError> {
    let role_unique_id: String = conn
        .prepare_cached("SELECT unique_id FROM principals WHERE arn = ?1 AND kind = 'role'")?
        .query_row([row.role.to_string()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::not_found(format!("role {}", row.role)))?;
    let created = to_nanos(row.created_at)?;
    conn.prepare_cached("DELETE FROM sessions WHERE expires_at < ?1")?
        .execute([to_nanos(row.created_at - EXPIRED_SESSION_RETENTION)?])?;
    conn.prepare_cached(
        "INSERT INTO sessions
             (access_key_id, role_arn, session_arn, secret, session_token_sha256, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        row.key_id.as_str(),
        row.role.to_string(),
        row.session_arn.to_string(),
        row.sealed_secret,
        &row.token_sha256[..],
        created,
        to_nanos(row.expires_at)?
    ])?;
    Ok(role_unique_id)
}

/// A `store_meta` change counter that other processes' caches watch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChangeCounter {
    /// `admin_generation`: keys, sessions, customers, accounts, approvals.
    Admin,
    /// `execution_generation`: status moves of existing executions.
    Executions,
}

/// Counts a change of `counter`'s kind, so that every process's caches of that kind drop
/// what they hold.
pub(crate) fn bump_change_counter(
    conn: &Connection,
    counter: ChangeCounter,
) -> Result<(), StoreError> {
    let key = match counter {
        ChangeCounter::Admin => "admin_generation",
        ChangeCounter::Executions => "execution_generation",
    };
    conn.prepare_cached("UPDATE store_meta SET value = value + 1 WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

/// Inserts a batch of audit events (sanitized when they were packed) as one row. A batch
/// that cannot be inserted is logged and skipped: nobody waits on audit rows, and the rest
/// of the writer's transaction must still commit.
pub(crate) fn insert_audit_batch(conn: &Connection, log: BatchLog) {
    let (first, last, events) = (log.first_time, log.last_time, log.events);
    let inserted = conn
        .prepare_cached(
            "INSERT INTO audit.audit_batches (first_time, last_time, events, log) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut insert| insert.execute(params![first, last, events, log.into_json()]));
    if let Err(e) = inserted {
        let (from, to) = (from_nanos(first).ok(), from_nanos(last).ok());
        tracing::error!(error = %e, events, ?from, ?to, "audit events not recorded");
    }
}

/// Moves a key's `last_used_at` forward to `at` (never back).
pub(crate) fn record_key_use(
    conn: &Connection,
    access_key_id: &str,
    at: i64,
) -> Result<(), StoreError> {
    let sql = if access_key_id.starts_with("ASIA") {
        "UPDATE sessions SET last_used_at = ?2
         WHERE access_key_id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)"
    } else {
        "UPDATE access_keys SET last_used_at = ?2
         WHERE access_key_id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)"
    };
    conn.prepare_cached(sql)?
        .execute(params![access_key_id, at])?;
    Ok(())
}

/// `NotFound` unless the customer exists.
fn ensure_customer(conn: &Connection, customer: &CustomerId) -> Result<(), StoreError> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM customers WHERE customer_id = ?1")?
        .exists([customer.as_str()])?;
    if !exists {
        return Err(StoreError::not_found(format!("customer {customer}")));
    }
    Ok(())
}

/// `NotFound` unless the account is registered to the customer.
fn ensure_account_of(
    conn: &Connection,
    customer: &CustomerId,
    account: &AccountId,
) -> Result<(), StoreError> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE account_id = ?1 AND customer_id = ?2")?
        .exists(params![account.as_str(), customer.as_str()])?;
    if !exists {
        return Err(StoreError::not_found(format!(
            "account {account} of customer {customer}"
        )));
    }
    Ok(())
}

/// Deletes, among the oldest audit batches (by insertion order) holding about `chunk`
/// events, the events older than `before`; returns how many went. Batches are appended in arrival order, so the
/// old ones are at the start: this never scans the table, and a caller repeats it while
/// any go. A batch whose events are all older goes whole; one that spans the cutoff is
/// rewritten without its older events.
pub(crate) fn delete_audit_before(
    conn: &Connection,
    before: OffsetDateTime,
    chunk: usize,
) -> Result<usize, StoreError> {
    let chunk = i64::try_from(chunk).unwrap_or(i64::MAX);
    let before = to_nanos(before)?;
    let mut deleted: i64 = 0;
    {
        let mut whole = conn.prepare_cached(
            "DELETE FROM audit.audit_batches
             WHERE id IN (WITH oldest AS (SELECT id, events FROM audit.audit_batches ORDER BY id LIMIT ?2)
                          SELECT id FROM (SELECT id, sum(events) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - events AS earlier
                                          FROM oldest)
                          WHERE earlier < ?2)
               AND last_time < ?1
             RETURNING events",
        )?;
        let mut rows = whole.query(params![before, chunk])?;
        while let Some(row) = rows.next()? {
            deleted += row.get::<_, i64>(0)?;
        }
    }
    let spanning: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, log FROM audit.audit_batches
             WHERE id IN (WITH oldest AS (SELECT id, events FROM audit.audit_batches ORDER BY id LIMIT ?2)
                          SELECT id FROM (SELECT id, sum(events) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - events AS earlier
                                          FROM oldest)
                          WHERE earlier < ?2)
               AND first_time < ?1 AND last_time >= ?1",
        )?
        .query_map(params![before, chunk], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, log) in spanning {
        let events = decode_batch(&log).map_err(|e| {
            StoreError::corrupt(format!("audit_batches row {id}: unreadable events: {e}"))
        })?;
        let mut kept = BatchLog::new();
        for (time, request_id, key, principal, method, path, outcome, reason) in &events {
            if *time >= before {
                kept.push(
                    *time,
                    request_id,
                    key.as_deref(),
                    principal.as_deref(),
                    method,
                    path,
                    outcome,
                    reason,
                );
            }
        }
        deleted += events.len() as i64 - kept.events;
        let (first, last, count) = (kept.first_time, kept.last_time, kept.events);
        conn.prepare_cached(
            "UPDATE audit.audit_batches SET first_time = ?2, last_time = ?3, events = ?4, log = ?5
             WHERE id = ?1",
        )?
        .execute(params![id, first, last, count, kept.into_json()])?;
    }
    Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection with an audit file attached, holding `batches` batches of `size` events
    /// each, all dated `time`.
    fn audit_with_batches(
        dir: &std::path::Path,
        batches: usize,
        size: usize,
        time: i64,
    ) -> Connection {
        std::fs::create_dir_all(dir).unwrap();
        let conn = Connection::open_in_memory().unwrap();
        crate::sqlite::schema::attach_audit(&conn, &dir.join("audit.sqlite3")).unwrap();
        for batch in 0..batches {
            let mut log = BatchLog::new();
            for event in 0..size {
                let id = format!("{batch}-{event}");
                log.push(time, &id, None, None, "GET", "/x", "Allowed", "");
            }
            insert_audit_batch(&conn, log);
        }
        conn
    }

    #[test]
    fn a_pruning_chunk_is_counted_in_events_not_batches() {
        let dir = tempfile::tempdir().unwrap();
        let old = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let before = OffsetDateTime::UNIX_EPOCH + time::Duration::days(2);
        let at = to_nanos(old).unwrap();

        // Light traffic: one event per batch. A chunk of 10 events takes 10 batches.
        let conn = audit_with_batches(&dir.path().join("light"), 30, 1, at);
        assert_eq!(delete_audit_before(&conn, before, 10).unwrap(), 10);
        assert_eq!(delete_audit_before(&conn, before, 10).unwrap(), 10);

        // Heavy traffic: 500 events per batch. A chunk of 1,000 events takes 2 batches.
        let heavy = dir.path().join("heavy");
        let conn = audit_with_batches(&heavy, 5, 500, at);
        assert_eq!(delete_audit_before(&conn, before, 1000).unwrap(), 1000);
        // A batch larger than the chunk still goes whole: a chunk takes at least one.
        assert_eq!(delete_audit_before(&conn, before, 10).unwrap(), 500);
    }

    #[test]
    fn a_batch_spanning_the_cutoff_keeps_its_newer_events_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open_in_memory().unwrap();
        crate::sqlite::schema::attach_audit(&conn, &dir.path().join("audit.sqlite3")).unwrap();
        let day = |d: i64| to_nanos(OffsetDateTime::UNIX_EPOCH + time::Duration::days(d)).unwrap();
        let mut log = BatchLog::new();
        for (id, d) in [("a", 1), ("b", 10), ("c", 2), ("d", 11)] {
            log.push(day(d), id, None, None, "GET", "/x", "Allowed", "");
        }
        insert_audit_batch(&conn, log);

        let cutoff = OffsetDateTime::UNIX_EPOCH + time::Duration::days(5);
        assert_eq!(delete_audit_before(&conn, cutoff, 100).unwrap(), 2);
        let (first, last, events, log): (i64, i64, i64, String) = conn
            .query_row(
                "SELECT first_time, last_time, events, log FROM audit.audit_batches",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!((first, last, events), (day(10), day(11), 2));
        let kept: Vec<String> = decode_batch(&log)
            .unwrap()
            .into_iter()
            .map(|e| e.1)
            .collect();
        assert_eq!(kept, ["b", "d"]);
        assert_eq!(delete_audit_before(&conn, cutoff, 100).unwrap(), 0);
    }
}
