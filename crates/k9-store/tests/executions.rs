//! Queueing executions: coalescing, durability under concurrency, listing, status.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{account, arn, customer, customer_with_accounts, open, NOW};
use k9_domain::{AccountId, CustomerId, ExecutionId, ExecutionStatus};
use k9_store::{EnqueueOutcome, Store, StoreError};
use time::Duration;

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";

/// Customer C123456 with account 123456789012 and one execution queued for it by alice.
async fn queued_execution(store: &dyn Store) -> (CustomerId, AccountId, ExecutionId) {
    customer_with_accounts(store, "C123456", &["123456789012"]).await;
    let (c, a) = (customer("C123456"), account("123456789012"));
    let id = store
        .enqueue_execution(&c, &a, &arn(ALICE), NOW)
        .await
        .unwrap()
        .into_execution()
        .execution_id;
    (c, a, id)
}

#[tokio::test]
async fn enqueue_coalesces_while_an_execution_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &["123456789012"]).await;
    let (c, a, who) = (customer("C123456"), account("123456789012"), arn(ALICE));

    let first = store.enqueue_execution(&c, &a, &who, NOW).await.unwrap();
    let EnqueueOutcome::Queued(first) = first else {
        panic!("first enqueue coalesced: {first:?}")
    };
    assert_eq!(first.status, ExecutionStatus::Queued);
    assert_eq!(first.requested_by, who);
    assert!(first
        .execution_id
        .as_str()
        .starts_with("ondemand-C123456-123456789012-2024-06-01_"));

    let second = store
        .enqueue_execution(&c, &a, &who, NOW + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(second, EnqueueOutcome::Coalesced(first.clone()));

    store
        .set_execution_status(&first.execution_id, ExecutionStatus::Running, NOW, None)
        .await
        .unwrap();
    let third = store
        .enqueue_execution(&c, &a, &who, NOW + Duration::seconds(2))
        .await
        .unwrap();
    let EnqueueOutcome::Queued(third) = third else {
        panic!("enqueue after start coalesced: {third:?}")
    };
    assert_ne!(third.execution_id, first.execution_id);
}

#[tokio::test]
async fn enqueue_for_an_account_not_registered_to_the_customer_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &["123456789012"]).await;
    customer_with_accounts(&store, "C654321", &["210987654321"]).await;
    let err = store
        .enqueue_execution(
            &customer("C123456"),
            &account("210987654321"),
            &arn(ALICE),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_all_return_and_are_durable_after_reopen() {
    const ACCOUNTS: usize = 50;
    const REQUESTS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let accounts: Vec<String> = (0..ACCOUNTS)
        .map(|i| format!("{:012}", 100_000_000_000u64 + i as u64))
        .collect();
    let store: Arc<dyn Store> = Arc::new(open(dir.path()));
    let account_refs: Vec<&str> = accounts.iter().map(String::as_str).collect();
    customer_with_accounts(store.as_ref(), "C123456", &account_refs).await;

    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let store = Arc::clone(&store);
            let a = account(&accounts[i % ACCOUNTS]);
            tokio::spawn(async move {
                store
                    .enqueue_execution(&customer("C123456"), &a, &arn(ALICE), NOW)
                    .await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut newly_queued = 0;
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        if matches!(outcome, EnqueueOutcome::Queued(_)) {
            newly_queued += 1;
        }
        ids.insert(outcome.into_execution().execution_id);
    }
    // Coalescing: exactly one execution per account, however the requests interleaved.
    assert_eq!(newly_queued, ACCOUNTS);
    assert_eq!(ids.len(), ACCOUNTS);

    drop(store);
    let store = open(dir.path());
    for id in &ids {
        let found = store
            .execution(&id.customer_id(), &id.account_id(), id)
            .await
            .unwrap();
        assert_eq!(found.map(|e| e.execution_id.clone()), Some(id.clone()));
    }
}

/// Creates `n` executions one second apart (each finished before the next is queued);
/// returns their ids oldest first.
async fn finished_executions(store: &dyn Store, n: i64) -> Vec<ExecutionId> {
    let (c, a, who) = (customer("C123456"), account("123456789012"), arn(ALICE));
    let mut ids = Vec::new();
    for i in 0..n {
        let at = NOW + Duration::seconds(i);
        let execution = store
            .enqueue_execution(&c, &a, &who, at)
            .await
            .unwrap()
            .into_execution();
        store
            .set_execution_status(
                &execution.execution_id,
                ExecutionStatus::Succeeded,
                at,
                None,
            )
            .await
            .unwrap();
        ids.push(execution.execution_id);
    }
    ids
}

#[tokio::test]
async fn listing_pages_through_executions_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &["123456789012"]).await;
    let mut expected = finished_executions(&store, 5).await;
    expected.reverse();
    let (c, a) = (customer("C123456"), account("123456789012"));

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_executions(&c, &a, 2, token.as_deref())
            .await
            .unwrap();
        pages += 1;
        assert!(page.executions.len() <= 2);
        seen.extend(page.executions.into_iter().map(|e| e.execution_id));
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn listing_without_executions_is_one_empty_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &["123456789012"]).await;
    let page = store
        .list_executions(&customer("C123456"), &account("123456789012"), 10, None)
        .await
        .unwrap();
    assert!(page.executions.is_empty());
    assert_eq!(page.next_token, None);
}

