//! Caches of the lookups every authenticated request makes: the credential of an access
//! key, the authorization decision for (caller, customer, account), and the execution a
//! client polls.
//!
//! Why: each SQLite read transaction takes and releases file locks (about six `fcntl`
//! calls, ~3 µs here), more than the lookup itself; a read per request would cost a large
//! share of a request's budget.
//!
//! Correctness rests on two counters, one per kind of change: the admin generation
//! (credentials and authorizations) and the execution generation (executions).
//! - an entry is used only if it was read under its counter's current generation;
//! - a reader loads the generation *before* reading the database and tags the entry with
//!   it, and this process bumps the generation *after* each write of that kind commits,
//!   so an entry read before a change can never pass for one read after it;
//! - writes by other processes sharing the data dir (the admin CLI; any process moving an
//!   execution's status) bump `admin_generation` / `execution_generation` in the
//!   database; these are checked at most every [`CROSS_PROCESS_REFRESH`], so their changes
//!   reach this process within that time;
//! - new executions need no invalidation: a missing execution is never cached;
//! - invalidation is coarse: any status move drops every cached execution (and the
//!   process that made it sees its own database bump once more at its next check). Cheap
//!   while status moves are rare next to polls, which is what the cache is for.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Authorization, Credential, Execution};

/// Longest time a change made by another process may go unnoticed.
pub(crate) const CROSS_PROCESS_REFRESH: Duration = Duration::from_millis(100);
/// Credentials and authorization decisions kept before their map is emptied (bounds memory
/// whatever callers send; an entry is a few hundred bytes).
const MAX_ENTRIES: usize = 65_536;
/// Executions kept before their map is emptied: fewer, as an execution is larger and only
/// those being polled need to stay.
const MAX_EXECUTIONS: usize = 8_192;

/// A map whose entries carry the generation they were read under, emptied when it holds
/// `capacity` entries.
struct Tagged<K, V, S> {
    entries: Mutex<HashMap<K, (u64, V), S>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone, S: BuildHasher + Default> Tagged<K, V, S> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::default()),
            capacity,
        }
    }

    fn get<Q>(&self, key: &Q, generation: u64) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        // Only whole-entry inserts and removals happen under the lock, so a poisoned map
        // is still consistent.
        let map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(key) {
            Some((tag, value)) if *tag == generation => Some(value.clone()),
            _ => None,
        }
    }

    fn put(&self, key: K, generation: u64, value: V) {
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, (generation, value));
    }
}

/// One change counter: this process's generation, and the database counter last seen.
struct Generation {
    current: AtomicU64,
    seen_in_db: AtomicI64,
}

impl Generation {
    fn new(db_counter: i64) -> Self {
        Self {
            current: AtomicU64::new(0),
            seen_in_db: AtomicI64::new(db_counter),
        }
    }

    fn current(&self) -> u64 {
        self.current.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.current.fetch_add(1, Ordering::SeqCst);
    }

    /// Records the database counter just read; bumps the generation if it moved.
    fn saw_in_db(&self, db_counter: i64) {
        if self.seen_in_db.swap(db_counter, Ordering::SeqCst) != db_counter {
            self.bump();
        }
    }
}

/// The database's change counters (the `store_meta` rows of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbCounters {
    /// Administrative changes: keys, sessions, customers, accounts, approvals.
    pub(crate) admin: i64,
    /// Changes to existing executions (status moves).
    pub(crate) executions: i64,
}

/// The request-path caches of one store.
pub(crate) struct ReadCache {
    admin: Generation,
    execution: Generation,
    /// When the database counters were last checked, as nanoseconds since `started`.
    checked_at: AtomicU64,
    started: Instant,
    // Hashed with foldhash (randomly seeded, several times faster than SipHash on these
    // short keys) where only stored keys and executions are ever inserted; with std's
    // SipHash where the caller picks the key (any customer and account it asks about).
    credentials: Tagged<String, Arc<Credential>, foldhash::fast::RandomState>,
    authorizations: Tagged<String, Authorization, RandomState>,
    executions: Tagged<String, Arc<Execution>, foldhash::fast::RandomState>,
}

