//! The writer thread: the only writer to the database, committing in groups.
//!
//! Every write is a command on one channel. The thread takes the first pending command,
//! drains whatever else is already waiting (up to [`MAX_BATCH`]), runs them all in ONE
//! `BEGIN IMMEDIATE` transaction, commits (an fsync, with `synchronous=FULL`), then
//! replies to every waiting caller. Under load a batch fills while the previous one is
//! being fsync'd, so durability costs one fsync per batch, not per request.
//!
//! Audit events do not travel as commands: request threads append them, already encoded,
//! to one shared buffer ([`PendingAudit`]), and the writer takes the whole buffer at every
//! commit. Only the append that finds the buffer empty sends a command, to wake the writer.
//! A message per event, and a buffer per event freed on the writer's thread, cost more
//! than the event's share of the row.
//!
//! Each awaited write runs inside its own savepoint, so a write that fails (say, a
//! `NotFound`) leaves nothing behind and does not spoil the rest of its batch. Because
//! one thread applies the writes one after another, a check and the write that depends
//! on it (e.g. "is an execution already queued?" then insert) cannot race.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::audit::{BatchLog, EncodedAuditEvent};
use crate::sqlite::writes;
use crate::{AuditQueue, StoreError};

/// Most commands in one transaction.
const MAX_BATCH: usize = 512;
/// A batch nobody waits on, smaller than this, waits up to [`LINGER`] for company.
const LINGER_BELOW: usize = 128;
/// How long a fire-and-forget batch (audit events, key-use stamps) waits for more: each
/// commit rewrites the audit table's last page and the WAL's index whatever it holds, so
/// fewer, larger commits cost the writer (and the request threads that wake it) less.
/// A crash of the process loses the events still in memory: up to a linger's worth, and
/// whatever arrived while the writer was busy with the batch before.
const LINGER: Duration = Duration::from_millis(10);
/// The linger is cut into steps this long; an awaited write arriving meanwhile ends it at
/// the next step, so it waits at most this long for the batch it joins.
const LINGER_STEP: Duration = Duration::from_millis(1);
/// Audit events that end a linger early: a batch row this size is already cheap per event.
const LINGER_AUDIT_BYTES: usize = 512 << 10;
/// Commands that may wait for the writer before senders wait for room (back-pressure
/// instead of unbounded memory).
const CHANNEL_CAPACITY: usize = 16_384;
/// Bytes of audit events that may wait for the writer; an event that finds more is queued
/// and answered [`AuditQueue::Backlogged`], and its caller waits for a flush
/// (back-pressure, as for commands).
const MAX_PENDING_AUDIT_BYTES: usize = 8 << 20;

/// Audit events waiting for the writer's next commit, as the JSON of one batch row.
#[derive(Default)]
struct PendingAudit {
    log: Mutex<Option<BatchLog>>,
}

impl PendingAudit {
    /// Appends `event`; returns whether the buffer was empty before, and its size after.
    fn push(&self, event: &EncodedAuditEvent) -> (bool, usize) {
        // Only whole events are appended under the lock, so a poisoned buffer is still
        // consistent.
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let log = log.get_or_insert_with(BatchLog::new);
        let was_empty = log.is_empty();
        log.push_encoded(event);
        (was_empty, log.len_bytes())
    }

    /// Bytes waiting.
    fn len_bytes(&self) -> usize {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, BatchLog::len_bytes)
    }

    /// Everything appended so far, leaving the buffer empty.
    fn take(&self) -> Option<BatchLog> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Called once the batch a write was in has been committed (`None`) or has failed
/// (`Some(reason)`).
type Completion = Box<dyn FnOnce(Option<&str>) + Send>;

/// A write waiting to run inside a batch's transaction.
trait WriteJob: Send {
    /// Runs the write (in its own savepoint) and returns how to reply after the commit.
    fn run(self: Box<Self>, conn: &Connection) -> Ran;
    /// Replies `message` without running (the batch could not even start).
    fn fail(self: Box<Self>, message: &str);
}

