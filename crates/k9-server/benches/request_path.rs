//! The server's own cost per request, without sockets or a client: `GET /health` against a
//! signed `GET` of an execution, both driven through the router in-process. The load
//! benchmark (`k9-loadbench`) measures the same two over HTTP with the client's share;
//! this one isolates what the server adds for authentication and authorization.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use k9_domain::{AccountId, CustomerId, PrincipalArn};
use k9_server::{router, AppState};
use k9_sigv4::{sign_with_header, Credentials, HttpRequest, SigningParams};
use k9_store::{MasterKey, SqliteStore, Store};
use time::OffsetDateTime;
use tower::ServiceExt;

/// As in the `k9` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOST: &str = "127.0.0.1:8080";

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        SqliteStore::open(
            dir.path(),
            MasterKey::load_or_create(dir.path()).expect("master key"),
        )
        .expect("store"),
    );
    let (creds, path) = runtime.block_on(async {
        let now = OffsetDateTime::now_utc();
        let customer = CustomerId::parse("C123456").expect("customer");
        let account = AccountId::parse("123456789012").expect("account");
        let user = PrincipalArn::parse("arn:aws:iam::123456789012:user/bench").expect("arn");
        store
            .create_customer(&customer, None, now)
            .await
            .expect("customer");
        store
            .add_account(&customer, &account, now)
            .await
            .expect("account");
        let key = store.create_user(&user, now).await.expect("user");
        store.approve(&customer, &user, now).await.expect("approve");
        let execution = store
            .enqueue_execution(&customer, &account, &user, now)
            .await
            .expect("enqueue")
            .into_execution();
        let creds = Credentials::new(
            key.access_key.access_key_id.to_string(),
            key.access_key.secret_access_key.expose(),
            None,
        );
        let path = format!(
            "/customer/{customer}/account/{account}/analysis/{}",
            execution.execution_id
        );
        (creds, path)
    });
    let app = router(AppState::new(store.clone(), "us-east-1"));

    // Signed once: the server's cost is the same whether or not the signature is new, and
    // it stays within the clock window for the few seconds criterion runs.
    let headers: [(&str, &[u8]); 1] = [("host", HOST.as_bytes())];
    let unsigned = HttpRequest {
        method: "GET",
        path: &path,
        query: "",
        headers: &headers,
        body: b"",
    };
    let signed = sign_with_header(
        &unsigned,
        &creds,
        &SigningParams::new("us-east-1", "execute-api", SystemTime::now()),
    )
    .expect("sign");
    let signed_get = || {
        let mut request = Request::get(path.as_str()).header("host", HOST);
        for (name, value) in &signed.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request.body(Body::empty()).expect("request")
    };
    let health = || {
        Request::get("/health")
            .header("host", HOST)
            .body(Body::empty())
            .expect("request")
    };

    // One request through the router, its body read to the end.
    let serve = |request: Request<Body>| {
        runtime.block_on(async {
            let response = app.clone().oneshot(request).await.expect("response");
            assert_eq!(response.status(), 200);
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body")
        })
    };
    let mut group = c.benchmark_group("server request path");
    group.bench_function("GET /health", |b| b.iter(|| serve(health())));
    group.bench_function("signed GET execution", |b| b.iter(|| serve(signed_get())));
    group.finish();
    // Audit rows and key-use stamps are committed by the store's writer thread meanwhile;
    // let it finish before the data dir goes.
    runtime.block_on(store.flush()).expect("flush");
}

criterion_group!(benches, bench);
criterion_main!(benches);
