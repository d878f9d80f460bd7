//! Caches of the two lookups every authenticated request makes: the credential of an
//! access key and the authorization decision for (caller, customer, account).
//!
//! Why: each SQLite read transaction takes and releases file locks (about six `fcntl`
//! calls, ~3 µs here), more than the lookup itself; two of them per request would cost
//! a large share of a request's budget.
//!
//! Correctness rests on one counter, the generation:
//! - an entry is used only if it was read under the current generation;
//! - a reader loads the generation *before* reading the database and tags the entry with
//!   it, and this process bumps the generation *after* each administrative write commits,
//!   so an entry read before a change can never pass for one read after it;
//! - administrative writes by other processes (the admin CLI) bump `admin_generation` in
//!   the database; it is checked at most every [`CROSS_PROCESS_REFRESH`], so their
//!   changes reach this process within that time.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::Credential;

/// Longest time a change made by another process may go unnoticed.
pub(crate) const CROSS_PROCESS_REFRESH: Duration = Duration::from_millis(100);
/// Entries per map before it is emptied (bounds memory whatever callers send).
const MAX_ENTRIES: usize = 65_536;

/// A map whose entries carry the generation they were read under.
struct Tagged<K, V>(Mutex<HashMap<K, (u64, V)>>);

impl<K: Eq + Hash, V: Clone> Tagged<K, V> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn get<Q>(&self, key: &Q, generation: u64) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        // Only whole-entry inserts and removals happen under the lock, so a poisoned map
        // is still consistent.
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(key) {
            Some((tag, value)) if *tag == generation => Some(value.clone()),
            _ => None,
        }
    }

    fn put(&self, key: K, generation: u64, value: V) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (generation, value));
    }
}

/// The request-path caches of one store.
pub(crate) struct ReadCache {
    generation: AtomicU64,
    /// Last `admin_generation` seen in the database.
    seen_db_generation: AtomicI64,
    /// When the database counter was last checked, as nanoseconds since `started`.
    checked_at: AtomicU64,
    started: Instant,
    credentials: Tagged<String, Credential>,
    authorizations: Tagged<String, bool>,
}

impl ReadCache {
    /// Empty caches; `db_generation` is the database counter now.
    pub(crate) fn new(db_generation: i64) -> Self {
        Self {
            generation: AtomicU64::new(0),
            seen_db_generation: AtomicI64::new(db_generation),
            checked_at: AtomicU64::new(0),
            started: Instant::now(),
            credentials: Tagged::new(),
            authorizations: Tagged::new(),
        }
    }

    /// The generation to tag a database read with; load it before reading.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Invalidates every entry. Call after an administrative write has committed.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether the database counter is due a check; at most one caller per interval gets
    /// `true`.
    pub(crate) fn db_check_due(&self) -> bool {
        let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let last = self.checked_at.load(Ordering::Relaxed);
        let interval = u64::try_from(CROSS_PROCESS_REFRESH.as_nanos()).unwrap_or(u64::MAX);
        now.saturating_sub(last) >= interval
            && self
                .checked_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Records the database counter just read; invalidates everything if it moved.
    pub(crate) fn saw_db_generation(&self, db_generation: i64) {
        if self
            .seen_db_generation
            .swap(db_generation, Ordering::SeqCst)
            != db_generation
        {
            self.invalidate();
        }
    }

    /// The cached credential of `access_key_id`, if still valid.
    pub(crate) fn credential(&self, access_key_id: &str) -> Option<Credential> {
        self.credentials.get(access_key_id, self.generation())
    }

    /// Caches `credential`, read under `generation`.
    pub(crate) fn put_credential(&self, generation: u64, credential: Credential) {
        self.credentials
            .put(credential.access_key_id.to_string(), generation, credential);
    }

    /// The cached decision under `key` (see [`authorization_key`]), if still valid.
    pub(crate) fn authorization(&self, key: &str) -> Option<bool> {
        self.authorizations.get(key, self.generation())
    }

    /// Caches a decision, read under `generation`.
    pub(crate) fn put_authorization(&self, key: String, generation: u64, allowed: bool) {
        self.authorizations.put(key, generation, allowed);
    }
}

/// The cache key of an authorization decision. Unambiguous: customer ids and account ids
/// contain no `/`, so everything after the second `/` is the caller's ARN.
pub(crate) fn authorization_key(
    caller: &impl std::fmt::Display,
    customer: &str,
    account: &str,
) -> String {
    format!("{customer}/{account}/{caller}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_read_before_an_invalidation_is_not_served_after_it() {
        let cache = ReadCache::new(0);
        let generation = cache.generation();
        cache.invalidate();
        cache.put_authorization("k".into(), generation, true);
        assert_eq!(cache.authorization("k"), None);
    }

    #[test]
    fn entry_read_under_the_current_generation_is_served() {
        let cache = ReadCache::new(0);
        cache.put_authorization("k".into(), cache.generation(), false);
        assert_eq!(cache.authorization("k"), Some(false));
    }

    #[test]
    fn moved_database_counter_invalidates_and_unmoved_does_not() {
        let cache = ReadCache::new(7);
        cache.put_authorization("k".into(), cache.generation(), true);
        cache.saw_db_generation(7);
        assert_eq!(cache.authorization("k"), Some(true));
        cache.saw_db_generation(8);
        assert_eq!(cache.authorization("k"), None);
    }

    #[test]
    fn database_check_is_due_once_per_interval() {
        let cache = ReadCache::new(0);
        std::thread::sleep(CROSS_PROCESS_REFRESH);
        assert!(cache.db_check_due());
        assert!(!cache.db_check_due());
    }
}
