//! How to reach the k9 API: endpoint, signing region, timeouts, retries, trust.

use std::time::Duration;

use crate::error::ClientError;
use crate::retry::RetryPolicy;
use crate::signing::DEFAULT_REGION;

/// The public k9 Security API.
pub const DEFAULT_ENDPOINT: &str = "https://api.k9security.io";

/// Settings for a [`K9Client`](crate::K9Client). Start from [`ClientConfig::default`] or
/// [`ClientConfig::new`] and change what you need.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Base URL of the API, e.g. `https://api.k9security.io` or `http://127.0.0.1:8080`.
    /// May carry a path prefix (`https://host/prod`), which is kept in front of every API
    /// path; must not carry a query or fragment.
    pub endpoint: String,
    /// The region requests are signed for: the API's region, not the caller's. Default
    /// `us-east-1`.
    pub region: String,
    /// How long to wait for a TCP (and TLS) connection. Default 5 s.
    pub connect_timeout: Duration,
    /// How long one attempt may take, from sending to the end of the answer. Default 30 s.
    pub request_timeout: Duration,
    /// Retries on connection failures and 5xx answers.
    pub retry: RetryPolicy,
    /// Extra CA certificates (PEM, one or more) to trust besides the built-in web roots, for
    /// a server with a private or self-signed certificate.
    pub ca_cert_pem: Option<Vec<u8>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::new(DEFAULT_ENDPOINT)
    }
}

impl ClientConfig {
    /// The default settings for `endpoint`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            region: DEFAULT_REGION.to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            ca_cert_pem: None,
        }
    }
}

impl ClientConfig {
    /// Checks the settings without connecting anywhere: the endpoint is an http(s) URL with
    /// a host and no query, and the CA certificate, if any, is PEM. [`K9Client::new`]
    /// checks the same; calling this first lets a caller report a bad setting before doing
    /// slower work such as loading credentials.
    ///
    /// [`K9Client::new`]: crate::K9Client::new
    pub fn validate(&self) -> Result<(), ClientError> {
        normalize_endpoint(&self.endpoint).map_err(ClientError::Usage)?;
        if let Some(pem) = &self.ca_cert_pem {
            ca_certificates(pem)?;
        }
        Ok(())
    }
}

/// The certificates in a PEM bundle; at least one.
pub(crate) fn ca_certificates(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| ClientError::Usage(format!("the CA certificate is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(ClientError::Usage(
            "the CA certificate file holds no PEM certificate".into(),
        ));
    }
    Ok(certs)
}

impl std::fmt::Debug for ClientConfig {
    // Hand-written to print the CA certificate's size rather than its bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field(
                "ca_cert_pem",
                &self
                    .ca_cert_pem
                    .as_ref()
                    .map(|pem| format!("{} bytes", pem.len())),
            )
            .finish()
    }
}

/// Checks `endpoint` and returns it without a trailing `/`, ready to have API paths
/// appended.
pub(crate) fn normalize_endpoint(endpoint: &str) -> Result<String, String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("invalid endpoint URL `{endpoint}`: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(format!(
                "invalid endpoint URL `{endpoint}`: scheme `{other}` is not http or https"
            ))
        }
        None => {
            return Err(format!(
                "invalid endpoint URL `{endpoint}`: it needs a scheme, e.g. https://{endpoint}"
            ))
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("invalid endpoint URL `{endpoint}`: it has no host"));
    }
    if uri.query().is_some() || endpoint.contains('#') {
        return Err(format!(
            "invalid endpoint URL `{endpoint}`: it must not have a query or fragment"
        ));
    }
    if endpoint.contains('@') {
        return Err(format!(
            "invalid endpoint URL `{endpoint}`: user information is not supported"
        ));
    }
    Ok(endpoint.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let config = ClientConfig::default();
        assert_eq!(config.endpoint, "https://api.k9security.io");
        assert_eq!(config.region, "us-east-1");
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert_eq!(config.retry.max_attempts, 3);
    }

    #[test]
    fn endpoints_are_normalized() {
        assert_eq!(
            normalize_endpoint("https://api.k9security.io/").unwrap(),
            "https://api.k9security.io"
        );
        assert_eq!(
            normalize_endpoint("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_endpoint("https://h/prod/").unwrap(),
            "https://h/prod"
        );
    }

    #[test]
    fn bad_endpoints_are_explained() {
        for (bad, why) in [
            ("api.k9security.io", "needs a scheme"),
            ("ftp://h", "not http or https"),
            ("https://h/?x=1", "query"),
            ("https://u:p@h", "user information"),
            ("not a url", "invalid endpoint URL"),
        ] {
            let err = normalize_endpoint(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
