//! The `k9` client end to end: each test provisions a fresh data directory with `k9 admin`,
//! spawns its own `k9 serve` on a loopback port, and runs the built `k9` binary as a user
//! would, with credentials from a sealed environment (a temp HOME and AWS config files; the
//! developer's own ~/.aws and EC2 metadata are never consulted). Exit codes are checked, not
//! just output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const K9: &str = env!("CARGO_BIN_EXE_k9");

const CUSTOMER: &str = "C123456";
const ACCOUNT: &str = "123456789012";
const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const MALLORY: &str = "arn:aws:iam::123456789012:user/mallory";
const ROLE: &str = "arn:aws:iam::123456789012:role/ops/k9-automation";
const SESSION_ARN: &str = "arn:aws:sts::123456789012:assumed-role/k9-automation/ci";
const STARTED: &str = "Started analysis for C123456 account 123456789012 with execution ID: ";
const NOT_AUTHORIZED: &str = "Caller is not authorized to trigger analysis for k9 customerId (C123456) and accountId (123456789012)";

// ---------------------------------------------------------------------------------------
// Provisioning with `k9 admin`.

/// AWS credentials as `k9 admin` printed them.
#[derive(Debug, Clone)]
struct Keys {
    id: String,
    secret: String,
    token: Option<String>,
}

fn admin(data_dir: &Path, args: &[&str]) -> serde_json::Value {
    let output = Command::new(K9)
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("K9_MASTER_KEY")
        .env_remove("K9_DATA_DIR")
        .output()
        .expect("run k9 admin");
    assert!(
        output.status.success(),
        "k9 admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("k9 admin prints JSON")
}

fn user_keys(data_dir: &Path, arn: &str) -> Keys {
    let user = admin(data_dir, &["user", "create", arn]);
    Keys {
        id: user["AccessKey"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_owned(),
        secret: user["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
        token: None,
    }
}

fn session_keys(data_dir: &Path, session_name: &str) -> Keys {
    let session = admin(
        data_dir,
        &["session", "create", ROLE, "--session-name", session_name],
    );
    let credentials = &session["Credentials"];
    Keys {
        id: credentials["AccessKeyId"].as_str().unwrap().to_owned(),
        secret: credentials["SecretAccessKey"].as_str().unwrap().to_owned(),
        token: Some(credentials["SessionToken"].as_str().unwrap().to_owned()),
    }
}

/// A data directory with customer C123456, account 123456789012, approved user alice,
/// unapproved user mallory, and an approved role with a session named `ci`.
struct Provisioned {
    dir: tempfile::TempDir,
    alice: Keys,
    mallory: Keys,
    session: Keys,
}

impl Provisioned {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        admin(&data, &["customer", "create", CUSTOMER, "--name", "Acme"]);
        admin(&data, &["account", "add", CUSTOMER, ACCOUNT]);
        let alice = user_keys(&data, ALICE);
        let mallory = user_keys(&data, MALLORY);
        admin(&data, &["approve", CUSTOMER, ALICE]);
        admin(&data, &["role", "create", ROLE]);
        admin(&data, &["approve", CUSTOMER, ROLE]);
        let session = session_keys(&data, "ci");
        Self {
            dir,
            alice,
            mallory,
            session,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

// ---------------------------------------------------------------------------------------
// `k9 serve` as a child process.

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// A running `k9 serve`, killed when dropped.
struct K9Server {
    provisioned: Provisioned,
    child: Option<Child>,
    port: u16,
    /// The self-signed certificate (PEM file), when serving HTTPS.
    cert: Option<PathBuf>,
}

impl K9Server {
    async fn start() -> Self {
        Self::start_with(Provisioned::new(), false).await
    }

    async fn start_tls() -> Self {
        Self::start_with(Provisioned::new(), true).await
    }

    async fn start_with(provisioned: Provisioned, tls: bool) -> Self {
        let port = free_port();
        let log = std::fs::File::create(provisioned.dir.path().join("serve.log")).unwrap();
        let mut command = Command::new(K9);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(provisioned.data_dir())
            .env("K9_LOG", "info")
            .env_remove("K9_MASTER_KEY")
            .env_remove("K9_DATA_DIR")
            .env_remove("K9_TLS_CERT")
            .env_remove("K9_TLS_KEY")
            .env_remove("K9_REGION")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let mut cert = None;
        if tls {
            let rcgen::CertifiedKey { cert: c, key_pair } =
                rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                    .expect("self-signed certificate");
            let cert_path = provisioned.dir.path().join("cert.pem");
            let key_path = provisioned.dir.path().join("key.pem");
            std::fs::write(&cert_path, c.pem()).unwrap();
            std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
            command
                .arg("--tls-cert")
                .arg(&cert_path)
                .arg("--tls-key")
                .arg(&key_path);
            cert = Some(cert_path);
        }
        let child = command.spawn().expect("spawn k9 serve");
        let mut server = Self {
            provisioned,
            child: Some(child),
            port,
            cert,
        };
        server.wait_healthy().await;
        server
    }

    fn scheme(&self) -> &'static str {
        if self.cert.is_some() {
            "https"
        } else {
            "http"
        }
    }

    fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.port)
    }

    /// `host:port`, for `--api`.
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.provisioned.dir.path().join("serve.log")).unwrap_or_default()
    }

    async fn wait_healthy(&mut self) {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(2));
        if let Some(cert) = &self.cert {
            let pem = std::fs::read(cert).unwrap();
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        let client = builder.build().expect("health-check client");
        let health = format!("{}/health", self.url());
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last_error = String::new();
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("k9 serve exited with {status}:\n{}", self.log());
            }
            match client.get(&health).send().await {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => last_error = format!("HTTP {}", response.status()),
                Err(error) => last_error = format!("{error:?}"),
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "k9 serve at {health} did not become healthy: {last_error}\n{}",
            self.log()
        );
    }

    /// Kills the server and waits for it, so its port is closed.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

