//! [`SqliteStore`]: the embedded backend, one SQLite file in the data directory.
//!
//! - Writes go to one writer thread that commits them in groups (`writer.rs`), with
//!   `synchronous=FULL` so a commit is on disk when a caller is told it succeeded.
//! - Reads use a small pool of read-only connections on the calling thread (`reads.rs`);
//!   the credential, authorization and execution lookups of the request path are cached
//!   (`cache.rs`), invalidated by administrative writes and execution status moves.
//! - WAL mode lets readers, the writer and another process (the admin CLI) share the
//!   file; `busy_timeout` makes writers from two processes wait for each other.

mod cache;
mod codec;
mod reads;
mod schema;
mod writer;
mod writes;

use std::fmt;
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use k9_domain::{AccessKeyId, AccountId, CustomerId, ExecutionId, ExecutionStatus, PrincipalArn};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::audit::EncodedAuditEvent;
use crate::crypto::SecretCipher;
use crate::secret::create_data_dir;
use crate::store::{MAX_PAGE_SIZE, MAX_SESSION_DURATION, MIN_SESSION_DURATION};
use crate::{
    random, AccessKey, AccessKeyInfo, AssumedRoleUser, AuditEvent, AuditQueue, AuditRecord,
    Authorization, Credential, CustomerInfo, EnqueueOutcome, Execution, ExecutionPage, KeyStatus,
    MasterKey, NewAccessKey, NewSession, SessionCredentials, Store, StoreError,
};
use cache::{authorization_key, ReadCache};
use codec::{to_nanos, whole_seconds_utc};
use reads::{ReadPool, BUSY_TIMEOUT};
use writer::Writer;
use writes::{ChangeCounter, SessionRow};

/// Associated data of the master key check value, so it cannot be mistaken for a secret.
const MASTER_KEY_CHECK_AAD: &str = "k9 master key check";
/// `store_meta` key of the master key check value.
const MASTER_KEY_CHECK: &str = "master_key_check";

/// The embedded [`Store`]: `<data_dir>/k9.sqlite3`, secrets encrypted with the
/// [`MasterKey`].
///
/// Credentials, authorization decisions and executions are cached in memory: this
/// process's writes take effect at once, those of another process sharing the file within
/// 100 ms (the admin CLI's changes; status moves made through another store on the same
/// data dir, which nothing in k9 makes yet: analyses do not run).
///
/// Dropping it commits every pending write (including audit events) and stops the
/// writer thread; it blocks for that commit.
pub struct SqliteStore {
    db_path: PathBuf,
    audit_path: PathBuf,
    cipher: SecretCipher,
    readers: ReadPool,
    cache: Arc<ReadCache>,
    writer: Writer,
}

impl SqliteStore {
    /// The database file's name inside the data directory.
    pub const FILE_NAME: &'static str = "k9.sqlite3";
    /// The audit log's file name inside the data directory.
    pub const AUDIT_FILE_NAME: &'static str = "audit.sqlite3";

    /// Whether `data_dir` holds a k9 database (an error when it cannot be read).
    pub fn exists_in(data_dir: &Path) -> std::io::Result<bool> {
        data_dir.join(Self::FILE_NAME).try_exists()
    }

    /// Opens (creating if needed) `<data_dir>/k9.sqlite3` and brings its schema up to
    /// date. Fails with [`StoreError::MasterKeyMismatch`] if the database was created
    /// with another master key.
    pub fn open(data_dir: &Path, master_key: MasterKey) -> Result<Self, StoreError> {
        create_data_dir(data_dir)?;
        let db_path = data_dir.join(Self::FILE_NAME);
        create_private_file(&db_path)?;
        let audit_path = data_dir.join(Self::AUDIT_FILE_NAME);
        create_private_file(&audit_path)?;
        let mut conn = open_writer(&db_path)?;
        schema::migrate(&mut conn)?;
        schema::attach_audit(&conn, &audit_path)?;
        schema::move_per_event_rows(&audit_path)?;
        let cipher = SecretCipher::new(&master_key);
        check_master_key(&mut conn, &cipher)?;
        let readers = ReadPool::open(&db_path)?;
        let cache = Arc::new(ReadCache::new(readers.with(reads::db_counters)?));
        let writer = Writer::start(conn, &db_path)?;
        Ok(Self {
            db_path,
            audit_path,
            cipher,
            readers,
            cache,
            writer,
        })
    }