impl ReadCache {
    /// Empty caches; `counters` are the database's now.
    pub(crate) fn new(counters: DbCounters) -> Self {
        Self {
            admin: Generation::new(counters.admin),
            execution: Generation::new(counters.executions),
            checked_at: AtomicU64::new(0),
            started: Instant::now(),
            credentials: Tagged::new(MAX_ENTRIES),
            authorizations: Tagged::new(MAX_ENTRIES),
            executions: Tagged::new(MAX_EXECUTIONS),
        }
    }

    /// The generation to tag a credential or authorization read with; load it before
    /// reading.
    pub(crate) fn admin_generation(&self) -> u64 {
        self.admin.current()
    }

    /// The generation to tag an execution read with; load it before reading.
    pub(crate) fn execution_generation(&self) -> u64 {
        self.execution.current()
    }

    /// Invalidates every credential and authorization. Call after an administrative write
    /// has committed.
    pub(crate) fn invalidate_admin(&self) {
        self.admin.bump();
    }

    /// Invalidates every cached execution. Call after an execution changed.
    pub(crate) fn invalidate_executions(&self) {
        self.execution.bump();
    }

    /// Invalidates everything (when the database counters cannot be read).
    pub(crate) fn invalidate_all(&self) {
        self.invalidate_admin();
        self.invalidate_executions();
    }

    /// Whether the database counters are due a check; at most one caller per interval
    /// gets `true`.
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

    /// Never checks the database counters again, so that a test can tell this process's own
    /// invalidations from the cross-process check.
    #[cfg(test)]
    pub(crate) fn stop_db_checks(&self) {
        self.checked_at.store(u64::MAX, Ordering::Relaxed);
    }

    /// Records the database counters just read; invalidates what they say changed.
    pub(crate) fn saw_db_counters(&self, counters: DbCounters) {
        self.admin.saw_in_db(counters.admin);
        self.execution.saw_in_db(counters.executions);
    }

    /// The cached credential of `access_key_id`, if still valid.
    pub(crate) fn credential(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.credentials.get(access_key_id, self.admin_generation())
    }

    /// Caches `credential`, read under admin generation `generation`.
    pub(crate) fn put_credential(&self, generation: u64, credential: Arc<Credential>) {
        self.credentials
            .put(credential.access_key_id.to_string(), generation, credential);
    }

    /// The cached decision for `caller` on `customer`'s `account`, if still valid.
    pub(crate) fn authorization(
        &self,
        caller: &impl std::fmt::Display,
        customer: &str,
        account: &str,
    ) -> Option<Authorization> {
        let generation = self.admin_generation();
        // The key is built on the stack: this runs on every authorized request, and a
        // heap key would cost an allocation just to be looked up.
        let mut key = StackText::<256>::new();
        match write_authorization_key(&mut key, caller, customer, account) {
            Ok(()) => self.authorizations.get(key.as_str(), generation),
            Err(_) => self.authorizations.get(
                authorization_key(caller, customer, account).as_str(),
                generation,
            ),
        }
    }

    /// Caches a decision, read under admin generation `generation`.
    pub(crate) fn put_authorization(&self, key: String, generation: u64, decision: Authorization) {
        self.authorizations.put(key, generation, decision);
    }

    /// The cached execution `execution_id`, if still valid.
    pub(crate) fn execution(&self, execution_id: &str) -> Option<Arc<Execution>> {
        self.executions
            .get(execution_id, self.execution_generation())
    }

    /// Caches `execution`, read under execution generation `generation`.
    pub(crate) fn put_execution(&self, generation: u64, execution: Arc<Execution>) {
        self.executions
            .put(execution.execution_id.to_string(), generation, execution);
    }
}

/// The cache key of an authorization decision. Unambiguous: customer ids and account ids
/// contain no `/`, so everything after the second `/` is the caller's ARN.
pub(crate) fn authorization_key(
    caller: &impl std::fmt::Display,
    customer: &str,
    account: &str,
) -> String {
    // Sized for a typical ARN, so that building the key allocates once.
    let mut key = String::with_capacity(customer.len() + account.len() + 2 + 96);
    // Writing to a `String` cannot fail.
    let _ = write_authorization_key(&mut key, caller, customer, account);
    key
}

fn write_authorization_key(
    key: &mut impl std::fmt::Write,
    caller: &impl std::fmt::Display,
    customer: &str,
    account: &str,
) -> std::fmt::Result {
    write!(key, "{customer}/{account}/{caller}")
}

