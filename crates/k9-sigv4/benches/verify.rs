//! Verification and signing cost of a typical API call, next to the AWS SDK's signer.
//!
//! The request: `POST /customer/C123456/account/123456789012/analysis` with a 60-byte JSON
//! body and five signed headers: `host`, `content-type`, `content-length`, `x-amz-date`,
//! `x-amz-security-token` (callers use temporary credentials from an assumed role).
//!
//! - `verify/warm_key_cache`: our verifier, signing key cached (the steady state);
//! - `verify/cold_key_cache`: our verifier with caching disabled, so every call derives the
//!   signing key (four more HMACs);
//! - `sign/k9_sigv4`: our signer;
//! - `sign/aws_sigv4`: the `aws-sigv4` crate signing the same request (what SDK clients pay).
//!
//! Target: warm verification at most 2 µs and at most a third of `aws-sigv4`'s signing.
//! Run: `cargo bench -p k9-sigv4 --bench verify`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SigningSettings as AwsSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use criterion::{criterion_group, criterion_main, Criterion};
use k9_sigv4::{
    sign_headers_cached, sign_with_header, Credentials, HttpRequest, LookupError, SecretLookup,
    SigningKeyCache, SigningParams, Verifier, VerifierConfig,
};

const ACCESS_KEY: &str = "ASIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKENFwoGZXIvYXdzEBYaDHhBTEXAMPLE";
const HOST: &str = "api.k9.example.com";
const PATH: &str = "/customer/C123456/account/123456789012/analysis";
const BODY: &[u8] = br#"{"window":"P1D","checks":["iam","s3"],"notify":false,"v":12}"#;
const REGION: &str = "us-east-1";
const SERVICE: &str = "execute-api";

/// A key store with one temporary key.
struct OneKey;

impl SecretLookup for OneKey {
    type Secret = &'static [u8];

    fn secret(&self, key: &str, token: Option<&str>) -> Result<&'static [u8], LookupError> {
        if key == ACCESS_KEY && token == Some(TOKEN) {
            Ok(SECRET.as_bytes())
        } else {
            Err(LookupError::Unrecognized)
        }
    }
}

fn signing_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_668_124_800)
}

fn benches(c: &mut Criterion) {
    assert_eq!(BODY.len(), 60);
    let content_length = BODY.len().to_string();
    let unsigned_headers: Vec<(&str, &[u8])> = vec![
        ("host", HOST.as_bytes()),
        ("content-type", b"application/json"),
        ("content-length", content_length.as_bytes()),
    ];
    let unsigned = HttpRequest {
        method: "POST",
        path: PATH,
        query: "",
        headers: &unsigned_headers,
        body: BODY,
    };
    let creds = Credentials::new(ACCESS_KEY, SECRET, Some(TOKEN.to_owned()));
    let params = SigningParams::new(REGION, SERVICE, signing_time());

    let signed = sign_with_header(&unsigned, &creds, &params).expect("signing");
    let mut signed_headers = unsigned_headers.clone();
    signed_headers.extend(
        signed
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes())),
    );
    let request = HttpRequest {
        headers: &signed_headers,
        ..unsigned
    };
    let authorization = &signed.headers.last().unwrap().1;
    assert!(
        authorization.contains(
            "SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token,"
        ),
        "{authorization}"
    );
    let now = signing_time() + Duration::from_secs(3);

    let warm = Verifier::new(VerifierConfig::new(REGION, SERVICE));
    warm.verify(&request, now, &OneKey).expect("verifies");
    let mut cold_config = VerifierConfig::new(REGION, SERVICE);
    cold_config.key_cache_capacity = 0;
    let cold = Verifier::new(cold_config);
    cold.verify(&request, now, &OneKey).expect("verifies");

    let mut group = c.benchmark_group("verify");
    group.bench_function("warm_key_cache", |b| {
        b.iter(|| warm.verify(black_box(&request), now, &OneKey).unwrap())
    });
    group.bench_function("cold_key_cache", |b| {
        b.iter(|| cold.verify(black_box(&request), now, &OneKey).unwrap())
    });
    group.finish();

    let identity: Identity =
        AwsCredentials::new(ACCESS_KEY, SECRET, Some(TOKEN.to_owned()), None, "bench").into();
    let aws_params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(SERVICE)
        .time(signing_time())
        .settings(AwsSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = format!("https://{HOST}{PATH}");
    let aws_headers = [
        ("host", HOST),
        ("content-type", "application/json"),
        ("content-length", content_length.as_str()),
    ];
    // Both signers must produce the same Authorization header, or the comparison is moot.
    let aws_signable = SignableRequest::new(
        "POST",
        uri.as_str(),
        aws_headers.iter().copied(),
        SignableBody::Bytes(BODY),
    )
    .unwrap();
    let (instructions, _) = sign(aws_signable, &aws_params).unwrap().into_parts();
    let aws_authorization = instructions
        .headers()
        .find(|(n, _)| *n == "authorization")
        .unwrap()
        .1;
    assert_eq!(aws_authorization, authorization);

    let mut group = c.benchmark_group("sign");
    group.bench_function("k9_sigv4", |b| {
        b.iter(|| sign_with_header(black_box(&unsigned), &creds, &params).unwrap())
    });
    // What a client sending many requests uses: only the headers, the derived key cached.
    let keys = SigningKeyCache::new(16);
    group.bench_function("k9_sigv4 headers only, cached key", |b| {
        b.iter(|| sign_headers_cached(black_box(&unsigned), &creds, &params, &keys).unwrap())
    });
    group.bench_function("aws_sigv4", |b| {
        b.iter(|| {
            let signable = SignableRequest::new(
                "POST",
                black_box(uri.as_str()),
                aws_headers.iter().copied(),
                SignableBody::Bytes(BODY),
            )
            .unwrap();
            sign(signable, &aws_params).unwrap()
        })
    });
    group.finish();
}

criterion_group!(verify, benches);
criterion_main!(verify);
