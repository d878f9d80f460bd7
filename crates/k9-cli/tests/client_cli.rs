//! The `k9 analyze` / `k9 analysis` commands as a user runs them: the built binary against
//! a canned local HTTP server, with credentials from a controlled environment (the
//! developer's own ~/.aws is never read, and EC2 metadata is never asked).

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ENV_KEY: &str = "AKIAENVEXAMPLE000001";
const ENV_SECRET: &str = "envSecretDoNotPrint/abcdefghijklmnopqrstu";
const PROFILE_KEY: &str = "AKIAPROFILEK9TEST001";
const PROFILE_SECRET: &str = "profileSecretDoNotPrint/abcdefghijklmnop";

const EXECUTION_ID: &str = "ondemand-C123456-123456789012-2024-05-06_AB12";
const TRIGGERED: &str = r#"{"customerId":"C123456","accountId":"123456789012","executionId":"ondemand-C123456-123456789012-2024-05-06_AB12"}"#;
const EXECUTION: &str = r#"{"executionId":"ondemand-C123456-123456789012-2024-05-06_AB12","customerId":"C123456","accountId":"123456789012","status":"failed","requestedBy":"arn:aws:iam::123456789012:user/alice","requestedAt":"2024-05-06T07:08:09Z","startedAt":"2024-05-06T07:08:10Z","finishedAt":"2024-05-06T07:09:00Z","error":"cannot assume the k9 audit role"}"#;
const NOT_AUTHORIZED: &str = "Caller is not authorized to trigger analysis for k9 customerId (C123456) and accountId (123456789012)";

// ---------------------------------------------------------------------------------------
// A canned HTTP server: answers each request with the next scripted response (repeating
// the last) and records the request line, headers and body.

#[derive(Debug, Clone)]
struct Recorded {
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn credential_scope(&self) -> &str {
        let authorization = self.header("authorization").expect("request is signed");
        authorization
            .split("Credential=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .expect("Credential= in Authorization")
    }
}

#[derive(Debug, Clone)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn json(status: u16, body: &str) -> Canned {
    Canned {
        status,
        headers: vec![("x-amzn-RequestId", "req-ok".into())],
        body: body.to_owned(),
    }
}

fn aws_error(status: u16, error_type: &str, message: &str) -> Canned {
    Canned {
        status,
        headers: vec![
            ("x-amzn-RequestId", "req-7f3a".into()),
            ("x-amzn-ErrorType", error_type.into()),
        ],
        body: serde_json::json!({ "message": message }).to_string(),
    }
}

struct Server {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    connections: Arc<Mutex<u32>>,
}

impl Server {
    async fn start(script: Vec<Canned>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (recorded, counted) = (requests.clone(), connections.clone());
        tokio::spawn(async move {
            let mut served = 0usize;
            while let Ok((stream, _)) = listener.accept().await {
                *counted.lock().unwrap() += 1;
                let canned = script[served.min(script.len() - 1)].clone();
                served += 1;
                tokio::spawn(serve(stream, canned, recorded.clone()));
            }
        });
        Self {
            url,
            requests,
            connections,
        }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    fn connections(&self) -> u32 {
        *self.connections.lock().unwrap()
    }

    /// `host:port`, for `--api`.
    fn host(&self) -> &str {
        self.url.trim_start_matches("http://")
    }
}

async fn serve(mut stream: TcpStream, canned: Canned, recorded: Arc<Mutex<Vec<Recorded>>>) {
    let Some(request) = read_request(&mut stream).await else {
        // Not HTTP (a TLS ClientHello): answer as a plain HTTP server would.
        let _ = stream
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    recorded.lock().unwrap().push(request);
    let mut response = format!("HTTP/1.1 {} Canned\r\n", canned.status);
    for (name, value) in canned.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        canned.body.len(),
        canned.body
    ));
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if !buffer[0].is_ascii_uppercase() {
            return None;
        }
    };
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?.to_owned();
    let mut lines = head.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        target,
        headers,
        body,
    })
}

