//! The k9 API client.
//!
//! [`K9Client`] triggers and reads IAM analyses over the k9 API, signing every request with
//! AWS Signature Version 4 (service `execute-api`) exactly as API Gateway with IAM
//! authorization expects. It retries connection failures and 5xx answers with exponential
//! backoff and jitter, re-signing each attempt, and never retries a 4xx.
//!
//! ```no_run
//! # async fn demo() -> Result<(), k9_client::ClientError> {
//! use aws_credential_types::Credentials;
//! use k9_client::{ClientConfig, K9Client};
//!
//! let credentials = Credentials::from_keys("AKIAIOSFODNN7EXAMPLE", "secret", None);
//! let client = K9Client::new(ClientConfig::new("http://127.0.0.1:8080"), credentials)?;
//! let customer = "C123456".parse().expect("valid customer id");
//! let account = "123456789012".parse().expect("valid account id");
//! let queued = client.trigger_analysis(&customer, &account).await?;
//! let execution = client.get_execution(&queued.execution_id).await?;
//! println!("{} is {}", execution.execution_id, execution.status);
//! # Ok(())
//! # }
//! ```
//!
//! [`RequestSigner`] / [`sign_request`] sign arbitrary [`http::Request`]s the same way, for
//! the server's demo and load benchmark. This crate never logs credentials or signatures.
//!
//! Code map: `signing` (SigV4 via `aws-sigv4`, no I/O), `retry` (the backoff policy),
//! `config`, `error` (what failed and whose move it is), `model` (the API's JSON), `client`
//! (the HTTP calls).

#![warn(missing_docs)]

mod client;
mod config;
mod error;
mod model;
mod retry;
mod signing;

pub use client::{K9Client, RawResponse, ERROR_TYPE_HEADER, REQUEST_ID_HEADER};
pub use config::{ClientConfig, DEFAULT_ENDPOINT};
pub use error::{ClientError, FailureClass, NetworkError, NetworkErrorKind};
pub use model::{Execution, ExecutionList, TriggerResponse};
pub use retry::RetryPolicy;
pub use signing::{sign_request, RequestSigner, SigningError, DEFAULT_REGION, SERVICE};

/// The domain ids the client's methods take and return, re-exported for convenience.
pub use k9_domain::{AccountId, CustomerId, ExecutionId, ExecutionStatus, PrincipalArn};
