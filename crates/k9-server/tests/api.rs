//! The API end to end over real HTTP on loopback, signed with the `aws-sigv4` crate.

mod common;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use common::*;
use k9_domain::{AccountId, CustomerId, PrincipalArn};
use k9_store::{AuditOutcome, KeyStatus, Store};
use regex_lite::Regex;
use time::OffsetDateTime;

fn execution_id_pattern() -> Regex {
    Regex::new(r"^ondemand-C123456-123456789012-\d{4}-\d{2}-\d{2}_[A-Z0-9]{4}$").unwrap()
}

async fn trigger(server: &TestServer, creds: &Credentials) -> Answer {
    send(signed(
        "POST",
        &server.url(TRIGGER_PATH),
        Some(trigger_body()),
        creds,
    ))
    .await
}

/// A provisioned server on which alice has triggered one analysis, and its execution id.
async fn started_with_execution() -> (TestServer, Provisioned, String) {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let answer = trigger(&server, &p.alice).await;
    assert_eq!(answer.status, 202, "{}", answer.text);
    let id = answer.body["executionId"].as_str().unwrap().to_owned();
    (server, p, id)
}

#[tokio::test]
async fn approved_trigger_answers_202_with_execution_id() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let answer = trigger(&server, &p.alice).await;
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(answer.body["customerId"], "C123456");
    assert_eq!(answer.body["accountId"], "123456789012");
    let id = answer.body["executionId"].as_str().unwrap();
    assert!(execution_id_pattern().is_match(id), "{id}");
    let today = OffsetDateTime::now_utc().date();
    assert!(
        id.contains(&format!("-{today}_")),
        "{id} should carry today's UTC date"
    );
    assert!(answer.headers.contains_key("x-amzn-requestid"));

    let status = send(signed(
        "GET",
        &server.url(&format!("{TRIGGER_PATH}/{id}")),
        None,
        &p.alice,
    ))
    .await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.body["executionId"], id);
    assert_eq!(status.body["status"], "queued");
    assert_eq!(
        status.body["requestedBy"],
        "arn:aws:iam::123456789012:user/alice"
    );
    assert!(status.body["requestedAt"].is_string());
}

#[tokio::test]
async fn duplicate_trigger_while_queued_returns_the_same_execution() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let first = trigger(&server, &p.alice).await;
    let second = trigger(&server, &p.alice).await;
    assert_eq!(first.status, 202);
    assert_eq!(second.status, 202);
    assert_eq!(first.body["executionId"], second.body["executionId"]);
}

#[tokio::test]
async fn list_returns_executions_newest_first_with_pagination() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    trigger(&server, &p.alice).await;
    let list = send(signed(
        "GET",
        &server.url(&format!("{TRIGGER_PATH}?limit=1")),
        None,
        &p.alice,
    ))
    .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["executions"].as_array().unwrap().len(), 1);
    let bad = send(signed(
        "GET",
        &server.url(&format!("{TRIGGER_PATH}?limit=0")),
        None,
        &p.alice,
    ))
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.message().contains("limit"), "{}", bad.message());
    let bad_token = send(signed(
        "GET",
        &server.url(&format!("{TRIGGER_PATH}?nextToken=nonsense")),
        None,
        &p.alice,
    ))
    .await;
    assert_eq!(bad_token.status, 400, "{}", bad_token.text);
}

#[tokio::test]
async fn health_is_unauthenticated_and_carries_a_request_id() {
    let server = TestServer::start().await;
    let answer = send(request("GET", &server.url("/health"), None)).await;
    assert_eq!(answer.status, 200);
    assert!(answer.headers.contains_key("x-amzn-requestid"));
}

#[tokio::test]
async fn unsigned_request_is_missing_authentication_token() {
    let server = TestServer::start().await;
    let answer = send(request(
        "POST",
        &server.url(TRIGGER_PATH),
        Some(trigger_body()),
    ))
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_type(), "MissingAuthenticationTokenException");
    assert_eq!(answer.message(), "Missing Authentication Token");
    assert!(answer.headers.contains_key("x-amzn-requestid"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_missing_authentication_token_even_when_signed() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    for (method, path) in [
        ("GET", "/nope"),
        ("DELETE", TRIGGER_PATH),
        ("PUT", "/customer/C123456"),
    ] {
        let answer = send(signed(method, &server.url(path), None, &p.alice)).await;
        assert_eq!(answer.status, 403, "{method} {path}");
        assert_eq!(answer.message(), "Missing Authentication Token");
        assert_eq!(answer.error_type(), "MissingAuthenticationTokenException");
    }
}

#[tokio::test]
async fn unknown_access_key_is_an_invalid_security_token() {
    let server = TestServer::start().await;
    server.provision().await;
    let stranger = Credentials::from_keys(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
    );
    let answer = trigger(&server, &stranger).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_type(), "UnrecognizedClientException");
    assert_eq!(
        answer.message(),
        "The security token included in the request is invalid."
    );
}