impl Drop for K9Server {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------
// Running the client in a sealed environment.

/// An environment with nothing from the developer's: a temp HOME, empty AWS config files,
/// EC2 metadata disabled, no proxies and no AWS_* or K9_* variables.
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

    /// With `keys` in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN).
    fn with_keys(keys: &Keys) -> Self {
        let sandbox = Self::new()
            .env("AWS_ACCESS_KEY_ID", &keys.id)
            .env("AWS_SECRET_ACCESS_KEY", &keys.secret);
        match &keys.token {
            Some(token) => sandbox.env("AWS_SESSION_TOKEN", token),
            None => sandbox,
        }
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

    async fn run_owned(&self, args: &[String]) -> Run {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args).await
    }

    async fn run(&self, args: &[&str]) -> Run {
        let mut command = tokio::process::Command::new(K9);
        command
            .args(args)
            .env_clear()
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let started = Instant::now();
        let output = tokio::time::timeout(Duration::from_secs(30), command.output())
            .await
            .unwrap_or_else(|_| panic!("k9 {args:?} did not finish within 30 s"))
            .expect("k9 ran");
        Run {
            args: args.join(" "),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }
}

fn path(path: &Path) -> String {
    path.to_str().expect("utf-8 temp path").to_owned()
}

/// A credentials-file profile section.
fn profile_section(header: &str, keys: &Keys) -> String {
    let mut text = format!(
        "[{header}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        keys.id, keys.secret
    );
    if let Some(token) = &keys.token {
        text.push_str(&format!("aws_session_token = {token}\n"));
    }
    text
}

struct Run {
    args: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code of `k9 {}`\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    fn assert_stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr of `k9 {}` lacks {needle:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    fn assert_stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout of `k9 {}` lacks {needle:?}:\n{}",
            self.args,
            self.stdout
        );
        self
    }

    fn assert_stdout_empty(&self) -> &Self {
        assert_eq!(self.stdout, "", "stdout of `k9 {}`", self.args);
        self
    }

    fn assert_not_printed(&self, secret: &str) -> &Self {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "`k9 {}` printed a secret",
            self.args
        );
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of `k9 {}` is not JSON ({e}):\n{}",
                self.args, self.stdout
            )
        })
    }

    /// The execution id from the exact success line of `k9 analyze account`.
    fn started_execution_id(&self) -> String {
        let id = self
            .stdout
            .strip_prefix(STARTED)
            .and_then(|rest| rest.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("not the success line:\n{:?}", self.stdout));
        assert_execution_id_shape(id);
        id.to_owned()
    }
}

