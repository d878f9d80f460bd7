//! HTTP/2 carries the host as the `:authority` pseudo-header, not a `Host` header: requests
//! signed over `host` (what SDK signers do) and over `:authority` both verify.

mod common;

use std::time::SystemTime;

use common::{signed, trigger_body, TestServer, REGION, TRIGGER_PATH};
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
    let (parts, body) = signed(
        "POST",
        &server.url(TRIGGER_PATH),
        Some(trigger_body()),
        &p.alice,
    )
    .into_parts();
    let response = http2_client()
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let status = response.status().as_u16();
    assert_eq!(status, 202, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn http2_trigger_signed_over_authority_is_accepted() {
    let server = TestServer::start().await;
    let p = server.provision().await;
    let body = trigger_body().as_bytes();
    let headers: Vec<(&str, &[u8])> = vec![
        (":authority", server.host.as_bytes()),
        ("content-type", b"application/json"),
    ];
    let creds = Credentials::new(p.alice.access_key_id(), p.alice.secret_access_key(), None);
    let signed = sign_with_header(
        &HttpRequest {
            method: "POST",
            path: TRIGGER_PATH,
            query: "",
            headers: &headers,
            body,
        },
        &creds,
        &SigningParams::new(REGION, "execute-api", SystemTime::now()),
    )
    .expect("sign");
    let authorization = &signed.headers.last().unwrap().1;
    assert!(
        authorization.contains("SignedHeaders=:authority;content-type;x-amz-date"),
        "{authorization}"
    );
    let mut request = http2_client()
        .post(server.url(TRIGGER_PATH))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in &signed.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("send");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let status = response.status().as_u16();
    assert_eq!(status, 202, "{}", response.text().await.unwrap());

    // Over HTTP/1.1 there is no `:authority`: the same signature names a header the
    // request lacks.
    let mut request = reqwest::Client::new()
        .post(server.url(TRIGGER_PATH))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in &signed.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("send");
    assert_eq!(response.status().as_u16(), 403);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("Header ':authority' is listed in SignedHeaders but is not present"),
        "{text}"
    );
}
