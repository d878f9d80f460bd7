//! Who may act for a customer: approvals, role sessions, account registration.

mod common;

use common::{account, arn, customer, customer_with_accounts, open, NOW};
use k9_store::{DenialReason, Store, StoreError};

const ACCOUNT: &str = "123456789012";

#[tokio::test]
async fn approved_user_is_authorized_by_exact_arn_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    let c = customer("C123456");
    store
        .approve(&c, &arn("arn:aws:iam::111111111111:user/alice"), NOW)
        .await
        .unwrap();

    let yes = |s: &'static str| {
        let store = &store;
        let c = &c;
        async move {
            store
                .is_authorized(&arn(s), c, &account(ACCOUNT))
                .await
                .unwrap()
        }
    };
    assert!(yes("arn:aws:iam::111111111111:user/alice").await);
    assert!(!yes("arn:aws:iam::111111111111:user/admins/alice").await);
    assert!(!yes("arn:aws:iam::222222222222:user/alice").await);
    assert!(!yes("arn:aws:iam::111111111111:role/alice").await);
    assert!(!yes("arn:aws:sts::111111111111:assumed-role/alice/s1").await);
}

#[tokio::test]
async fn session_of_an_approved_role_with_a_path_is_authorized() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    let c = customer("C123456");
    store
        .approve(
            &c,
            &arn("arn:aws:iam::111111111111:role/ops/k9-automation"),
            NOW,
        )
        .await
        .unwrap();

    let session = arn("arn:aws:sts::111111111111:assumed-role/k9-automation/ci");
    assert!(store
        .is_authorized(&session, &c, &account(ACCOUNT))
        .await
        .unwrap());
    let other_role = arn("arn:aws:sts::111111111111:assumed-role/k9-other/ci");
    assert!(!store
        .is_authorized(&other_role, &c, &account(ACCOUNT))
        .await
        .unwrap());
    let other_account = arn("arn:aws:sts::222222222222:assumed-role/k9-automation/ci");
    assert!(!store
        .is_authorized(&other_account, &c, &account(ACCOUNT))
        .await
        .unwrap());
}

#[tokio::test]
async fn revoked_approval_no_longer_authorizes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    let (c, role) = (
        customer("C123456"),
        arn("arn:aws:iam::111111111111:role/k9"),
    );
    let session = arn("arn:aws:sts::111111111111:assumed-role/k9/ci");
    store.approve(&c, &role, NOW).await.unwrap();
    assert!(store
        .is_authorized(&session, &c, &account(ACCOUNT))
        .await
        .unwrap());

    store.revoke(&c, &role).await.unwrap();
    assert!(!store
        .is_authorized(&session, &c, &account(ACCOUNT))
        .await
        .unwrap());
    let again = store.revoke(&c, &role).await;
    assert!(
        matches!(again, Err(StoreError::NotFound { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn approved_caller_is_not_authorized_for_an_account_the_customer_does_not_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    customer_with_accounts(&store, "C654321", &["210987654321"]).await;
    let (c, alice) = (
        customer("C123456"),
        arn("arn:aws:iam::111111111111:user/alice"),
    );
    store.approve(&c, &alice, NOW).await.unwrap();

    assert!(!store
        .is_authorized(&alice, &c, &account("999999999999"))
        .await
        .unwrap());
    assert!(!store
        .is_authorized(&alice, &c, &account("210987654321"))
        .await
        .unwrap());
}

#[tokio::test]
async fn denial_reason_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    customer_with_accounts(&store, "C654321", &["210987654321"]).await;
    let alice = arn("arn:aws:iam::111111111111:user/alice");
    let reason = |c: &'static str, a: &'static str| {
        let (store, alice) = (&store, &alice);
        async move {
            store
                .authorization(alice, &customer(c), &account(a))
                .await
                .unwrap()
                .denial_reason()
        }
    };
    assert_eq!(
        reason("C999999", ACCOUNT).await,
        Some(DenialReason::UnknownCustomer)
    );
    // Registered, but to another customer; or to none.
    assert_eq!(
        reason("C123456", "210987654321").await,
        Some(DenialReason::AccountNotRegistered)
    );
    assert_eq!(
        reason("C123456", "999999999999").await,
        Some(DenialReason::AccountNotRegistered)
    );
    assert_eq!(
        reason("C123456", ACCOUNT).await,
        Some(DenialReason::NotApproved)
    );
}

#[tokio::test]
async fn denial_reason_of_a_cached_refusal_is_the_one_read_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    let (c, alice) = (
        customer("C123456"),
        arn("arn:aws:iam::111111111111:user/alice"),
    );
    let other = account("210987654321");
    assert!(!store.is_authorized(&alice, &c, &other).await.unwrap());
    // Register the account behind the store's back (no change counter moves), so that a
    // fresh read would now say "not approved": the cached refusal keeps its own reason.
    rusqlite::Connection::open(dir.path().join(k9_store::SqliteStore::FILE_NAME))
        .unwrap()
        .execute(
            "INSERT INTO accounts (account_id, customer_id, added_at) VALUES ('210987654321', 'C123456', 0)",
            [],
        )
        .unwrap();
    assert_eq!(
        store
            .authorization(&alice, &c, &other)
            .await
            .unwrap()
            .denial_reason(),
        Some(DenialReason::AccountNotRegistered)
    );
    // An approval through the store invalidates the cache: the reason is read afresh.
    store
        .approve(&c, &arn("arn:aws:iam::111111111111:user/bob"), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .authorization(&alice, &c, &other)
            .await
            .unwrap()
            .denial_reason(),
        Some(DenialReason::NotApproved)
    );
}

#[tokio::test]
async fn approval_for_one_customer_does_not_authorize_for_another() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    customer_with_accounts(&store, "C654321", &["210987654321"]).await;
    let alice = arn("arn:aws:iam::111111111111:user/alice");
    store
        .approve(&customer("C123456"), &alice, NOW)
        .await
        .unwrap();
    assert!(!store
        .is_authorized(&alice, &customer("C654321"), &account("210987654321"))
        .await
        .unwrap());
}