/// Runs on the writer thread once a write's batch has been committed (or has failed),
/// before its caller is answered, whether or not the caller still waits.
pub(crate) type AfterCommit = Box<dyn FnOnce() + Send>;

/// A write closure and the channel its caller waits on.
struct PendingWrite<T, F> {
    write: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
    after_commit: Option<AfterCommit>,
}

impl<T, F> WriteJob for PendingWrite<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Ran {
        let PendingWrite {
            write,
            reply,
            after_commit,
        } = *self;
        let (result, poisoned) = in_savepoint(conn, write);
        let complete: Completion = Box::new(move |batch_failure: Option<&str>| {
            if let Some(after_commit) = after_commit {
                after_commit();
            }
            let result = match (batch_failure, result) {
                (Some(message), Ok(_)) => Err(StoreError::WriteFailed {
                    message: message.to_owned(),
                }),
                // A write that failed by itself reports its own, more precise, error.
                (_, result) => result,
            };
            // The caller may have stopped waiting (e.g. its request was cancelled).
            let _ = reply.send(result);
        });
        Ran { poisoned, complete }
    }

    fn fail(self: Box<Self>, message: &str) {
        let _ = self.reply.send(Err(StoreError::WriteFailed {
            message: message.to_owned(),
        }));
    }
}

/// What running a [`WriteJob`] left behind.
struct Ran {
    /// The job's savepoint could not be rolled back or released: the transaction may hold
    /// part of a failed write, so the whole batch must be rolled back.
    poisoned: Option<String>,
    /// Replies to the caller after the commit.
    complete: Completion,
}

/// One request to the writer thread.
enum Command {
    /// A write whose caller waits for the commit.
    Write(Box<dyn WriteJob>),
    /// A key authenticated a request (Unix nanoseconds); nobody waits.
    KeyUse { access_key_id: String, at: i64 },
    /// Audit events wait in the shared buffer: commit them (sent by the append that found
    /// it empty; nobody waits).
    AuditPending,
    /// Reply once everything sent before has been committed.
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

impl Command {
    /// Whether someone waits for this command's commit.
    fn is_awaited(&self) -> bool {
        matches!(self, Command::Write(_) | Command::Flush(_))
    }
}

/// Handle to the writer thread. Dropping it commits everything pending and joins the
/// thread.
pub(crate) struct Writer {
    sender: Option<mpsc::Sender<Command>>,
    audit: Arc<PendingAudit>,
    thread: Option<JoinHandle<()>>,
    /// The last key-use second sent per key: a busy key costs the writer one update a
    /// second, not one a request.
    /// foldhash (randomly seeded): only keys that authenticated a request are inserted.
    last_key_use: std::sync::Mutex<HashMap<String, i64, foldhash::fast::RandomState>>,
}

impl Writer {
    /// Starts the writer thread, which takes ownership of `conn` (opened on `db_path`).
    pub(crate) fn start(conn: Connection, db_path: &Path) -> Result<Self, StoreError> {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let audit = Arc::new(PendingAudit::default());
        let thread_audit = audit.clone();
        let thread = std::thread::Builder::new()
            .name("k9-store-writer".into())
            .spawn(move || run(conn, receiver, &thread_audit))
            .map_err(|source| StoreError::Io {
                action: "start the writer thread for",
                path: db_path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            sender: Some(sender),
            audit,
            thread: Some(thread),
            last_key_use: std::sync::Mutex::default(),
        })
    }

    /// Runs `write` in the writer's next transaction and returns its result once that
    /// transaction is committed. If `write` fails, its changes are rolled back and its
    /// error returned; if the commit fails, [`StoreError::WriteFailed`].
    pub(crate) async fn submit<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit_then(write, None).await
    }

