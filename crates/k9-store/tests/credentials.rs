//! Access keys and role sessions: issuing, looking up, deactivating, deleting.

mod common;

use common::{arn, open, NOW};
use k9_store::{CredentialKind, KeyStatus, Store, StoreError};
use sha2::{Digest, Sha256};
use time::Duration;

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const ROLE: &str = "arn:aws:iam::123456789012:role/ops/k9-automation";

#[tokio::test]
async fn new_user_key_is_an_active_long_term_credential_with_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let created = store.create_user(&arn(ALICE), NOW).await.unwrap();
    let key = &created.access_key;
    assert_eq!(key.user_name, "alice");
    assert!(!key.access_key_id.is_temporary());
    assert_eq!(key.status, KeyStatus::Active);
    assert_eq!(key.secret_access_key.expose().len(), 40);
    assert_eq!(key.create_date, NOW);

    let credential = store
        .credential(&key.access_key_id)
        .await
        .unwrap()
        .expect("key exists");
    assert_eq!(credential.principal, arn(ALICE));
    assert_eq!(
        credential.secret_access_key.expose(),
        key.secret_access_key.expose()
    );
    assert_eq!(
        credential.kind,
        CredentialKind::LongTerm {
            status: KeyStatus::Active
        }
    );
}

#[tokio::test]
async fn second_key_for_the_same_user_reuses_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = store.create_user(&arn(ALICE), NOW).await.unwrap();
    let second = store.create_user(&arn(ALICE), NOW).await.unwrap();
    assert_ne!(
        first.access_key.access_key_id,
        second.access_key.access_key_id
    );
    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys
        .iter()
        .all(|k| k.user_arn == arn(ALICE) && k.user_name == "alice"));
}

#[tokio::test]
async fn user_of_the_same_name_under_another_path_is_already_exists() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_user(&arn(ALICE), NOW).await.unwrap();
    let err = store
        .create_user(&arn("arn:aws:iam::123456789012:user/admins/alice"), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
}

#[tokio::test]
async fn access_keys_are_only_for_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let err = store.create_user(&arn(ROLE), NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
}

#[tokio::test]
async fn unknown_key_has_no_credential() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = "AKIAIOSFODNN7EXAMPLE".parse().unwrap();
    assert!(store.credential(&id).await.unwrap().is_none());
    let id = "ASIAIOSFODNN7EXAMPLE".parse().unwrap();
    assert!(store.credential(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn session_credential_stores_token_hash_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_role(&arn(ROLE), NOW).await.unwrap();
    let session = store
        .create_session(&arn(ROLE), "ci", Duration::hours(1), NOW)
        .await
        .unwrap();
    let creds = &session.credentials;
    assert!(creds.access_key_id.is_temporary());
    assert_eq!(creds.expiration, NOW + Duration::hours(1));
    assert!(creds.session_token.expose().len() >= 64);
    assert_eq!(
        session.assumed_role_user.arn,
        arn("arn:aws:sts::123456789012:assumed-role/k9-automation/ci")
    );
    assert!(session
        .assumed_role_user
        .assumed_role_id
        .starts_with("AROA"));
    assert!(session.assumed_role_user.assumed_role_id.ends_with(":ci"));

    let credential = store
        .credential(&creds.access_key_id)
        .await
        .unwrap()
        .expect("session exists");
    assert_eq!(credential.principal, session.assumed_role_user.arn);
    assert_eq!(
        credential.secret_access_key.expose(),
        creds.secret_access_key.expose()
    );
    let expected_hash: [u8; 32] = Sha256::digest(creds.session_token.expose().as_bytes()).into();
    assert_eq!(
        credential.kind,
        CredentialKind::Temporary {
            session_token_sha256: expected_hash,
            expires_at: NOW + Duration::hours(1)
        }
    );
}

#[tokio::test]
async fn session_needs_an_existing_role_and_a_duration_sts_allows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let missing = store
        .create_session(&arn(ROLE), "ci", Duration::hours(1), NOW)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");

    store.create_role(&arn(ROLE), NOW).await.unwrap();
    for duration in [Duration::seconds(899), Duration::seconds(43_201)] {
        let err = store
            .create_session(&arn(ROLE), "ci", duration, NOW)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    }
    let bad_name = store
        .create_session(&arn(ROLE), "c", Duration::hours(1), NOW)
        .await
        .unwrap_err();
    assert!(matches!(bad_name, StoreError::Invalid { .. }), "{bad_name}");
    let user = store
        .create_session(&arn(ALICE), "ci", Duration::hours(1), NOW)
        .await
        .unwrap_err();
    assert!(matches!(user, StoreError::Invalid { .. }), "{user}");
}

