//! The audit log's cost per request: an authenticated request writes one audit row, handed
//! to the store's writer thread and committed in batches. Measured here as the time to
//! record a burst of events and flush them, both threads' work included.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use k9_store::{AuditEvent, AuditOutcome, MasterKey, SqliteStore, Store};
use time::OffsetDateTime;

/// As in the `k9` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events per measured burst.
const BURST: u64 = 20_000;

/// An event as the server writes it for an allowed read.
fn allowed_read(n: u64) -> AuditEvent {
    AuditEvent {
        time: OffsetDateTime::now_utc(),
        request_id: format!("0f8a5c3e-1b2d-4e5f-8a9b-{n:012x}"),
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        principal: Some("arn:aws:iam::123456789012:user/bench".into()),
        method: "GET".into(),
        path: "/customer/C123456/account/123456789012/analysis/ondemand-C123456-123456789012-2026-12-04_AB12".into(),
        outcome: AuditOutcome::Allowed,
        reason: "read analyses for C123456/123456789012".into(),
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        dir.path(),
        MasterKey::load_or_create(dir.path()).expect("master key"),
    )
    .expect("store");
    let mut group = c.benchmark_group("audit");
    group.throughput(Throughput::Elements(BURST));
    group.bench_function("record and commit 20,000 events", |b| {
        b.iter_batched(
            || (0..BURST).map(allowed_read).collect::<Vec<_>>(),
            |events| {
                runtime.block_on(async {
                    for event in events {
                        k9_store::record_audit(&store, event.as_record()).await;
                    }
                    store.flush().await.expect("flush");
                })
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