    /// [`Self::submit`], running `after_commit` on the writer thread once the transaction
    /// has been committed (or has failed), even if the caller has stopped waiting: what
    /// must follow a commit (e.g. invalidating caches) cannot be skipped by a cancelled
    /// request.
    pub(crate) async fn submit_then<T, F>(
        &self,
        write: F,
        after_commit: Option<AfterCommit>,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, replied) = oneshot::channel();
        let job = Box::new(PendingWrite {
            write,
            reply,
            after_commit,
        });
        self.send(Command::Write(job)).await?;
        replied.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Queues a key-use update if none was sent for this key this second; does not wait,
    /// neither for the commit nor for room in the channel (a stamp that finds the channel
    /// full is dropped: the writer is far behind, and the next second sends another).
    pub(crate) fn record_key_use(&self, access_key_id: &str, at: i64) {
        const NANOS_PER_SECOND: i64 = 1_000_000_000;
        {
            // A poisoned lock still holds a valid map (inserts cannot be left half-done).
            let mut last = self
                .last_key_use
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let second = at / NANOS_PER_SECOND;
            match last.get_mut(access_key_id) {
                Some(sent) if *sent >= second => return,
                Some(sent) => *sent = second,
                None => {
                    last.insert(access_key_id.to_owned(), second);
                }
            }
        }
        let access_key_id = access_key_id.to_owned();
        let Some(sender) = &self.sender else {
            return;
        };
        if let Err(e) = sender.try_send(Command::KeyUse { access_key_id, at }) {
            tracing::debug!(error = %e, "key use not recorded");
        }
    }

    /// Queues an audit event; never waits. Says whether more events wait for the writer
    /// than they should (the caller then waits for a flush).
    pub(crate) fn record_audit(&self, event: EncodedAuditEvent) -> AuditQueue {
        let Some(sender) = &self.sender else {
            tracing::error!("audit event not recorded: the store is closed");
            return AuditQueue::Queued;
        };
        let (was_empty, pending_bytes) = self.audit.push(&event);
        if was_empty {
            // Not awaited, so that a cancelled request cannot leave events without a wake-up.
            // A full channel needs none: the writer has commands to run, and takes the
            // buffer with its next batch.
            if let Err(mpsc::error::TrySendError::Closed(_)) =
                sender.try_send(Command::AuditPending)
            {
                tracing::error!("audit event not recorded: the store's writer has stopped");
            }
        }
        if pending_bytes > MAX_PENDING_AUDIT_BYTES {
            AuditQueue::Backlogged
        } else {
            AuditQueue::Queued
        }
    }

    /// Waits until everything sent before has been committed.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        let (reply, replied) = oneshot::channel();
        self.send(Command::Flush(reply)).await?;
        replied.await.map_err(|_| StoreError::WriterStopped)?
    }

    async fn send(&self, command: Command) -> Result<(), StoreError> {
        let sender = self.sender.as_ref().ok_or(StoreError::WriterStopped)?;
        sender
            .send(command)
            .await
            .map_err(|_| StoreError::WriterStopped)
    }
}

impl Drop for Writer {
    /// Closes the channel, lets the thread commit what is still queued, and waits for it,
    /// so nothing accepted is lost at shutdown.
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the store's writer thread panicked");
            }
        }
    }
}

/// Runs `write` between `SAVEPOINT` and `RELEASE`, rolling back to the savepoint if it
/// fails. The second value is set when the savepoint could not be closed, in which case
/// the batch must not be committed.
fn in_savepoint<T>(
    conn: &Connection,
    write: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> (Result<T, StoreError>, Option<String>) {
    let run = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
    };
    if let Err(e) = run("SAVEPOINT k9_write") {
        return (Err(e.into()), None);
    }
    let result = write(conn);
    let closed = if result.is_ok() {
        run("RELEASE k9_write")
    } else {
        run("ROLLBACK TO k9_write").and_then(|_| run("RELEASE k9_write"))
    };
    match closed {
        Ok(_) => (result, None),
        Err(e) => {
            let message = format!("could not close a write's savepoint: {e}");
            (
                result.and(Err(StoreError::WriteFailed {
                    message: message.clone(),
                })),
                Some(message),
            )
        }
    }
}