#[tokio::test]
async fn wrong_secret_is_a_signature_mismatch_echoing_canonical_request() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let forged = Credentials::from_keys(
        p.alice.access_key_id(),
        "0000000000000000000000000000000000000000",
        None,
    );
    let answer = trigger(&server, &forged).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_type(), "InvalidSignatureException");
    let message = answer.message();
    assert!(
        message.starts_with(
            "The request signature we calculated does not match the signature you provided."
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "The Canonical String for this request should have been\n'POST\n{TRIGGER_PATH}\n"
        )),
        "{message}"
    );
    assert!(
        message.contains("The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n"),
        "{message}"
    );
}

#[tokio::test]
async fn tampered_body_is_rejected() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let mut req = signed(
        "POST",
        &server.url(TRIGGER_PATH),
        Some(trigger_body()),
        &p.alice,
    );
    *req.body_mut() = trigger_body()
        .replace("C123456\",", "C123457\",")
        .into_bytes();
    let answer = send(req).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_type(), "InvalidSignatureException");
}

#[tokio::test]
async fn expired_and_future_signatures_are_rejected_with_aws_messages() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let old = SystemTime::now() - Duration::from_secs(600);
    let answer = send(signed_at(
        "POST",
        &server.url(TRIGGER_PATH),
        Some(trigger_body()),
        &p.alice,
        old,
    ))
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_type(), "InvalidSignatureException");
    assert!(
        answer.message().starts_with("Signature expired: "),
        "{}",
        answer.message()
    );
    assert!(
        answer.message().ends_with(" - 5 min.)"),
        "{}",
        answer.message()
    );

    let future = SystemTime::now() + Duration::from_secs(600);
    let answer = send(signed_at(
        "POST",
        &server.url(TRIGGER_PATH),
        Some(trigger_body()),
        &p.alice,
        future,
    ))
    .await;
    assert_eq!(answer.status, 403);
    assert!(
        answer.message().starts_with("Signature not yet current: "),
        "{}",
        answer.message()
    );
}

#[tokio::test]
async fn malformed_authorization_header_is_an_incomplete_signature() {
    let server = TestServer::start().await;
    let mut req = request("GET", &server.url(TRIGGER_PATH), None);
    req.headers_mut().insert(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIA/20221111/us-east-1/execute-api/aws4_request"
            .parse()
            .unwrap(),
    );
    req.headers_mut()
        .insert("x-amz-date", "20221111T000000Z".parse().unwrap());
    let answer = send(req).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_type(), "IncompleteSignatureException");
    assert!(
        answer
            .message()
            .contains("Authorization header requires 'Signature' parameter."),
        "{}",
        answer.message()
    );

    let mut req = request("GET", &server.url(TRIGGER_PATH), None);
    req.headers_mut()
        .insert("authorization", "Bearer abc".parse().unwrap());
    let answer = send(req).await;
    assert_eq!(answer.error_type(), "IncompleteSignatureException");
    assert!(answer
        .message()
        .starts_with("Invalid key=value pair (missing equal-sign) in Authorization header"));
    assert!(
        !answer.text.contains("abc"),
        "the header is hashed, not echoed"
    );
}

#[tokio::test]
async fn unapproved_caller_is_refused_without_revealing_existence() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let answer = trigger(&server, &p.bob).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.message(),
        "Caller is not authorized to trigger analysis for k9 customerId (C123456) and accountId (123456789012)"
    );
    // A customer that does not exist and an account not registered get the same answer.
    let path = "/customer/C999999/account/123456789012/analysis";
    let body = r#"{"customerId": "C999999", "accountId": "123456789012"}"#;
    let unknown = send(signed("POST", &server.url(path), Some(body), &p.alice)).await;
    assert_eq!(unknown.status, 403);
    assert_eq!(
        unknown.message(),
        "Caller is not authorized to trigger analysis for k9 customerId (C999999) and accountId (123456789012)"
    );
    let path = "/customer/C123456/account/210987654321/analysis";
    let body = r#"{"customerId": "C123456", "accountId": "210987654321"}"#;
    let unregistered = send(signed("POST", &server.url(path), Some(body), &p.alice)).await;
    assert_eq!(unregistered.status, 403);
    assert!(unregistered
        .message()
        .starts_with("Caller is not authorized"));
    assert_eq!(unknown.error_type(), unregistered.error_type());
}

