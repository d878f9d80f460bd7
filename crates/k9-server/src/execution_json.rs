//! Serialized executions, reused while the store keeps handing out the same copy.
//!
//! Clients poll an execution until it finishes, and the store serves those reads from its
//! cache as one shared `Arc<Execution>` until the execution changes. Serializing it again for
//! every poll would be the largest cost of such a request after the signature check, so the
//! JSON is kept next to the `Arc` it was made from and reused only for that very `Arc`
//! (`Arc::ptr_eq`). Holding the `Arc` keeps its address from being reused by a newer copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use k9_domain::ExecutionId;
use k9_store::Execution;

/// Entries kept before the map is emptied (bounds memory whatever is polled).
const MAX_ENTRIES: usize = 4096;

/// The JSON of recently served executions.
#[derive(Default)]
pub(crate) struct ExecutionJson {
    /// foldhash (randomly seeded): only executions the store returned are inserted.
    entries: Mutex<HashMap<ExecutionId, (Arc<Execution>, Bytes), foldhash::fast::RandomState>>,
}

impl ExecutionJson {
    /// `execution` as JSON: made once per shared copy the store hands out.
    pub(crate) fn of(&self, execution: &Arc<Execution>) -> Result<Bytes, serde_json::Error> {
        {
            // Only whole entries are inserted under the lock, so a poisoned map is still
            // consistent.
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((made_from, json)) = entries.get(&execution.execution_id) {
                if Arc::ptr_eq(made_from, execution) {
                    return Ok(json.clone());
                }
            }
        }
        let json = Bytes::from(serde_json::to_vec(&**execution)?);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            execution.execution_id.clone(),
            (execution.clone(), json.clone()),
        );
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k9_domain::{AccountId, CustomerId, ExecutionStatus, PrincipalArn};
    use time::OffsetDateTime;

    fn execution(status: ExecutionStatus) -> Arc<Execution> {
        let customer = CustomerId::parse("C123456").unwrap();
        let account = AccountId::parse("123456789012").unwrap();
        Arc::new(Execution {
            execution_id: ExecutionId::parse("ondemand-C123456-123456789012-2022-11-11_ONO2")
                .unwrap(),
            customer_id: customer,
            account_id: account,
            status,
            requested_by: PrincipalArn::parse("arn:aws:iam::123456789012:user/alice").unwrap(),
            requested_at: OffsetDateTime::UNIX_EPOCH,
            started_at: None,
            finished_at: None,
            error: None,
        })
    }

    #[test]
    fn json_is_reused_for_the_same_copy_and_remade_for_a_new_one() {
        let cache = ExecutionJson::default();
        let queued = execution(ExecutionStatus::Queued);
        let first = cache.of(&queued).unwrap();
        assert_eq!(first, serde_json::to_vec(&*queued).unwrap());
        // The same bytes, not a new serialization.
        assert_eq!(cache.of(&queued).unwrap().as_ptr(), first.as_ptr());

        let running = execution(ExecutionStatus::Running);
        let second = cache.of(&running).unwrap();
        assert_eq!(second, serde_json::to_vec(&*running).unwrap());
        assert_ne!(second, first);
        // An equal value in a different copy is serialized again, never assumed equal.
        let queued_again = execution(ExecutionStatus::Queued);
        assert_eq!(
            cache.of(&queued_again).unwrap(),
            serde_json::to_vec(&*queued_again).unwrap()
        );
    }
}
