//! The server's own cost per request, without sockets or a client: `GET /health` against a
//! signed `GET` of an execution, both driven through the router in-process. The load
//! benchmark (`k9-loadbench`) measures the same two over HTTP with the client's share;
//! this one isolates what the server adds for authentication and authorization.

mod fixture;

use axum::body::Body;
use criterion::{criterion_group, criterion_main, Criterion};
use fixture::Fixture;
use http::Request;
use tower::ServiceExt;

/// As in the `k9` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let fixture = Fixture::new();
    let (runtime, app) = (&fixture.runtime, &fixture.app);
    let health = || fixture.health();
    let signed_get = || fixture.signed_get();

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
    fixture.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