async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

// ---------------------------------------------------------------------------------------
// Running the binary in a sealed environment.

/// An environment with nothing from the developer's: a temp HOME, empty AWS config files,
/// EC2 metadata disabled, no proxies. Credentials are added per test.
struct Sandbox {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config");
        let credentials = dir.path().join("credentials");
        std::fs::write(&config, "").unwrap();
        std::fs::write(&credentials, "").unwrap();
        let env = vec![
            ("HOME".into(), path(dir.path())),
            ("AWS_CONFIG_FILE".into(), path(&config)),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), path(&credentials)),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        Self { dir, env }
    }

    /// With access keys in the environment.
    fn with_env_keys() -> Self {
        Self::new()
            .env("AWS_ACCESS_KEY_ID", ENV_KEY)
            .env("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    }

    fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    fn credentials_file(self, contents: &str) -> Self {
        std::fs::write(self.dir.path().join("credentials"), contents).unwrap();
        self
    }

    fn config_file(self, contents: &str) -> Self {
        std::fs::write(self.dir.path().join("config"), contents).unwrap();
        self
    }

    async fn run(&self, args: &[&str]) -> Run {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_k9"));
        command.args(args).env_clear().kill_on_drop(true);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let started = Instant::now();
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("k9 finished within 60 s")
            .expect("k9 ran");
        Run::new(output, started.elapsed())
    }
}

fn path(path: &Path) -> String {
    path.to_str().expect("utf-8 temp path").to_owned()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn new(output: Output, elapsed: Duration) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed,
        }
    }

    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    fn assert_stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    fn assert_no_secrets(&self) -> &Self {
        for secret in [ENV_SECRET, PROFILE_SECRET] {
            assert!(!self.stdout.contains(secret) && !self.stderr.contains(secret));
        }
        self
    }
}

fn analyze(endpoint: &str) -> Vec<String> {
    [
        "analyze",
        "account",
        "--customer-id",
        "C123456",
        "--account",
        "123456789012",
        "--endpoint-url",
        endpoint,
    ]
    .map(String::from)
    .to_vec()
}

async fn run_analyze(sandbox: &Sandbox, endpoint: &str, extra: &[&str]) -> Run {
    let mut args = analyze(endpoint);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sandbox.run(&args).await
}

// ---------------------------------------------------------------------------------------
// Usage errors: exit 2, nothing sent.

#[tokio::test]
async fn invalid_customer_id_is_a_usage_error_and_nothing_is_sent() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let run = Sandbox::with_env_keys()
        .run(&[
            "analyze",
            "account",
            "--customer-id",
            "X12",
            "--account",
            "123456789012",
            "--endpoint-url",
            &server.url,
        ])
        .await;
    run.assert_code(2)
        .assert_stderr_has("invalid customer id 'X12'");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn invalid_account_and_execution_ids_are_usage_errors() {
    let sandbox = Sandbox::with_env_keys();
    sandbox
        .run(&[
            "analyze",
            "account",
            "--customer-id",
            "C123456",
            "--account",
            "12345",
        ])
        .await
        .assert_code(2)
        .assert_stderr_has("invalid account id '12345'");
    sandbox
        .run(&[
            "analysis",
            "get",
            "ondemand-C123456-123456789012-2024-13-40_AB12",
        ])
        .await
        .assert_code(2)
        .assert_stderr_has("invalid execution id");
    sandbox
        .run(&[
            "analysis",
            "list",
            "--customer-id",
            "C123456",
            "--account",
            "123456789012",
            "--limit",
            "0",
        ])
        .await
        .assert_code(2);
    // The server's largest page is 100: more is a usage error here, not a 400 later.
    sandbox
        .run(&[
            "analysis",
            "list",
            "--customer-id",
            "C123456",
            "--account",
            "123456789012",
            "--limit",
            "101",
        ])
        .await
        .assert_code(2)
        .assert_stderr_has("1..=100");
}