#[tokio::test]
async fn role_name_is_unique_in_its_account_whatever_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_role(&arn(ROLE), NOW).await.unwrap();
    for again in [ROLE, "arn:aws:iam::123456789012:role/k9-automation"] {
        let err = store.create_role(&arn(again), NOW).await.unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    }
}

#[tokio::test]
async fn deactivated_key_reads_inactive_and_can_be_reactivated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = store
        .create_user(&arn(ALICE), NOW)
        .await
        .unwrap()
        .access_key
        .access_key_id;
    // Read once first, so a cached credential would be what is read back.
    assert!(store.credential(&id).await.unwrap().is_some());

    store
        .set_key_status(&id, KeyStatus::Inactive)
        .await
        .unwrap();
    let credential = store.credential(&id).await.unwrap().unwrap();
    assert_eq!(
        credential.kind,
        CredentialKind::LongTerm {
            status: KeyStatus::Inactive
        }
    );
    assert_eq!(
        store.list_keys().await.unwrap()[0].status,
        KeyStatus::Inactive
    );

    store.set_key_status(&id, KeyStatus::Active).await.unwrap();
    let credential = store.credential(&id).await.unwrap().unwrap();
    assert_eq!(
        credential.kind,
        CredentialKind::LongTerm {
            status: KeyStatus::Active
        }
    );
}

#[tokio::test]
async fn deleted_key_is_gone_and_deleting_again_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = store
        .create_user(&arn(ALICE), NOW)
        .await
        .unwrap()
        .access_key
        .access_key_id;
    assert!(store.credential(&id).await.unwrap().is_some());
    store.delete_key(&id).await.unwrap();
    assert!(store.credential(&id).await.unwrap().is_none());
    assert!(store.list_keys().await.unwrap().is_empty());
    let again = store.delete_key(&id).await;
    assert!(
        matches!(again, Err(StoreError::NotFound { .. })),
        "{again:?}"
    );
    let status = store.set_key_status(&id, KeyStatus::Active).await;
    assert!(
        matches!(status, Err(StoreError::NotFound { .. })),
        "{status:?}"
    );
}

#[tokio::test]
async fn deleting_a_session_key_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_role(&arn(ROLE), NOW).await.unwrap();
    let id = store
        .create_session(&arn(ROLE), "ci", Duration::hours(1), NOW)
        .await
        .unwrap()
        .credentials
        .access_key_id;
    let status = store.set_key_status(&id, KeyStatus::Inactive).await;
    assert!(
        matches!(status, Err(StoreError::Invalid { .. })),
        "{status:?}"
    );
    store.delete_key(&id).await.unwrap();
    assert!(store.credential(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn key_use_is_recorded_in_batches_and_never_moves_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = store
        .create_user(&arn(ALICE), NOW)
        .await
        .unwrap()
        .access_key
        .access_key_id;
    assert_eq!(store.list_keys().await.unwrap()[0].last_used_date, None);

    store.record_key_use(
        &id,
        NOW + Duration::minutes(5) + Duration::milliseconds(300),
    );
    store.record_key_use(&id, NOW + Duration::minutes(1));
    store.flush().await.unwrap();
    assert_eq!(
        store.list_keys().await.unwrap()[0].last_used_date,
        Some(NOW + Duration::minutes(5))
    );
}

#[tokio::test]
async fn debug_output_of_a_credential_hides_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let key = store.create_user(&arn(ALICE), NOW).await.unwrap();
    let credential = store
        .credential(&key.access_key.access_key_id)
        .await
        .unwrap()
        .unwrap();
    let debug = format!("{credential:?} {key:?}");
    assert!(
        !debug.contains(key.access_key.secret_access_key.expose()),
        "{debug}"
    );
}

#[tokio::test]
async fn key_deactivated_by_another_process_is_seen_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = open(dir.path());
    let admin_cli = open(dir.path());
    let id = admin_cli
        .create_user(&arn(ALICE), NOW)
        .await
        .unwrap()
        .access_key
        .access_key_id;
    let active = server.credential(&id).await.unwrap().unwrap();
    assert_eq!(
        active.kind,
        CredentialKind::LongTerm {
            status: KeyStatus::Active
        }
    );

    admin_cli
        .set_key_status(&id, KeyStatus::Inactive)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let kind = server.credential(&id).await.unwrap().unwrap().kind.clone();
        if kind
            == (CredentialKind::LongTerm {
                status: KeyStatus::Inactive,
            })
        {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "still {kind:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