    /// Checks, at most once per refresh interval, whether another process made an
    /// administrative change or moved an execution, and if so empties those caches.
    fn refresh_cache(&self) {
        if self.cache.db_check_due() {
            match self.readers.with(reads::db_counters) {
                Ok(counters) => self.cache.saw_db_counters(counters),
                Err(e) => {
                    tracing::warn!(error = %e, "could not check for changes by other processes; dropping caches");
                    self.cache.invalidate_all();
                }
            }
        }
    }

    /// Runs an administrative write: counts it in the database (for other processes'
    /// caches) in the same transaction, and invalidates this process's caches once it
    /// has committed (on the writer thread, so a cancelled caller cannot skip it).
    async fn admin_write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let cache = self.cache.clone();
        self.writer
            .submit_then(
                move |conn| {
                    let value = write(conn)?;
                    writes::bump_change_counter(conn, ChangeCounter::Admin)?;
                    Ok(value)
                },
                Some(Box::new(move || cache.invalidate_admin())),
            )
            .await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.db_path
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.db_path)
            .finish_non_exhaustive()
    }
}

/// Creates `path` empty with mode 0600 unless it exists, so that SQLite (which keeps an
/// existing file's mode, and gives its `-wal`/`-shm` files the same) never makes the
/// database readable by other users.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Io {
            action: "create the database file",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The writer's connection: WAL, `synchronous=FULL` (each commit fsync'd), foreign keys