#[tokio::test]
async fn api_together_with_endpoint_url_is_a_usage_error() {
    Sandbox::with_env_keys()
        .run(&[
            "analyze",
            "account",
            "--customer-id",
            "C123456",
            "--account",
            "123456789012",
            "--api",
            "api.example.com",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ])
        .await
        .assert_code(2)
        .assert_stderr_has("cannot be used with");
}

#[tokio::test]
async fn bad_endpoint_and_bad_ca_file_are_usage_errors_even_without_credentials() {
    let sandbox = Sandbox::new();
    run_analyze(&sandbox, "api.k9security.io", &[])
        .await
        .assert_code(2)
        .assert_stderr_has("error: invalid endpoint URL `api.k9security.io`: it needs a scheme");
    let not_pem = sandbox.dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    run_analyze(
        &sandbox,
        "https://127.0.0.1:1",
        &["--ca-cert", &path(&not_pem)],
    )
    .await
    .assert_code(2)
    .assert_stderr_has("PEM");
}

#[tokio::test]
async fn unreadable_ca_cert_is_a_usage_error() {
    let run = run_analyze(
        &Sandbox::with_env_keys(),
        "https://127.0.0.1:1",
        &["--ca-cert", "/nonexistent/ca.pem"],
    )
    .await;
    run.assert_code(2)
        .assert_stderr_has("cannot read the CA certificate file /nonexistent/ca.pem");
}

// ---------------------------------------------------------------------------------------
// Success.

#[tokio::test]
async fn trigger_prints_the_exact_success_line() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let run = run_analyze(&Sandbox::with_env_keys(), &server.url, &[]).await;
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!(
            "Started analysis for C123456 account 123456789012 with execution ID: {EXECUTION_ID}\n"
        )
    );
    let request = &server.requests()[0];
    assert_eq!(
        request.target,
        "/customer/C123456/account/123456789012/analysis"
    );
    assert_eq!(
        request.body,
        br#"{"customerId":"C123456","accountId":"123456789012"}"#
    );
    assert!(request
        .credential_scope()
        .starts_with(&format!("{ENV_KEY}/")));
    assert!(request
        .credential_scope()
        .ends_with("/us-east-1/execute-api/aws4_request"));
}

#[tokio::test]
async fn trigger_with_json_output_prints_the_api_json() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let run = run_analyze(
        &Sandbox::with_env_keys(),
        &server.url,
        &["--output", "json"],
    )
    .await;
    run.assert_code(0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    let sent: serde_json::Value = serde_json::from_str(TRIGGERED).unwrap();
    assert_eq!(printed, sent);
}

#[tokio::test]
async fn original_k9_cli_spellings_customer_id_underscore_parses() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let run = Sandbox::with_env_keys()
        .run(&[
            "analyze",
            "account",
            "--customer_id",
            "C123456",
            "--account",
            "123456789012",
            "--endpoint-url",
            &server.url,
        ])
        .await;
    run.assert_code(0);
    assert!(run.stdout.starts_with("Started analysis for C123456"));
}

#[tokio::test]
async fn original_k9_cli_api_flag_means_https_to_that_host() {
    // The canned server speaks plain HTTP, so reaching it over HTTPS fails the handshake:
    // proof that `--api HOST` parsed and became https://HOST.
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let run = Sandbox::with_env_keys()
        .run(&[
            "analyze",
            "account",
            "--customer_id",
            "C123456",
            "--account",
            "123456789012",
            "--api",
            server.host(),
        ])
        .await;
    run.assert_code(4)
        .assert_stderr_has(&format!("https://{}", server.host()))
        .assert_stderr_has("--ca-cert")
        // The commonest self-signed mistake: a CA certificate used as the server's own.
        .assert_stderr_has("CaUsedAsEndEntity");
    assert_eq!(server.connections(), 1, "a TLS failure is not retried");
}

