//! The verifier's rules, one test per rule, each named for the behaviour it pins. Messages
//! are AWS API Gateway's, byte for byte, and each failure maps to the `x-amzn-ErrorType`
//! AWS sends with it.
//!
//! Where we differ from garage (a Rust S3 server that verifies SigV4) we follow AWS, and the
//! test says so: garage accepts signatures up to 24 hours old, rejects repeated query keys and
//! only trims header values.

mod support;

use std::time::Duration;

use k9_sigv4::{
    presign, sign_with_header, AuthMechanism, Credentials, ErrorType, LookupError, SignError,
    SigningParams, VerifiedRequest, Verifier, VerifierConfig, VerifyError,
    MAX_PRESIGN_EXPIRES_SECONDS,
};
use support::{at, OneKey, OwnedRequest, SUITE_ACCESS_KEY, SUITE_SECRET};

const REGION: &str = "us-east-1";
const SERVICE: &str = "execute-api";
const SIGNED_AT: &str = "20221111T000000Z";

fn credentials() -> Credentials {
    Credentials::new(SUITE_ACCESS_KEY, SUITE_SECRET, None)
}

/// A typical API call, not yet signed.
fn api_call() -> OwnedRequest {
    OwnedRequest::new("POST", "/customer/C123456/analysis?mode=full")
        .header("Content-Type", "application/json")
        .body(br#"{"window":"P1D"}"#)
}

fn params(time: &str) -> SigningParams {
    SigningParams::new(REGION, SERVICE, at(time))
}

/// `request` signed with an `Authorization` header at `time`, after `tweak` adjusts the
/// signing parameters.
fn header_signed(
    request: &OwnedRequest,
    time: &str,
    tweak: impl FnOnce(&mut SigningParams),
) -> OwnedRequest {
    let mut params = params(time);
    tweak(&mut params);
    let out = request
        .with(|r| sign_with_header(r, &credentials(), &params))
        .expect("signing");
    request.clone().with_signed_headers(&out.headers)
}

/// `request` presigned at `time` for `expires_in` seconds.
fn presigned(request: &OwnedRequest, time: &str, expires_in: u64) -> OwnedRequest {
    let mut params = params(time);
    params.expires_in = expires_in;
    let out = request
        .with(|r| presign(r, &credentials(), &params))
        .expect("presigning");
    request.clone().with_query_params(&out.query_params)
}

fn verify_with(
    config: VerifierConfig,
    request: &OwnedRequest,
    now: &str,
    lookup: &OneKey,
) -> Result<VerifiedRequest, VerifyError> {
    let verifier = Verifier::new(config);
    request.with(|r| verifier.verify(r, at(now), lookup))
}

fn verify(request: &OwnedRequest, now: &str) -> Result<VerifiedRequest, VerifyError> {
    verify_with(
        VerifierConfig::new(REGION, SERVICE),
        request,
        now,
        &OneKey::suite(),
    )
}

/// Asserts `result` failed with AWS's `message` and `error_type`.
#[track_caller]
fn assert_rejected(
    result: Result<VerifiedRequest, VerifyError>,
    error_type: &str,
    message: &str,
) -> VerifyError {
    let error = result.expect_err("the request must be rejected");
    assert_eq!(error.to_string(), message);
    assert_eq!(error.error_type().as_str(), error_type);
    error
}

fn replace_authorization(request: OwnedRequest, from: &str, to: &str) -> OwnedRequest {
    let authorization = request.header_value("authorization").unwrap().to_owned();
    assert!(authorization.contains(from), "{authorization} lacks {from}");
    request.replace_header("authorization", authorization.replacen(from, to, 1))
}

#[test]
fn a_correctly_signed_request_is_accepted_with_who_and_what_it_was_signed_for() {
    let verified = verify(&header_signed(&api_call(), SIGNED_AT, |_| {}), SIGNED_AT)
        .expect("a signed request verifies");
    assert_eq!(verified.access_key_id, SUITE_ACCESS_KEY);
    assert_eq!(verified.mechanism, AuthMechanism::Header);
    assert_eq!(verified.scope.date, "20221111");
    assert_eq!(verified.scope.region, REGION);
    assert_eq!(verified.scope.service, SERVICE);
    assert_eq!(verified.session_token, None);

    let verified = verify(&presigned(&api_call(), SIGNED_AT, 900), SIGNED_AT)
        .expect("a presigned request verifies");
    assert_eq!(verified.mechanism, AuthMechanism::Presigned);
}

#[test]
fn missing_authentication_is_rejected_as_missing_token() {
    assert_rejected(
        verify(&api_call(), SIGNED_AT),
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    );
}

#[test]
fn both_auth_mechanisms_at_once_are_an_incomplete_signature() {
    let mut request = header_signed(&api_call(), SIGNED_AT, |_| {});
    request.query.push_str("&X-Amz-Algorithm=AWS4-HMAC-SHA256");
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified",
    );
}

