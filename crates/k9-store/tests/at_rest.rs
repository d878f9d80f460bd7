//! What is on disk: schema migrations, file modes, encryption of secrets, the master key.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{arn, contains, customer, open, raw_database_bytes, NOW};
use k9_store::{MasterKey, SqliteStore, Store, StoreError};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn reopening_keeps_data_and_applies_each_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .create_customer(&customer("C123456"), None, NOW)
            .await
            .unwrap();
    }
    let store = open(dir.path());
    assert!(store
        .customer(&customer("C123456"))
        .await
        .unwrap()
        .is_some());
    drop(store);
    let store = open(dir.path());
    drop(store);

    let conn = rusqlite::Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT version) FROM schema_migrations",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(rows >= 1);
    assert_eq!(rows, distinct);
}

#[tokio::test]
async fn master_key_and_database_files_are_readable_by_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("fresh");
    let store = open(&data_dir);
    for name in [MasterKey::FILE_NAME, SqliteStore::FILE_NAME] {
        let mode = std::fs::metadata(data_dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
    }
    drop(store);
}

#[tokio::test]
async fn secrets_and_session_tokens_never_reach_the_file_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let key = store
        .create_user(&arn("arn:aws:iam::123456789012:user/alice"), NOW)
        .await
        .unwrap();
    let role = arn("arn:aws:iam::123456789012:role/ops/k9-automation");
    store.create_role(&role, NOW).await.unwrap();
    let session = store
        .create_session(&role, "ci", time::Duration::hours(1), NOW)
        .await
        .unwrap();
    store.flush().await.unwrap();

    let secrets = [
        key.access_key
            .secret_access_key
            .expose()
            .as_bytes()
            .to_vec(),
        session
            .credentials
            .secret_access_key
            .expose()
            .as_bytes()
            .to_vec(),
        session
            .credentials
            .session_token
            .expose()
            .as_bytes()
            .to_vec(),
    ];
    let token_hash = Sha256::digest(session.credentials.session_token.expose().as_bytes());

    let while_open = raw_database_bytes(dir.path());
    // Sanity: the ids are stored in clear, so the search does see the data.
    assert!(contains(
        &while_open,
        key.access_key.access_key_id.as_str().as_bytes()
    ));
    assert!(contains(&while_open, &token_hash));
    for secret in &secrets {
        assert!(
            !contains(&while_open, secret),
            "a secret is in the open database files"
        );
    }
    drop(store);
    let after_close = raw_database_bytes(dir.path());
    assert!(contains(
        &after_close,
        key.access_key.access_key_id.as_str().as_bytes()
    ));
    for secret in &secrets {
        assert!(
            !contains(&after_close, secret),
            "a secret is in the closed database file"
        );
    }
}

#[tokio::test]
async fn opening_with_another_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let err = SqliteStore::open(dir.path(), MasterKey::generate()).unwrap_err();
    assert!(matches!(err, StoreError::MasterKeyMismatch), "{err}");
    assert!(
        err.to_string().contains("master key does not match"),
        "{err}"
    );
}

#[tokio::test]
async fn master_key_from_hex_opens_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate();
    let hex = key.to_hex();
    let store = SqliteStore::open(dir.path(), key).unwrap();
    let created = store
        .create_user(&arn("arn:aws:iam::123456789012:user/alice"), NOW)
        .await
        .unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path(), MasterKey::from_hex(hex.expose()).unwrap()).unwrap();
    let credential = store
        .credential(&created.access_key.access_key_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        credential.secret_access_key.expose(),
        created.access_key.secret_access_key.expose()
    );
}

#[tokio::test]
async fn secret_moved_to_another_key_row_does_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let alice = store
        .create_user(&arn("arn:aws:iam::123456789012:user/alice"), NOW)
        .await
        .unwrap();
    let bob = store
        .create_user(&arn("arn:aws:iam::123456789012:user/bob"), NOW)
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn.execute(
        "UPDATE access_keys SET secret = (SELECT secret FROM access_keys WHERE access_key_id = ?1)
         WHERE access_key_id = ?2",
        [
            alice.access_key.access_key_id.as_str(),
            bob.access_key.access_key_id.as_str(),
        ],
    )
    .unwrap();
    let err = store
        .credential(&bob.access_key.access_key_id)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MasterKeyMismatch), "{err}");
}
