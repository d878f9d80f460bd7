//! Reads: a small pool of read-only connections, used directly on the calling thread,
//! and the queries.
//!
//! Point reads by primary key take microseconds in SQLite, less than a hop to a blocking
//! thread pool would, so they run inline rather than in `spawn_blocking`. WAL mode lets
//! them proceed while the writer commits.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use k9_domain::{AccessKeyId, AccountId, CustomerId, ExecutionId, PrincipalArn};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use crate::audit::{decode_batch, StoredEvent};
use crate::crypto::SecretCipher;
use crate::sqlite::cache::DbCounters;
use crate::sqlite::codec::{from_nanos, parse_stored, whole_seconds_utc, PageCursor};
use crate::{
    AccessKeyInfo, AuditEvent, AuditOutcome, Authorization, Credential, CredentialKind,
    CustomerInfo, DenialReason, Execution, ExecutionPage, SecretString, StoreError,
};

/// Idle read connections kept for reuse; more are opened under load and closed after.
const MAX_IDLE_READERS: usize = 8;
/// Bytes of the database file each reader maps into memory.
const MMAP_SIZE: i64 = 0;
/// Prepared statements cached per connection.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// How long any connection waits for a lock held by another (e.g. the admin CLI and the
/// server writing the same file) before giving up with "database is locked".
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections to the database, taken for one read and put back.
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// A pool for the database at `path`, with one connection opened now so that a
    /// database that cannot be read fails at startup.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let first = open_reader(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![first]),
        })
    }

    /// Runs `read` on an idle connection (or a new one when all are busy).
    pub(crate) fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // The lock only guards push/pop on the Vec, which cannot be left half-done, so a
        // poisoned lock still holds a valid Vec.
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Pages of the main file are read through a memory map instead of a read() each,
    // which matters because the page cache is emptied whenever another connection commits.
    conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(conn)
}

