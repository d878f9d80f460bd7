//! Signing-key derivation and a bounded cache of derived keys.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Constant-time equality of two byte strings of public length: no branch or early exit
/// depends on where they differ. The bytes are XOR-ed and OR-ed together 8 at a time, and
/// only the final word is compared, through `subtle`'s optimisation barrier (`subtle`'s
/// byte-by-byte slice comparison costs a barrier per byte, which shows on the hot path).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut difference = 0u64;
    let (a_words, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b_words, b_rest) = b.split_at(b.len() - b.len() % 8);
    for (x, y) in a_words.chunks_exact(8).zip(b_words.chunks_exact(8)) {
        let x = u64::from_ne_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_ne_bytes(y.try_into().unwrap_or_default());
        difference |= x ^ y;
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        difference |= u64::from(x ^ y);
    }
    bool::from(difference.ct_eq(&0))
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of the concatenation of `parts`, without concatenating them, under the key
/// `mac` was created with.
pub(crate) fn hmac_sha256_parts(mut mac: HmacSha256, parts: &[&[u8]]) -> [u8; 32] {
    for part in parts {
        mac.update(part);
    }
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

/// An HMAC keyed with a signing key. Keying hashes one block for the inner and one for the
/// outer pad, so caching the keyed state rather than the key saves two SHA-256 blocks per
/// signature.
pub(crate) fn keyed_hmac(signing_key: &[u8; 32]) -> HmacSha256 {
    HmacSha256::new_from_slice(signing_key).expect("HMAC takes keys of any length")
}

struct CachedKey {
    /// The secret the key was derived from: a hit must not survive a secret change.
    secret: Box<[u8]>,
    /// An HMAC keyed with the derived signing key.
    mac: HmacSha256,
}

/// A bounded cache of derived signing keys, keyed by `access-key-id/date/region/service`, so a
/// busy verifier does not redo four HMACs per request. When full, an arbitrary entry is
/// evicted: keys are cheap to re-derive, so simplicity beats precision here.
pub struct SigningKeyCache {
    capacity: usize,
    /// foldhash (randomly seeded): keys are derived only for a secret the caller already
    /// has, i.e. for real keys, so callers cannot fill the map with chosen ones.
    entries: Mutex<HashMap<String, CachedKey, foldhash::fast::RandomState>>,
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
            entries: Mutex::new(HashMap::with_capacity_and_hasher(
                capacity.min(1024),
                foldhash::fast::RandomState::default(),
            )),
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
    /// An HMAC keyed with the signing key for `scope_key`, ready for the string to sign.
    pub(crate) fn get_or_derive(
        &self,
        scope_key: &str,
        secret: &[u8],
        date: &str,
        region: &str,
        service: &str,
    ) -> HmacSha256 {
        if self.capacity == 0 {
            return keyed_hmac(&derive_signing_key(secret, date, region, service));
        }
        // A poisoned lock only means another thread panicked mid-insert; the map is still a
        // valid map, so keep using it.
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(cached) = entries.get(scope_key) {
                if constant_time_eq(&cached.secret, secret) {
                    return cached.mac.clone();
                }
            }
        }
        let mac = keyed_hmac(&derive_signing_key(secret, date, region, service));
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
                mac: mac.clone(),
            },
        );
        mac
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
    fn hmac_of_parts_is_hmac_of_their_concatenation() {
        let mac = keyed_hmac(&[7; 32]);
        assert_eq!(
            hmac_sha256_parts(mac.clone(), &[b"ab", b"", b"cd\n"]),
            hmac_sha256(&[7; 32], b"abcd\n")
        );
        // The keyed state is reusable.
        assert_eq!(hmac_sha256_parts(mac, &[b"x"]), hmac_sha256(&[7; 32], b"x"));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        let a: Vec<u8> = (0..70).collect();
        for len in [0, 1, 7, 8, 9, 16, 63, 64, 70] {
            assert!(constant_time_eq(&a[..len], &a[..len]));
            for i in 0..len {
                let mut b = a[..len].to_vec();
                b[i] ^= 0x40;
                assert!(!constant_time_eq(&a[..len], &b), "len {len}, byte {i}");
            }
        }
        assert!(!constant_time_eq(b"ab", b"abc"));
    }

    #[test]
    fn cache_is_bounded() {
        let cache = SigningKeyCache::new(3);
        for i in 0..10 {
            cache.get_or_derive(
                &format!("AKID{i}/20150830/us-east-1/s"),
                b"secret",
                "20150830",
                "us-east-1",
                "s",
            );
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn cache_hit_requires_the_same_secret() {
        let cache = SigningKeyCache::new(8);
        let scope = "AKID/20150830/us-east-1/s";
        let first = cache.get_or_derive(scope, b"old-secret", "20150830", "us-east-1", "s");
        let second = cache.get_or_derive(scope, b"new-secret", "20150830", "us-east-1", "s");
        let new_key = derive_signing_key(b"new-secret", "20150830", "us-east-1", "s");
        assert_ne!(
            hmac_sha256_parts(first, &[b"x"]),
            hmac_sha256_parts(second.clone(), &[b"x"])
        );
        assert_eq!(
            hmac_sha256_parts(second, &[b"x"]),
            hmac_sha256(&new_key, b"x")
        );
    }
}
