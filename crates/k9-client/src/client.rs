//! The k9 API client: builds each request, signs it, sends it, retries what is safe to
//! retry, and turns the answer into a typed value or a [`ClientError`].

use std::error::Error as _;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use http::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use http::{Method, StatusCode};
use k9_domain::{AccountId, CustomerId, ExecutionId};
use serde::de::DeserializeOwned;

use crate::config::{ca_certificates, normalize_endpoint, ClientConfig};
use crate::error::{ClientError, NetworkError, NetworkErrorKind};
use crate::model::{Execution, ExecutionList, TriggerRequest, TriggerResponse};
use crate::retry::RetryPolicy;
use crate::signing::{RequestSigner, SERVICE};

/// The header carrying the API's request id.
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
/// The header carrying the API's error type, e.g. `AccessDeniedException`.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// A client for the k9 API, signing every request with one set of AWS credentials.
///
/// Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct K9Client {
    http: reqwest::Client,
    endpoint: String,
    signer: RequestSigner,
    retry: RetryPolicy,
}

/// An API answer as received: any status, the headers, the body. See
/// [`K9Client::send_signed`].
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The response body.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The `x-amzn-RequestId` header, if present.
    pub fn request_id(&self) -> Option<&str> {
        self.headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
    }

    /// The `x-amzn-ErrorType` header without any `:namespace` suffix, if present.
    pub fn error_type(&self) -> Option<&str> {
        let value = self.headers.get(ERROR_TYPE_HEADER)?.to_str().ok()?;
        value
            .split(':')
            .next()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// The error message of an error answer: the body's `message` (or API Gateway's
    /// `Message`), else the body as text, else the status's description.
    pub fn error_message(&self) -> String {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            #[serde(alias = "Message")]
            message: String,
        }
        if let Ok(body) = serde_json::from_slice::<ErrorBody>(&self.body) {
            return body.message;
        }
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        if !text.is_empty() {
            // Enough to recognise an HTML error page or a proxy's message, not a flood.
            return text.chars().take(300).collect();
        }
        match self.status.canonical_reason() {
            Some(reason) => format!("HTTP {} {reason}", self.status.as_u16()),
            None => format!("HTTP {}", self.status.as_u16()),
        }
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ClientError::InvalidResponse(format!(
                "HTTP {} with a body that is not the expected JSON ({e}){}",
                self.status.as_u16(),
                self.request_id()
                    .map(|id| format!(", request id {id}"))
                    .unwrap_or_default()
            ))
        })
    }

    fn into_api_error(self) -> ClientError {
        ClientError::Api {
            status: self.status.as_u16(),
            error_type: self.error_type().map(str::to_owned),
            message: self.error_message(),
            request_id: self.request_id().map(str::to_owned),
        }
    }
}

/// One attempt's transport failure, before we know whether it will be retried.
struct TransportFailure {
    kind: NetworkErrorKind,
    detail: String,
}

impl K9Client {
    /// A client for the API at `config.endpoint`, signing with `credentials`.
    ///
    /// Fails with [`ClientError::Usage`] if the endpoint is not an http(s) URL or the CA
    /// certificate is not PEM.
    pub fn new(config: ClientConfig, credentials: Credentials) -> Result<Self, ClientError> {
        let endpoint = normalize_endpoint(&config.endpoint).map_err(ClientError::Usage)?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // A redirect would send our signed request somewhere it was not signed for.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("k9-client/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.ca_cert_pem {
            for cert in ca_certificates(pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot set up HTTPS: {}", error_chain(&e))))?;
        Ok(Self {
            http,
            endpoint,
            signer: RequestSigner::new(&credentials, config.region, SERVICE),
            retry: config.retry,
        })
    }

    /// The API's base URL, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        self.signer.region()
    }

    /// Queues an analysis of `account` for `customer`
    /// (`POST /customer/{cid}/account/{aid}/analysis`).
    ///
    /// Retried on connection failures and 5xx: the server coalesces a duplicate of an
    /// analysis that is still queued, so a retry never queues a second one.
    pub async fn trigger_analysis(
        &self,
        customer: &CustomerId,
        account: &AccountId,
    ) -> Result<TriggerResponse, ClientError> {
        let body = serde_json::to_vec(&TriggerRequest {
            customer_id: customer,
            account_id: account,
        })
        .map_err(|e| ClientError::Usage(format!("cannot encode the request: {e}")))?;
        self.call(Method::POST, &analysis_path(customer, account), Some(body))
            .await
    }

