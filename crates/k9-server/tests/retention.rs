//! The audit log's retention task deletes what is older than the period, and only that.

use std::sync::Arc;
use std::time::Duration;

use k9_store::{AuditEvent, AuditOutcome, MasterKey, SqliteStore, Store};
use time::OffsetDateTime;

fn event(request_id: &str, age: time::Duration) -> AuditEvent {
    AuditEvent {
        time: OffsetDateTime::now_utc() - age,
        request_id: request_id.into(),
        access_key_id: None,
        principal: None,
        method: "GET".into(),
        path: "/".into(),
        outcome: AuditOutcome::AuthenticationFailed,
        reason: "missing_authentication".into(),
    }
}

#[tokio::test]
async fn retention_task_prunes_rows_older_than_the_period() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(dir.path(), MasterKey::load_or_create(dir.path()).unwrap()).unwrap(),
    );
    k9_store::record_audit(&*store, event("old", time::Duration::days(31)).as_record()).await;
    k9_store::record_audit(
        &*store,
        event("recent", time::Duration::days(29)).as_record(),
    )
    .await;
    store.flush().await.unwrap();

    let task = tokio::spawn(k9_server::retention::prune_audit_log(
        store.clone(),
        Duration::from_secs(30 * 86_400),
        Duration::from_millis(50),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ids: Vec<String> = store
            .audit_events(10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.request_id)
            .collect();
        if ids == ["recent"] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {ids:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Rows recorded later are pruned by a later pass.
    k9_store::record_audit(
        &*store,
        event("old-too", time::Duration::days(40)).as_record(),
    )
    .await;
    store.flush().await.unwrap();
    loop {
        let count = store.audit_events(10).await.unwrap().len();
        if count == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{count} rows");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
}
