//! The audit log: batched, newest first, free of secrets, committed at shutdown.

mod common;

use common::{arn, contains, open, raw_database_bytes, NOW};
use k9_store::{AuditEvent, AuditOutcome, Store};
use time::Duration;

fn event(request_id: &str, path: &str, outcome: AuditOutcome) -> AuditEvent {
    AuditEvent {
        time: NOW,
        request_id: request_id.into(),
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        principal: Some("arn:aws:iam::123456789012:user/alice".into()),
        method: "GET".into(),
        path: path.into(),
        outcome,
        reason: "ok".into(),
    }
}

#[tokio::test]
async fn audit_events_are_listed_newest_first_after_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..3 {
        let mut e = event(&format!("req-{i}"), "/v1/executions", AuditOutcome::Allowed);
        e.time = NOW + Duration::seconds(i);
        k9_store::record_audit(&store, e.as_record()).await;
    }
    store.flush().await.unwrap();
    let events = store.audit_events(2).await.unwrap();
    let ids: Vec<&str> = events.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["req-2", "req-1"]);
    assert_eq!(events[0].time, NOW + Duration::seconds(2));
    assert_eq!(events[0].outcome, AuditOutcome::Allowed);
}

#[tokio::test]
async fn audit_rows_hold_no_signature_token_or_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let key = store
        .create_user(&arn("arn:aws:iam::123456789012:user/alice"), NOW)
        .await
        .unwrap();
    let secret = key.access_key.secret_access_key.expose().to_owned();
    let signature = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
    let token = "FwoGZXIvYXdzEBYaDHhBTEXAMPLETOKEN";
    let mut e = event(
        "req-1",
        &format!("/v1/x?X-Amz-Credential=AKIA%2Fx&X-Amz-Signature={signature}&X-Amz-Security-Token={token}"),
        AuditOutcome::AuthenticationFailed,
    );
    e.reason = format!(
        "SignatureDoesNotMatch: header was Signature={signature}; SecretAccessKey={secret}"
    );
    k9_store::record_audit(&store, e.as_record()).await;
    store.flush().await.unwrap();

    let stored = &store.audit_events(1).await.unwrap()[0];
    assert_eq!(
        stored.path,
        "/v1/x?X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=***&X-Amz-Security-Token=***"
    );
    assert_eq!(
        stored.reason,
        "SignatureDoesNotMatch: header was Signature=***; SecretAccessKey=***"
    );
    drop(store);
    let bytes = raw_database_bytes(dir.path());
    assert!(
        contains(&bytes, b"req-1"),
        "the audit row should be on disk"
    );
    for needle in [signature, token, secret.as_str()] {
        assert!(
            !contains(&bytes, needle.as_bytes()),
            "{needle} reached the database file"
        );
    }
}

#[tokio::test]
async fn pending_audit_events_are_committed_when_the_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..100 {
        k9_store::record_audit(
            &store,
            event(&format!("req-{i}"), "/health", AuditOutcome::Denied).as_record(),
        )
        .await;
    }
    drop(store);
    let store = open(dir.path());
    let events = store.audit_events(1000).await.unwrap();
    assert_eq!(events.len(), 100);
    assert_eq!(events[0].request_id, "req-99");
}

#[tokio::test]
async fn oversized_audit_fields_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut e = event(
        "req-1",
        &format!("/{}", "a".repeat(100_000)),
        AuditOutcome::Denied,
    );
    e.reason = "r".repeat(100_000);
    k9_store::record_audit(&store, e.as_record()).await;
    store.flush().await.unwrap();
    let stored = &store.audit_events(1).await.unwrap()[0];
    assert!(
        stored.path.len() <= 2048,
        "path kept {} bytes",
        stored.path.len()
    );
    assert!(
        stored.reason.len() <= 1024,
        "reason kept {} bytes",
        stored.reason.len()
    );
}

/// Records `count` events `prefix-0`, `prefix-1`, ... dated from `first`, `step` apart.
async fn record_at(
    store: &dyn Store,
    prefix: &str,
    count: i32,
    first: time::OffsetDateTime,
    step: Duration,
) {
    for i in 0..count {
        let mut e = event(&format!("{prefix}-{i}"), "/x", AuditOutcome::Allowed);
        e.time = first + step * i;
        k9_store::record_audit(store, e.as_record()).await;
    }
}

