//! `x-amzn-RequestId` on every response, as API Gateway sends.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;
use std::sync::Arc;

/// The id of the request being served, available to handlers as an extension (shared:
/// the response header, the handler and the audit row all need it).
#[derive(Debug, Clone, Default)]
pub struct RequestId(pub Arc<str>);

/// A random UUID-shaped id, like API Gateway's. Built byte by byte: this runs on every
/// request.
fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 16] = rand::rng().random();
    let mut id = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    id
}

/// Assigns a request id, exposes it to inner layers, and stamps it on the response.
pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id: Arc<str> = new_request_id().into();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuid_shaped_and_distinct() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}
