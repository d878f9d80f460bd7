//! The `*_now` answers the request path asks first: given only when the cache has them,
//! never after a change that makes them stale, never for another customer's execution.

mod common;

use common::{account, arn, customer, customer_with_accounts, open, NOW};
use k9_store::{KeyStatus, Store};

const ACCOUNT: &str = "123456789012";

#[tokio::test]
async fn a_cached_credential_is_not_answered_after_its_key_is_deactivated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let created = store
        .create_user(&arn("arn:aws:iam::111111111111:user/alice"), NOW)
        .await
        .unwrap();
    let id = created.access_key.access_key_id;
    assert!(store.credential_now(&id).is_none(), "nothing read yet");
    store.credential(&id).await.unwrap().expect("the key");
    assert!(
        store.credential_now(&id).is_some(),
        "read once, then cached"
    );

    store
        .set_key_status(&id, KeyStatus::Inactive)
        .await
        .unwrap();
    assert!(store.credential_now(&id).is_none());
    let fresh = store.credential(&id).await.unwrap().expect("the key");
    let now = store.credential_now(&id).expect("cached again");
    assert_eq!(now.access_key_id, fresh.access_key_id);
}

#[tokio::test]
async fn a_cached_authorization_is_not_answered_after_a_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    let (c, a) = (customer("C123456"), account(ACCOUNT));
    let alice = arn("arn:aws:iam::111111111111:user/alice");
    store.approve(&c, &alice, NOW).await.unwrap();
    assert_eq!(store.is_authorized_now(&alice, &c, &a), None);
    assert!(store.is_authorized(&alice, &c, &a).await.unwrap());
    assert_eq!(store.is_authorized_now(&alice, &c, &a), Some(true));
    assert_eq!(
        store.is_authorized_now(&alice, &c, &account("210987654321")),
        None,
        "another account is another decision"
    );

    store.revoke(&c, &alice).await.unwrap();
    assert_eq!(store.is_authorized_now(&alice, &c, &a), None);
    assert!(!store.is_authorized(&alice, &c, &a).await.unwrap());
    assert_eq!(store.is_authorized_now(&alice, &c, &a), Some(false));
}

#[tokio::test]
async fn a_cached_execution_is_answered_only_to_its_own_customer_and_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    customer_with_accounts(&store, "C123456", &[ACCOUNT]).await;
    customer_with_accounts(&store, "C654321", &["210987654321"]).await;
    let (c, a) = (customer("C123456"), account(ACCOUNT));
    let alice = arn("arn:aws:iam::111111111111:user/alice");
    let queued = store
        .enqueue_execution(&c, &a, &alice, NOW)
        .await
        .unwrap()
        .into_execution();
    let id = &queued.execution_id;
    store.execution(&c, &a, id).await.unwrap().expect("queued");
    assert!(store.execution_now(&c, &a, id).is_some());
    assert!(store.execution_now(&customer("C654321"), &a, id).is_none());
    assert!(store
        .execution_now(&c, &account("210987654321"), id)
        .is_none());
}