/// `^ondemand-C123456-123456789012-\d{4}-\d{2}-\d{2}_[A-Z0-9]{4}$`
fn assert_execution_id_shape(id: &str) {
    let rest = id
        .strip_prefix("ondemand-C123456-123456789012-")
        .unwrap_or_else(|| panic!("execution id {id:?} has the wrong prefix"));
    let shape: String = rest
        .chars()
        .map(|c| match c {
            '0'..='9' => 'd',
            'A'..='Z' => 'A',
            other => other,
        })
        .collect();
    let (date, suffix) = shape.split_at(shape.len().min(10));
    assert_eq!(date, "dddd-dd-dd", "date part of execution id {id:?}");
    assert!(
        suffix.len() == 5
            && suffix.starts_with('_')
            && suffix[1..].chars().all(|c| c == 'd' || c == 'A'),
        "suffix of execution id {id:?}"
    );
}

fn analyze_args<'a>(endpoint: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "analyze",
        "account",
        "--customer-id",
        CUSTOMER,
        "--account",
        ACCOUNT,
        "--endpoint-url",
        endpoint,
    ];
    args.extend_from_slice(extra);
    args
}

async fn analyze(sandbox: &Sandbox, endpoint: &str, extra: &[&str]) -> Run {
    sandbox.run(&analyze_args(endpoint, extra)).await
}

/// `k9 analysis get ID --output json`, which must succeed.
async fn get_json(
    sandbox: &Sandbox,
    endpoint: &str,
    id: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "analysis",
        "get",
        id,
        "--endpoint-url",
        endpoint,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let run = sandbox.run(&args).await;
    run.assert_code(0);
    run.json()
}

// ---------------------------------------------------------------------------------------
// Credentials that work.

#[tokio::test]
async fn env_credentials_start_get_and_list_an_analysis() {
    let server = K9Server::start().await;
    let url = server.url();
    let alice = Sandbox::with_keys(&server.provisioned.alice);

    let run = analyze(&alice, &url, &[]).await;
    run.assert_code(0)
        .assert_not_printed(&server.provisioned.alice.secret);
    let id = run.started_execution_id();

    // The JSON output is the API's answer; a second start while one is queued returns it.
    let run = analyze(&alice, &url, &["--output", "json"]).await;
    run.assert_code(0);
    assert_eq!(
        run.json(),
        serde_json::json!({ "customerId": CUSTOMER, "accountId": ACCOUNT, "executionId": id })
    );

    let run = alice
        .run(&["analysis", "get", &id, "--endpoint-url", &url])
        .await;
    run.assert_code(0)
        .assert_stdout_has(&id)
        .assert_stdout_has("queued")
        .assert_stdout_has(ALICE);

    let execution = get_json(&alice, &url, &id, &[]).await;
    assert_eq!(execution["executionId"], id.as_str());
    assert_eq!(execution["customerId"], CUSTOMER);
    assert_eq!(execution["accountId"], ACCOUNT);
    assert_eq!(execution["status"], "queued");
    assert_eq!(execution["requestedBy"], ALICE);

    let list = [
        "analysis",
        "list",
        "--customer-id",
        CUSTOMER,
        "--account",
        ACCOUNT,
        "--endpoint-url",
        &url,
    ];
    let run = alice.run(&list).await;
    run.assert_code(0)
        .assert_stdout_has(&id)
        .assert_stdout_has("queued");
    let run = alice
        .run(&[&list[..], &["--output", "json"]].concat())
        .await;
    run.assert_code(0);
    let listed = run.json();
    let executions = listed["executions"].as_array().expect("executions array");
    assert_eq!(executions.len(), 1, "{listed}");
    assert_eq!(executions[0]["executionId"], id.as_str());
}

