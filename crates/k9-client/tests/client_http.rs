//! The client against a canned local HTTP server: what goes on the wire, what is retried,
//! how answers become values or errors.

mod canned;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use canned::{closed_port, Canned, CannedServer, Recorded};
use k9_client::{
    sign_request, AccountId, ClientConfig, ClientError, CustomerId, ExecutionId, ExecutionStatus,
    K9Client, NetworkErrorKind, RetryPolicy, SERVICE,
};

const TRIGGERED: &str = r#"{"customerId":"C123456","accountId":"123456789012","executionId":"ondemand-C123456-123456789012-2024-05-06_AB12"}"#;
const EXECUTION: &str = r#"{"executionId":"ondemand-C123456-123456789012-2024-05-06_AB12","customerId":"C123456","accountId":"123456789012","status":"succeeded","requestedBy":"arn:aws:sts::123456789012:assumed-role/ops/alice","requestedAt":"2024-05-06T07:08:09Z","startedAt":"2024-05-06T07:08:10Z","finishedAt":"2024-05-06T07:09:00Z","error":null}"#;

fn credentials() -> Credentials {
    Credentials::from_keys(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
    )
}

fn config(endpoint: &str) -> ClientConfig {
    let mut config = ClientConfig::new(endpoint);
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    config
}

fn client(endpoint: &str) -> K9Client {
    K9Client::new(config(endpoint), credentials()).expect("valid config")
}

fn customer() -> CustomerId {
    "C123456".parse().unwrap()
}

fn account() -> AccountId {
    "123456789012".parse().unwrap()
}

/// Re-signs the request exactly as received, with the date it carries, and checks the
/// signature matches: proves that what went on the wire (host with port, path, query,
/// signed headers, body) is what was signed.
fn assert_signature_matches_wire(request: &Recorded, credentials: &Credentials, region: &str) {
    let authorization = request.header("authorization").expect("signed");
    let signed_headers = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .expect("SignedHeaders");
    let date = request.header("x-amz-date").expect("x-amz-date");
    let time = time::PrimitiveDateTime::parse(
        date,
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .unwrap()
    .assume_utc();
    let mut rebuilt = http::Request::builder()
        .method(request.method.as_str())
        .uri(format!(
            "http://{}{}",
            request.header("host").unwrap(),
            request.target
        ));
    for name in signed_headers.split(';') {
        if name != "x-amz-date" && name != "x-amz-security-token" {
            rebuilt = rebuilt.header(name, request.header(name).unwrap());
        }
    }
    let mut rebuilt = rebuilt.body(request.body.clone()).unwrap();
    sign_request(
        &mut rebuilt,
        credentials,
        region,
        SERVICE,
        SystemTime::from(time),
    )
    .unwrap();
    assert_eq!(rebuilt.headers()["authorization"], authorization);
}

#[tokio::test]
async fn trigger_posts_signed_json_and_reads_the_execution_id() {
    let server = CannedServer::start(vec![Canned::json(202, TRIGGERED)]).await;
    let response = client(&server.url)
        .trigger_analysis(&customer(), &account())
        .await
        .unwrap();
    assert_eq!(
        response.execution_id.as_str(),
        "ondemand-C123456-123456789012-2024-05-06_AB12"
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.target,
        "/customer/C123456/account/123456789012/analysis"
    );
    assert_eq!(
        request.body,
        br#"{"customerId":"C123456","accountId":"123456789012"}"#
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let authorization = request.header("authorization").unwrap();
    assert!(
        authorization.contains("Credential=AKIAIOSFODNN7EXAMPLE/"),
        "{authorization}"
    );
    assert!(
        authorization.contains("/us-east-1/execute-api/aws4_request"),
        "{authorization}"
    );
    assert_signature_matches_wire(request, &credentials(), "us-east-1");
}

#[tokio::test]
async fn session_token_goes_on_the_wire_and_region_is_configurable() {
    let server = CannedServer::start(vec![Canned::json(202, TRIGGERED)]).await;
    let credentials = Credentials::from_keys("ASIAEXAMPLE", "secret", Some("session-token".into()));
    let mut config = config(&server.url);
    config.region = "eu-central-1".into();
    K9Client::new(config, credentials.clone())
        .unwrap()
        .trigger_analysis(&customer(), &account())
        .await
        .unwrap();
    let request = &server.requests()[0];
    assert_eq!(
        request.header("x-amz-security-token"),
        Some("session-token")
    );
    assert!(request
        .header("authorization")
        .unwrap()
        .contains("/eu-central-1/execute-api/"));
    assert_signature_matches_wire(request, &credentials, "eu-central-1");
}

#[tokio::test]
async fn get_execution_reads_customer_and_account_from_the_id() {
    let server = CannedServer::start(vec![Canned::json(200, EXECUTION)]).await;
    let id: ExecutionId = "ondemand-C123456-123456789012-2024-05-06_AB12"
        .parse()
        .unwrap();
    let execution = client(&server.url).get_execution(&id).await.unwrap();
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.target,
        "/customer/C123456/account/123456789012/analysis/ondemand-C123456-123456789012-2024-05-06_AB12"
    );
    assert_signature_matches_wire(request, &credentials(), "us-east-1");
}

#[tokio::test]
async fn list_sends_limit_and_an_escaped_next_token_and_signs_the_query() {
    let body = format!(r#"{{"executions":[{EXECUTION}],"nextToken":"next+page/2="}}"#);
    let server = CannedServer::start(vec![Canned::json(200, &body)]).await;
    let list = client(&server.url)
        .list_executions(&customer(), &account(), Some(5), Some("tok+en/=1 x"))
        .await
        .unwrap();
    assert_eq!(list.executions.len(), 1);
    assert_eq!(list.next_token.as_deref(), Some("next+page/2="));
    let request = &server.requests()[0];
    assert_eq!(
        request.target,
        "/customer/C123456/account/123456789012/analysis?limit=5&nextToken=tok%2Ben%2F%3D1%20x"
    );
    assert_signature_matches_wire(request, &credentials(), "us-east-1");
}

#[tokio::test]
async fn endpoint_path_prefix_is_kept() {
    let server = CannedServer::start(vec![Canned::json(202, TRIGGERED)]).await;
    client(&format!("{}/prod/", server.url))
        .trigger_analysis(&customer(), &account())
        .await
        .unwrap();
    let request = &server.requests()[0];
    assert_eq!(
        request.target,
        "/prod/customer/C123456/account/123456789012/analysis"
    );
    assert_signature_matches_wire(request, &credentials(), "us-east-1");
}

#[tokio::test]
async fn a_503_is_retried_and_each_attempt_is_signed() {
    let server = CannedServer::start(vec![
        Canned::aws_error(503, "ServiceUnavailableException", "busy"),
        Canned::json(202, TRIGGERED),
    ])
    .await;
    client(&server.url)
        .trigger_analysis(&customer(), &account())
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_signature_matches_wire(request, &credentials(), "us-east-1");
    }
}

#[tokio::test]
async fn persistent_5xx_gives_a_server_error_after_max_attempts() {
    let server = CannedServer::start(vec![Canned::aws_error(500, "InternalFailure", "boom")]).await;
    let err = client(&server.url)
        .trigger_analysis(&customer(), &account())
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 3);
    match &err {
        ClientError::Server {
            status,
            message,
            request_id,
            attempts,
        } => {
            assert_eq!((*status, message.as_str(), *attempts), (500, "boom", 3));
            assert_eq!(request_id.as_deref(), Some("req-err"));
        }
        other => panic!("expected Server, got {other:?}"),
    }
}

