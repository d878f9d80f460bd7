//! The database schema, as ordered embedded migrations.
//!
//! Each migration runs once, in order, in the same transaction as its row in
//! `schema_migrations`; reopening a database applies only what is new. Never edit a
//! migration that has shipped: add a new one.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

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
];

/// The audit log lives in its own file, attached to the writer's connection as `audit`.
/// Audit rows are written on every request; kept in the main file, each of those commits
/// would invalidate every reader's page cache, and reads on the request path would pay
/// for it. Nothing joins audit rows with the rest, so they lose nothing by living apart.
pub(crate) const AUDIT_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit.audit_events (
    id            INTEGER PRIMARY KEY,
    time          INTEGER NOT NULL,
    request_id    TEXT NOT NULL,
    access_key_id TEXT,
    principal     TEXT,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    reason        TEXT NOT NULL
) STRICT;
";

/// Attaches the audit file at `path` to the writer's connection as `audit`, in WAL mode,
/// and creates its table if needed. Audit commits are not fsync'd on their own
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
    conn.execute_batch(AUDIT_SCHEMA)?;
    Ok(())
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