#[test]
fn bearer_token_is_rejected_with_the_header_hashed_not_echoed() {
    // base64(sha256("Bearer x")), computed independently (Python hashlib).
    let request = api_call().header("Authorization", "Bearer x");
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): 'uTem/WB082UJMN2ajD6lH6UChGpTAddMJSx2iu923No='.",
    );
}

#[test]
fn missing_credential_signature_signed_headers_and_date_are_listed_in_one_message() {
    let request = api_call().header("Authorization", "AWS4-HMAC-SHA256 Foo=bar");
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "Authorization header requires 'Credential' parameter. \
         Authorization header requires 'Signature' parameter. \
         Authorization header requires 'SignedHeaders' parameter. \
         Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
         Authorization=AWS4-HMAC-SHA256 Foo=bar",
    );

    // Only what is missing is listed.
    let request = api_call().header("X-Amz-Date", SIGNED_AT).header(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20221111/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date",
    );
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "Authorization header requires 'Signature' parameter. \
         Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20221111/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date",
    );
}

#[test]
fn missing_presigned_parameters_are_listed_in_one_message() {
    let mut request = api_call();
    request.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20221111T000000Z".to_owned();
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "AWS query-string parameters must include 'X-Amz-Credential'. \
         AWS query-string parameters must include 'X-Amz-Signature'. \
         AWS query-string parameters must include 'X-Amz-SignedHeaders'. \
         AWS query-string parameters must include 'X-Amz-Expires'. \
         Re-examine the query-string parameters.",
    );
}

#[test]
fn host_must_be_a_signed_header() {
    let request = replace_authorization(
        header_signed(&api_call(), SIGNED_AT, |_| {}),
        "SignedHeaders=content-type;host;x-amz-date",
        "SignedHeaders=content-type;x-amz-date",
    );
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
}

#[test]
fn date_must_be_iso8601_basic_format() {
    let request = header_signed(&api_call(), SIGNED_AT, |_| {})
        .replace_header("x-amz-date", "2022-11-11T00:00:00Z");
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "Date must be in ISO-8601 'basic format'. Got '2022-11-11T00:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
    );
}

#[test]
fn expired_signature_is_rejected_with_aws_message() {
    let request = header_signed(&api_call(), "20221111T000000Z", |_| {});
    assert_rejected(
        verify(&request, "20221111T001000Z"),
        "InvalidSignatureException",
        "Signature expired: 20221111T000000Z is now earlier than 20221111T000500Z (20221111T001000Z - 5 min.)",
    );
}

#[test]
fn signature_is_valid_for_exactly_five_minutes_either_way() {
    // API Gateway's window is 5 minutes; garage's is 24 hours. We follow AWS.
    let request = header_signed(&api_call(), "20221111T000000Z", |_| {});
    assert!(verify(&request, "20221111T000500Z").is_ok());
    assert!(verify(&request, "20221111T000501Z").is_err());
    assert!(verify(&request, "20221110T235500Z").is_ok());
    assert!(verify(&request, "20221110T235459Z").is_err());
}

#[test]
fn future_signature_is_rejected_as_not_yet_current() {
    let request = header_signed(&api_call(), "20221111T001000Z", |_| {});
    assert_rejected(
        verify(&request, "20221111T000000Z"),
        "InvalidSignatureException",
        "Signature not yet current: 20221111T001000Z is still later than 20221111T000500Z (20221111T000000Z + 5 min.)",
    );
}