#[tokio::test]
async fn a_403_is_never_retried_and_carries_the_aws_details() {
    let message = "Caller is not authorized to trigger analysis for k9 customerId (C123456) and accountId (123456789012)";
    let server = CannedServer::start(vec![
        Canned::aws_error(403, "AccessDeniedException", message),
        Canned::json(202, TRIGGERED),
    ])
    .await;
    let err = client(&server.url)
        .trigger_analysis(&customer(), &account())
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1);
    assert!(err.is_auth_refusal());
    assert_eq!(err.to_string(), message);
    assert_eq!(err.error_type(), Some("AccessDeniedException"));
    assert_eq!(err.request_id(), Some("req-err"));
}

#[tokio::test]
async fn a_400_is_never_retried() {
    let server = CannedServer::start(vec![
        Canned::aws_error(400, "BadRequestException", "accountId must be 12 digits"),
        Canned::json(202, TRIGGERED),
    ])
    .await;
    let err = client(&server.url)
        .trigger_analysis(&customer(), &account())
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1);
    assert!(
        matches!(err, ClientError::Api { status: 400, .. }),
        "{err:?}"
    );
    assert!(!err.is_auth_refusal());
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported_as_network_error() {
    let url = format!("http://127.0.0.1:{}", closed_port().await);
    let err = client(&url)
        .trigger_analysis(&customer(), &account())
        .await
        .unwrap_err();
    match err {
        ClientError::Network(network) => {
            assert_eq!(network.kind, NetworkErrorKind::Connect);
            assert_eq!(network.attempts, 3);
            assert!(network.url.starts_with(&url));
        }
        other => panic!("expected Network, got {other:?}"),
    }
}

