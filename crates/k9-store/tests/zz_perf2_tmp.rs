mod common;
use std::time::Instant;
use common::*;
use k9_store::Store;
use rusqlite::{Connection, OpenFlags};

#[tokio::test]
#[ignore]
async fn perf2() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let key = store.create_user(&arn("arn:aws:iam::123456789012:user/alice"), NOW).await.unwrap();
    let id = key.access_key.access_key_id.clone();
    let conn = Connection::open_with_flags(store.path(), OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).unwrap();
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n { let v: i64 = conn.prepare_cached("SELECT 1").unwrap().query_row([], |r| r.get(0)).unwrap(); assert_eq!(v, 1); }
    println!("select 1: {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n { let v: String = conn.prepare_cached("SELECT status FROM access_keys WHERE access_key_id = ?1").unwrap().query_row([id.as_str()], |r| r.get(0)).unwrap(); assert_eq!(v, "Active"); }
    println!("pk lookup: {:?}", t.elapsed() / n);
    let t = Instant::now();
    let tx = conn.unchecked_transaction().unwrap();
    for _ in 0..n { let v: String = tx.prepare_cached("SELECT status FROM access_keys WHERE access_key_id = ?1").unwrap().query_row([id.as_str()], |r| r.get(0)).unwrap(); assert_eq!(v, "Active"); }
    println!("pk lookup in open tx: {:?}", t.elapsed() / n);
    drop(tx);
    let t = Instant::now();
    for _ in 0..n { let _ = store.credential(&id).await.unwrap(); }
    println!("credential: {:?}", t.elapsed() / n);
    let arn_s = "arn:aws:sts::123456789012:assumed-role/k9-automation/ci";
    let t = Instant::now();
    for _ in 0..n { let a: k9_domain::PrincipalArn = arn_s.parse().unwrap(); std::hint::black_box(a); }
    println!("arn parse: {:?}", t.elapsed() / n);
}
