//! Heap allocations per request on the server's own path, counted on the serving thread:
//! `GET /health` against a signed `GET` of an execution. Allocation counts are exact and do
//! not drift with a noisy machine, which makes them the quickest check that a change to the
//! request path made it leaner (or fatter).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use http::Request;
use k9_domain::{AccountId, CustomerId, PrincipalArn};
use k9_server::{router, AppState};
use k9_sigv4::{sign_with_header, Credentials, HttpRequest, SigningParams};
use k9_store::{MasterKey, SqliteStore, Store};
use time::OffsetDateTime;
use tower::ServiceExt;

/// mimalloc, as in the `k9` binary, with a count of this thread's allocations.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call unchanged to mimalloc; the counter is a thread-local Cell,
// which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const HOST: &str = "127.0.0.1:8080";

fn main() {
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
    // Allocations made while one request (already built) is served and its body read.
    let count = |request: Request<Body>| {
        runtime.block_on(async {
            let before = allocations();
            let response = app.clone().oneshot(request).await.expect("response");
            assert_eq!(response.status(), 200);
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            allocations() - before
        })
    };
    // Warm every cache first (keys, credentials, authorization, the execution's JSON).
    for _ in 0..10 {
        count(health());
        count(signed_get());
    }
    // Averaged over many requests: the store checks the database for changes made by
    // other processes every 100 ms, which one request in many pays for.
    const REQUESTS: u64 = 2000;
    let average = |build: &dyn Fn() -> Request<Body>| {
        let requests: Vec<_> = (0..REQUESTS).map(|_| build()).collect();
        let total: u64 = requests.into_iter().map(&count).sum();
        total as f64 / REQUESTS as f64
    };
    let health_allocations = average(&health);
    let signed_allocations = average(&signed_get);
    println!("allocations per request on the serving thread:");
    println!("  GET /health            {health_allocations:.1}");
    println!("  signed GET execution   {signed_allocations:.1}");
    runtime.block_on(store.flush()).expect("flush");
}