#[tokio::test]
async fn connection_refused_then_success_recovers() {
    // Reserve a port, start the canned server on it only after the first attempt failed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut config = config(&format!("http://{address}"));
    config.retry.base_delay = Duration::from_millis(300);
    config.retry.max_delay = Duration::from_millis(300);
    let client = K9Client::new(config, credentials()).unwrap();
    let call = tokio::spawn(async move { client.trigger_analysis(&customer(), &account()).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let (mut stream, _) = listener.accept().await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 8192];
    let _ = stream.read(&mut buffer).await.unwrap();
    let response = format!(
        "HTTP/1.1 202 Accepted\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{TRIGGERED}",
        TRIGGERED.len()
    );
    stream.write_all(response.as_bytes()).await.unwrap();
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.customer_id.as_str(), "C123456");
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    let server = CannedServer::start(vec![Canned::Hang]).await;
    let mut config = config(&server.url);
    config.request_timeout = Duration::from_millis(200);
    config.retry.max_attempts = 2;
    let err = K9Client::new(config, credentials())
        .unwrap()
        .get_execution(
            &"ondemand-C123456-123456789012-2024-05-06_AB12"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap_err();
    match err {
        ClientError::Network(network) => {
            assert_eq!(network.kind, NetworkErrorKind::Timeout);
            assert_eq!(network.attempts, 2);
        }
        other => panic!("expected Network timeout, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_error_and_not_retried() {
    let server = CannedServer::start(vec![Canned::json(200, "{}")]).await;
    let url = server.url.replace("http://", "https://");
    let err = client(&url)
        .get_execution(
            &"ondemand-C123456-123456789012-2024-05-06_AB12"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap_err();
    match err {
        ClientError::Network(network) => {
            assert_eq!(network.kind, NetworkErrorKind::Tls, "{network}");
            assert_eq!(network.attempts, 1);
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_success_with_a_foreign_body_is_an_invalid_response() {
    let server = CannedServer::start(vec![Canned::json(200, "<html>hello</html>")]).await;
    let err = client(&server.url)
        .get_execution(
            &"ondemand-C123456-123456789012-2024-05-06_AB12"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidResponse(_)), "{err:?}");
    assert!(err.to_string().contains("req-200"), "{err}");
}

#[tokio::test]
async fn send_signed_returns_any_status_in_one_attempt() {
    let server = CannedServer::start(vec![Canned::aws_error(503, "X", "busy")]).await;
    let response = client(&server.url)
        .send_signed(http::Method::POST, "/customer/C1/x", Some(b"{}".to_vec()))
        .await
        .unwrap();
    assert_eq!(response.status, 503);
    assert_eq!(response.error_message(), "busy");
    assert_eq!(response.request_id(), Some("req-err"));
    assert_eq!(server.requests().len(), 1);
    assert_signature_matches_wire(&server.requests()[0], &credentials(), "us-east-1");
}

#[test]
fn bad_endpoint_and_bad_ca_are_usage_errors() {
    let err = K9Client::new(ClientConfig::new("api.k9security.io"), credentials()).unwrap_err();
    assert!(matches!(err, ClientError::Usage(_)), "{err:?}");
    let config = ClientConfig {
        ca_cert_pem: Some(b"not a certificate".to_vec()),
        ..ClientConfig::default()
    };
    let err = K9Client::new(config, credentials()).unwrap_err();
    assert!(matches!(err, ClientError::Usage(_)), "{err:?}");
}

#[test]
fn a_pem_ca_certificate_is_accepted() {
    let config = ClientConfig {
        ca_cert_pem: Some(TEST_CA_PEM.as_bytes().to_vec()),
        ..ClientConfig::default()
    };
    K9Client::new(config, credentials()).unwrap();
}

/// A self-signed P-256 certificate (CN=k9-test), generated once with openssl.
const TEST_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBezCCASGgAwIBAgIUT+QUNfAhC7PJqMbr516XhhtRY+4wCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHazktdGVzdDAgFw0yNjEyMDMxOTE2NDZaGA8yMTI2MTEwOTE5
MTY0NlowEjEQMA4GA1UEAwwHazktdGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABOyeqTl3JoZJcqU8BzvZXoikepQI74ooJPLONSGgBKFdNj1XbSqOkh32jcNW
sCtycUYeqDtUEbyY22fwexgdakOjUzBRMB0GA1UdDgQWBBQzW144qpg11BXeesaT
X64coMmr6zAfBgNVHSMEGDAWgBQzW144qpg11BXeesaTX64coMmr6zAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCICQVXHIqZhdrhJoD8AIOMcSfPKwu
wTG1e3GZ9HbzxWfWAiEA4NP7bYeMtm/Hk6ahA3xnvJMJCvCiZ8cIJ4tLiNU2E2c=
-----END CERTIFICATE-----
";