/// More rows than one pruning chunk, 100 days old: `old-0` ... `old-11999`.
const OLD_ROWS: i32 = 12_000;

async fn record_old_rows(store: &impl Store) {
    let first = NOW - Duration::days(100);
    record_at(store, "old", OLD_ROWS, first, Duration::milliseconds(1)).await;
}

#[tokio::test]
async fn pruning_deletes_only_events_older_than_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    record_old_rows(&store).await;
    record_at(
        &store,
        "new",
        3,
        NOW - Duration::days(1),
        Duration::seconds(1),
    )
    .await;
    store.flush().await.unwrap();

    let pruned = store.prune_audit(NOW - Duration::days(90)).await.unwrap();
    assert_eq!(pruned, 12_000);
    let left = store.audit_events(100).await.unwrap();
    let ids: Vec<&str> = left.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["new-2", "new-1", "new-0"]);

    // Nothing older is left: a second pass deletes nothing.
    assert_eq!(
        store.prune_audit(NOW - Duration::days(90)).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn pruning_goes_past_a_newer_row_at_the_front() {
    // A row dated in the future (a clock that once ran ahead) sits first by insertion
    // order; the old rows after it, more than one chunk of them, must still go.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut ahead = event("ahead", "/x", AuditOutcome::Allowed);
    ahead.time = NOW + Duration::days(1);
    k9_store::record_audit(&store, ahead.as_record()).await;
    record_old_rows(&store).await;
    store.flush().await.unwrap();

    assert_eq!(
        store.prune_audit(NOW - Duration::days(90)).await.unwrap(),
        12_000
    );
    let left = store.audit_events(100).await.unwrap();
    let ids: Vec<&str> = left.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["ahead"]);
}

#[tokio::test]
async fn a_burst_of_events_comes_back_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Enough for several multi-row inserts and a partial one, with and without the
    // optional fields.
    let sent: Vec<AuditEvent> = (0..101)
        .map(|i| {
            let mut e = event(
                &format!("req-{i}"),
                &format!("/customer/C123456/account/123456789012/analysis/{i}"),
                if i % 3 == 0 {
                    AuditOutcome::AuthenticationFailed
                } else {
                    AuditOutcome::Allowed
                },
            );
            e.time = NOW + Duration::milliseconds(i);
            if i % 2 == 0 {
                e.access_key_id = None;
                e.principal = None;
            }
            e.reason = format!("reason {i}");
            e
        })
        .collect();
    for e in sent.clone() {
        k9_store::record_audit(&store, e.as_record()).await;
    }
    store.flush().await.unwrap();
    let mut stored = store.audit_events(1000).await.unwrap();
    stored.reverse();
    assert_eq!(stored, sent);
}

/// The audit file's layout before batches: one row per event.
const PER_EVENT_SCHEMA: &str = "
CREATE TABLE audit_events (
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

#[tokio::test]
async fn an_audit_file_of_one_row_per_event_is_moved_into_batches_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 2_500; // more than one batch's worth
    {
        let conn =
            rusqlite::Connection::open(dir.path().join(k9_store::SqliteStore::AUDIT_FILE_NAME))
                .unwrap();
        conn.execute_batch(PER_EVENT_SCHEMA).unwrap();
        let mut insert = conn
            .prepare("INSERT INTO audit_events (time, request_id, access_key_id, principal, method, path, outcome, reason) VALUES (?1, ?2, ?3, NULL, 'GET', '/x', 'AuthenticationFailed', 'missing_authentication')")
            .unwrap();
        for i in 0..rows {
            let time = (NOW + Duration::milliseconds(i)).unix_timestamp_nanos() as i64;
            let key = (i % 2 == 0).then_some("AKIAIOSFODNN7EXAMPLE");
            insert
                .execute(rusqlite::params![time, format!("old-{i}"), key])
                .unwrap();
        }
    }

    let store = open(dir.path());
    k9_store::record_audit(
        &store,
        event("new", "/y", AuditOutcome::Allowed).as_record(),
    )
    .await;
    store.flush().await.unwrap();
    let events = store.audit_events(1000).await.unwrap();
    assert_eq!(events.len(), 1000);
    assert_eq!(events[0].request_id, "new");
    assert_eq!(events[1].request_id, format!("old-{}", rows - 1));
    assert_eq!(events[1].access_key_id, None);
    assert_eq!(
        events[2].access_key_id.as_deref(),
        Some("AKIAIOSFODNN7EXAMPLE")
    );
    assert_eq!(events[1].outcome, AuditOutcome::AuthenticationFailed);
    assert_eq!(events[1].time, NOW + Duration::milliseconds(rows - 1));
    drop(store);

    // An older k9 still running keeps inserting into its table; the next open moves those.
    let conn = rusqlite::Connection::open(dir.path().join(k9_store::SqliteStore::AUDIT_FILE_NAME))
        .unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "moved rows are deleted from the old table");
    let late = (NOW + Duration::seconds(100)).unix_timestamp_nanos() as i64;
    conn.execute(
        "INSERT INTO audit_events (time, request_id, access_key_id, principal, method, path, outcome, reason) VALUES (?1, 'late', NULL, NULL, 'GET', '/x', 'AuthenticationFailed', 'missing_authentication')",
        [late],
    )
    .unwrap();

    // Every old row is there, in order, the late one after the rest.
    let store = open(dir.path());
    let ids: Vec<String> = conn
        .prepare("SELECT request_id FROM audit_log ORDER BY batch, position")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<String> = (0..rows)
        .map(|i| format!("old-{i}"))
        .chain(["new".to_owned(), "late".to_owned()])
        .collect();
    assert_eq!(ids, expected);
    drop(store);
}