/// Text written into a fixed buffer: a write that does not fit fails and leaves the text
/// as it was.
struct StackText<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended (see `write_str`), so the bytes are UTF-8;
        // the empty fallback is unreachable.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> std::fmt::Write for StackText<N> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        let room = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::DenialReason;

    const ALLOWED: Authorization = Authorization::Allowed;
    const REFUSED: Authorization = Authorization::Denied(DenialReason::NotApproved);

    const ZERO: DbCounters = DbCounters {
        admin: 0,
        executions: 0,
    };

    #[test]
    fn entry_read_before_an_invalidation_is_not_served_after_it() {
        let cache = ReadCache::new(ZERO);
        let generation = cache.admin_generation();
        cache.invalidate_admin();
        cache.put_authorization(authorization_key(&"arn", "C1", "1"), generation, ALLOWED);
        assert_eq!(cache.authorization(&"arn", "C1", "1"), None);
    }

    #[test]
    fn entry_read_under_the_current_generation_is_served() {
        let cache = ReadCache::new(ZERO);
        cache.put_authorization(
            authorization_key(&"arn", "C1", "1"),
            cache.admin_generation(),
            REFUSED,
        );
        assert_eq!(cache.authorization(&"arn", "C1", "1"), Some(REFUSED));
    }

    #[test]
    fn moved_database_counter_invalidates_its_kind_only() {
        let cache = ReadCache::new(DbCounters {
            admin: 7,
            executions: 3,
        });
        cache.put_authorization(
            authorization_key(&"arn", "C1", "1"),
            cache.admin_generation(),
            ALLOWED,
        );
        let (admin, execution) = (cache.admin_generation(), cache.execution_generation());
        cache.saw_db_counters(DbCounters {
            admin: 7,
            executions: 3,
        });
        assert_eq!(cache.authorization(&"arn", "C1", "1"), Some(ALLOWED));
        assert_eq!(cache.execution_generation(), execution);

        cache.saw_db_counters(DbCounters {
            admin: 7,
            executions: 4,
        });
        assert_eq!(cache.authorization(&"arn", "C1", "1"), Some(ALLOWED));
        assert_ne!(cache.execution_generation(), execution);

        cache.saw_db_counters(DbCounters {
            admin: 8,
            executions: 4,
        });
        assert_eq!(cache.authorization(&"arn", "C1", "1"), None);
        assert_ne!(cache.admin_generation(), admin);
    }

    #[test]
    fn authorization_keys_too_long_for_the_stack_are_looked_up_too() {
        let cache = ReadCache::new(ZERO);
        let long_arn = format!("arn:aws:iam::123456789012:user/{}", "p/".repeat(300));
        let key = authorization_key(&long_arn, "C123456", "123456789012");
        assert!(key.len() > 256);
        cache.put_authorization(key, cache.admin_generation(), ALLOWED);
        assert_eq!(
            cache.authorization(&long_arn, "C123456", "123456789012"),
            Some(ALLOWED)
        );
        assert_eq!(
            cache.authorization(&long_arn, "C123456", "210987654321"),
            None
        );
    }

    #[test]
    fn stack_text_refuses_what_does_not_fit_and_keeps_what_did() {
        use std::fmt::Write as _;
        let mut text = StackText::<8>::new();
        assert!(text.write_str("abcd").is_ok());
        assert!(text.write_str("é€xyz").is_err());
        assert_eq!(text.as_str(), "abcd");
        assert!(text.write_str("é€").is_err());
        assert!(text.write_str("é").is_ok());
        assert_eq!(text.as_str(), "abcdé");
    }

    #[test]
    fn a_full_map_is_emptied_before_it_grows_past_its_capacity() {
        let map: Tagged<_, _, RandomState> = Tagged::new(2);
        map.put("a", 0, 1);
        map.put("b", 0, 2);
        map.put("c", 0, 3);
        assert_eq!((map.get("a", 0), map.get("c", 0)), (None, Some(3)));
    }

    #[test]
    fn database_check_is_due_once_per_interval() {
        let cache = ReadCache::new(ZERO);
        std::thread::sleep(CROSS_PROCESS_REFRESH);
        assert!(cache.db_check_due());
        assert!(!cache.db_check_due());
    }
}