/// The credential for `id`, secret decrypted.
pub(crate) fn credential(
    conn: &Connection,
    cipher: &SecretCipher,
    id: &AccessKeyId,
) -> Result<Option<Credential>, StoreError> {
    if id.is_temporary() {
        let row = conn
            .prepare_cached(
                "SELECT session_arn, secret, session_token_sha256, expires_at
                 FROM sessions WHERE access_key_id = ?1",
            )?
            .query_row([id.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()?;
        let Some((session_arn, sealed, token_hash, expires_at)) = row else {
            return Ok(None);
        };
        let session_token_sha256 = <[u8; 32]>::try_from(token_hash.as_slice()).map_err(|_| {
            StoreError::corrupt(format!("session token hash of {id} is not 32 bytes"))
        })?;
        Ok(Some(Credential {
            access_key_id: id.clone(),
            secret_access_key: open_secret(cipher, id, &sealed)?,
            principal: parse_stored("sessions.session_arn", &session_arn)?,
            kind: CredentialKind::Temporary {
                session_token_sha256,
                expires_at: from_nanos(expires_at)?,
            },
        }))
    } else {
        let row = conn
            .prepare_cached(
                "SELECT user_arn, secret, status FROM access_keys WHERE access_key_id = ?1",
            )?
            .query_row([id.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()?;
        let Some((user_arn, sealed, status)) = row else {
            return Ok(None);
        };
        Ok(Some(Credential {
            access_key_id: id.clone(),
            secret_access_key: open_secret(cipher, id, &sealed)?,
            principal: parse_stored("access_keys.user_arn", &user_arn)?,
            kind: CredentialKind::LongTerm {
                status: parse_stored("access_keys.status", &status)?,
            },
        }))
    }
}

fn open_secret(
    cipher: &SecretCipher,
    id: &AccessKeyId,
    sealed: &[u8],
) -> Result<SecretString, StoreError> {
    let plain = cipher.open(id.as_str(), sealed)?;
    String::from_utf8(plain)
        .map(SecretString::new)
        .map_err(|_| StoreError::corrupt(format!("the secret of {id} is not UTF-8")))
}

/// Whether `caller` is covered by an approval of `customer` and `account` is registered
/// to `customer`.
/// The decision `Store::authorization` caches: allowed, or why not.
pub(crate) fn authorization(
    conn: &Connection,
    caller: &PrincipalArn,
    customer: &CustomerId,
    account: &AccountId,
) -> Result<Authorization, StoreError> {
    Ok(if is_authorized(conn, caller, customer, account)? {
        Authorization::Allowed
    } else {
        Authorization::Denied(denial_reason(conn, customer, account)?)
    })
}

fn is_authorized(
    conn: &Connection,
    caller: &PrincipalArn,
    customer: &CustomerId,
    account: &AccountId,
) -> Result<bool, StoreError> {
    // One statement (one read transaction): the join yields nothing unless the account is
    // registered to the customer; the index narrows the candidates to approvals in the
    // caller's account with the caller's (or, for a session, its role's) name; the domain
    // decides which of them cover the caller.
    let mut candidates = conn.prepare_cached(
        "SELECT approvals.principal_arn
         FROM accounts JOIN approvals ON approvals.customer_id = accounts.customer_id
         WHERE accounts.account_id = ?1 AND accounts.customer_id = ?2
           AND approvals.principal_account = ?3 AND approvals.principal_name = ?4",
    )?;
    let rows = candidates.query_map(
        params![
            account.as_str(),
            customer.as_str(),
            caller.account().as_str(),
            caller.name()
        ],
        |r| r.get::<_, String>(0),
    )?;
    for arn in rows {
        let approved: PrincipalArn = parse_stored("approvals.principal_arn", &arn?)?;
        if caller.is_covered_by(&approved) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Why `is_authorized` refuses, in one statement: a missing customer, else an account not
/// registered to it, else (both there) no approval covers the caller.
fn denial_reason(
    conn: &Connection,
    customer: &CustomerId,
    account: &AccountId,
) -> Result<DenialReason, StoreError> {
    let (customer_exists, account_registered): (bool, bool) = conn
        .prepare_cached(
            "SELECT
                EXISTS (SELECT 1 FROM customers WHERE customer_id = ?1),
                EXISTS (SELECT 1 FROM accounts WHERE customer_id = ?1 AND account_id = ?2)",
        )?
        .query_row(params![customer.as_str(), account.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(if !customer_exists {
        DenialReason::UnknownCustomer
    } else if !account_registered {
        DenialReason::AccountNotRegistered
    } else {
        DenialReason::NotApproved
    })
}

/// The database's change counters (the `admin_generation` and `execution_generation`
/// rows in `store_meta`), in one read.
pub(crate) fn db_counters(conn: &Connection) -> Result<DbCounters, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT
                (SELECT value FROM store_meta WHERE key = 'admin_generation'),
                (SELECT value FROM store_meta WHERE key = 'execution_generation')",
        )?
        .query_row([], |r| {
            Ok(DbCounters {
                admin: r.get(0)?,
                executions: r.get(1)?,
            })
        })?)
}

const EXECUTION_COLUMNS: &str =
    "execution_id, customer_id, account_id, status, requested_by, requested_at, started_at, finished_at, error";

/// An execution row as stored, before its values are parsed.
struct ExecutionRow {
    execution_id: String,
    customer_id: String,
    account_id: String,
    status: String,
    requested_by: String,
    requested_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    error: Option<String>,
}

impl ExecutionRow {
    /// Reads the [`EXECUTION_COLUMNS`], in order.
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            execution_id: row.get(0)?,
            customer_id: row.get(1)?,
            account_id: row.get(2)?,
            status: row.get(3)?,
            requested_by: row.get(4)?,
            requested_at: row.get(5)?,
            started_at: row.get(6)?,
            finished_at: row.get(7)?,
            error: row.get(8)?,
        })
    }

    fn into_execution(self) -> Result<Execution, StoreError> {
        Ok(Execution {
            execution_id: parse_stored("executions.execution_id", &self.execution_id)?,
            customer_id: parse_stored("executions.customer_id", &self.customer_id)?,
            account_id: parse_stored("executions.account_id", &self.account_id)?,
            status: parse_stored("executions.status", &self.status)?,
            requested_by: parse_stored("executions.requested_by", &self.requested_by)?,
            requested_at: from_nanos(self.requested_at)?,
            started_at: self.started_at.map(from_nanos).transpose()?,
            finished_at: self.finished_at.map(from_nanos).transpose()?,
            error: self.error,
        })
    }
}

/// The execution with `id`, whoever it belongs to.
pub(crate) fn execution_by_id(
    conn: &Connection,
    id: &ExecutionId,
) -> Result<Option<Execution>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions WHERE execution_id = ?1"
    ))?
    .query_row([id.as_str()], ExecutionRow::from_row)
    .optional()?
    .map(ExecutionRow::into_execution)
    .transpose()
}

/// The queued execution of `customer` and `account`, if any.
pub(crate) fn queued_execution(
    conn: &Connection,
    customer: &CustomerId,
    account: &AccountId,
) -> Result<Option<Execution>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions
         WHERE customer_id = ?1 AND account_id = ?2 AND status = 'queued'"
    ))?
    .query_row(
        params![customer.as_str(), account.as_str()],
        ExecutionRow::from_row,
    )
    .optional()?
    .map(ExecutionRow::into_execution)
    .transpose()
}