#[tokio::test]
async fn page_token_that_is_garbled_or_from_another_account_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &["123456789012", "210987654321"]).await;
    finished_executions(&store, 3).await;
    let c = customer("C123456");
    let page = store
        .list_executions(&c, &account("123456789012"), 1, None)
        .await
        .unwrap();
    let token = page.next_token.expect("more than one page");

    let other = store
        .list_executions(&c, &account("210987654321"), 1, Some(&token))
        .await;
    assert!(
        matches!(other, Err(StoreError::InvalidPageToken)),
        "{other:?}"
    );
    let garbled = store
        .list_executions(&c, &account("123456789012"), 1, Some("not-a-token"))
        .await;
    assert!(
        matches!(garbled, Err(StoreError::InvalidPageToken)),
        "{garbled:?}"
    );
}

#[tokio::test]
async fn execution_is_found_only_under_its_own_customer_and_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &["123456789012", "210987654321"]).await;
    let (c, a) = (customer("C123456"), account("123456789012"));
    let execution = store
        .enqueue_execution(&c, &a, &arn(ALICE), NOW)
        .await
        .unwrap()
        .into_execution();

    let found = store
        .execution(&c, &a, &execution.execution_id)
        .await
        .unwrap();
    assert_eq!(found.as_deref(), Some(&execution));
    let elsewhere = store
        .execution(&c, &account("210987654321"), &execution.execution_id)
        .await
        .unwrap();
    assert_eq!(elsewhere, None);
}

#[tokio::test]
async fn status_moves_forward_only_and_records_times_and_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (c, a, id) = queued_execution(&store).await;

    let started = NOW + Duration::seconds(5);
    let running = store
        .set_execution_status(&id, ExecutionStatus::Running, started, None)
        .await
        .unwrap();
    assert_eq!(
        (running.status, running.started_at),
        (ExecutionStatus::Running, Some(started))
    );

    let finished = NOW + Duration::seconds(9);
    let failed = store
        .set_execution_status(&id, ExecutionStatus::Failed, finished, Some("boom"))
        .await
        .unwrap();
    assert_eq!(failed.finished_at, Some(finished));
    assert_eq!(failed.started_at, Some(started));
    assert_eq!(failed.error.as_deref(), Some("boom"));

    let again = store
        .set_execution_status(&id, ExecutionStatus::Running, finished, None)
        .await;
    assert!(
        matches!(again, Err(StoreError::Invalid { .. })),
        "{again:?}"
    );
    assert_eq!(
        store.execution(&c, &a, &id).await.unwrap().as_deref(),
        Some(&failed)
    );
}

#[tokio::test]
async fn status_move_is_seen_by_the_very_next_read_after_a_cached_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (c, a, id) = queued_execution(&store).await;
    // Two reads: the second is served from the cache.
    for _ in 0..2 {
        let read = store.execution(&c, &a, &id).await.unwrap().unwrap();
        assert_eq!(read.status, ExecutionStatus::Queued);
    }

    let started = NOW + Duration::seconds(1);
    store
        .set_execution_status(&id, ExecutionStatus::Running, started, None)
        .await
        .unwrap();
    let read = store.execution(&c, &a, &id).await.unwrap().unwrap();
    assert_eq!(
        (read.status, read.started_at),
        (ExecutionStatus::Running, Some(started))
    );
}

#[tokio::test]
async fn status_move_by_another_process_is_seen_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = open(dir.path());
    let worker = open(dir.path());
    let (c, a, id) = queued_execution(&server).await;
    let status = || async {
        server
            .execution(&c, &a, &id)
            .await
            .unwrap()
            .map(|e| e.status)
    };
    assert_eq!(status().await, Some(ExecutionStatus::Queued));
    assert_eq!(status().await, Some(ExecutionStatus::Queued));

    worker
        .set_execution_status(&id, ExecutionStatus::Succeeded, NOW, None)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while status().await != Some(ExecutionStatus::Succeeded) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "the server still serves the queued execution a second after the worker finished it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
