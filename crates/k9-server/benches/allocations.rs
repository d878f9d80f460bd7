//! Heap allocations per request on the server's own path, counted on the serving thread:
//! `GET /health` against a signed `GET` of an execution. Allocation counts are exact and do
//! not drift with a noisy machine, which makes them the quickest check that a change to the
//! request path made it leaner (or fatter).

mod fixture;

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

use axum::body::Body;
use fixture::Fixture;
use http::Request;
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

fn main() {
    let fixture = Fixture::new();
    let (runtime, app) = (&fixture.runtime, &fixture.app);
    let health = || fixture.health();
    let signed_get = || fixture.signed_get();
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
    fixture.finish();
}