/// One page of executions, newest first (ties broken by id, descending).
pub(crate) fn list_executions(
    conn: &Connection,
    customer: &CustomerId,
    account: &AccountId,
    limit: u32,
    next_token: Option<&str>,
) -> Result<ExecutionPage, StoreError> {
    let cursor = next_token
        .map(|token| PageCursor::from_token(token, customer, account))
        .transpose()?;
    // One extra row tells whether there is a next page.
    let fetch = i64::from(limit) + 1;
    let rows: Vec<ExecutionRow> = match &cursor {
        None => conn
            .prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions
                 WHERE customer_id = ?1 AND account_id = ?2
                 ORDER BY requested_at DESC, execution_id DESC LIMIT ?3"
            ))?
            .query_map(
                params![customer.as_str(), account.as_str(), fetch],
                ExecutionRow::from_row,
            )?
            .collect::<Result<_, _>>()?,
        Some(cursor) => conn
            .prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions
                 WHERE customer_id = ?1 AND account_id = ?2
                   AND (requested_at < ?3 OR (requested_at = ?3 AND execution_id < ?4))
                 ORDER BY requested_at DESC, execution_id DESC LIMIT ?5"
            ))?
            .query_map(
                params![
                    customer.as_str(),
                    account.as_str(),
                    cursor.requested_at,
                    cursor.execution_id.as_str(),
                    fetch
                ],
                ExecutionRow::from_row,
            )?
            .collect::<Result<_, _>>()?,
    };
    let has_more = rows.len() > limit as usize;
    let mut executions = Vec::with_capacity(rows.len().min(limit as usize));
    let mut last_requested_at = 0;
    for row in rows.into_iter().take(limit as usize) {
        last_requested_at = row.requested_at;
        executions.push(row.into_execution()?);
    }
    let next_token = match executions.last() {
        Some(last) if has_more => Some(
            PageCursor {
                requested_at: last_requested_at,
                execution_id: last.execution_id.clone(),
            }
            .to_token(),
        ),
        _ => None,
    };
    Ok(ExecutionPage {
        executions,
        next_token,
    })
}

/// Every long-term key, by user then creation time.
pub(crate) fn list_keys(conn: &Connection) -> Result<Vec<AccessKeyInfo>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT access_key_id, user_arn, status, created_at, last_used_at FROM access_keys
         ORDER BY user_arn, created_at, access_key_id",
    )?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<i64>>(4)?,
        ))
    })?;
    rows.map(|row| {
        let (id, user_arn, status, created_at, last_used_at) = row?;
        let user_arn: PrincipalArn = parse_stored("access_keys.user_arn", &user_arn)?;
        Ok(AccessKeyInfo {
            user_name: user_arn.name().to_owned(),
            user_arn,
            access_key_id: parse_stored("access_keys.access_key_id", &id)?,
            status: parse_stored("access_keys.status", &status)?,
            create_date: from_nanos(created_at)?,
            // Whole seconds, as `create_date` and IAM's `LastUsedDate`.
            last_used_date: last_used_at
                .map(from_nanos)
                .transpose()?
                .map(whole_seconds_utc),
        })
    })
    .collect()
}

/// A customer with its accounts and approvals, read in one snapshot.
pub(crate) fn customer(
    conn: &Connection,
    id: &CustomerId,
) -> Result<Option<CustomerInfo>, StoreError> {
    let snapshot = conn.unchecked_transaction()?;
    let row = snapshot
        .prepare_cached("SELECT name, created_at FROM customers WHERE customer_id = ?1")?
        .query_row([id.as_str()], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?;
    let Some((name, created_at)) = row else {
        return Ok(None);
    };
    let accounts = snapshot
        .prepare_cached(
            "SELECT account_id FROM accounts WHERE customer_id = ?1 ORDER BY account_id",
        )?
        .query_map([id.as_str()], |r| r.get::<_, String>(0))?
        .map(|a| parse_stored("accounts.account_id", &a?))
        .collect::<Result<_, StoreError>>()?;
    let approved_principals = snapshot
        .prepare_cached(
            "SELECT principal_arn FROM approvals WHERE customer_id = ?1 ORDER BY principal_arn",
        )?
        .query_map([id.as_str()], |r| r.get::<_, String>(0))?
        .map(|a| parse_stored("approvals.principal_arn", &a?))
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(CustomerInfo {
        customer_id: id.clone(),
        name,
        created_at: from_nanos(created_at)?,
        accounts,
        approved_principals,
    }))
}

/// The latest `limit` audit events, newest (last recorded) first.
pub(crate) fn audit_events(conn: &Connection, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
    let limit = limit as usize;
    let mut statement =
        conn.prepare_cached("SELECT id, log FROM audit_batches ORDER BY id DESC")?;
    let mut rows = statement.query([])?;
    let mut events = Vec::new();
    while events.len() < limit {
        let Some(row) = rows.next()? else {
            break;
        };
        let id: i64 = row.get(0)?;
        let log = row.get_ref(1)?.as_str().map_err(|e| {
            StoreError::corrupt(format!("audit_batches row {id}: log is not text: {e}"))
        })?;
        let batch = decode_batch(log).map_err(|e| {
            StoreError::corrupt(format!("audit_batches row {id}: unreadable events: {e}"))
        })?;
        for stored in batch.into_iter().rev().take(limit - events.len()) {
            events.push(stored_event(stored)?);
        }
    }
    Ok(events)
}

/// An event as stored in a batch, its values parsed.
fn stored_event(stored: StoredEvent) -> Result<AuditEvent, StoreError> {
    let (time, request_id, access_key_id, principal, method, path, outcome, reason) = stored;
    let outcome = AuditOutcome::from_stored(&outcome).ok_or_else(|| {
        StoreError::corrupt(format!(
            "audit event {request_id}: unknown outcome '{outcome}'"
        ))
    })?;
    Ok(AuditEvent {
        time: from_nanos(time)?,
        request_id,
        access_key_id,
        principal,
        method,
        path,
        outcome,
        reason,
    })
}