#[tokio::test]
async fn revoked_approval_is_refused() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    assert_eq!(trigger(&server, &p.alice).await.status, 202);
    server
        .store
        .revoke(
            &CustomerId::parse(CUSTOMER).unwrap(),
            &PrincipalArn::parse("arn:aws:iam::123456789012:user/alice").unwrap(),
        )
        .await
        .unwrap();
    let answer = trigger(&server, &p.alice).await;
    assert_eq!(answer.status, 403);
    assert!(answer.message().starts_with("Caller is not authorized"));
}

#[tokio::test]
async fn deactivated_key_is_an_invalid_security_token() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let id = k9_domain::AccessKeyId::parse(p.alice.access_key_id()).unwrap();
    server
        .store
        .set_key_status(&id, KeyStatus::Inactive)
        .await
        .unwrap();
    let answer = trigger(&server, &p.alice).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_type(), "UnrecognizedClientException");
}

#[tokio::test]
async fn invalid_input_answers_400_naming_the_field() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let cases = [
        (
            "/customer/X1/account/123456789012/analysis",
            trigger_body(),
            "customerId",
        ),
        (
            "/customer/C123456/account/12345/analysis",
            trigger_body(),
            "accountId",
        ),
        (TRIGGER_PATH, "{not json", "JSON"),
        (
            TRIGGER_PATH,
            r#"{"customerId": "C123456", "accountId": "999999999999"}"#,
            "accountId",
        ),
        (
            TRIGGER_PATH,
            r#"{"customerId": "C654321", "accountId": "123456789012"}"#,
            "customerId",
        ),
        (
            TRIGGER_PATH,
            r#"{"accountId": "123456789012"}"#,
            "customerId",
        ),
        (
            TRIGGER_PATH,
            "",
            r#"Request body is empty: expected {"customerId": "C123456", "accountId": "123456789012"}"#,
        ),
    ];
    for (path, body, field) in cases {
        let answer = send(signed("POST", &server.url(path), Some(body), &p.alice)).await;
        assert_eq!(answer.status, 400, "{path} {body}: {}", answer.text);
        assert!(
            answer.message().contains(field),
            "{path} {body}: {}",
            answer.message()
        );
    }
}

#[tokio::test]
async fn undecodable_path_and_query_answer_400_in_api_gateway_shape() {
    // Axum's own rejections are plain text; callers parse `{"message"}` and the error type.
    let server = TestServer::start().await;
    let p = server.provision().await;
    let cases = [
        (
            "/customer/C123456/account/123456789012/analysis?limit=1&limit=2",
            "Invalid query string",
        ),
        (
            "/customer/C%FF/account/123456789012/analysis",
            "Invalid path",
        ),
    ];
    for (path, message) in cases {
        let answer = send(signed("GET", &server.url(path), None, &p.alice)).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text);
        assert_eq!(answer.error_type(), "BadRequestException", "{path}");
        assert!(
            answer.message().starts_with(message),
            "{path}: {}",
            answer.message()
        );
    }
}

#[tokio::test]
async fn body_over_64_kib_answers_413() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let big = format!(
        r#"{{"customerId": "C123456", "accountId": "123456789012", "pad": "{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let answer = send(signed(
        "POST",
        &server.url(TRIGGER_PATH),
        Some(&big),
        &p.alice,
    ))
    .await;
    assert_eq!(answer.status, 413, "{}", answer.text);
    assert!(answer.message().contains("65536"), "{}", answer.message());
}

