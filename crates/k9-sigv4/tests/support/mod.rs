//! Helpers shared by the integration tests: an owned request that lends itself out as an
//! [`HttpRequest`], a [`SecretLookup`] over one key, and time parsing.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::time::SystemTime;

use k9_sigv4::{parse_amz_date, HttpRequest, LookupError, SecretLookup};

/// The access key, secret and region/service every suite case uses unless its
/// `context.json` says otherwise (see the suite's README).
pub const SUITE_ACCESS_KEY: &str = "AKIDEXAMPLE";
pub const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const SUITE_REGION: &str = "us-east-1";
pub const SUITE_SERVICE: &str = "service";

/// An HTTP request that owns its parts; [`OwnedRequest::with`] lends it out as the borrowed
/// [`HttpRequest`] the crate takes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnedRequest {
    pub method: String,
    /// The wire path, without the query.
    pub path: String,
    /// The wire query, without `?`.
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl OwnedRequest {
    /// A request with `host: example.amazonaws.com`, no other header and no body.
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: vec![("Host".to_owned(), b"example.amazonaws.com".to_vec())],
            body: Vec::new(),
        }
    }

    /// Adds a header (after the existing ones).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        self
    }

    /// Removes every header called `name` (ASCII case-insensitive).
    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// The first value of header `name`, as text.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Replaces the value of the first header called `name`.
    pub fn replace_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        let slot = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("no {name} header to replace"));
        slot.1 = value.as_ref().to_vec();
        self
    }

    /// Calls `f` with the request as an [`HttpRequest`].
    pub fn with<R>(&self, f: impl FnOnce(&HttpRequest<'_>) -> R) -> R {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        f(&HttpRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }

    /// Adds the headers a signer returned.
    pub fn with_signed_headers(mut self, added: &[(String, String)]) -> Self {
        for (name, value) in added {
            self.headers
                .push((name.clone(), value.clone().into_bytes()));
        }
        self
    }

    /// Appends presigned query parameters (decoded, as the signer returns them), encoded the
    /// SigV4 way.
    pub fn with_query_params(mut self, params: &[(String, String)]) -> Self {
        for (name, value) in params {
            if !self.query.is_empty() {
                self.query.push('&');
            }
            self.query.push_str(&uri_encode(name));
            self.query.push('=');
            self.query.push_str(&uri_encode(value));
        }
        self
    }
}

/// SigV4's `UriEncode()`: everything but `A-Z a-z 0-9 - _ . ~` as upper-case `%XX`.
/// Written out here rather than borrowed from the crate so tests do not check the crate
/// against itself.
pub fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `20150830T123600Z` as a [`SystemTime`].
pub fn at(amz_date: &str) -> SystemTime {
    parse_amz_date(amz_date)
        .unwrap_or_else(|| panic!("bad test date {amz_date}"))
        .into()
}

/// A key store holding one access key, optionally temporary (with a session token), or
/// answering every lookup with a fixed error.
#[derive(Debug, Clone)]
pub struct OneKey {
    pub access_key_id: String,
    pub secret: String,
    /// `Some` for temporary credentials: the request must carry exactly this token.
    pub session_token: Option<String>,
    /// Answer with this error instead (e.g. expired temporary credentials).
    pub fail_with: Option<LookupError>,
}

impl OneKey {
    pub fn new(access_key_id: &str, secret: &str, session_token: Option<&str>) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret: secret.to_owned(),
            session_token: session_token.map(str::to_owned),
            fail_with: None,
        }
    }

    /// The suite's long-term key.
    pub fn suite() -> Self {
        Self::new(SUITE_ACCESS_KEY, SUITE_SECRET, None)
    }
}

impl SecretLookup for OneKey {
    type Secret = Vec<u8>;

    fn secret(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Vec<u8>, LookupError> {
        if let Some(error) = self.fail_with {
            return Err(error);
        }
        if access_key_id != self.access_key_id || session_token != self.session_token.as_deref() {
            return Err(LookupError::Unrecognized);
        }
        Ok(self.secret.clone().into_bytes())
    }
}
