//! k9's storage: the [`Store`] trait that handlers and the admin CLI code against, and
//! [`SqliteStore`], the embedded backend.
//!
//! # What lives where
//! - [`Store`] (`store.rs`): every operation k9 needs, object-safe (`Arc<dyn Store>`), so
//!   a PostgreSQL backend can be added without touching handlers. Async, but for what
//!   never waits: recording an audit event or a key use, and the `*_now` answers a
//!   backend can give from memory.
//! - The values it exchanges (`model.rs`): [`Credential`], [`Execution`], [`AuditEvent`],
//!   and the admin results shaped like the AWS CLI prints them ([`NewAccessKey`],
//!   [`NewSession`]).
//! - Secrets (`secret.rs`, `crypto.rs`, `random.rs`): [`MasterKey`], [`SecretString`],
//!   AES-256-GCM sealing of stored secrets, CSPRNG-generated keys and tokens.
//! - [`SqliteStore`] (`sqlite/`): one writer thread doing group commits, a small pool of
//!   read-only connections used directly on the calling thread, embedded migrations.
//!
//! # Invariants
//! - No secret is stored in plaintext: access key and session secrets are encrypted
//!   with the master key, session tokens are stored only as their SHA-256.
//! - No secret appears in a `Debug`/`Display` output or an error message.
//! - A write that a caller awaits (e.g. [`Store::enqueue_execution`]) has been committed
//!   and fsync'd when it returns.

#![warn(missing_docs)]

mod audit;
mod crypto;
mod error;
mod model;
mod random;
mod secret;
mod sqlite;
mod store;

pub use error::StoreError;
pub use model::{
    AccessKey, AccessKeyInfo, AssumedRoleUser, AuditEvent, AuditOutcome, AuditRecord,
    Authorization, Credential, CredentialKind, CustomerInfo, DenialReason, EnqueueOutcome,
    Execution, ExecutionPage, KeyStatus, NewAccessKey, NewSession, ParseKeyStatusError,
    SessionCredentials,
};
pub use secret::{MasterKey, SecretString};
pub use sqlite::SqliteStore;
pub use store::{
    record_audit, AuditQueue, Store, MAX_PAGE_SIZE, MAX_SESSION_DURATION, MIN_SESSION_DURATION,
};
