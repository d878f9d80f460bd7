//! Background upkeep: the audit log's retention.
//!
//! Every request writes an audit row, so a server that runs for months would grow its audit
//! log without bound; this task deletes rows older than the retention period, at start and
//! then periodically.

use std::sync::Arc;
use std::time::Duration;

use k9_store::Store;
use time::OffsetDateTime;

/// Deletes audit rows older than `keep`, now and then every `every`, until the task is
/// dropped. A failed pass is logged and retried at the next one.
pub async fn prune_audit_log(store: Arc<dyn Store>, keep: Duration, every: Duration) {
    let keep = time::Duration::try_from(keep).unwrap_or(time::Duration::MAX);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let cutoff = OffsetDateTime::now_utc()
            .checked_sub(keep)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        match store.prune_audit(cutoff).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, %cutoff, "pruned audit log"),
            Err(error) => tracing::warn!(%error, "could not prune the audit log"),
        }
    }
}
