//! AWS Signature Version 4 signing of k9 API requests.
//!
//! The k9 API authenticates callers exactly like API Gateway with IAM authorization: every
//! request carries an `Authorization: AWS4-HMAC-SHA256 ...` header for the `execute-api`
//! service, a fresh `X-Amz-Date`, and `X-Amz-Security-Token` when the credentials are
//! temporary. The cryptography is the AWS SDK's own signer (`aws-sigv4`); this module only
//! adapts an [`http::Request`] to it, so the client, the server's demo and its load benchmark
//! all sign the same way.
//!
//! Signing does no I/O and holds no secret longer than the [`RequestSigner`] it lives in.

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};

/// The SigV4 service name of the k9 API (the same as API Gateway's).
pub const SERVICE: &str = "execute-api";

/// The signing region used when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");

/// A request could not be signed (for example it has no host, or a header value is not
/// printable ASCII and so cannot be put in a canonical request).
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct SigningError {
    reason: String,
}

impl SigningError {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// Signs requests with one set of credentials for one region and service.
///
/// Build it once and reuse it: signing a request then costs what `aws-sigv4` needs (a
/// canonical request, a string to sign and five HMACs) and nothing more.
#[derive(Clone)]
pub struct RequestSigner {
    identity: Identity,
    region: String,
    service: String,
}

impl fmt::Debug for RequestSigner {
    // Hand-written so that no credential, not even the access key id, ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSigner")
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl RequestSigner {
    /// A signer for `credentials` in `region` (e.g. `us-east-1`) and `service`
    /// (for the k9 API: [`SERVICE`]).
    pub fn new(
        credentials: &Credentials,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        // `Credentials` is a reference-counted handle, so this clone copies no secret.
        Self {
            identity: Identity::from(credentials.clone()),
            region: region.into(),
            service: service.into(),
        }
    }

    /// The region this signer signs for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Signs `request` as of `time`, adding `Authorization`, `X-Amz-Date` and, for temporary
    /// credentials, `X-Amz-Security-Token`.
    ///
    /// The request URI must be absolute (`https://host/path?query`): the host is part of
    /// what is signed. Every header already on the request is signed, except those that
    /// proxies are known to rewrite (`User-Agent`, `Transfer-Encoding`, ...), so add headers
    /// before signing, not after. The body is hashed into the signature. Signing a request
    /// again (say, for a retry) replaces the previous signature.
    pub fn sign<B: AsRef<[u8]>>(
        &self,
        request: &mut http::Request<B>,
        time: SystemTime,
    ) -> Result<(), SigningError> {
        // aws-sigv4 panics on a URI without a host; refuse it here instead.
        if request.uri().host().is_none() {
            return Err(SigningError::new(format!(
                "the request URI `{}` has no host",
                request.uri()
            )));
        }
        // A previous signature must not be signed over, nor left beside the new one.
        for stale in [AUTHORIZATION, X_AMZ_DATE, X_AMZ_SECURITY_TOKEN] {
            request.headers_mut().remove(stale);
        }

        let mut headers = Vec::with_capacity(request.headers().len());
        for (name, value) in request.headers() {
            let value = value.to_str().map_err(|_| {
                SigningError::new(format!(
                    "the value of header `{name}` is not printable ASCII"
                ))
            })?;
            headers.push((name.as_str(), value));
        }
        let uri = request.uri().to_string();
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri,
            headers.into_iter(),
            SignableBody::Bytes(request.body().as_ref()),
        )
        .map_err(|e| SigningError::new(e.to_string()))?;

        let params = SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SigningError::new(e.to_string()))?
            .into();
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| SigningError::new(e.to_string()))?
            .into_parts();

        let (new_headers, _query) = instructions.into_parts();
        for header in new_headers {
            // The values are hex, a date, or the session token; only a malformed session
            // token can fail here, and that is reported rather than panicking.
            let mut value = HeaderValue::from_str(header.value()).map_err(|_| {
                SigningError::new(format!(
                    "the `{}` value is not a valid HTTP header value",
                    header.name()
                ))
            })?;
            let name = HeaderName::from_static(header.name());
            // Marked sensitive so that `Debug` of the request (in a log line, a panic
            // message) shows neither the signature nor the session token.
            value.set_sensitive(header.sensitive() || name != X_AMZ_DATE);
            request.headers_mut().insert(name, value);
        }
        Ok(())
    }
}