/// The writer thread's loop: one batch per iteration until every sender is gone and the
/// channel is empty.
fn run(mut conn: Connection, mut receiver: mpsc::Receiver<Command>, audit: &PendingAudit) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The connection starts with synchronous=FULL (see `open_writer`).
    let mut synchronous_full = true;
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        // Nobody waits on a small batch of audit rows and key-use stamps: let more gather
        // for a moment, so a stream of requests costs one commit per thousand or so rows
        // rather than one per handful; a write someone waits on ends the wait.
        if batch.len() < LINGER_BELOW && !any_awaited(&batch) {
            let until = Instant::now() + LINGER;
            loop {
                std::thread::sleep(LINGER_STEP);
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(command) => batch.push(command),
                        Err(_) => break,
                    }
                }
                if linger_ends(&batch, audit.len_bytes(), Instant::now(), until) {
                    break;
                }
            }
        }
        // Only a batch someone waits on (a write or a flush) must be on disk before the
        // commit returns. A batch of audit rows and key-use stamps alone is committed
        // without its own fsync: a process crash cannot lose it (it is in the OS's
        // hands), and the next durable commit fsyncs the WAL, these frames included.
        let durable = any_awaited(&batch);
        if durable != synchronous_full {
            let mode = if durable { "FULL" } else { "NORMAL" };
            match conn.pragma_update(None, "synchronous", mode) {
                Ok(()) => synchronous_full = durable,
                // Committing awaited writes without FULL would acknowledge what a power cut
                // can still lose: fail them instead (callers answer 500, clients retry).
                Err(e) if durable => {
                    // Fail only what someone waits on; audit rows and key-use stamps never
                    // needed the fsync and are committed as usual.
                    let message = format!("could not make the commit durable: {e}");
                    let (awaited_commands, rest): (Vec<Command>, Vec<Command>) =
                        batch.drain(..).partition(Command::is_awaited);
                    tracing::error!(%message, failed = awaited_commands.len(), "write batch failed");
                    for command in awaited_commands {
                        fail_unrun(command, &message);
                    }
                    batch = rest;
                }
                Err(e) => tracing::warn!(error = %e, mode, "could not switch synchronous mode"),
            }
        }
        commit_batch(&mut conn, &mut batch, audit.take());
    }
    // A safety net: every append is followed by a batch that takes it (its wake-up, or the
    // commands that filled the channel), and none can happen once the store is being
    // dropped; should one ever be left, it is committed rather than lost.
    if let Some(log) = audit.take() {
        commit_batch(&mut conn, &mut batch, Some(log));
    }
    tracing::debug!("store writer stopped");
}

/// Whether someone waits for `batch`'s commit.
fn any_awaited(batch: &[Command]) -> bool {
    batch.iter().any(Command::is_awaited)
}

/// Whether a fire-and-forget batch stops waiting for company: someone now waits on it, it
/// is large enough, or its time is up.
fn linger_ends(batch: &[Command], audit_bytes: usize, now: Instant, until: Instant) -> bool {
    batch.len() >= LINGER_BELOW
        || any_awaited(batch)
        || audit_bytes >= LINGER_AUDIT_BYTES
        || now >= until
}