fn presigned_url(
    url: &str,
    host: &str,
    creds: &Credentials,
    expires: Duration,
    time: SystemTime,
) -> String {
    let identity: Identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let params = SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("execute-api")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "GET",
        url,
        [("host", host)].into_iter(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().uri(url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request.uri().to_string()
}

#[tokio::test]
async fn presigned_get_of_an_execution_succeeds_and_expires() {
    let (server, p, id) = started_with_execution().await;
    let url = server.url(&format!("{TRIGGER_PATH}/{id}"));
    let presigned = presigned_url(
        &url,
        &server.host,
        &p.alice,
        Duration::from_secs(300),
        SystemTime::now(),
    );
    let answer = send(request("GET", &presigned, None)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["executionId"], id.as_str());

    let stale = presigned_url(
        &url,
        &server.host,
        &p.alice,
        Duration::from_secs(60),
        SystemTime::now() - Duration::from_secs(120),
    );
    let answer = send(request("GET", &stale, None)).await;
    assert_eq!(answer.status, 403);
    assert!(
        answer.message().starts_with("Signature expired"),
        "{}",
        answer.message()
    );
}

async fn session(server: &TestServer, role: &str, name: &str, now: OffsetDateTime) -> Credentials {
    let role = PrincipalArn::parse(role).unwrap();
    let session = server
        .store
        .create_session(&role, name, time::Duration::seconds(900), now)
        .await
        .unwrap();
    Credentials::from_keys(
        session.credentials.access_key_id.to_string(),
        session.credentials.secret_access_key.expose().to_owned(),
        Some(session.credentials.session_token.expose().to_owned()),
    )
}

#[tokio::test]
async fn assumed_role_session_matches_an_approved_role_with_a_path() {
    let server = TestServer::start().await;
    server.provision().await;
    let role = "arn:aws:iam::123456789012:role/ops/k9-automation";
    let now = OffsetDateTime::now_utc();
    server
        .store
        .create_role(&PrincipalArn::parse(role).unwrap(), now)
        .await
        .unwrap();
    let creds = session(&server, role, "ci", now).await;
    // Not approved yet.
    assert_eq!(trigger(&server, &creds).await.status, 403);
    server
        .store
        .approve(
            &CustomerId::parse(CUSTOMER).unwrap(),
            &PrincipalArn::parse(role).unwrap(),
            now,
        )
        .await
        .unwrap();
    let answer = trigger(&server, &creds).await;
    assert_eq!(answer.status, 202, "{}", answer.text);
    let id = answer.body["executionId"].as_str().unwrap();
    let status = send(signed(
        "GET",
        &server.url(&format!("{TRIGGER_PATH}/{id}")),
        None,
        &creds,
    ))
    .await;
    assert_eq!(
        status.body["requestedBy"],
        "arn:aws:sts::123456789012:assumed-role/k9-automation/ci"
    );
}

#[tokio::test]
async fn session_token_must_match_and_must_not_be_expired() {
    let server = TestServer::start().await;
    server.provision().await;
    let role = "arn:aws:iam::123456789012:role/k9";
    let now = OffsetDateTime::now_utc();
    server
        .store
        .create_role(&PrincipalArn::parse(role).unwrap(), now)
        .await
        .unwrap();
    server
        .store
        .approve(
            &CustomerId::parse(CUSTOMER).unwrap(),
            &PrincipalArn::parse(role).unwrap(),
            now,
        )
        .await
        .unwrap();

    let valid = session(&server, role, "fresh", now).await;
    assert_eq!(trigger(&server, &valid).await.status, 202);

    let wrong_token = Credentials::from_keys(
        valid.access_key_id(),
        valid.secret_access_key(),
        Some("not-the-token".into()),
    );
    let answer = trigger(&server, &wrong_token).await;
    assert_eq!(answer.error_type(), "UnrecognizedClientException");

    let no_token = Credentials::from_keys(valid.access_key_id(), valid.secret_access_key(), None);
    assert_eq!(
        trigger(&server, &no_token).await.error_type(),
        "UnrecognizedClientException"
    );

    let expired = session(&server, role, "stale", now - time::Duration::hours(2)).await;
    let answer = trigger(&server, &expired).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_type(), "ExpiredTokenException");
    assert_eq!(
        answer.message(),
        "The security token included in the request is expired"
    );
}

#[tokio::test]
async fn restart_keeps_executions() {
    let (server, p, id) = started_with_execution().await;
    let dir = server.stop().await;
    let server = TestServer::start_in(dir).await;
    let status = send(signed(
        "GET",
        &server.url(&format!("{TRIGGER_PATH}/{id}")),
        None,
        &p.alice,
    ))
    .await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.body["executionId"], id.as_str());
}

