//! A k9 server on an ephemeral loopback port with a temporary data dir, and a signing client.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use k9_client::RequestSigner;
use k9_domain::{AccountId, CustomerId, PrincipalArn};
use k9_server::AppState;
use k9_store::{MasterKey, SqliteStore, Store};
use time::OffsetDateTime;

pub const CUSTOMER: &str = "C123456";
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const TRIGGER_PATH: &str = "/customer/C123456/account/123456789012/analysis";

pub struct TestServer {
    pub base: String,
    pub host: String,
    pub store: Arc<SqliteStore>,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub struct Provisioned {
    pub alice: Credentials,
    pub bob: Credentials,
}

fn open(dir: &std::path::Path) -> Arc<SqliteStore> {
    let key = MasterKey::load_or_create(dir).expect("master key");
    Arc::new(SqliteStore::open(dir, key).expect("open store"))
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> Self {
        let store = open(dir.path());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = AppState::new(store.clone(), REGION);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            k9_server::serve(
                listener,
                None,
                state,
                async {
                    let _ = rx.await;
                },
                Duration::from_secs(5),
            )
            .await
            .expect("serve");
        });
        Self {
            base: format!("http://{addr}"),
            host: addr.to_string(),
            store,
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and flushes the store; returns the data dir.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
        self.store.flush().await.expect("flush");
        self.dir
    }

    /// Customer C123456 with account 123456789012; alice approved, bob not.
    pub async fn provision(&self) -> Provisioned {
        let now = OffsetDateTime::now_utc();
        let customer = CustomerId::parse(CUSTOMER).unwrap();
        let account = AccountId::parse(ACCOUNT).unwrap();
        self.store
            .create_customer(&customer, Some("Acme"), now)
            .await
            .unwrap();
        self.store
            .add_account(&customer, &account, now)
            .await
            .unwrap();
        let alice = self.user("arn:aws:iam::123456789012:user/alice").await;
        let bob = self.user("arn:aws:iam::123456789012:user/bob").await;
        self.store
            .approve(
                &customer,
                &PrincipalArn::parse("arn:aws:iam::123456789012:user/alice").unwrap(),
                now,
            )
            .await
            .unwrap();
        Provisioned { alice, bob }
    }

    pub async fn user(&self, arn: &str) -> Credentials {
        let key = self
            .store
            .create_user(
                &PrincipalArn::parse(arn).unwrap(),
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        Credentials::from_keys(
            key.access_key.access_key_id.to_string(),
            key.access_key.secret_access_key.expose().to_owned(),
            None,
        )
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }
}

/// A response reduced to what tests look at.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub version: reqwest::Version,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
    pub text: String,
}

impl Answer {
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
    pub fn error_type(&self) -> &str {
        self.headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

pub async fn send(request: http::Request<Vec<u8>>) -> Answer {
    send_with(&reqwest::Client::new(), request).await
}

/// Sends `request` with `client` (e.g. one that speaks HTTP/2).
pub async fn send_with(client: &reqwest::Client, request: http::Request<Vec<u8>>) -> Answer {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let version = response.version();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        version,
        headers,
        body,
        text,
    }
}

/// Builds a request (JSON content type if there is a body) without signing it.
pub fn request(method: &str, url: &str, body: Option<&str>) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::builder().method(method).uri(url);
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    builder
        .body(body.unwrap_or_default().as_bytes().to_vec())
        .expect("request")
}

/// Signs with the `aws-sigv4` crate (through k9-client's signer) at `time`.
pub fn signed_at(
    method: &str,
    url: &str,
    body: Option<&str>,
    creds: &Credentials,
    time: SystemTime,
) -> http::Request<Vec<u8>> {
    let mut req = request(method, url, body);
    RequestSigner::new(creds, REGION, "execute-api")
        .sign(&mut req, time)
        .expect("sign");
    req
}

pub fn signed(
    method: &str,
    url: &str,
    body: Option<&str>,
    creds: &Credentials,
) -> http::Request<Vec<u8>> {
    signed_at(method, url, body, creds, SystemTime::now())
}

pub fn trigger_body() -> &'static str {
    r#"{"customerId": "C123456", "accountId": "123456789012"}"#
}