    /// One execution, by id (`GET /customer/{cid}/account/{aid}/analysis/{id}`); the
    /// customer and account are read from the id.
    pub async fn get_execution(&self, id: &ExecutionId) -> Result<Execution, ClientError> {
        let path = format!(
            "{}/{}",
            analysis_path(&id.customer_id(), &id.account_id()),
            id
        );
        self.call(Method::GET, &path, None).await
    }

    /// A page of `customer`'s executions for `account`, newest first
    /// (`GET /customer/{cid}/account/{aid}/analysis`). Pass the returned
    /// [`ExecutionList::next_token`] to get the next page.
    pub async fn list_executions(
        &self,
        customer: &CustomerId,
        account: &AccountId,
        limit: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<ExecutionList, ClientError> {
        let mut path = analysis_path(customer, account);
        let mut separator = '?';
        if let Some(limit) = limit {
            path.push(separator);
            path.push_str("limit=");
            path.push_str(&limit.to_string());
            separator = '&';
        }
        if let Some(token) = next_token {
            path.push(separator);
            path.push_str("nextToken=");
            push_query_encoded(&mut path, token);
        }
        self.call(Method::GET, &path, None).await
    }

    /// Signs and sends one request to `path_and_query` (e.g. `/customer/C123456/...`,
    /// appended to the endpoint) and returns the answer as it came, whatever its status.
    ///
    /// One attempt, no retry, no interpretation of the status: for demos, benchmarks and
    /// tests that want to see exactly what the server says. A body is sent as
    /// `application/json`. Fails only if the request cannot be signed or sent.
    pub async fn send_signed(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, ClientError> {
        let url = self.url(path_and_query)?;
        self.attempt(&method, &url, body.as_deref())
            .await?
            .map_err(|failure| self.network_error(failure, &url, 1).into())
    }

    /// Sends a request, retrying transport failures and 5xx, and parses a 2xx answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ClientError> {
        let url = self.url(path_and_query)?;
        let mut attempt = 1;
        loop {
            let outcome = self.attempt(&method, &url, body.as_deref()).await?;
            let retry_reason = match outcome {
                Ok(response) if response.status.is_success() => return response.json(),
                Ok(response) if response.status.is_server_error() => {
                    if !self.retry.may_retry(attempt) {
                        return Err(ClientError::Server {
                            status: response.status.as_u16(),
                            message: response.error_message(),
                            request_id: response.request_id().map(str::to_owned),
                            attempts: attempt,
                        });
                    }
                    format!("HTTP {}", response.status.as_u16())
                }
                Ok(response) => return Err(response.into_api_error()),
                Err(failure) => {
                    // A certificate the client does not trust will not become trusted on
                    // the next attempt; everything else on this path might be transient.
                    if failure.kind == NetworkErrorKind::Tls || !self.retry.may_retry(attempt) {
                        return Err(self.network_error(failure, &url, attempt).into());
                    }
                    failure.detail
                }
            };
            let delay = self.retry.backoff(attempt);
            tracing::debug!(%method, %url, attempt, ?delay, reason = %retry_reason, "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Signs and sends one attempt. The outer error is fatal (the request cannot be built or
    /// signed); the inner one is a transport failure that may be worth retrying.
    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<Result<RawResponse, TransportFailure>, ClientError> {
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(url)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if body.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let mut request = request
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(|e| ClientError::Usage(format!("invalid request to `{url}`: {e}")))?;
        // Signed per attempt so that every attempt carries a fresh X-Amz-Date.
        self.signer.sign(&mut request, SystemTime::now())?;
        let request = reqwest::Request::try_from(request)
            .map_err(|e| ClientError::Usage(format!("invalid request URL `{url}`: {e}")))?;

        tracing::debug!(%method, %url, "sending k9 API request");
        let response = match self.http.execute(request).await {
            Ok(response) => response,
            Err(error) => return Ok(Err(transport_failure(&error))),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(error) => return Ok(Err(transport_failure(&error))),
        };
        let response = RawResponse {
            status,
            headers,
            body,
        };
        tracing::debug!(status = status.as_u16(), request_id = ?response.request_id(), "k9 API answered");
        Ok(Ok(response))
    }

    fn url(&self, path_and_query: &str) -> Result<String, ClientError> {
        if !path_and_query.starts_with('/') {
            return Err(ClientError::Usage(format!(
                "the API path `{path_and_query}` must start with `/`"
            )));
        }
        Ok(format!("{}{}", self.endpoint, path_and_query))
    }

    fn network_error(&self, failure: TransportFailure, url: &str, attempts: u32) -> NetworkError {
        NetworkError {
            kind: failure.kind,
            url: url.to_owned(),
            detail: failure.detail,
            attempts,
        }
    }
}

/// `/customer/{cid}/account/{aid}/analysis`. The ids are validated types whose characters
/// are all URL-safe, so they need no escaping.
fn analysis_path(customer: &CustomerId, account: &AccountId) -> String {
    format!("/customer/{customer}/account/{account}/analysis")
}

/// Appends `value` percent-encoded as SigV4 wants it: every byte except the RFC 3986
/// unreserved characters, `+` and space included (as `%2B` and `%20`), so that the query
/// the server canonicalises is the one we signed.
fn push_query_encoded(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

fn transport_failure(error: &reqwest::Error) -> TransportFailure {
    // The causes say what happened; reqwest's own message only repeats the URL, which the
    // NetworkError carries anyway.
    let causes = causes(error);
    let detail = match causes.trim_end_matches(": ") {
        "" => error_chain(error),
        causes => causes.to_owned(),
    };
    let kind = if error.is_timeout() {
        NetworkErrorKind::Timeout
    } else if error.is_connect() {
        // reqwest does not expose TLS failures as a kind of their own; rustls's messages
        // ("invalid peer certificate: UnknownIssuer", "received corrupt message", ...) do
        // name them, and the kind only chooses a hint and whether to retry.
        // Only the causes are searched: the top-level message holds the URL, whose host
        // name could contain any of these words.
        let lower = causes.to_ascii_lowercase();
        if ["certificate", "tls", "handshake", "corrupt message"]
            .iter()
            .any(|needle| lower.contains(needle))
        {
            NetworkErrorKind::Tls
        } else {
            NetworkErrorKind::Connect
        }
    } else {
        NetworkErrorKind::Broken
    };
    TransportFailure { kind, detail }
}

/// The causes of an error, without the error's own message, as one line.
fn causes(error: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&cause.to_string());
        text.push_str(": ");
        source = cause.source();
    }
    text
}

/// An error and its causes as one line: reqwest's own message alone
/// ("error sending request") hides the reason.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_strictly() {
        let mut out = String::new();
        push_query_encoded(&mut out, "aB9-_.~ +/=%");
        assert_eq!(out, "aB9-_.~%20%2B%2F%3D%25");
    }

    #[test]
    fn error_message_prefers_json_message_then_text_then_status() {
        let response = |body: &str| RawResponse {
            status: StatusCode::FORBIDDEN,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(response(r#"{"message":"nope"}"#).error_message(), "nope");
        assert_eq!(response(r#"{"Message":"Nope"}"#).error_message(), "Nope");
        assert_eq!(response(" plain ").error_message(), "plain");
        assert_eq!(response("").error_message(), "HTTP 403 Forbidden");
    }

    #[test]
    fn error_type_drops_the_namespace_suffix() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amzn-ErrorType",
            HeaderValue::from_static("AccessDeniedException:http://internal.amazon.com/coral/"),
        );
        headers.insert("x-amzn-RequestId", HeaderValue::from_static("rid-1"));
        let response = RawResponse {
            status: StatusCode::FORBIDDEN,
            headers,
            body: Vec::new(),
        };
        assert_eq!(response.error_type(), Some("AccessDeniedException"));
        assert_eq!(response.request_id(), Some("rid-1"));
    }
}