#[test]
fn clock_skew_is_configurable() {
    let request = header_signed(&api_call(), "20221111T000000Z", |_| {});
    let mut strict = VerifierConfig::new(REGION, SERVICE);
    strict.clock_skew = Duration::from_secs(60);
    assert_rejected(
        verify_with(strict, &request, "20221111T000200Z", &OneKey::suite()),
        "InvalidSignatureException",
        "Signature expired: 20221111T000000Z is now earlier than 20221111T000100Z (20221111T000200Z - 1 min.)",
    );

    let mut lenient = VerifierConfig::new(REGION, SERVICE);
    lenient.clock_skew = Duration::from_secs(15 * 60);
    assert!(verify_with(lenient, &request, "20221111T001000Z", &OneKey::suite()).is_ok());
}

#[test]
fn presigned_expiry_longer_than_a_week_is_rejected() {
    let week = MAX_PRESIGN_EXPIRES_SECONDS;
    assert_eq!(week, 604_800);
    let request = presigned(&api_call(), SIGNED_AT, week);
    assert!(
        verify(&request, SIGNED_AT).is_ok(),
        "exactly a week is allowed"
    );

    let mut too_long = request.clone();
    too_long.query = request
        .query
        .replace("X-Amz-Expires=604800", "X-Amz-Expires=604801");
    assert_rejected(
        verify(&too_long, SIGNED_AT),
        "IncompleteSignatureException",
        "X-Amz-Expires must be less than a week (in seconds) that is 604800",
    );

    // Our own signer refuses to make one.
    let mut params = params(SIGNED_AT);
    params.expires_in = week + 1;
    let refused = api_call().with(|r| presign(r, &credentials(), &params));
    assert_eq!(refused.unwrap_err(), SignError::ExpiresTooLong);
}

#[test]
fn presigned_expiry_is_honoured() {
    // Valid for X-Amz-Expires seconds after its date, however long that is...
    let request = presigned(&api_call(), "20221111T000000Z", 3600);
    assert!(verify(&request, "20221111T005959Z").is_ok());
    assert!(verify(&request, "20221111T010000Z").is_ok());
    assert_rejected(
        verify(&request, "20221111T010001Z"),
        "InvalidSignatureException",
        "Signature expired: 20221111T000000Z is now earlier than 20221111T000001Z (20221111T010001Z - 60 min.)",
    );
    // ... and however short, even below the 5-minute clock skew of header signatures.
    let short = presigned(&api_call(), "20221111T000000Z", 30);
    assert!(verify(&short, "20221111T000030Z").is_ok());
    assert!(verify(&short, "20221111T000031Z").is_err());
    // Dated too far in the future, it is not yet current.
    assert_eq!(
        verify(&request, "20221110T235400Z")
            .unwrap_err()
            .error_type()
            .as_str(),
        "InvalidSignatureException"
    );
    assert!(verify(&request, "20221110T235500Z").is_ok());
}

#[test]
fn presigned_expiry_must_be_a_number() {
    let mut request = presigned(&api_call(), SIGNED_AT, 900);
    request.query = request
        .query
        .replace("X-Amz-Expires=900", "X-Amz-Expires=soon");
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "X-Amz-Expires should be a number, not 'soon'",
    );
}

#[test]
fn credential_scoped_to_another_date_is_rejected() {
    let request = replace_authorization(
        header_signed(&api_call(), SIGNED_AT, |_| {}),
        "/20221111/",
        "/20221110/",
    );
    assert_rejected(
        verify(&request, SIGNED_AT),
        "InvalidSignatureException",
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20221110' != '20221111', from 'X-Amz-Date'.",
    );
}

#[test]
fn credential_scoped_to_another_region_is_rejected() {
    let request = header_signed(&api_call(), SIGNED_AT, |p| p.region = "eu-west-1".into());
    assert_rejected(
        verify(&request, SIGNED_AT),
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'eu-west-1'. ",
    );
}

#[test]
fn credential_scoped_to_another_service_is_rejected() {
    let request = header_signed(&api_call(), SIGNED_AT, |p| p.service = "lambda".into());
    assert_rejected(
        verify(&request, SIGNED_AT),
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'execute-api'. ",
    );
}