#[tokio::test]
async fn audit_rows_record_decisions_and_hold_no_secret_or_signature() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let ok = signed(
        "POST",
        &server.url(TRIGGER_PATH),
        Some(trigger_body()),
        &p.alice,
    );
    let authorization = ok.headers()["authorization"].to_str().unwrap().to_owned();
    let signature = authorization
        .rsplit("Signature=")
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(send(ok).await.status, 202);
    assert_eq!(trigger(&server, &p.bob).await.status, 403);
    let forged = Credentials::from_keys(
        p.alice.access_key_id(),
        "0000000000000000000000000000000000000000",
        None,
    );
    assert_eq!(trigger(&server, &forged).await.status, 403);
    // Authenticated, but refused before any authorization decision.
    assert_eq!(
        send(signed(
            "POST",
            &server.url(TRIGGER_PATH),
            Some("{bad json"),
            &p.alice
        ))
        .await
        .status,
        400
    );
    server.store.flush().await.unwrap();
    let events = server.store.audit_events(100).await.unwrap();
    // One row per request: the authorization decision stands for the authentication too.
    assert_eq!(events.len(), 4, "{events:?}");
    let mut request_ids: Vec<&str> = events.iter().map(|e| e.request_id.as_str()).collect();
    request_ids.sort_unstable();
    request_ids.dedup();
    assert_eq!(request_ids.len(), 4);
    let outcomes: Vec<AuditOutcome> = events.iter().map(|e| e.outcome).collect();
    for expected in [
        AuditOutcome::Authenticated,
        AuditOutcome::Allowed,
        AuditOutcome::Denied,
        AuditOutcome::AuthenticationFailed,
    ] {
        assert!(
            outcomes.contains(&expected),
            "{expected:?} missing from {outcomes:?}"
        );
    }
    // The audit log says why bob was refused; bob's answer did not.
    let denied = events
        .iter()
        .find(|e| e.outcome == AuditOutcome::Denied)
        .unwrap();
    assert_eq!(
        denied.reason,
        "trigger analysis for C123456/123456789012: caller not approved for the customer"
    );
    let allowed = events
        .iter()
        .find(|e| e.outcome == AuditOutcome::Allowed)
        .unwrap();
    assert_eq!(allowed.reason, "trigger analysis for C123456/123456789012");
    let dump = serde_json::to_string(&events).unwrap();
    assert!(!dump.contains(p.alice.secret_access_key()));
    assert!(!dump.contains(p.bob.secret_access_key()));
    assert!(!dump.contains(&signature));
    assert!(dump.contains(p.alice.access_key_id()));
}

#[tokio::test]
async fn account_registered_to_customer_is_required() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let now = OffsetDateTime::now_utc();
    let other = CustomerId::parse("C654321").unwrap();
    server
        .store
        .create_customer(&other, None, now)
        .await
        .unwrap();
    server
        .store
        .approve(
            &other,
            &PrincipalArn::parse("arn:aws:iam::123456789012:user/alice").unwrap(),
            now,
        )
        .await
        .unwrap();
    // alice is approved for C654321, but 123456789012 belongs to C123456.
    let path = "/customer/C654321/account/123456789012/analysis";
    let body = r#"{"customerId": "C654321", "accountId": "123456789012"}"#;
    let answer = send(signed("POST", &server.url(path), Some(body), &p.alice)).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.message(),
        "Caller is not authorized to trigger analysis for k9 customerId (C654321) and accountId (123456789012)"
    );
    // A customer that does not exist gets the very same answer.
    let path = "/customer/C999999/account/123456789012/analysis";
    let body = r#"{"customerId": "C999999", "accountId": "123456789012"}"#;
    let unknown = send(signed("POST", &server.url(path), Some(body), &p.alice)).await;
    assert_eq!(unknown.status, 403);
    assert_eq!(
        unknown.message().replace("C999999", "C654321"),
        answer.message()
    );
    // Only the audit log tells the two apart.
    server.store.flush().await.unwrap();
    let reasons: Vec<String> = server
        .store
        .audit_events(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.outcome == AuditOutcome::Denied)
        .map(|e| e.reason)
        .collect();
    assert!(
        reasons.contains(
            &"trigger analysis for C654321/123456789012: account not registered to the customer"
                .to_owned()
        ),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"trigger analysis for C999999/123456789012: no such customer".to_owned()),
        "{reasons:?}"
    );
    let _ = AccountId::parse(ACCOUNT).unwrap();
}

#[tokio::test]
async fn unknown_route_is_refused_before_authentication_and_leaves_no_audit_row() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let mut garbage = request("GET", &server.url("/nope"), None);
    garbage.headers_mut().insert(
        "authorization",
        http::HeaderValue::from_static("AWS4-HMAC-SHA256 this is not a signature"),
    );
    let answer = send(garbage).await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    assert_eq!(answer.error_type(), "MissingAuthenticationTokenException");
    // A signed request to an unknown route is refused the same way, unaudited.
    let signed_unknown = send(signed("GET", &server.url("/nope"), None, &p.alice)).await;
    assert_eq!(signed_unknown.message(), "Missing Authentication Token");
    server.store.flush().await.unwrap();
    let events = server.store.audit_events(100).await.unwrap();
    assert!(events.is_empty(), "{events:?}");
}