#[tokio::test]
async fn endpoint_comes_from_k9_endpoint_url_and_does_not_conflict_with_api() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let sandbox = Sandbox::with_env_keys().env("K9_ENDPOINT_URL", &server.url);
    sandbox
        .run(&[
            "analyze",
            "account",
            "--customer-id",
            "C123456",
            "--account",
            "123456789012",
        ])
        .await
        .assert_code(0);
    assert_eq!(server.requests().len(), 1);
    // --api on the command line wins over the environment variable, without a conflict.
    let port = closed_port().await;
    sandbox
        .run(&[
            "analyze",
            "account",
            "--customer-id",
            "C123456",
            "--account",
            "123456789012",
            "--api",
            &format!("127.0.0.1:{port}"),
        ])
        .await
        .assert_code(4)
        .assert_stderr_has(&format!("https://127.0.0.1:{port}"));
}

#[tokio::test]
async fn signing_region_is_k9_region_not_the_aws_default_region() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let sandbox = Sandbox::with_env_keys()
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_DEFAULT_REGION", "eu-west-1");
    run_analyze(&sandbox, &server.url, &[]).await.assert_code(0);
    assert!(server.requests()[0]
        .credential_scope()
        .contains("/us-east-1/execute-api/"));

    run_analyze(
        &sandbox.env("K9_REGION", "ap-southeast-2"),
        &server.url,
        &[],
    )
    .await
    .assert_code(0);
    assert!(server.requests()[1]
        .credential_scope()
        .contains("/ap-southeast-2/execute-api/"));

    run_analyze(
        &Sandbox::with_env_keys(),
        &server.url,
        &["--region", "eu-north-1"],
    )
    .await
    .assert_code(0);
    assert!(server.requests()[2]
        .credential_scope()
        .contains("/eu-north-1/execute-api/"));
}

#[tokio::test]
async fn session_token_from_the_environment_is_sent() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let sandbox = Sandbox::with_env_keys().env("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLE+token==");
    run_analyze(&sandbox, &server.url, &[]).await.assert_code(0);
    assert_eq!(
        server.requests()[0].header("x-amz-security-token"),
        Some("FwoGZXIvYXdzEXAMPLE+token==")
    );
}

#[tokio::test]
async fn profile_flag_signs_with_that_profiles_key_even_when_env_keys_exist() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let sandbox = Sandbox::with_env_keys().credentials_file(&format!(
        "[default]\naws_access_key_id = AKIADEFAULTPROFILE01\naws_secret_access_key = x\n\n\
         [k9test]\naws_access_key_id = {PROFILE_KEY}\naws_secret_access_key = {PROFILE_SECRET}\n"
    ));
    run_analyze(&sandbox, &server.url, &["--profile", "k9test"])
        .await
        .assert_code(0);
    let scope = server.requests()[0].credential_scope().to_owned();
    assert!(scope.starts_with(&format!("{PROFILE_KEY}/")), "{scope}");
    assert!(
        scope.ends_with("/us-east-1/execute-api/aws4_request"),
        "{scope}"
    );
}

#[tokio::test]
async fn aws_profile_variable_selects_the_profile_when_no_env_keys() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let sandbox = Sandbox::new()
        .env("AWS_PROFILE", "k9test")
        .credentials_file(&format!(
        "[k9test]\naws_access_key_id = {PROFILE_KEY}\naws_secret_access_key = {PROFILE_SECRET}\n"
    ));
    run_analyze(&sandbox, &server.url, &[]).await.assert_code(0);
    assert!(server.requests()[0]
        .credential_scope()
        .starts_with(&format!("{PROFILE_KEY}/")));
}