/// Applies `batch` and the pending audit events in one transaction, commits it, and
/// replies to every waiting caller.
fn commit_batch(conn: &mut Connection, batch: &mut Vec<Command>, audit: Option<BatchLog>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let message = format!("could not begin a write transaction: {e}");
            let lost_audit = audit.as_ref().map_or(0, |log| log.events);
            tracing::error!(%message, lost = batch.len(), lost_audit, "write batch failed");
            for command in batch.drain(..) {
                fail_unrun(command, &message);
            }
            return;
        }
    };
    let mut completions = Vec::new();
    let mut flushes = Vec::new();
    let mut key_uses: HashMap<String, i64> = HashMap::new();
    let mut poisoned = None;
    for command in batch.drain(..) {
        match command {
            Command::Write(job) => {
                let ran = job.run(&tx);
                if ran.poisoned.is_some() {
                    poisoned = ran.poisoned;
                }
                completions.push(ran.complete);
            }
            Command::KeyUse { access_key_id, at } => {
                let latest = key_uses.entry(access_key_id).or_insert(at);
                *latest = (*latest).max(at);
            }
            Command::AuditPending => {}
            Command::Flush(reply) => flushes.push(reply),
        }
    }
    if let Some(log) = audit {
        writes::insert_audit_batch(&tx, log);
    }
    if poisoned.is_none() {
        for (access_key_id, at) in &key_uses {
            if let Err(e) = writes::record_key_use(&tx, access_key_id, *at) {
                tracing::warn!(error = %e, %access_key_id, "key use not recorded");
            }
        }
    }
    let outcome = match poisoned {
        Some(message) => Err(message), // dropping `tx` rolls the batch back
        None => tx.commit().map_err(|e| format!("commit failed: {e}")),
    };
    if let Err(message) = &outcome {
        tracing::error!(%message, writes = completions.len(), "write batch rolled back");
    }
    let failure = outcome.as_ref().err().map(String::as_str);
    for complete in completions {
        complete(failure);
    }
    for reply in flushes {
        let _ = reply.send(match failure {
            None => Ok(()),
            Some(message) => Err(StoreError::WriteFailed {
                message: message.to_owned(),
            }),
        });
    }
}

/// Replies `message` to a command that never ran.
fn fail_unrun(command: Command, message: &str) {
    match command {
        Command::Write(job) => job.fail(message),
        Command::Flush(reply) => {
            let _ = reply.send(Err(StoreError::WriteFailed {
                message: message.to_owned(),
            }));
        }
        Command::KeyUse { .. } | Command::AuditPending => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditOutcome, AuditRecord};

    fn encoded(request_id: &str, time: i64) -> EncodedAuditEvent {
        let record = AuditRecord {
            time: time::OffsetDateTime::UNIX_EPOCH,
            request_id,
            access_key_id: None,
            principal: None,
            method: "GET",
            path: &"/x",
            outcome: AuditOutcome::Allowed,
            reason: &"",
        };
        EncodedAuditEvent::encode(&record, time)
    }

    #[test]
    fn a_linger_ends_for_an_awaited_write_a_full_batch_enough_audit_or_its_deadline() {
        let now = Instant::now();
        let later = now + LINGER;
        let pending = || vec![Command::AuditPending];
        assert!(!linger_ends(&pending(), 0, now, later));
        assert!(!linger_ends(&pending(), LINGER_AUDIT_BYTES - 1, now, later));

        let (reply, _replied) = oneshot::channel();
        let mut with_flush = pending();
        with_flush.push(Command::Flush(reply));
        assert!(linger_ends(&with_flush, 0, now, later));

        let full: Vec<Command> = (0..LINGER_BELOW).map(|_| Command::AuditPending).collect();
        assert!(linger_ends(&full, 0, now, later));
        assert!(linger_ends(&pending(), LINGER_AUDIT_BYTES, now, later));
        assert!(linger_ends(&pending(), 0, later, later));
    }

    #[test]
    fn only_the_append_to_an_empty_audit_buffer_asks_for_a_wake_up() {
        let pending = PendingAudit::default();
        assert!(pending.take().is_none());
        let (was_empty, _) = pending.push(&encoded("a", 5));
        assert!(was_empty);
        let (was_empty, bytes) = pending.push(&encoded("b", 3));
        assert!(!was_empty);
        assert!(bytes > 0);
        let log = pending.take().expect("two events");
        assert_eq!((log.events, log.first_time, log.last_time), (2, 3, 5));
        assert!(pending.take().is_none());
        let (was_empty, _) = pending.push(&encoded("c", 1));
        assert!(was_empty, "a taken buffer starts empty again");
    }
}