#[test]
fn credential_with_another_terminator_is_rejected() {
    let request = replace_authorization(
        header_signed(&api_call(), SIGNED_AT, |_| {}),
        "/aws4_request,",
        "/aws5_request,",
    );
    assert_rejected(
        verify(&request, SIGNED_AT),
        "InvalidSignatureException",
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
    );
}

#[test]
fn credential_must_have_five_parts() {
    let request = replace_authorization(
        header_signed(&api_call(), SIGNED_AT, |_| {}),
        "/execute-api/aws4_request,",
        "/aws4_request,",
    );
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20221111/us-east-1/aws4_request'",
    );
}

#[test]
fn content_sha256_header_must_match_the_body() {
    let request = header_signed(&api_call(), SIGNED_AT, |p| p.sign_payload_header = true);
    assert!(verify(&request, SIGNED_AT).is_ok());
    let tampered = request.body(br#"{"window":"P9D"}"#);
    assert_rejected(
        verify(&tampered, SIGNED_AT),
        "InvalidSignatureException",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
}

#[test]
fn body_is_signed_even_without_a_content_sha256_header() {
    let request = header_signed(&api_call(), SIGNED_AT, |_| {});
    let tampered = request.body(br#"{"window":"P9D"}"#);
    let error = verify(&tampered, SIGNED_AT).unwrap_err();
    assert!(
        matches!(error, VerifyError::SignatureMismatch { .. }),
        "{error:?}"
    );
}

#[test]
fn unknown_access_key_is_an_unrecognized_client() {
    let request = header_signed(&api_call(), SIGNED_AT, |_| {});
    let other_key = OneKey::new("AKIDOTHER", SUITE_SECRET, None);
    assert_rejected(
        verify_with(
            VerifierConfig::new(REGION, SERVICE),
            &request,
            SIGNED_AT,
            &other_key,
        ),
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
}

#[test]
fn expired_session_credentials_are_an_expired_token() {
    let request = header_signed(&api_call(), SIGNED_AT, |_| {});
    let mut expired = OneKey::suite();
    expired.fail_with = Some(LookupError::Expired);
    assert_rejected(
        verify_with(
            VerifierConfig::new(REGION, SERVICE),
            &request,
            SIGNED_AT,
            &expired,
        ),
        "ExpiredTokenException",
        "The security token included in the request is expired",
    );
}

#[test]
fn session_token_is_passed_to_the_key_lookup() {
    let token = "FwoGZXIvYXdzEXAMPLETOKEN";
    let temporary = Credentials::new(SUITE_ACCESS_KEY, SUITE_SECRET, Some(token.to_owned()));
    let out = api_call()
        .with(|r| sign_with_header(r, &temporary, &params(SIGNED_AT)))
        .unwrap();
    let request = api_call().with_signed_headers(&out.headers);
    let config = || VerifierConfig::new(REGION, SERVICE);
    let right = OneKey::new(SUITE_ACCESS_KEY, SUITE_SECRET, Some(token));
    let verified = verify_with(config(), &request, SIGNED_AT, &right).unwrap();
    assert_eq!(verified.session_token.as_deref(), Some(token));
    let wrong = OneKey::new(SUITE_ACCESS_KEY, SUITE_SECRET, Some("another token"));
    assert_eq!(
        verify_with(config(), &request, SIGNED_AT, &wrong)
            .unwrap_err()
            .error_type(),
        ErrorType::UnrecognizedClient
    );
}

#[test]
fn signature_mismatch_message_echoes_canonical_request_and_string_to_sign() {
    let unsigned = api_call();
    let out = unsigned
        .with(|r| sign_with_header(r, &credentials(), &params(SIGNED_AT)))
        .unwrap();
    let request = unsigned.with_signed_headers(&out.headers);
    let wrong_secret = OneKey::new(SUITE_ACCESS_KEY, "not-the-secret", None);
    let expected = format!(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n\
         The Canonical String for this request should have been\n'{}'\n\n\
         The String-to-Sign should have been\n'{}'\n",
        out.canonical_request, out.string_to_sign
    );
    assert_rejected(
        verify_with(
            VerifierConfig::new(REGION, SERVICE),
            &request,
            SIGNED_AT,
            &wrong_secret,
        ),
        "InvalidSignatureException",
        &expected,
    );
}

#[test]
fn repeated_query_keys_are_accepted_and_sorted_by_value() {
    // The spec sorts parameters by key, then value, and AWS accepts repeated keys (see the
    // legacy suite's get-vanilla-query-order-key). garage rejects them; we follow AWS.
    let mut unsigned = api_call();
    unsigned.query = "tag=b&tag=a&mode=full&tag=a".to_owned();
    let out = unsigned
        .with(|r| sign_with_header(r, &credentials(), &params(SIGNED_AT)))
        .unwrap();
    assert_eq!(
        out.canonical_request.lines().nth(2),
        Some("mode=full&tag=a&tag=a&tag=b")
    );
    let request = unsigned.with_signed_headers(&out.headers);
    assert!(verify(&request, SIGNED_AT).is_ok());
    assert!(verify(
        &presigned(&request.without_header("authorization"), SIGNED_AT, 60),
        SIGNED_AT
    )
    .is_ok());
}

#[test]
fn header_values_are_trimmed_and_inner_spaces_folded() {
    // AWS trims a header value and folds each inner run of spaces into one; garage only
    // trims, so it would reject a request whose spacing a proxy changed. We follow AWS.
    let unsigned = api_call().header("X-Note", "a b c");
    let out = unsigned
        .with(|r| sign_with_header(r, &credentials(), &params(SIGNED_AT)))
        .unwrap();
    assert!(out.canonical_request.contains("\nx-note:a b c\n"));
    let signed = unsigned.with_signed_headers(&out.headers);
    let respaced = signed.clone().replace_header("x-note", "  a   b    c  ");
    assert!(verify(&respaced, SIGNED_AT).is_ok());

    // Only spaces fold: a tab is part of the value.
    let tabbed = signed.replace_header("x-note", "a\tb c");
    assert!(verify(&tabbed, SIGNED_AT).is_err());
}

#[test]
fn unsigned_headers_may_change() {
    let signed = header_signed(&api_call(), SIGNED_AT, |_| {});
    let with_extra = signed
        .header("User-Agent", "curl/8")
        .header("X-Forwarded-For", "10.0.0.1");
    assert!(verify(&with_extra, SIGNED_AT).is_ok());
}

#[test]
fn error_types_map_to_aws_exception_names() {
    let text = || "x".to_owned();
    let cases = [
        (
            VerifyError::MissingAuthenticationToken,
            "MissingAuthenticationTokenException",
        ),
        (
            VerifyError::MultipleAuthMechanisms,
            "IncompleteSignatureException",
        ),
        (
            VerifyError::MalformedAuthorization {
                header_sha256_base64: text(),
            },
            "IncompleteSignatureException",
        ),
        (
            VerifyError::MissingParameters { message: text() },
            "IncompleteSignatureException",
        ),
        (
            VerifyError::InvalidParameter { message: text() },
            "IncompleteSignatureException",
        ),
        (VerifyError::HostNotSigned, "IncompleteSignatureException"),
        (
            VerifyError::SignatureExpired {
                signed_at: text(),
                earliest: text(),
                now: text(),
                window: text(),
            },
            "InvalidSignatureException",
        ),
        (
            VerifyError::SignatureNotYetCurrent {
                signed_at: text(),
                latest: text(),
                now: text(),
                window: text(),
            },
            "InvalidSignatureException",
        ),
        (
            VerifyError::WrongScope { message: text() },
            "InvalidSignatureException",
        ),
        (
            VerifyError::ContentSha256Mismatch,
            "InvalidSignatureException",
        ),
        (
            VerifyError::SignatureMismatch {
                canonical_request: text(),
                string_to_sign: text(),
            },
            "InvalidSignatureException",
        ),
        (
            VerifyError::UnrecognizedClient,
            "UnrecognizedClientException",
        ),
        (VerifyError::ExpiredToken, "ExpiredTokenException"),
    ];
    for (error, expected) in cases {
        assert_eq!(error.error_type().as_str(), expected, "{error:?}");
    }
}

#[test]
fn signed_headers_may_not_repeat_a_name() {
    // Each listed name copies that header's values into the canonical request again: a
    // repeated name would let a small request make the verifier hash megabytes.
    let request = replace_authorization(
        header_signed(&api_call(), SIGNED_AT, |_| {}),
        "SignedHeaders=content-type;host;x-amz-date",
        "SignedHeaders=content-type;host;x-amz-date;Host",
    );
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "SignedHeaders must list each header once, not 'host' twice",
    );
}

#[test]
fn signed_headers_in_another_order_are_used_in_that_order() {
    // Unsorted lists are not rejected: the canonical request follows the list as sent, so
    // a signer that listed them in this order and signed accordingly verifies.
    let request = replace_authorization(
        header_signed(&api_call(), SIGNED_AT, |_| {}),
        "SignedHeaders=content-type;host;x-amz-date",
        "SignedHeaders=host;content-type;x-amz-date",
    );
    let error = verify(&request, SIGNED_AT).unwrap_err();
    let VerifyError::SignatureMismatch {
        canonical_request, ..
    } = error
    else {
        panic!("{error:?}");
    };
    assert!(
        canonical_request.contains("\nhost:example.amazonaws.com\ncontent-type:application/json\n")
    );
    assert!(canonical_request.contains("\nhost;content-type;x-amz-date\n"));
}

#[test]
fn a_signed_header_absent_from_the_request_is_named_in_the_refusal() {
    // No standard signer lists a header it does not send. Refusing such a list before the
    // canonical request is built keeps every signature tied to a host that was really sent
    // (`:authority` does not exist on HTTP/1.1) and bounds the verifier's work.
    let request = replace_authorization(
        header_signed(&api_call(), SIGNED_AT, |_| {}),
        "SignedHeaders=content-type;host;x-amz-date",
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target",
    );
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "Header 'x-amz-target' is listed in SignedHeaders but is not present in the request",
    );

    let request = replace_authorization(
        header_signed(&api_call(), SIGNED_AT, |_| {}),
        "SignedHeaders=content-type;host;x-amz-date",
        "SignedHeaders=:authority;content-type;x-amz-date",
    );
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "Header ':authority' is listed in SignedHeaders but is not present in the request",
    );
}

#[test]
fn a_huge_signed_header_list_is_refused_at_its_first_absent_name() {
    // Tens of thousands of distinct names (a few hundred kilobytes, within hyper's header
    // limit): refused with the first name the request lacks, not after a lookup of each.
    let many: Vec<String> = (0..50_000).map(|i| format!("x-{i:05}")).collect();
    let list = format!("content-type;host;x-amz-date;{}", many.join(";"));
    let request = replace_authorization(
        header_signed(&api_call(), SIGNED_AT, |_| {}),
        "SignedHeaders=content-type;host;x-amz-date",
        &format!("SignedHeaders={list}"),
    );
    assert_rejected(
        verify(&request, SIGNED_AT),
        "IncompleteSignatureException",
        "Header 'x-00000' is listed in SignedHeaders but is not present in the request",
    );
}

#[test]
fn x_amz_signature_in_the_query_is_signed_when_the_header_carries_the_signature() {
    // Only presigned requests take their signature out of the canonical query. With an
    // `Authorization` header, a parameter named X-Amz-Signature is an ordinary signed one:
    // it verifies when the signer signed it, and adding it afterwards breaks the signature.
    let with_parameter = OwnedRequest::new(
        "GET",
        "/customer/C123456/analysis?X-Amz-Signature=abc&limit=5",
    );
    verify(
        &header_signed(&with_parameter, SIGNED_AT, |_| {}),
        SIGNED_AT,
    )
    .expect("a signer that signed the parameter is accepted");

    let signed = header_signed(
        &OwnedRequest::new("GET", "/customer/C123456/analysis?limit=5"),
        SIGNED_AT,
        |_| {},
    );
    let authorization = signed.header_value("authorization").unwrap().to_owned();
    let tampered = OwnedRequest::new(
        "GET",
        "/customer/C123456/analysis?limit=5&X-Amz-Signature=abc",
    )
    .with_signed_headers(&[
        ("x-amz-date".to_owned(), SIGNED_AT.to_owned()),
        ("authorization".to_owned(), authorization),
    ]);
    let error = verify(&tampered, SIGNED_AT).unwrap_err();
    assert!(
        matches!(error, VerifyError::SignatureMismatch { .. }),
        "{error:?}"
    );
}