/// enforced, waits up to [`BUSY_TIMEOUT`] for another process's lock.
fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::invalid(format!(
            "could not switch {} to WAL mode (got '{mode}'): is it on a network file system?",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Checks that `cipher` opens the check value stored when the database was created, or
/// stores one if this is a new database. Catches a wrong master key at startup rather
/// than at the first request.
fn check_master_key(conn: &mut Connection, cipher: &SecretCipher) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stored: Option<Vec<u8>> = tx
        .query_row(
            "SELECT value FROM store_meta WHERE key = ?1",
            [MASTER_KEY_CHECK],
            |row| row.get(0),
        )
        .optional()?;
    match stored {
        Some(sealed) => {
            cipher.open(MASTER_KEY_CHECK_AAD, &sealed)?;
        }
        None => {
            let sealed = cipher.seal(MASTER_KEY_CHECK_AAD, b"k9")?;
            tx.execute(
                "INSERT INTO store_meta (key, value) VALUES (?1, ?2)",
                rusqlite::params![MASTER_KEY_CHECK, sealed],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn credential(&self, id: &AccessKeyId) -> Result<Option<Arc<Credential>>, StoreError> {
        if let Some(credential) = self.credential_now(id) {
            return Ok(Some(credential));
        }
        let generation = self.cache.admin_generation();
        let credential = self
            .readers
            .with(|conn| reads::credential(conn, &self.cipher, id))?
            .map(Arc::new);
        if let Some(credential) = &credential {
            self.cache.put_credential(generation, credential.clone());
        }
        Ok(credential)
    }

    fn credential_now(&self, id: &AccessKeyId) -> Option<Arc<Credential>> {
        self.refresh_cache();
        self.cache.credential(id.as_str())
    }

    fn record_key_use(&self, id: &AccessKeyId, at: OffsetDateTime) {
        match to_nanos(at) {
            Ok(at) => self.writer.record_key_use(id.as_str(), at),
            Err(e) => tracing::warn!(error = %e, access_key_id = %id, "key use not recorded"),
        }
    }

    async fn authorization(
        &self,
        caller: &PrincipalArn,
        customer: &CustomerId,
        account: &AccountId,
    ) -> Result<Authorization, StoreError> {
        if let Some(decision) = self.authorization_now(caller, customer, account) {
            return Ok(decision);
        }
        let key = authorization_key(caller, customer.as_str(), account.as_str());
        let generation = self.cache.admin_generation();
        let decision = self
            .readers
            .with(|conn| reads::authorization(conn, caller, customer, account))?;
        self.cache.put_authorization(key, generation, decision);
        Ok(decision)
    }

    fn authorization_now(
        &self,
        caller: &PrincipalArn,
        customer: &CustomerId,
        account: &AccountId,
    ) -> Option<Authorization> {
        self.refresh_cache();
        self.cache
            .authorization(caller, customer.as_str(), account.as_str())
    }

    async fn enqueue_execution(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        requested_by: &PrincipalArn,
        now: OffsetDateTime,
    ) -> Result<EnqueueOutcome, StoreError> {
        let (customer, account, requested_by) =
            (customer.clone(), account.clone(), requested_by.clone());
        self.writer
            .submit(move |conn| {
                writes::enqueue_execution(conn, &customer, &account, &requested_by, now)
            })
            .await
    }

    async fn execution(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        id: &ExecutionId,
    ) -> Result<Option<Arc<Execution>>, StoreError> {
        // The id names its customer and account; a mismatch cannot be theirs.
        if !id.belongs_to(customer, account) {
            return Ok(None);
        }
        if let Some(execution) = self.execution_now(customer, account, id) {
            return Ok(Some(execution));
        }
        let generation = self.cache.execution_generation();
        let execution = self
            .readers
            .with(|conn| reads::execution_by_id(conn, id))?
            .map(Arc::new);
        if let Some(execution) = &execution {
            self.cache.put_execution(generation, execution.clone());
        }
        Ok(execution)
    }

    fn execution_now(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        id: &ExecutionId,
    ) -> Option<Arc<Execution>> {
        // The id names its customer and account; a mismatch cannot be theirs.
        if !id.belongs_to(customer, account) {
            return None;
        }
        self.refresh_cache();
        self.cache.execution(id.as_str())
    }

    async fn list_executions(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<ExecutionPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        self.readers
            .with(|conn| reads::list_executions(conn, customer, account, limit, next_token))
    }

    async fn set_execution_status(
        &self,
        id: &ExecutionId,
        status: ExecutionStatus,
        at: OffsetDateTime,
        error: Option<&str>,
    ) -> Result<Execution, StoreError> {
        let (id, error) = (id.clone(), error.map(str::to_owned));
        let cache = self.cache.clone();
        self.writer
            .submit_then(
                move |conn| {
                    let execution =
                        writes::set_execution_status(conn, &id, status, at, error.as_deref())?;
                    writes::bump_change_counter(conn, ChangeCounter::Executions)?;
                    Ok(execution)
                },
                // After the commit (or its failure), on the writer thread: an execution read
                // before it is never served after it, even if this caller gave up waiting.
                Some(Box::new(move || cache.invalidate_executions())),
            )
            .await
    }

    fn record_audit(&self, record: AuditRecord<'_>) -> AuditQueue {
        match to_nanos(record.time) {
            Ok(time) => {
                // Encoded (sanitized and copied) before the writer ever sees it.
                let event = EncodedAuditEvent::encode(&record, time);
                self.writer.record_audit(event)
            }
            Err(e) => {
                tracing::error!(error = %e, request_id = %record.request_id, "audit event not recorded");
                AuditQueue::Queued
            }
        }
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush().await
    }

    async fn create_user(
        &self,
        arn: &PrincipalArn,
        now: OffsetDateTime,
    ) -> Result<NewAccessKey, StoreError> {
        let PrincipalArn::User { name, .. } = arn else {
            return Err(StoreError::invalid(format!(
                "{arn} is not a user ARN: access keys are for users (arn:aws:iam::<account>:user/<path/><name>); \
                 roles get temporary credentials from a session"
            )));
        };
        let key_id = AccessKeyId::generate_long_term();
        let secret = random::secret_access_key();
        let sealed = self
            .cipher
            .seal(key_id.as_str(), secret.expose().as_bytes())?;
        let create_date = whole_seconds_utc(now);
        let unique_id = random::unique_id("AIDA");
        let (user, id) = (arn.clone(), key_id.clone());
        self.admin_write(move |conn| {
            writes::create_user_key(conn, &user, &unique_id, &id, &sealed, create_date)
        })
        .await?;
        Ok(NewAccessKey {
            access_key: AccessKey {
                user_name: name.clone(),
                user_arn: arn.clone(),
                access_key_id: key_id,
                status: KeyStatus::Active,
                secret_access_key: secret,
                create_date,
            },
        })
    }

    async fn create_role(&self, arn: &PrincipalArn, now: OffsetDateTime) -> Result<(), StoreError> {
        if !matches!(arn, PrincipalArn::Role { .. }) {
            return Err(StoreError::invalid(format!(
                "{arn} is not a role ARN: expected arn:aws:iam::<account>:role/<path/><name>"
            )));
        }
        let (role, unique_id, created) = (
            arn.clone(),
            random::unique_id("AROA"),
            whole_seconds_utc(now),
        );
        self.admin_write(move |conn| writes::create_role(conn, &role, &unique_id, created))
            .await
    }

    async fn list_keys(&self) -> Result<Vec<AccessKeyInfo>, StoreError> {
        self.readers.with(reads::list_keys)
    }

    async fn set_key_status(&self, id: &AccessKeyId, status: KeyStatus) -> Result<(), StoreError> {
        if id.is_temporary() {
            return Err(StoreError::invalid(format!(
                "{id} is a temporary (session) key, which has no status: delete it to end the session"
            )));
        }
        let id = id.clone();
        self.admin_write(move |conn| writes::set_key_status(conn, &id, status))
            .await
    }

    async fn delete_key(&self, id: &AccessKeyId) -> Result<(), StoreError> {
        let id = id.clone();
        self.admin_write(move |conn| writes::delete_key(conn, &id))
            .await
    }

    async fn create_customer(
        &self,
        id: &CustomerId,
        name: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (id, name) = (id.clone(), name.map(str::to_owned));
        self.admin_write(move |conn| writes::create_customer(conn, &id, name.as_deref(), now))
            .await
    }

    async fn add_account(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (customer, account) = (customer.clone(), account.clone());
        self.admin_write(move |conn| writes::add_account(conn, &customer, &account, now))
            .await
    }

    async fn approve(
        &self,
        customer: &CustomerId,
        arn: &PrincipalArn,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (customer, arn) = (customer.clone(), arn.clone());
        self.admin_write(move |conn| writes::approve(conn, &customer, &arn, now))
            .await
    }

    async fn revoke(&self, customer: &CustomerId, arn: &PrincipalArn) -> Result<(), StoreError> {
        let (customer, arn) = (customer.clone(), arn.clone());
        self.admin_write(move |conn| writes::revoke(conn, &customer, &arn))
            .await
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerInfo>, StoreError> {
        self.readers.with(|conn| reads::customer(conn, id))
    }

    async fn create_session(
        &self,
        role: &PrincipalArn,
        session_name: &str,
        duration: Duration,
        now: OffsetDateTime,
    ) -> Result<NewSession, StoreError> {
        if !matches!(role, PrincipalArn::Role { .. }) {
            return Err(StoreError::invalid(format!(
                "{role} is not a role ARN: only a role (arn:aws:iam::<account>:role/<path/><name>) can be assumed"
            )));
        }
        if !(MIN_SESSION_DURATION..=MAX_SESSION_DURATION).contains(&duration) {
            return Err(StoreError::invalid(format!(
                "session duration must be {} to {} seconds (15 minutes to 12 hours), got {}",
                MIN_SESSION_DURATION.whole_seconds(),
                MAX_SESSION_DURATION.whole_seconds(),
                duration.whole_seconds()
            )));
        }
        let session_arn = role
            .assumed_role_session(session_name)
            .map_err(|e| StoreError::invalid(e.to_string()))?;
        let key_id = AccessKeyId::generate_temporary();
        let secret = random::secret_access_key();
        let token = random::session_token();
        let created_at = whole_seconds_utc(now);
        let expires_at = created_at + Duration::seconds(duration.whole_seconds());
        let row = SessionRow {
            role: role.clone(),
            session_arn: session_arn.clone(),
            key_id: key_id.clone(),
            sealed_secret: self
                .cipher
                .seal(key_id.as_str(), secret.expose().as_bytes())?,
            token_sha256: Sha256::digest(token.expose().as_bytes()).into(),
            created_at,
            expires_at,
        };
        let role_unique_id = self
            .admin_write(move |conn| writes::create_session(conn, &row))
            .await?;
        Ok(NewSession {
            credentials: SessionCredentials {
                access_key_id: key_id,
                secret_access_key: secret,
                session_token: token,
                expiration: expires_at,
            },
            assumed_role_user: AssumedRoleUser {
                assumed_role_id: format!("{role_unique_id}:{session_name}"),
                arn: session_arn,
            },
        })
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        // Each chunk (the oldest batches, about this many events in all, however many
        // batches that takes) is one short write among the request path's; not an
        // administrative change, so the caches stay.
        const CHUNK: usize = 5_000;
        let mut pruned = 0u64;
        loop {
            let deleted = self
                .writer
                .submit(move |conn| writes::delete_audit_before(conn, before, CHUNK))
                .await?;
            pruned += deleted as u64;
            // Go on while a chunk held anything to delete, not only while it was full: a
            // row dated after the cutoff at the front (the clock once ran ahead) would
            // otherwise stop every pass at its first chunk. Rows written meanwhile are
            // newer than the cutoff, so this ends.
            if deleted == 0 {
                return Ok(pruned);
            }
        }
    }

    async fn audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        // Audit reads are for administration, not the request path: a short-lived
        // connection to the audit file keeps the readers' pool free of it.
        let conn = Connection::open_with_flags(
            &self.audit_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        reads::audit_events(&conn, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k9_domain::ExecutionStatus;
    use std::future::Future;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-01-02 03:04:05 UTC);

    /// A store with one queued execution, whose cross-process checks never run: what the
    /// tests see is this process's own invalidation.
    async fn store_with_execution(dir: &Path) -> (SqliteStore, Arc<Execution>) {
        let store = SqliteStore::open(dir, MasterKey::load_or_create(dir).unwrap()).unwrap();
        store.cache.stop_db_checks();
        let customer = CustomerId::parse("C123456").unwrap();
        let account = AccountId::parse("123456789012").unwrap();
        let user = PrincipalArn::parse("arn:aws:iam::123456789012:user/alice").unwrap();
        store.create_customer(&customer, None, NOW).await.unwrap();
        store.add_account(&customer, &account, NOW).await.unwrap();
        let queued = store
            .enqueue_execution(&customer, &account, &user, NOW)
            .await
            .unwrap()
            .into_execution();
        let first = read(&store, &queued).await;
        let second = read(&store, &queued).await;
        assert!(
            Arc::ptr_eq(&first, &second),
            "the second read is the cached copy"
        );
        (store, first)
    }

    async fn read(store: &SqliteStore, execution: &Execution) -> Arc<Execution> {
        store
            .execution(
                &execution.customer_id,
                &execution.account_id,
                &execution.execution_id,
            )
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn a_status_move_invalidates_this_process_cache_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, cached) = store_with_execution(dir.path()).await;
        store
            .set_execution_status(&cached.execution_id, ExecutionStatus::Running, NOW, None)
            .await
            .unwrap();
        let after = read(&store, &cached).await;
        assert_eq!(after.status, ExecutionStatus::Running);
        assert!(!Arc::ptr_eq(&after, &cached));
    }

    #[tokio::test]
    async fn a_status_move_whose_caller_stopped_waiting_still_invalidates() {
        let dir = tempfile::tempdir().unwrap();
        let (store, cached) = store_with_execution(dir.path()).await;
        // Polled once (which hands the write to the writer), then dropped unanswered.
        let mut moved = Box::pin(store.set_execution_status(
            &cached.execution_id,
            ExecutionStatus::Running,
            NOW,
            None,
        ));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(moved.as_mut().poll(&mut context).is_pending());
        drop(moved);
        store.flush().await.unwrap();
        assert_eq!(read(&store, &cached).await.status, ExecutionStatus::Running);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backlogged_audit_log_says_so_and_its_events_are_all_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(dir.path(), MasterKey::load_or_create(dir.path()).unwrap()).unwrap(),
        );
        // Hold the writer inside a batch: nothing leaves the audit buffer meanwhile.
        let (started, writer_busy) = tokio::sync::oneshot::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let held = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .writer
                    .submit(move |_conn| {
                        let _ = started.send(());
                        let _ = released.recv();
                        Ok(())
                    })
                    .await
            })
        };
        writer_busy.await.unwrap();

        // Events of about 3 KiB: 4,000 of them are more than the 8 MiB allowed to wait.
        let (path, reason) = ("p".repeat(2048), "r".repeat(1024));
        let record = |request_id| AuditRecord {
            time: NOW,
            request_id,
            access_key_id: None,
            principal: None,
            method: "GET",
            path: &path,
            outcome: crate::AuditOutcome::Denied,
            reason: &reason,
        };
        let request_ids: Vec<String> = (0..4000).map(|i| format!("r-{i}")).collect();
        let answers: Vec<AuditQueue> = request_ids
            .iter()
            .map(|id| store.record_audit(record(id)))
            .collect();
        assert_eq!(answers[0], AuditQueue::Queued);
        assert_eq!(answers[3999], AuditQueue::Backlogged);

        // The helper waits out the backlog, which commits once the writer is free.
        release.send(()).unwrap();
        crate::record_audit(&*store, record("last")).await;
        held.await.unwrap().unwrap();
        let conn = Connection::open(&store.audit_path).unwrap();
        let committed: i64 = conn
            .query_row("SELECT sum(events) FROM audit_batches", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(committed, 4001);
    }
}
