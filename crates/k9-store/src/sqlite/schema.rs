//! The database schema, as ordered embedded migrations.
//!
//! Each migration runs once, in order, in the same transaction as its row in
//! `schema_migrations`; reopening a database applies only what is new. Never edit a
//! migration that has shipped: add a new one.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::audit::BatchLog;
use crate::sqlite::codec::to_nanos;
use crate::StoreError;

/// One schema change.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first. Versions are consecutive from 1.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: r#"
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value ANY NOT NULL
) STRICT;
-- Bumped by every administrative write (keys, sessions, customers, accounts, approvals),
-- by any process, so that caches of credentials and authorization decisions in a
-- running server notice changes made by the admin CLI.
INSERT INTO store_meta (key, value) VALUES ('admin_generation', 0);

CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    name        TEXT,
    created_at  INTEGER NOT NULL
) STRICT;

-- An account belongs to at most one customer.
CREATE TABLE accounts (
    account_id  TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    added_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX accounts_by_customer ON accounts (customer_id, account_id);

-- IAM users and roles. Names are unique per account and kind whatever the path, as in IAM.
CREATE TABLE principals (
    arn        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'role')),
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    unique_id  TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    UNIQUE (kind, account_id, name)
) STRICT;

-- Principals approved to act for a customer. Need not exist in `principals`.
CREATE TABLE approvals (
    customer_id       TEXT NOT NULL REFERENCES customers (customer_id),
    principal_arn     TEXT NOT NULL,
    principal_account TEXT NOT NULL,
    principal_name    TEXT NOT NULL,
    approved_at       INTEGER NOT NULL,
    PRIMARY KEY (customer_id, principal_arn)
) STRICT;
CREATE INDEX approvals_by_name ON approvals (customer_id, principal_account, principal_name);

-- Long-term (AKIA) keys. `secret` is nonce || AES-256-GCM(secret, aad = access_key_id).
CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    user_arn      TEXT NOT NULL REFERENCES principals (arn),
    status        TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
    secret        BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;
CREATE INDEX access_keys_by_user ON access_keys (user_arn);

-- Role sessions (ASIA keys). Only the SHA-256 of the session token is stored.
CREATE TABLE sessions (
    access_key_id        TEXT PRIMARY KEY,
    role_arn             TEXT NOT NULL REFERENCES principals (arn),
    session_arn          TEXT NOT NULL,
    secret               BLOB NOT NULL,
    session_token_sha256 BLOB NOT NULL,
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    last_used_at         INTEGER
) STRICT;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Times are Unix nanoseconds, UTC.
CREATE TABLE executions (
    execution_id TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (customer_id),
    account_id   TEXT NOT NULL REFERENCES accounts (account_id),
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    requested_by TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    error        TEXT
) STRICT;
CREATE INDEX executions_newest_first
    ON executions (customer_id, account_id, requested_at DESC, execution_id DESC);
-- Backstop for coalescing: at most one queued execution per customer and account.
CREATE UNIQUE INDEX executions_one_queued
    ON executions (customer_id, account_id) WHERE status = 'queued';

"#,
    },
    Migration {
        version: 2,
        name: "execution change counter",
        sql: "
-- Bumped by every change to an existing execution (a status move), by any process, so
-- that a running server's cache of executions notices changes made by another process.
INSERT OR IGNORE INTO store_meta (key, value) VALUES ('execution_generation', 0);
",
    },
    Migration {
        version: 3,
        name: "audit log in batches",
        // Nothing changes in this file: the audit file next to it now keeps its events in
        // batches (see AUDIT_BATCHES_TABLE), which an older k9 cannot write or read. The
        // version tells an older k9 to refuse the data directory instead.
        sql: "-- the audit file's events are stored in batches",
    },
];

/// The audit log lives in its own file, attached to the writer's connection as `audit`.
/// Audit rows are written on every request; kept in the main file, each of those commits
/// would invalidate every reader's page cache, and reads on the request path would pay
/// for it. Nothing joins audit rows with the rest, so they lose nothing by living apart.
///
/// Events are stored in batches: one row per writer commit, its events a JSON array in
/// `log` (see [`crate::audit::BatchLog`]). One row per event cost the writer more than the
/// rest of a request's server-side work together (a B-tree insert and eight bound values
/// for each); one row per commit costs one insert for hundreds of events. The view
/// `audit_log` shows one row per event, in order, for anyone reading the file with a
/// SQLite client. (`audit_events` is the table of one row per event that earlier releases
/// wrote; see [`move_per_event_rows`].)
const AUDIT_BATCHES_TABLE: &str = "
CREATE TABLE IF NOT EXISTS audit.audit_batches (
    id         INTEGER PRIMARY KEY,
    first_time INTEGER NOT NULL,
    last_time  INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    log        TEXT NOT NULL
) STRICT;
";

const AUDIT_EVENTS_VIEW: &str = "
CREATE VIEW IF NOT EXISTS audit.audit_log AS
SELECT b.id AS batch,
       e.key AS position,
       json_extract(e.value, '$[0]') AS time,
       json_extract(e.value, '$[1]') AS request_id,
       json_extract(e.value, '$[2]') AS access_key_id,
       json_extract(e.value, '$[3]') AS principal,
       json_extract(e.value, '$[4]') AS method,
       json_extract(e.value, '$[5]') AS path,
       json_extract(e.value, '$[6]') AS outcome,
       json_extract(e.value, '$[7]') AS reason
