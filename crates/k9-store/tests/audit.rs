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
        store.record_audit(e.as_record()).await;
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
    store.record_audit(e.as_record()).await;
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
        store
            .record_audit(event(&format!("req-{i}"), "/health", AuditOutcome::Denied).as_record())
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
    store.record_audit(e.as_record()).await;
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
    store: &impl Store,
    prefix: &str,
    count: i32,
    first: time::OffsetDateTime,
    step: Duration,
) {
    for i in 0..count {
        let mut e = event(&format!("{prefix}-{i}"), "/x", AuditOutcome::Allowed);
        e.time = first + step * i;
        store.record_audit(e.as_record()).await;
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
    store.record_audit(ahead.as_record()).await;
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
        store.record_audit(e.as_record()).await;
    }
    store.flush().await.unwrap();
    let mut stored = store.audit_events(1000).await.unwrap();
    stored.reverse();
    assert_eq!(stored, sent);
}
