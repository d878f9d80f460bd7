//! Helpers shared by the integration tests: a store in a temporary directory, ids from
//! literals, the raw bytes of the database files.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;

use k9_domain::{AccountId, CustomerId, PrincipalArn};
use k9_store::{MasterKey, SqliteStore, Store};
use time::macros::datetime;
use time::OffsetDateTime;

/// A fixed "now" so tests do not depend on the clock.
pub const NOW: OffsetDateTime = datetime!(2024-06-01 12:00:00 UTC);

/// Opens the store in `dir` with the master key file kept there.
pub fn open(dir: &Path) -> SqliteStore {
    let key = MasterKey::load_or_create(dir).expect("master key");
    SqliteStore::open(dir, key).expect("open store")
}

/// Parses a customer id literal.
pub fn customer(s: &str) -> CustomerId {
    s.parse().expect("customer id literal")
}

/// Parses an account id literal.
pub fn account(s: &str) -> AccountId {
    s.parse().expect("account id literal")
}

/// Parses an ARN literal.
pub fn arn(s: &str) -> PrincipalArn {
    s.parse().expect("ARN literal")
}

/// Creates customer `c` owning `accounts`.
pub async fn customer_with_accounts(store: &dyn Store, c: &str, accounts: &[&str]) {
    store
        .create_customer(&customer(c), Some("Test customer"), NOW)
        .await
        .expect("create customer");
    for a in accounts {
        store
            .add_account(&customer(c), &account(a), NOW)
            .await
            .expect("add account");
    }
}

/// Every byte of the database and its WAL, as they are on disk now.
/// The bytes of every database file (main and audit, with their WAL files).
pub fn raw_database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read data dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(SqliteStore::FILE_NAME)
            || name.starts_with(SqliteStore::AUDIT_FILE_NAME)
        {
            bytes.extend(std::fs::read(entry.path()).expect("read database file"));
        }
    }
    bytes
}

/// Whether `needle` occurs anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