#[tokio::test]
async fn named_profile_from_the_credentials_file_wins_over_env_keys() {
    let server = K9Server::start().await;
    let url = server.url();
    let (alice, mallory) = (&server.provisioned.alice, &server.provisioned.mallory);

    // Mallory's keys in the environment, alice's in profile k9test.
    let sandbox = Sandbox::with_keys(mallory).credentials_file(&profile_section("k9test", alice));
    // Without --profile the environment signs, and mallory is refused...
    analyze(&sandbox, &url, &[]).await.assert_code(3);
    // ...with it, the profile wins.
    let run = analyze(&sandbox, &url, &["--profile", "k9test"]).await;
    run.assert_code(0)
        .assert_not_printed(&alice.secret)
        .assert_not_printed(&mallory.secret);
    let id = run.started_execution_id();
    let execution = get_json(&sandbox, &url, &id, &["--profile", "k9test"]).await;
    assert_eq!(execution["requestedBy"], ALICE);

    // AWS_PROFILE selects it when no keys are in the environment.
    let sandbox = Sandbox::new()
        .env("AWS_PROFILE", "k9test")
        .credentials_file(&profile_section("k9test", alice));
    analyze(&sandbox, &url, &[]).await.assert_code(0);

    // Static keys in a `[profile NAME]` section of AWS_CONFIG_FILE work too.
    let sandbox = Sandbox::with_keys(mallory).config_file(&profile_section("profile k9cfg", alice));
    let run = analyze(&sandbox, &url, &["--profile", "k9cfg"]).await;
    run.assert_code(0);
    assert_eq!(
        run.started_execution_id(),
        id,
        "the queued execution is returned"
    );

    // A profile that does not exist is a credentials failure, not a fallback to the env keys.
    let run = analyze(&sandbox, &url, &["--profile", "nosuch"]).await;
    run.assert_code(3).assert_stdout_empty();
}

#[tokio::test]
async fn session_credentials_sign_as_the_assumed_role() {
    let server = K9Server::start().await;
    let url = server.url();
    let session = &server.provisioned.session;
    assert!(session.id.starts_with("ASIA"), "{}", session.id);

    let sandbox = Sandbox::with_keys(session);
    let run = analyze(&sandbox, &url, &[]).await;
    run.assert_code(0)
        .assert_not_printed(&session.secret)
        .assert_not_printed(session.token.as_deref().unwrap());
    let id = run.started_execution_id();
    let execution = get_json(&sandbox, &url, &id, &[]).await;
    assert_eq!(execution["requestedBy"], SESSION_ARN);

    // The same session from a profile with aws_session_token.
    let sandbox = Sandbox::new().credentials_file(&profile_section("ci", session));
    let run = analyze(&sandbox, &url, &["--profile", "ci"]).await;
    run.assert_code(0);
    assert_eq!(run.started_execution_id(), id);
}

// ---------------------------------------------------------------------------------------
// Credentials that are refused: exit 3.

#[tokio::test]
async fn unapproved_principal_exits_3_with_the_servers_message_and_a_hint() {
    let server = K9Server::start().await;
    let url = server.url();
    let mallory = &server.provisioned.mallory;
    let sandbox = Sandbox::with_keys(mallory);

    let run = analyze(&sandbox, &url, &[]).await;
    run.assert_code(3)
        .assert_stdout_empty()
        .assert_stderr_has(&format!("error: {NOT_AUTHORIZED}\n"))
        .assert_stderr_has("HTTP 403, AccessDeniedException")
        .assert_stderr_has("hint: ")
        .assert_stderr_has("not approved for the customer, or the account is not registered")
        .assert_stderr_has("(customer C123456 and account 123456789012)")
        .assert_stderr_has("AWS_ACCESS_KEY_ID environment variable")
        .assert_stderr_has(&mallory.id[mallory.id.len() - 4..])
        .assert_not_printed(&mallory.secret)
        .assert_not_printed(&mallory.id);

    // Reading is refused the same way.
    let list = [
        "analysis",
        "list",
        "--customer-id",
        CUSTOMER,
        "--account",
        ACCOUNT,
        "--endpoint-url",
        &url,
    ];
    sandbox
        .run(&list)
        .await
        .assert_code(3)
        .assert_stderr_has("hint: ");

    // Nothing was queued on mallory's behalf.
    let run = Sandbox::with_keys(&server.provisioned.alice)
        .run(&[&list[..], &["--output", "json"]].concat())
        .await;
    run.assert_code(0);
    assert_eq!(run.json()["executions"], serde_json::json!([]));
}