#[tokio::test]
async fn approving_a_session_arn_is_refused_with_advice_to_approve_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    let err = store
        .approve(
            &customer("C123456"),
            &arn("arn:aws:sts::111111111111:assumed-role/k9/ci"),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains("approve its role instead"),
        "{err}"
    );
}

#[tokio::test]
async fn approving_for_an_unknown_customer_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let err = store
        .approve(
            &customer("C123456"),
            &arn("arn:aws:iam::111111111111:user/a"),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn account_belongs_to_at_most_one_customer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    store
        .create_customer(&customer("C654321"), None, NOW)
        .await
        .unwrap();

    store
        .add_account(&customer("C123456"), &account(ACCOUNT), NOW)
        .await
        .unwrap();
    let err = store
        .add_account(&customer("C654321"), &account(ACCOUNT), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("C123456"), "{err}");
}

#[tokio::test]
async fn creating_a_customer_twice_is_already_exists() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .create_customer(&customer("C123456"), None, NOW)
        .await
        .unwrap();
    let err = store
        .create_customer(&customer("C123456"), None, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
}

#[tokio::test]
async fn customer_info_lists_accounts_and_approvals() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &["210987654321", ACCOUNT]).await;
    let c = customer("C123456");
    store
        .approve(&c, &arn("arn:aws:iam::111111111111:role/k9"), NOW)
        .await
        .unwrap();
    store
        .approve(&c, &arn("arn:aws:iam::111111111111:user/alice"), NOW)
        .await
        .unwrap();

    let info = store.customer(&c).await.unwrap().expect("customer exists");
    assert_eq!(info.name.as_deref(), Some("Test customer"));
    assert_eq!(
        info.accounts,
        vec![account(ACCOUNT), account("210987654321")]
    );
    assert_eq!(
        info.approved_principals,
        vec![
            arn("arn:aws:iam::111111111111:role/k9"),
            arn("arn:aws:iam::111111111111:user/alice")
        ]
    );
    assert_eq!(store.customer(&customer("C000001")).await.unwrap(), None);
}

#[tokio::test]
async fn approval_and_revocation_by_another_process_are_seen_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = open(dir.path());
    let admin_cli = open(dir.path());
    customer_with_accounts(&admin_cli, "C123456", &[ACCOUNT]).await;
    let (c, a, alice) = (
        customer("C123456"),
        account(ACCOUNT),
        arn("arn:aws:iam::111111111111:user/alice"),
    );
    assert!(!server.is_authorized(&alice, &c, &a).await.unwrap());

    admin_cli.approve(&c, &alice, NOW).await.unwrap();
    assert!(eventually(|| server.is_authorized(&alice, &c, &a), true).await);
    admin_cli.revoke(&c, &alice).await.unwrap();
    assert!(eventually(|| server.is_authorized(&alice, &c, &a), false).await);
}

/// Whether `check` returns `expected` within a second (polling every 10 ms).
async fn eventually<F, Fut>(check: F, expected: bool) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, StoreError>>,
{
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(1) {
        if check().await.unwrap() == expected {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}
