//! `x-amzn-RequestId` on every response, as API Gateway sends.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;

/// The response header that carries the id.
static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// Length of a hyphenated UUID.
const LEN: usize = uuid::fmt::Hyphenated::LENGTH;

/// The id of the request being served, a request extension that the API passes on to
/// authentication, the handlers and the audit row. Kept inline
/// (36 ASCII bytes): the response header, the handler and the audit row all need it, and
/// copying it costs less than sharing a heap copy.
#[derive(Clone, Copy)]
pub struct RequestId([u8; LEN]);

impl RequestId {
    /// A random (version 4) UUID, like API Gateway's, written in place: this runs on every
    /// request.
    fn random() -> Self {
        let uuid = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
        let mut id = [0; LEN];
        uuid.hyphenated().encode_lower(&mut id);
        Self(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only `random` and `default` make ids, both from ASCII bytes: this never falls
        // back.
        std::str::from_utf8(&self.0).unwrap_or("invalid-request-id")
    }
}

impl Default for RequestId {
    /// The all-zero id, for a request that somehow has none.
    fn default() -> Self {
        let mut id = [b'0'; LEN];
        for dash in [8, 13, 18, 23] {
            id[dash] = b'-';
        }
        Self(id)
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Assigns a request id, exposes it to inner layers, and stamps it on the response.
pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = RequestId::random();
    request.extensions_mut().insert(id);
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_bytes(&id.0) {
        response
            .headers_mut()
            .insert(REQUEST_ID_HEADER.clone(), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_version_4_uuids_and_distinct() {
        let (a, b) = (RequestId::random(), RequestId::random());
        assert_ne!(a.as_str(), b.as_str());
        for _ in 0..64 {
            let id = RequestId::random();
            let id = id.as_str();
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12]);
            assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
            assert_eq!(&id[14..15], "4", "{id}: version");
            assert!(
                matches!(&id[19..20], "8" | "9" | "a" | "b"),
                "{id}: variant"
            );
        }
        let zero = RequestId::default();
        assert_eq!(zero.as_str(), "00000000-0000-0000-0000-000000000000");
    }
}