#[tokio::test]
async fn wrong_secret_exits_3_with_a_signature_hint() {
    let server = K9Server::start().await;
    let url = server.url();
    let wrong = Keys {
        id: server.provisioned.alice.id.clone(),
        secret: "wRoNgSeCrEtwRoNgSeCrEtwRoNgSeCrEt/+0123".into(),
        token: None,
    };
    let run = analyze(&Sandbox::with_keys(&wrong), &url, &[]).await;
    run.assert_code(3)
        .assert_stdout_empty()
        .assert_stderr_has("The request signature we calculated does not match the signature you provided")
        .assert_stderr_has("InvalidSignatureException")
        .assert_stderr_has("hint: the signature did not verify: check that the secret access key belongs to access key")
        .assert_stderr_has("clock")
        .assert_not_printed(&wrong.secret)
        .assert_not_printed(&server.provisioned.alice.secret);
}

#[tokio::test]
async fn unknown_key_and_bad_session_tokens_exit_3() {
    // One more session, expired in the database before the server starts.
    let provisioned = Provisioned::new();
    let expired = session_keys(&provisioned.data_dir(), "expired");
    let db = rusqlite::Connection::open(provisioned.data_dir().join("k9.sqlite3")).unwrap();
    let changed = db
        .execute(
            "UPDATE sessions SET expires_at = 1000000000 WHERE access_key_id = ?1",
            [&expired.id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let server = K9Server::start_with(provisioned, false).await;
    let url = server.url();
    let session = &server.provisioned.session;

    let unknown = Keys {
        id: "AKIAZZZZZZZZZZZZZZZZ".into(),
        secret: "unknownSecret/abcdefghijklmnopqrstuvwxyz0".into(),
        token: None,
    };
    analyze(&Sandbox::with_keys(&unknown), &url, &[])
        .await
        .assert_code(3)
        .assert_stdout_empty()
        .assert_stderr_has("UnrecognizedClientException")
        .assert_stderr_has("is not known to this k9 server");

    let mut tampered = session.clone();
    let token = tampered.token.as_mut().unwrap();
    let last = token.pop().unwrap();
    token.push(if last == 'A' { 'B' } else { 'A' });
    analyze(&Sandbox::with_keys(&tampered), &url, &[])
        .await
        .assert_code(3)
        .assert_stderr_has("The security token included in the request is invalid")
        .assert_stderr_has("UnrecognizedClientException");

    let tokenless = Keys {
        token: None,
        ..session.clone()
    };
    analyze(&Sandbox::with_keys(&tokenless), &url, &[])
        .await
        .assert_code(3)
        .assert_stderr_has("UnrecognizedClientException");

    analyze(&Sandbox::with_keys(&expired), &url, &[])
        .await
        .assert_code(3)
        .assert_stderr_has("The security token included in the request is expired")
        .assert_stderr_has("ExpiredTokenException")
        .assert_stderr_has("hint: the session credentials have expired");

    // The real session still works on this server.
    analyze(&Sandbox::with_keys(session), &url, &[])
        .await
        .assert_code(0);
}

// ---------------------------------------------------------------------------------------
// Network failures: exit 4.

#[tokio::test]
async fn unreachable_endpoint_exits_4() {
    let mut server = K9Server::start().await;
    let url = server.url();
    let sandbox = Sandbox::with_keys(&server.provisioned.alice);
    analyze(&sandbox, &url, &[]).await.assert_code(0);

    server.stop();
    let run = analyze(&sandbox, &url, &[]).await;
    run.assert_code(4)
        .assert_stdout_empty()
        .assert_stderr_has(&format!("hint: cannot reach the k9 API at {url}"));
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
}

// ---------------------------------------------------------------------------------------
// The original k9-cli's flag spellings, and HTTPS.

#[tokio::test]
async fn original_k9_cli_spellings_work_against_the_server() {
    let server = K9Server::start().await;
    let url = server.url();
    let sandbox = Sandbox::with_keys(&server.provisioned.alice);
    let run = sandbox
        .run(&[
            "analyze",
            "account",
            "--customer_id",
            CUSTOMER,
            "--account",
            ACCOUNT,
            "--endpoint-url",
            &url,
        ])
        .await;
    run.assert_code(0);
    let id = run.started_execution_id();
    sandbox
        .run(&[
            "analysis",
            "list",
            "--customer_id",
            CUSTOMER,
            "--account-id",
            ACCOUNT,
            "--endpoint-url",
            &url,
        ])
        .await
        .assert_code(0)
        .assert_stdout_has(&id);

    // `--api HOST` means https://HOST: this server speaks plain HTTP, so the handshake fails.
    let host = server.host();
    let run = sandbox
        .run(&[
            "analyze",
            "account",
            "--customer_id",
            CUSTOMER,
            "--account",
            ACCOUNT,
            "--api",
            &host,
        ])
        .await;
    run.assert_code(4)
        .assert_stdout_empty()
        .assert_stderr_has(&format!("https://{host}"))
        .assert_stderr_has("--ca-cert");
}

#[tokio::test]
async fn api_flag_and_ca_cert_reach_a_tls_server() {
    let server = K9Server::start_tls().await;
    let host = server.host();
    let cert = path(server.cert.as_deref().unwrap());
    let sandbox = Sandbox::with_keys(&server.provisioned.alice);
    let api = |extra: &[&str]| -> Vec<String> {
        let mut args = [
            "analyze",
            "account",
            "--customer_id",
            CUSTOMER,
            "--account",
            ACCOUNT,
            "--api",
            &host,
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    let run = sandbox.run_owned(&api(&["--ca-cert", &cert])).await;
    run.assert_code(0);
    let id = run.started_execution_id();

    let run = sandbox
        .run(&[
            "analysis",
            "get",
            &id,
            "--api",
            &host,
            "--ca-cert",
            &cert,
            "--output",
            "json",
        ])
        .await;
    run.assert_code(0);
    assert_eq!(run.json()["requestedBy"], ALICE);

    // K9_CA_CERT does the same as --ca-cert.
    Sandbox::with_keys(&server.provisioned.alice)
        .env("K9_CA_CERT", &cert)
        .run_owned(&api(&[]))
        .await
        .assert_code(0);

    // Without the CA the self-signed certificate is not trusted: a TLS failure, exit 4.
    sandbox
        .run_owned(&api(&[]))
        .await
        .assert_code(4)
        .assert_stdout_empty()
        .assert_stderr_has("hint: the TLS connection to")
        .assert_stderr_has("--ca-cert");
}

// ---------------------------------------------------------------------------------------
// Usage errors: exit 2, nothing sent.

#[tokio::test]
async fn invalid_ids_exit_2_before_any_network_call() {
    // A listener nobody accepts on: any connection attempt would be queued on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keys = Keys {
        id: "AKIAEXAMPLEEXAMPLE01".into(),
        secret: "exampleSecret/abcdefghijklmnopqrstuvwxyz".into(),
        token: None,
    };
    let sandbox = Sandbox::with_keys(&keys);

    for (args, expected) in [
        (
            vec![
                "analyze",
                "account",
                "--customer-id",
                CUSTOMER,
                "--account",
                "12345",
                "--endpoint-url",
                &url,
            ],
            "invalid account id '12345'",
        ),
        (
            vec![
                "analyze",
                "account",
                "--customer-id",
                CUSTOMER,
                "--account",
                "1234567890123",
                "--endpoint-url",
                &url,
            ],
            "invalid account id '1234567890123'",
        ),
        (
            vec![
                "analyze",
                "account",
                "--customer-id",
                "X12",
                "--account",
                ACCOUNT,
                "--endpoint-url",
                &url,
            ],
            "invalid customer id 'X12'",
        ),
        (
            vec![
                "analysis",
                "get",
                "ondemand-C123456-12345-2024-05-06_AB12",
                "--endpoint-url",
                &url,
            ],
            "invalid execution id",
        ),
    ] {
        sandbox
            .run(&args)
            .await
            .assert_code(2)
            .assert_stdout_empty()
            .assert_stderr_has(expected);
    }
    match listener.accept() {
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("a usage error still connected (from {peer})"),
        Err(error) => panic!("accept: {error}"),
    }
}