#[tokio::test]
async fn the_audit_log_view_shows_one_row_per_event_with_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut e = event("req-1", "/customer/C123456", AuditOutcome::Denied);
    e.reason = "read analyses for C123456/123456789012".into();
    k9_store::record_audit(&store, e.as_record()).await;
    let mut anonymous = event("req-2", "/z", AuditOutcome::AuthenticationFailed);
    anonymous.access_key_id = None;
    anonymous.principal = None;
    k9_store::record_audit(&store, anonymous.as_record()).await;
    store.flush().await.unwrap();

    let conn = rusqlite::Connection::open(dir.path().join(k9_store::SqliteStore::AUDIT_FILE_NAME))
        .unwrap();
    type Row = (
        i64,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<Row> = conn
        .prepare(
            "SELECT time, request_id, access_key_id, principal, method, path, outcome, reason
             FROM audit_log ORDER BY batch, position",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let now = NOW.unix_timestamp_nanos() as i64;
    assert_eq!(
        rows,
        [
            (
                now,
                "req-1".to_owned(),
                Some("AKIAIOSFODNN7EXAMPLE".to_owned()),
                Some("arn:aws:iam::123456789012:user/alice".to_owned()),
                "GET".to_owned(),
                "/customer/C123456".to_owned(),
                "Denied".to_owned(),
                "read analyses for C123456/123456789012".to_owned(),
            ),
            (
                now,
                "req-2".to_owned(),
                None,
                None,
                "GET".to_owned(),
                "/z".to_owned(),
                "AuthenticationFailed".to_owned(),
                "ok".to_owned(),
            ),
        ]
    );
    drop(store);
}

#[tokio::test]
async fn pruning_keeps_the_newer_events_of_a_batch_that_spans_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // One flush, so old and new events share batches.
    for (i, age) in [100, 5, 100, 1].into_iter().enumerate() {
        let mut e = event(&format!("e-{i}"), "/x", AuditOutcome::Allowed);
        e.time = NOW - Duration::days(age);
        k9_store::record_audit(&store, e.as_record()).await;
    }
    store.flush().await.unwrap();
    assert_eq!(
        store.prune_audit(NOW - Duration::days(90)).await.unwrap(),
        2
    );
    let left = store.audit_events(100).await.unwrap();
    let ids: Vec<&str> = left.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["e-3", "e-1"]);
    assert_eq!(
        store.prune_audit(NOW - Duration::days(90)).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn an_event_is_committed_without_a_flush() {
    // Nothing else writes: only the wake-up sent by the first append brings the writer.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    k9_store::record_audit(
        &store,
        event("alone", "/x", AuditOutcome::Denied).as_record(),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let events = store.audit_events(10).await.unwrap();
        if !events.is_empty() {
            assert_eq!(events[0].request_id, "alone");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the event was not committed within 2 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
