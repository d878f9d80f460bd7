//! Signing-key derivation and a bounded cache of derived keys.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`, with `date` as `YYYYMMDD`.
pub fn derive_signing_key(secret: &[u8], date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut first_key = Vec::with_capacity(4 + secret.len());
    first_key.extend_from_slice(b"AWS4");
    first_key.extend_from_slice(secret);
    let k_date = hmac_sha256(&first_key, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

struct CachedKey {
    /// The secret the key was derived from: a hit must not survive a secret change.
    secret: Box<[u8]>,
    signing_key: [u8; 32],
}

/// A bounded cache of derived signing keys, keyed by `access-key-id/date/region/service`, so a
/// busy verifier does not redo four HMACs per request. When full, an arbitrary entry is
/// evicted: keys are cheap to re-derive, so simplicity beats precision here.
pub struct SigningKeyCache {
    capacity: usize,
    entries: Mutex<HashMap<String, CachedKey>>,
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` keys (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
        }
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every cached key.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// The signing key for `scope_key` (`access-key-id/date/region/service`), derived from
    /// `secret` unless a key derived from the same secret is cached.
    pub(crate) fn get_or_derive(
        &self,
        scope_key: &str,
        secret: &[u8],
        date: &str,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        if self.capacity == 0 {
            return derive_signing_key(secret, date, region, service);
        }
        // A poisoned lock only means another thread panicked mid-insert; the map is still a
        // valid map, so keep using it.
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(cached) = entries.get(scope_key) {
                if bool::from(cached.secret.as_ref().ct_eq(secret)) {
                    return cached.signing_key;
                }
            }
        }
        let signing_key = derive_signing_key(secret, date, region, service);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(scope_key) {
            if let Some(victim) = entries.keys().next().cloned() {
                entries.remove(&victim);
            }
        }
        entries.insert(
            scope_key.to_owned(),
            CachedKey {
                secret: secret.into(),
                signing_key,
            },
        );
        signing_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_matches_aws_documentation_example() {
        // From the AWS General Reference, "Examples of how to derive a signing key".
        let key = derive_signing_key(
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn cache_is_bounded() {
        let cache = SigningKeyCache::new(3);
        for i in 0..10 {
            cache.get_or_derive(&format!("AKID{i}/20150830/us-east-1/s"), b"secret", "20150830", "us-east-1", "s");
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn cache_hit_requires_the_same_secret() {
        let cache = SigningKeyCache::new(8);
        let scope = "AKID/20150830/us-east-1/s";
        let first = cache.get_or_derive(scope, b"old-secret", "20150830", "us-east-1", "s");
        let second = cache.get_or_derive(scope, b"new-secret", "20150830", "us-east-1", "s");
        assert_ne!(first, second);
        assert_eq!(second, derive_signing_key(b"new-secret", "20150830", "us-east-1", "s"));
    }
}