#[tokio::test]
async fn get_prints_the_execution_and_reads_ids_from_the_execution_id() {
    let server = Server::start(vec![json(200, EXECUTION)]).await;
    let run = Sandbox::with_env_keys()
        .run(&[
            "analysis",
            "get",
            EXECUTION_ID,
            "--endpoint-url",
            &server.url,
        ])
        .await;
    run.assert_code(0);
    assert_eq!(
        server.requests()[0].target,
        format!("/customer/C123456/account/123456789012/analysis/{EXECUTION_ID}")
    );
    for expected in [
        EXECUTION_ID,
        "Status:       failed",
        "arn:aws:iam::123456789012:user/alice",
        "2024-05-06T07:08:09Z",
        "Error:        cannot assume the k9 audit role",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing:\n{}",
            run.stdout
        );
    }
}

#[tokio::test]
async fn list_prints_a_table_and_passes_paging_parameters() {
    let page =
        format!(r#"{{"executions":[{EXECUTION},{EXECUTION}],"nextToken":"eyJwYWdlIjoyfQ=="}}"#);
    let server = Server::start(vec![json(200, &page)]).await;
    let run = Sandbox::with_env_keys()
        .run(&[
            "analysis",
            "list",
            "--customer-id",
            "C123456",
            "--account",
            "123456789012",
            "--limit",
            "2",
            "--next-token",
            "abc+/=",
            "--endpoint-url",
            &server.url,
        ])
        .await;
    run.assert_code(0);
    assert_eq!(
        server.requests()[0].target,
        "/customer/C123456/account/123456789012/analysis?limit=2&nextToken=abc%2B%2F%3D"
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("EXECUTION ID"), "{}", run.stdout);
    assert!(lines[0].contains("STATUS") && lines[0].contains("REQUESTED BY"));
    assert_eq!(
        lines[1].find("failed"),
        lines[0].find("STATUS"),
        "aligned:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("--next-token eyJwYWdlIjoyfQ=="),
        "{}",
        run.stdout
    );

    let run = Sandbox::with_env_keys()
        .run(&[
            "analysis",
            "list",
            "--customer-id",
            "C123456",
            "--account",
            "123456789012",
            "--endpoint-url",
            &server.url,
            "--output",
            "json",
        ])
        .await;
    run.assert_code(0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed["executions"].as_array().map(Vec::len), Some(2));
    assert_eq!(printed["nextToken"], "eyJwYWdlIjoyfQ==");
    assert_eq!(printed["executions"][0]["executionId"], EXECUTION_ID);
}

// ---------------------------------------------------------------------------------------
// Refusals and failures.

#[tokio::test]
async fn access_denied_exits_3_with_the_servers_message_and_an_approval_hint() {
    let server = Server::start(vec![aws_error(
        403,
        "AccessDeniedException",
        NOT_AUTHORIZED,
    )])
    .await;
    let sandbox = Sandbox::new().credentials_file(&format!(
        "[base]\naws_access_key_id = {PROFILE_KEY}\naws_secret_access_key = {PROFILE_SECRET}\n"
    ));
    let run = run_analyze(&sandbox, &server.url, &["--profile", "base"]).await;
    run.assert_code(3)
        .assert_stderr_has(&format!("error: {NOT_AUTHORIZED}\n"))
        .assert_stderr_has("HTTP 403, AccessDeniedException, request id req-7f3a")
        .assert_stderr_has("hint:")
        .assert_stderr_has("****************T001")
        .assert_stderr_has("profile 'base'")
        .assert_stderr_has("aws sts get-caller-identity --profile base")
        .assert_stderr_has("k9 administrator")
        .assert_no_secrets();
    assert!(
        !run.stderr.contains(PROFILE_KEY),
        "the full key id is not printed"
    );
    assert_eq!(server.requests().len(), 1, "403 is not retried");
}

#[tokio::test]
async fn role_profile_is_assumed_through_sts_and_the_hint_names_the_role() {
    // STS is pointed at the canned server (AWS_ENDPOINT_URL_STS): its first answer is the
    // AssumeRole result, its second the k9 API's refusal. The profile sets no region, which
    // must not stop the role from being assumed.
    const ASSUMED: &str = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId><Arn>arn:aws:sts::111122223333:assumed-role/k9-automation/s</Arn></AssumedRoleUser><Credentials><AccessKeyId>ASIAROLEEXAMPLE00001</AccessKeyId><SecretAccessKey>roleSecretDoNotPrint</SecretAccessKey><SessionToken>roleSessionToken</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata></AssumeRoleResponse>";
    let server = Server::start(vec![
        Canned {
            status: 200,
            headers: Vec::new(),
            body: ASSUMED.to_owned(),
        },
        aws_error(403, "AccessDeniedException", NOT_AUTHORIZED),
    ])
    .await;
    let sandbox = Sandbox::with_env_keys()
        .env("AWS_ENDPOINT_URL_STS", &server.url)
        .config_file(
            "[profile k9role]\nrole_arn = arn:aws:iam::111122223333:role/k9-automation\nsource_profile = base\n",
        )
        .credentials_file(&format!(
            "[base]\naws_access_key_id = {PROFILE_KEY}\naws_secret_access_key = {PROFILE_SECRET}\n"
        ));
    let run = run_analyze(&sandbox, &server.url, &["--profile", "k9role"]).await;
    run.assert_code(3)
        .assert_stderr_has(&format!("error: {NOT_AUTHORIZED}\n"))
        .assert_stderr_has(
            "from profile 'k9role', which assumes role arn:aws:iam::111122223333:role/k9-automation",
        )
        .assert_stderr_has("aws sts get-caller-identity --profile k9role")
        .assert_no_secrets();
    assert!(
        !run.stderr.contains("roleSecretDoNotPrint") && !run.stderr.contains("roleSessionToken")
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // AssumeRole was signed with the source profile's key, not the environment's...
    assert!(requests[0]
        .credential_scope()
        .starts_with(&format!("{PROFILE_KEY}/")));
    assert!(String::from_utf8_lossy(&requests[0].body).contains("Action=AssumeRole"));
    // ...and the k9 request with the role's temporary credentials.
    assert!(requests[1]
        .credential_scope()
        .starts_with("ASIAROLEEXAMPLE00001/"));
    assert!(requests[1]
        .credential_scope()
        .ends_with("/us-east-1/execute-api/aws4_request"));
    assert_eq!(
        requests[1].header("x-amz-security-token"),
        Some("roleSessionToken")
    );
}

#[tokio::test]
async fn access_denied_with_env_keys_says_where_the_key_came_from() {
    let server = Server::start(vec![aws_error(
        403,
        "AccessDeniedException",
        NOT_AUTHORIZED,
    )])
    .await;
    run_analyze(&Sandbox::with_env_keys(), &server.url, &[])
        .await
        .assert_code(3)
        .assert_stderr_has("****************0001 from the AWS_ACCESS_KEY_ID environment variable")
        .assert_no_secrets();
}

#[tokio::test]
async fn invalid_signature_exits_3_with_clock_and_secret_hint() {
    let server = Server::start(vec![aws_error(
        403,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    )])
    .await;
    run_analyze(&Sandbox::with_env_keys(), &server.url, &[])
        .await
        .assert_code(3)
        .assert_stderr_has("error: The request signature we calculated does not match")
        .assert_stderr_has("clock")
        .assert_stderr_has("--region (us-east-1)")
        .assert_no_secrets();
}

#[tokio::test]
async fn unrecognized_client_and_expired_token_exit_3_with_their_hints() {
    let server = Server::start(vec![aws_error(
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )])
    .await;
    run_analyze(&Sandbox::with_env_keys(), &server.url, &[])
        .await
        .assert_code(3)
        .assert_stderr_has("is not known to this k9 server");
    let server = Server::start(vec![aws_error(
        403,
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )])
    .await;
    run_analyze(&Sandbox::with_env_keys(), &server.url, &[])
        .await
        .assert_code(3)
        .assert_stderr_has("refresh");
}

#[tokio::test]
async fn bad_request_and_not_found_exit_5() {
    let server = Server::start(vec![aws_error(
        400,
        "BadRequestException",
        "accountId: expected 12 digits",
    )])
    .await;
    run_analyze(&Sandbox::with_env_keys(), &server.url, &[])
        .await
        .assert_code(5)
        .assert_stderr_has("error: accountId: expected 12 digits");
    assert_eq!(server.requests().len(), 1, "400 is not retried");

    let server = Server::start(vec![aws_error(
        404,
        "NotFoundException",
        "no such execution",
    )])
    .await;
    Sandbox::with_env_keys()
        .run(&[
            "analysis",
            "get",
            EXECUTION_ID,
            "--endpoint-url",
            &server.url,
        ])
        .await
        .assert_code(5)
        .assert_stderr_has("error: no such execution");
}

#[tokio::test]
async fn persistent_5xx_exits_4_after_retries() {
    let server = Server::start(vec![aws_error(
        503,
        "ServiceUnavailableException",
        "try later",
    )])
    .await;
    run_analyze(&Sandbox::with_env_keys(), &server.url, &[])
        .await
        .assert_code(4)
        .assert_stderr_has("HTTP 503")
        .assert_stderr_has("request id req-7f3a");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_5xx_then_success_exits_0() {
    let server = Server::start(vec![
        aws_error(502, "BadGateway", "bad gateway"),
        json(202, TRIGGERED),
    ])
    .await;
    run_analyze(&Sandbox::with_env_keys(), &server.url, &[])
        .await
        .assert_code(0);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn unreachable_endpoint_exits_4_with_an_endpoint_hint() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port().await);
    let run = run_analyze(&Sandbox::with_env_keys(), &endpoint, &[]).await;
    run.assert_code(4)
        .assert_stderr_has("error: cannot connect to the k9 API at")
        .assert_stderr_has(&format!("hint: cannot reach the k9 API at {endpoint}"))
        .assert_stderr_has("--endpoint-url")
        .assert_no_secrets();
}

#[tokio::test]
async fn no_credentials_exits_3_quickly_with_how_to_configure() {
    let server = Server::start(vec![json(202, TRIGGERED)]).await;
    let run = run_analyze(&Sandbox::new(), &server.url, &[]).await;
    run.assert_code(3)
        .assert_stderr_has("error: no AWS credentials found")
        .assert_stderr_has("AWS_ACCESS_KEY_ID")
        .assert_stderr_has("--profile")
        .assert_stderr_has("aws sso login");
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn unknown_profile_exits_3_and_names_the_files_searched() {
    let sandbox = Sandbox::with_env_keys();
    let run = run_analyze(&sandbox, "http://127.0.0.1:1", &["--profile", "nope"]).await;
    run.assert_code(3)
        .assert_stderr_has("AWS profile 'nope' is not defined")
        .assert_stderr_has(&path(&sandbox.dir.path().join("config")));
}

#[tokio::test]
async fn help_documents_exit_codes_env_vars_and_an_example() {
    for subcommand in [
        &["analyze", "account"][..],
        &["analysis", "get"],
        &["analysis", "list"],
    ] {
        let mut args = subcommand.to_vec();
        args.push("--help");
        let run = Sandbox::new().run(&args).await;
        run.assert_code(0);
        for expected in [
            "Exit codes:",
            "3  authentication or authorization refused",
            "K9_ENDPOINT_URL",
            "K9_REGION",
            "K9_CA_CERT",
            "--profile",
            "Example:",
        ] {
            assert!(
                run.stdout.contains(expected),
                "{subcommand:?} --help lacks {expected:?}"
            );
        }
    }
}
