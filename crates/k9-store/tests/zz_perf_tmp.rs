mod common;
use std::sync::Arc;
use std::time::Instant;
use common::*;
use k9_store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn perf() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(open(dir.path()));
    let n_accounts = 5000usize;
    store.create_customer(&customer("C123456"), None, NOW).await.unwrap();
    let accounts: Vec<_> = (0..n_accounts).map(|i| account(&format!("{:012}", 100_000_000_000u64 + i as u64))).collect();
    for a in &accounts { store.add_account(&customer("C123456"), a, NOW).await.unwrap(); }
    let key = store.create_user(&arn("arn:aws:iam::123456789012:user/alice"), NOW).await.unwrap();
    let id = key.access_key.access_key_id.clone();
    store.approve(&customer("C123456"), &arn("arn:aws:iam::123456789012:user/alice"), NOW).await.unwrap();
    // credential reads
    let t = Instant::now();
    for _ in 0..100_000 { let c = store.credential(&id).await.unwrap(); assert!(c.is_some()); }
    println!("credential: {:?}/op", t.elapsed() / 100_000);
    let who = arn("arn:aws:iam::123456789012:user/alice");
    let t = Instant::now();
    for i in 0..100_000 { assert!(store.is_authorized(&who, &customer("C123456"), &accounts[i % n_accounts]).await.unwrap()); }
    println!("is_authorized: {:?}/op", t.elapsed() / 100_000);
    // enqueue with 256 concurrent clients, each op timed
    let accounts = Arc::new(accounts);
    let t = Instant::now();
    let mut handles = vec![];
    for w in 0..256usize {
        let store = store.clone(); let accounts = accounts.clone(); let who = who.clone(); let id = id.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = vec![];
            let mut i = w;
            while i < 20_000 {
                let s = Instant::now();
                store.record_key_use(&id, NOW).await;
                store.record_audit(k9_store::AuditEvent{ time: NOW, request_id: format!("r{i}"), access_key_id: Some(id.to_string()), principal: Some(who.to_string()), method: "POST".into(), path: "/v1/trigger".into(), outcome: k9_store::AuditOutcome::Allowed, reason: "ok".into()}).await;
                let e = store.enqueue_execution(&customer("C123456"), &accounts[i % 5000], &who, NOW).await.unwrap().into_execution();
                if i % 2 == 0 { store.set_execution_status(&e.execution_id, k9_domain::ExecutionStatus::Running, NOW, None).await.unwrap(); }
                lat.push(s.elapsed());
                i += 256;
            }
            lat
        }));
    }
    let mut lat = vec![];
    for h in handles { lat.extend(h.await.unwrap()); }
    let el = t.elapsed();
    lat.sort();
    println!("enqueue: {} ops in {:?} = {:.0}/s, p50 {:?} p99 {:?} max {:?}", lat.len(), el, lat.len() as f64 / el.as_secs_f64(), lat[lat.len()/2], lat[lat.len()*99/100], lat.last().unwrap());
}