#[tokio::test]
async fn percent_encoded_path_parameters_are_decoded() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    // `%43` is `C`: the customer is C123456 however its letters are encoded.
    let path = "/customer/%43123456/account/1234567890%31%32/analysis";
    let answer = send(signed(
        "POST",
        &server.url(path),
        Some(trigger_body()),
        &p.alice,
    ))
    .await;
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(answer.body["customerId"], "C123456");
    assert_eq!(answer.body["accountId"], "123456789012");
    let id = answer.body["executionId"].as_str().unwrap();
    let encoded_id = id.replace('-', "%2D");
    let item = send(signed(
        "GET",
        &server.url(&format!("{path}/{encoded_id}")),
        None,
        &p.alice,
    ))
    .await;
    assert_eq!(item.status, 200, "{}", item.text);
    assert_eq!(item.body["executionId"], id);
}

#[tokio::test]
async fn head_is_served_as_get_without_a_body() {
    let (server, p, id) = started_with_execution().await;
    for path in [TRIGGER_PATH.to_owned(), format!("{TRIGGER_PATH}/{id}")] {
        let get = send(signed("GET", &server.url(&path), None, &p.alice)).await;
        assert_eq!(get.status, 200, "GET {path}: {}", get.text);
        let answer = send(signed("HEAD", &server.url(&path), None, &p.alice)).await;
        assert_eq!(answer.status, 200, "HEAD {path}");
        assert_eq!(
            answer.headers["content-type"], "application/json",
            "HEAD {path}"
        );
        // The length of the body GET would send (hyper sends none for HEAD).
        assert_eq!(
            answer.headers["content-length"],
            get.text.len().to_string().as_str(),
            "HEAD {path}"
        );
    }
    server.store.flush().await.unwrap();
    let methods: Vec<String> = server
        .store
        .audit_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.method)
        .collect();
    assert_eq!(
        methods.iter().filter(|m| *m == "HEAD").count(),
        2,
        "{methods:?}"
    );
}

#[tokio::test]
async fn near_miss_paths_and_methods_name_no_resource() {
    let (server, p, id) = started_with_execution().await;
    let item = format!("{TRIGGER_PATH}/{id}");
    for (method, path) in [
        ("POST", format!("{TRIGGER_PATH}/")),
        ("GET", format!("{TRIGGER_PATH}/")),
        ("GET", format!("{item}/")),
        ("GET", TRIGGER_PATH.replace("/account/", "//account/")),
        ("GET", "/customer//account/123456789012/analysis".to_owned()),
        ("GET", "/customer/C123456/account//analysis".to_owned()),
        ("GET", format!("{TRIGGER_PATH}//")),
        ("POST", item.clone()),
        ("PUT", item.clone()),
        ("GET", format!("{item}/more")),
    ] {
        let answer = send(signed(method, &server.url(&path), None, &p.alice)).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.text);
        assert_eq!(
            answer.error_type(),
            "MissingAuthenticationTokenException",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn undecodable_execution_id_answers_400_naming_it() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let answer = send(signed(
        "GET",
        &server.url(&format!("{TRIGGER_PATH}/ondemand-%FF")),
        None,
        &p.alice,
    ))
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(answer.error_type(), "BadRequestException");
    assert!(
        answer.message().starts_with("Invalid path: executionId"),
        "{}",
        answer.message()
    );
    assert!(!answer.message().contains("%FF"), "{}", answer.message());
}

#[tokio::test]
async fn refused_methods_carry_no_allow_header() {
    // API Gateway answers an unknown method with Missing Authentication Token, not a 405
    // whose `Allow` header would list the methods a resource has.
    let server = TestServer::start().await;
    let p = server.provision().await;
    for (method, path) in [
        ("DELETE", TRIGGER_PATH),
        ("POST", "/health"),
        ("PUT", "/health"),
    ] {
        let answer = send(signed(method, &server.url(path), None, &p.alice)).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.text);
        assert_eq!(answer.message(), "Missing Authentication Token");
        assert!(
            !answer.headers.contains_key("allow"),
            "{method} {path}: {:?}",
            answer.headers
        );
    }
    let head = send(request("HEAD", &server.url("/health"), None)).await;
    assert_eq!(head.status, 200);
}