FROM audit_batches AS b, json_each(b.log) AS e;
";

/// Attaches the audit file at `path` to the writer's connection as `audit`, in WAL mode,
/// and creates its table and view if needed. Audit commits are not fsync'd on their own
/// (`synchronous=NORMAL`): a process crash loses none, a power cut may lose the last
/// instants' rows.
pub(crate) fn attach_audit(conn: &Connection, path: &std::path::Path) -> Result<(), StoreError> {
    let path = path.to_str().ok_or_else(|| {
        StoreError::invalid(format!(
            "the data directory path {} is not UTF-8",
            path.display()
        ))
    })?;
    conn.execute("ATTACH DATABASE ?1 AS audit", [path])?;
    let mode: String =
        conn.pragma_update_and_check(Some("audit"), "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::invalid(format!(
            "could not switch {path} to WAL mode (got '{mode}')"
        )));
    }
    conn.pragma_update(Some("audit"), "synchronous", "NORMAL")?;
    conn.execute_batch(AUDIT_BATCHES_TABLE)?;
    conn.execute_batch(AUDIT_EVENTS_VIEW)?;
    Ok(())
}

/// Events moved per transaction (and per batch row) by [`move_per_event_rows`].
const UPGRADE_CHUNK: usize = 1000;

/// Moves the rows of the table of one row per event that earlier releases wrote
/// (`audit_events`), if the audit file at `path` has one, into batches: oldest first, a
/// chunk per transaction (each chunk's rows inserted as one batch and deleted together, so
/// a crash or a second process doing the same never loses or repeats one).
///
/// Runs on a connection of its own to the audit file, so that only that file is locked,
/// and only for one chunk at a time. The table itself stays: an older k9 still running
/// keeps inserting into it (it cannot open the directory again, see migration 3), and
/// whatever it adds is moved the next time a store opens the directory.
pub(crate) fn move_per_event_rows(path: &std::path::Path) -> Result<u64, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(crate::sqlite::reads::BUSY_TIMEOUT)?;
    let has_table = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'")?
        .exists([])?;
    if !has_table {
        return Ok(0);
    }
    let mut moved = 0u64;
    loop {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        match move_chunk(&conn) {
            Ok(0) => {
                conn.execute_batch("COMMIT")?;
                break;
            }
            Ok(count) => {
                conn.execute_batch("COMMIT")?;
                moved += count;
                if moved.is_multiple_of(100 * UPGRADE_CHUNK as u64) {
                    tracing::info!(events = moved, "moving the audit log into batches");
                }
            }
            Err(e) => {
                if let Err(rollback) = conn.execute_batch("ROLLBACK") {
                    tracing::error!(error = %rollback, "could not roll back an audit upgrade chunk");
                }
                return Err(e);
            }
        }
    }
    if moved > 0 {
        tracing::info!(events = moved, "moved the audit log into batches");
    }
    Ok(moved)
}

/// Moves the oldest [`UPGRADE_CHUNK`] rows of `audit_events` into one batch; returns how
/// many it moved.
fn move_chunk(conn: &Connection) -> Result<u64, StoreError> {
    let mut select = conn.prepare_cached(
        "SELECT id, time, request_id, access_key_id, principal, method, path, outcome, reason
         FROM audit_events ORDER BY id LIMIT ?1",
    )?;
    let mut rows = select.query([UPGRADE_CHUNK as i64])?;
    let mut log = BatchLog::new();
    let mut last_id = None;
    while let Some(row) = rows.next()? {
        let text = |i: usize| row.get::<_, String>(i);
        let optional = |i: usize| row.get::<_, Option<String>>(i);
        last_id = Some(row.get::<_, i64>(0)?);
        log.push(
            row.get(1)?,
            &text(2)?,
            optional(3)?.as_deref(),
            optional(4)?.as_deref(),
            &text(5)?,
            &text(6)?,
            &text(7)?,
            &text(8)?,
        );
    }
    let Some(last_id) = last_id else {
        return Ok(0);
    };
    let count = log.events as u64;
    let (first, last, events) = (log.first_time, log.last_time, log.events);
    conn.prepare_cached(
        "INSERT INTO audit_batches (first_time, last_time, events, log) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(rusqlite::params![first, last, events, log.into_json()])?;
    conn.prepare_cached("DELETE FROM audit_events WHERE id <= ?1")?
        .execute([last_id])?;
    Ok(count)
}

/// Brings the database up to the latest schema. Safe to run on every open, including
/// from two processes at once (the check and the changes share one IMMEDIATE transaction).
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        ) STRICT;",
    )?;
    let current: i64 = tx
        .query_row("SELECT max(version) FROM schema_migrations", [], |row| {
            row.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0);
    let latest = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > latest {
        return Err(StoreError::invalid(format!(
            "the database schema is at version {current}, newer than this k9 knows (up to {latest}): \
             run a newer k9 on this data directory"
        )));
    }
    let now = to_nanos(time::OffsetDateTime::now_utc())?;
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.execute_batch(migration.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![migration.version, migration.name, now],
        )?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied schema migration"
        );
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_versions_are_consecutive_from_one() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, i as i64 + 1, "{}", migration.name);
        }
    }

    #[test]
    fn migrating_twice_applies_each_migration_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let applied: i64 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(applied, MIGRATIONS.len() as i64);
    }

    #[test]
    fn database_from_a_newer_k9_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations VALUES (999, 'future', 0)",
            [],
        )
        .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(err.to_string().contains("version 999"), "{err}");
    }
}
