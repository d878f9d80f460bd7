//! Reads the AWS SigV4 test suite from disk: where it is, its `request.txt`-style HTTP files,
//! `context.json`, and the expected outputs. See `shared/sigv4-test-suite/README.md` for the
//! formats; the notes that matter here are repeated where they are handled.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::support::{OwnedRequest, SUITE_ACCESS_KEY, SUITE_SECRET};

/// Environment variable that overrides where the suite is.
pub const SUITE_ENV: &str = "K9_SIGV4_TEST_SUITE";

/// The suite's root folder: `$K9_SIGV4_TEST_SUITE`, or `shared/sigv4-test-suite` beside the
/// folder the repository is cloned into (`/work/main` + `/work/shared` locally; CI puts a copy
/// of `shared/` beside its clone).
///
/// Panics if it is not there: a conformance test that cannot find its data must fail, never
/// pass by running nothing.
pub fn root() -> PathBuf {
    let (root, origin) = match std::env::var_os(SUITE_ENV) {
        Some(path) => (PathBuf::from(path), format!("${SUITE_ENV}")),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigv4-test-suite"),
            format!("CARGO_MANIFEST_DIR/../../../shared/sigv4-test-suite (set ${SUITE_ENV} to override)"),
        ),
    };
    assert!(
        root.join("v4").is_dir(),
        "SigV4 test suite not found at {} (from {origin}); it must contain v4/",
        root.display()
    );
    root.canonicalize().unwrap_or(root)
}

/// The case folders of `group` (e.g. `v4`, `smithy-rs-extra/v4`), sorted by name.
pub fn case_dirs(group: &str) -> Vec<PathBuf> {
    let group_dir = root().join(group);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&group_dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", group_dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Reads a file of the suite, panicking with its path.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Reads an expected output (canonical request, string to sign, signature).
///
/// Files normally have no trailing newline, but two documented ones do
/// (`smithy-rs-extra/v4/double-url-encode/header-string-to-sign.txt` and
/// `get-query-plus/header-canonical-request.txt`). None of these artefacts can end in a
/// newline (each ends in a hex hash), so one trailing `\n` is always a file artefact and is
/// stripped.
pub fn read_expected(path: &Path) -> String {
    let text = String::from_utf8(read(path))
        .unwrap_or_else(|e| panic!("{} is not UTF-8: {e}", path.display()));
    match text.strip_suffix('\n') {
        Some(stripped) => stripped.to_owned(),
        None => text,
    }
}

/// An HTTP request read from `request.txt` or `*-signed-request.txt`.
#[derive(Debug, Clone)]
pub struct SuiteRequest {
    pub request: OwnedRequest,
    /// How many obs-fold continuation lines were unfolded.
    pub folded_lines: usize,
}

/// Parses the suite's HTTP request format: a request line `METHOD target[ HTTP/1.1]` (the
/// target may contain raw spaces, so the method ends at the first space and the version is
/// stripped from the end), `Name:value` header lines, a blank line, and the body.
///
/// A header line starting with a space or tab continues the previous value (obs-fold).
/// RFC 7230 section 3.2.4 lets a recipient replace each fold (the line break and the
/// whitespace after it) with a single SP before interpreting the value, which is what the
/// suite's expected canonical requests assume; hyper/httparse reject obs-fold outright, so a
/// real server never hands us one. The request is returned unfolded.
///
/// Line endings may be `\n` or `\r\n`. The header value is kept verbatim after the `:`
/// (leading spaces included): trimming is the signer's and verifier's job.
pub fn parse_request(text: &[u8]) -> SuiteRequest {
    let (head, body) = split_head_and_body(text);
    let head = std::str::from_utf8(head).expect("the suite's request heads are UTF-8");
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().expect("a request line");
    let (method, target) = request_line
        .split_once(' ')
        .unwrap_or_else(|| panic!("bad request line {request_line:?}"));
    let target = target.strip_suffix(" HTTP/1.1").unwrap_or(target);
    let mut request = OwnedRequest::new(method, target);
    request.headers.clear();
    let mut folded_lines = 0;
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let (_, value) = request
                .headers
                .last_mut()
                .expect("a continuation line follows a header");
            value.push(b' ');
            value.extend_from_slice(line.trim_start_matches([' ', '\t']).as_bytes());
            folded_lines += 1;
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad header line {line:?}"));
        request
            .headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
    }
    request.body = body.to_vec();
    SuiteRequest {
        request,
        folded_lines,
    }
}

fn split_head_and_body(text: &[u8]) -> (&[u8], &[u8]) {
    for separator in [&b"\r\n\r\n"[..], b"\n\n"] {
        if let Some(i) = text.windows(separator.len()).position(|w| w == separator) {
            return (&text[..i], &text[i + separator.len()..]);
        }
    }
    // No blank line: headers only, up to an optional final line break.
    let head = text.strip_suffix(b"\n").unwrap_or(text);
    (head.strip_suffix(b"\r").unwrap_or(head), &[])
}

/// `context.json`. Unknown fields are an error, so a field the tests do not honour cannot be
/// added upstream unnoticed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub credentials: ContextCredentials,
    /// `X-Amz-Expires` for query signing.
    pub expiration_in_seconds: u64,
    /// Remove dot segments and empty segments from the path.
    pub normalize: bool,
    pub region: String,
    pub service: String,
    /// Add and sign `x-amz-content-sha256` (header signing).
    pub sign_body: bool,
    /// RFC 3339, e.g. `2015-08-30T12:36:00Z`.
    pub timestamp: String,
    /// The session token is added after signing and is not signed.
    #[serde(default)]
    pub omit_session_token: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: Option<String>,
}

impl Context {
    /// Reads `dir/context.json`.
    pub fn load(dir: &Path) -> Self {
        let path = dir.join("context.json");
        serde_json::from_slice(&read(&path))
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }

    /// A context for the smithy-rs extras, which have no `context.json`: the suite's
    /// credentials with the given region, service and time (from the README).
    pub fn smithy_extra(region: &str, service: &str, timestamp: &str) -> Self {
        Self {
            credentials: ContextCredentials {
                access_key_id: SUITE_ACCESS_KEY.to_owned(),
                secret_access_key: SUITE_SECRET.to_owned(),
                token: None,
            },
            expiration_in_seconds: 3600,
            normalize: true,
            region: region.to_owned(),
            service: service.to_owned(),
            sign_body: false,
            timestamp: timestamp.to_owned(),
            omit_session_token: false,
        }
    }

    /// The signing time.
    pub fn time(&self) -> SystemTime {
        time::OffsetDateTime::parse(
            &self.timestamp,
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap_or_else(|e| panic!("bad timestamp {}: {e}", self.timestamp))
        .into()
    }
}