/// Signs `request` with `credentials` for `region` and `service` as of `time`.
///
/// A one-shot convenience over [`RequestSigner`]; when signing many requests with the same
/// credentials (a benchmark, a retry loop) build a [`RequestSigner`] once instead.
pub fn sign_request<B: AsRef<[u8]>>(
    request: &mut http::Request<B>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), SigningError> {
    RequestSigner::new(credentials, region, service).sign(request, time)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at_2024_05_06() -> SystemTime {
        // 2024-05-06T07:08:09Z
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_979_289)
    }

    fn post(uri: &str) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .method("POST")
            .uri(uri)
            .header("content-type", "application/json")
            .body(br#"{"customerId":"C123456","accountId":"123456789012"}"#.to_vec())
            .expect("static request parts are valid")
    }

    fn header<'a>(request: &'a http::Request<Vec<u8>>, name: &str) -> Option<&'a str> {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii"))
    }

    #[test]
    fn authorization_names_key_date_region_and_execute_api() {
        let creds = Credentials::from_keys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", None);
        let mut request =
            post("https://api.example.com/customer/C123456/account/123456789012/analysis");
        sign_request(&mut request, &creds, "eu-west-1", SERVICE, at_2024_05_06()).unwrap();

        let auth = header(&request, "authorization").expect("signed");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 "), "{auth}");
        assert!(
            auth.contains("Credential=AKIDEXAMPLE/20240506/eu-west-1/execute-api/aws4_request"),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date"),
            "{auth}"
        );
        assert_eq!(header(&request, "x-amz-date"), Some("20240506T070809Z"));
        assert_eq!(header(&request, "x-amz-security-token"), None);
        assert_eq!(header(&request, "x-amz-content-sha256"), None);
        assert!(request.headers()["authorization"].is_sensitive());
        assert!(!format!("{request:?}").contains("Signature="));
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        let creds =
            Credentials::from_keys("ASIAEXAMPLE", "secret", Some("TOKEN/with+base64=".into()));
        let mut request =
            post("http://127.0.0.1:8080/customer/C123456/account/123456789012/analysis");
        sign_request(
            &mut request,
            &creds,
            DEFAULT_REGION,
            SERVICE,
            at_2024_05_06(),
        )
        .unwrap();

        assert_eq!(
            header(&request, "x-amz-security-token"),
            Some("TOKEN/with+base64=")
        );
        let auth = header(&request, "authorization").unwrap();
        assert!(auth.contains("Credential=ASIAEXAMPLE/20240506/us-east-1/execute-api/aws4_request"));
        assert!(
            auth.contains("x-amz-security-token"),
            "token is signed: {auth}"
        );
        assert!(!format!("{request:?}").contains("TOKEN/with"));
    }

    #[test]
    fn signature_depends_on_body_and_secret() {
        let signature = |secret: &str, body: &[u8]| {
            let creds = Credentials::from_keys("AKID", secret, None);
            let mut request = post("https://h/x");
            *request.body_mut() = body.to_vec();
            sign_request(&mut request, &creds, "us-east-1", SERVICE, at_2024_05_06()).unwrap();
            header(&request, "authorization").unwrap().to_owned()
        };
        assert_eq!(signature("s", b"a"), signature("s", b"a"));
        assert_ne!(signature("s", b"a"), signature("s", b"b"));
        assert_ne!(signature("s", b"a"), signature("t", b"a"));
    }

    /// The AWS SigV4 test suite's `get-vanilla` case: pins that the request reaches aws-sigv4
    /// unchanged (nothing added to what is signed).
    #[test]
    fn matches_aws_test_suite_get_vanilla() {
        let creds = Credentials::from_keys(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
        );
        let mut request = http::Request::builder()
            .uri("https://example.amazonaws.com/")
            .body(Vec::new())
            .unwrap();
        // 2015-08-30T12:36:00Z
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        sign_request(&mut request, &creds, "us-east-1", "service", time).unwrap();
        assert_eq!(
            header(&request, "authorization").unwrap(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn resigning_replaces_the_previous_signature() {
        let creds = Credentials::from_keys("AKID", "secret", Some("tok".into()));
        let signer = RequestSigner::new(&creds, "us-east-1", SERVICE);
        let mut request = post("https://h/x");
        signer.sign(&mut request, at_2024_05_06()).unwrap();
        let first = header(&request, "authorization").unwrap().to_owned();
        signer
            .sign(&mut request, at_2024_05_06() + Duration::from_secs(86_400))
            .unwrap();
        assert_eq!(request.headers().get_all("authorization").iter().count(), 1);
        assert_eq!(
            request
                .headers()
                .get_all("x-amz-security-token")
                .iter()
                .count(),
            1
        );
        let second = header(&request, "authorization").unwrap();
        assert_ne!(first, second);
        assert!(second.contains("/20240507/"), "{second}");
        // Re-signing the same request at the same time gives the same signature, so nothing
        // stale leaked into the canonical request.
        signer.sign(&mut request, at_2024_05_06()).unwrap();
        assert_eq!(header(&request, "authorization").unwrap(), first);
    }

    #[test]
    fn relative_uri_is_an_error_not_a_panic() {
        let creds = Credentials::from_keys("AKID", "secret", None);
        let mut request = http::Request::builder().uri("/x").body(Vec::new()).unwrap();
        let err = sign_request(
            &mut request,
            &creds,
            "us-east-1",
            SERVICE,
            SystemTime::now(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no host"), "{err}");
    }

    #[test]
    fn debug_output_reveals_no_credentials() {
        let creds = Credentials::from_keys("AKIDSECRETLOOKING", "topsecret", Some("tok".into()));
        let debug = format!("{:?}", RequestSigner::new(&creds, "us-east-1", SERVICE));
        assert!(
            !debug.contains("AKIDSECRETLOOKING") && !debug.contains("topsecret"),
            "{debug}"
        );
    }
}
