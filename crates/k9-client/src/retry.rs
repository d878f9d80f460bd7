//! When and how long to wait before trying a request again.
//!
//! Only failures that another attempt can fix are retried: the connection could not be made
//! or broke, the request timed out, or the server answered 5xx. A 4xx answer (bad signature,
//! not authorized, bad request) will be the same next time, so it is never retried.
//! Retrying a trigger is safe: the server coalesces a queued duplicate into the execution
//! already queued for that account.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

/// How many times to try a request and how long to wait between tries.
///
/// The wait after failed attempt `n` (1-based) is drawn uniformly from
/// `[cap / 2, cap]` where `cap = min(max_delay, base_delay * 2^(n-1))`: exponential backoff
/// with "equal jitter", so that many clients failing together do not retry in lock step,
/// yet every client waits at least half the backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included; `1` disables retries. Default 3.
    pub max_attempts: u32,
    /// The backoff cap after the first failure. Default 200 ms.
    pub base_delay: Duration,
    /// The largest backoff cap, however many failures. Default 5 s.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy that tries once and never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether another attempt may follow failed attempt `attempt` (1-based).
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// How long to wait after failed attempt `attempt` (1-based) before the next one.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.backoff_cap(attempt);
        let half = cap / 2;
        let spread = u64::try_from((cap - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            random_u64() % (spread + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    fn backoff_cap(&self, attempt: u32) -> Duration {
        // 2^(attempt-1), saturating long before it could overflow a Duration.
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// A random number good enough for jitter (not for cryptography): std's per-process random
/// hash keys, so no RNG dependency is needed for this.
fn random_u64() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_three_attempts() {
        let policy = RetryPolicy::default();
        assert!(policy.may_retry(1));
        assert!(policy.may_retry(2));
        assert!(!policy.may_retry(3));
        assert!(!RetryPolicy::never().may_retry(1));
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for _ in 0..200 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = policy.backoff(30);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let policy = RetryPolicy::default();
        let draws: std::collections::HashSet<Duration> =
            (0..50).map(|_| policy.backoff(2)).collect();
        assert!(draws.len() > 1, "50 draws were all equal: {draws:?}");
    }

    #[test]
    fn zero_delay_policy_does_not_wait() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        };
        assert_eq!(policy.backoff(1), Duration::ZERO);
    }
}
