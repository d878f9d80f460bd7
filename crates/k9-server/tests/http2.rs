//! HTTP/2 carries the host as the `:authority` pseudo-header, not a `Host` header: requests
//! signed over `host` (what SDK signers do) and over `:authority` both verify.

mod common;

use std::time::SystemTime;

use common::{request, send, send_with, signed, trigger_body, TestServer, REGION, TRIGGER_PATH};
use k9_sigv4::{sign_with_header, Credentials, HttpRequest, SigningParams};

fn http2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client")
}

#[tokio::test]
async fn http2_trigger_signed_over_host_is_accepted() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let answer = send_with(
        &http2_client(),
        signed(
            "POST",
            &server.url(TRIGGER_PATH),
            Some(trigger_body()),
            &p.alice,
        ),
    )
    .await;
    assert_eq!(answer.version, reqwest::Version::HTTP_2);
    assert_eq!(answer.status, 202, "{}", answer.text);
}

#[tokio::test]
async fn http2_trigger_signed_over_authority_is_accepted() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let headers: Vec<(&str, &[u8])> = vec![
        (":authority", server.host.as_bytes()),
        ("content-type", b"application/json"),
    ];
    let creds = Credentials::new(p.alice.access_key_id(), p.alice.secret_access_key(), None);
    let signature = sign_with_header(
        &HttpRequest {
            method: "POST",
            path: TRIGGER_PATH,
            query: "",
            headers: &headers,
            body: trigger_body().as_bytes(),
        },
        &creds,
        &SigningParams::new(REGION, "execute-api", SystemTime::now()),
    )
    .expect("sign");
    let authorization = &signature.headers.last().unwrap().1;
    assert!(
        authorization.contains("SignedHeaders=:authority;content-type;x-amz-date"),
        "{authorization}"
    );
    let signed_request = || {
        let mut req = request("POST", &server.url(TRIGGER_PATH), Some(trigger_body()));
        for (name, value) in &signature.headers {
            req.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        req
    };

    let answer = send_with(&http2_client(), signed_request()).await;
    assert_eq!(answer.version, reqwest::Version::HTTP_2);
    assert_eq!(answer.status, 202, "{}", answer.text);

    // Over HTTP/1.1 there is no `:authority`: the same signature names a header the
    // request lacks.
    let answer = send(signed_request()).await;
    assert_eq!(answer.status, 403);
    assert!(
        answer
            .text
            .contains("Header ':authority' is listed in SignedHeaders but is not present"),
        "{}",
        answer.text
    );
}
