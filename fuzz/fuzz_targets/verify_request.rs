//! Feeds arbitrary bytes to the verifier as an HTTP request.
//!
//! The input is read leniently as the text of an HTTP/1.1 request, in the same shape as the
//! test suite's `*-signed-request.txt` files (so those files seed the corpus, see `seed.sh`):
//! `METHOD target [HTTP/1.1]`, then `Name:value` header lines (a line starting with a space or
//! tab continues the previous value), a blank line, and the body. Nothing is rejected: any byte
//! string becomes some request, and the verifier must answer it without panicking.
#![no_main]

use std::time::{Duration, SystemTime};

use k9_sigv4::{
    canonical_query_string, canonical_uri, HttpRequest, SigningSettings, Verifier, VerifierConfig,
};
use libfuzzer_sys::fuzz_target;

/// The suite's signing time (2015-08-30T12:36:00Z), so that seeds pass the clock check and the
/// fuzzer explores the code behind it.
const SUITE_TIME: u64 = 1_440_938_160;
const SUITE_SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

struct Parsed {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn split_head(data: &[u8]) -> (&[u8], &[u8]) {
    for (separator, len) in [(&b"\r\n\r\n"[..], 4), (&b"\n\n"[..], 2)] {
        if let Some(i) = data.windows(len).position(|w| w == separator) {
            return (&data[..i], &data[i + len..]);
        }
    }
    (data, &[])
}

fn parse(data: &[u8]) -> Parsed {
    let (head, body) = split_head(data);
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let (method, target) = request_line.split_once(' ').unwrap_or((&request_line, ""));
    let target = target.strip_suffix(" HTTP/1.1").unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for line in lines {
        if let (Some(b' ' | b'\t'), Some((_, value))) = (line.first(), headers.last_mut()) {
            // obs-fold: RFC 7230 section 3.2.4 lets a recipient replace it with one space.
            value.push(b' ');
            value.extend_from_slice(line.trim_ascii_start());
            continue;
        }
        let colon = line.iter().position(|b| *b == b':').unwrap_or(line.len());
        let name = String::from_utf8_lossy(&line[..colon]).into_owned();
        let value = line.get(colon + 1..).unwrap_or_default().to_vec();
        headers.push((name, value));
    }
    Parsed {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);
    let headers: Vec<(&str, &[u8])> = parsed
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let request = HttpRequest {
        method: &parsed.method,
        path: &parsed.path,
        query: &parsed.query,
        headers: &headers,
        body: &parsed.body,
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(SUITE_TIME);

    for settings in [SigningSettings::default(), SigningSettings::s3()] {
        let _ = canonical_uri(request.path, settings);
        let mut config = VerifierConfig::new("us-east-1", "service");
        config.settings = settings;
        // A small cache: still exercised (the secret is looked up and cached), but a fresh
        // verifier per input does not allocate room for thousands of keys.
        config.key_cache_capacity = 4;
        let verifier = Verifier::new(config);
        match verifier.check(&request, now) {
            Ok(pending) => {
                let _ = pending.access_key_id();
                let _ = pending.session_token();
                let _ = format!("{pending:?}");
                // Rendering errors must not panic either: some echo request data.
                match pending.verify_with_secret(SUITE_SECRET) {
                    Ok(verified) => {
                        let _ = format!("{verified:?}");
                    }
                    Err(error) => {
                        let _ = (error.to_string(), error.error_type().as_str());
                    }
                }
            }
            Err(error) => {
                let _ = (error.to_string(), error.error_type().as_str());
            }
        }
    }
    let _ = canonical_query_string(request.query);
});
