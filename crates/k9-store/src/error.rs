//! `StoreError`: what can go wrong in a store operation, worded for the person who has
//! to fix it.

use std::path::PathBuf;

/// A failed store operation. No variant ever carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing the operation needs does not exist (e.g. `customer C123456`).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `access key AKIA…`.
        what: String,
    },
    /// The thing the operation would create already exists.
    #[error("{what} already exists")]
    AlreadyExists {
        /// What already exists, e.g. `customer C123456`.
        what: String,
    },
    /// The request itself is not acceptable; the message says why and what would be.
    #[error("{message}")]
    Invalid {
        /// A complete sentence for the user.
        message: String,
    },
    /// A pagination token that this store did not hand out for this listing.
    #[error("invalid pagination token: pass the nextToken of the previous page unchanged, for the same customer and account")]
    InvalidPageToken,
    /// Stored secrets cannot be decrypted with the master key in use.
    #[error(
        "the master key does not match the one the stored secrets were encrypted with: \
         use the master.key file (or K9_MASTER_KEY) that this data directory was created with"
    )]
    MasterKeyMismatch,
    /// A master key that is not 64 hex characters.
    #[error("invalid master key: {message}")]
    InvalidMasterKey {
        /// What is wrong with it (never the key itself).
        message: String,
    },
    /// A file system operation on the data directory failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `create the data directory`.
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database rejected an operation.
    #[error("database error: {0}")]
    Backend(#[from] rusqlite::Error),
    /// A stored value does not parse (the database was edited by hand or is damaged).
    #[error("stored data is invalid: {message}")]
    Corrupt {
        /// Which value, and why.
        message: String,
    },
    /// The batch this write was part of could not be committed, so it was not applied.
    #[error("the write was not committed: {message}")]
    WriteFailed {
        /// Why the batch failed.
        message: String,
    },
    /// The writer thread has stopped (the store is shutting down or it crashed).
    #[error("the store's writer has stopped; no further writes are possible")]
    WriterStopped,
}

impl StoreError {
    /// `Invalid` with `message`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
        }
    }

    /// `NotFound` for `what`.
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// `AlreadyExists` for `what`.
    pub(crate) fn already_exists(what: impl Into<String>) -> Self {
        Self::AlreadyExists { what: what.into() }
    }

    /// `Corrupt` with `message`.
    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        Self::Corrupt {
            message: message.into(),
        }
    }
}
