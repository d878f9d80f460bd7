//! `k9 serve` and `k9 admin` as processes: provisioning through the CLI, a crash (`kill -9`)
//! under load that must lose no acknowledged execution, and logs that hold no secret.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use k9_sigv4::{sign_with_header, Credentials, HttpRequest, SigningParams};

const K9: &str = env!("CARGO_BIN_EXE_k9");

/// The `k9` binary's path as the running process sees it (`current_exe` resolves links).
fn canonical_k9() -> String {
    std::fs::canonicalize(K9).unwrap().display().to_string()
}

fn admin(data_dir: &Path, args: &[&str]) -> serde_json::Value {
    let output = Command::new(K9)
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("K9_MASTER_KEY")
        .output()
        .expect("run k9 admin");
    assert!(
        output.status.success(),
        "k9 admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("admin prints JSON")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_server(data_dir: &Path, port: u16, log_level: &str) -> Child {
    Command::new(K9)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .env("K9_LOG", log_level)
        .env_remove("K9_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn k9 serve")
}

async fn wait_healthy(port: u16) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
        {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on port {port} did not become healthy");
}

fn provision(data_dir: &Path, accounts: usize) -> Credentials {
    admin(
        data_dir,
        &["customer", "create", "C123456", "--name", "Acme"],
    );
    let ids: Vec<String> = (0..accounts)
        .map(|i| format!("{:012}", 200_000_000_000u64 + i as u64))
        .collect();
    let mut args = vec!["account", "add", "C123456"];
    args.extend(ids.iter().map(String::as_str));
    admin(data_dir, &args);
    let user = admin(
        data_dir,
        &["user", "create", "arn:aws:iam::123456789012:user/alice"],
    );
    admin(
        data_dir,
        &["approve", "C123456", "arn:aws:iam::123456789012:user/alice"],
    );
    Credentials::new(
        user["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        user["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
        None,
    )
}

fn signed(
    port: u16,
    creds: &Credentials,
    method: &str,
    path: &str,
    body: &str,
) -> reqwest::Request {
    let host = format!("127.0.0.1:{port}");
    let mut headers: Vec<(&str, &[u8])> = vec![("host", host.as_bytes())];
    if !body.is_empty() {
        headers.push(("content-type", b"application/json"));
    }
    let unsigned = HttpRequest {
        method,
        path,
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let out = sign_with_header(
        &unsigned,
        creds,
        &SigningParams::new("us-east-1", "execute-api", SystemTime::now()),
    )
    .unwrap();
    let mut request = reqwest::Request::new(
        method.parse().unwrap(),
        format!("http://{host}{path}").parse().unwrap(),
    );
    if !body.is_empty() {
        request
            .headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
    }
    for (name, value) in out.headers {
        request.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    *request.body_mut() = Some(body.to_owned().into());
    request
}

fn trigger_path(account: &str) -> String {
    format!("/customer/C123456/account/{account}/analysis")
}

fn trigger_body(account: &str) -> String {
    format!(r#"{{"customerId":"C123456","accountId":"{account}"}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_execution() {
    let dir = tempfile::tempdir().unwrap();
    // Enough accounts that every acknowledged trigger is a fresh insert, not a coalesced one.
    let accounts: Vec<String> = (0..5000)
        .map(|i| format!("{:012}", 200_000_000_000u64 + i as u64))
        .collect();
    let creds = provision(dir.path(), accounts.len());
    let port = free_port();
    let mut server = spawn_server(dir.path(), port, "warn");
    wait_healthy(port).await;

    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let client = reqwest::Client::new();
    let stop_at = Instant::now() + Duration::from_millis(1500);
    let mut workers = Vec::new();
    for worker in 0..16 {
        let (client, creds, acknowledged, accounts) = (
            client.clone(),
            creds.clone(),
            acknowledged.clone(),
            accounts.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut i = worker;
            // Keep sending until the server dies (connection errors end the loop).
            while i < accounts.len() {
                let account = &accounts[i];
                i += 16;
                let request = signed(
                    port,
                    &creds,
                    "POST",
                    &trigger_path(account),
                    &trigger_body(account),
                );
                match client.execute(request).await {
                    Ok(response) if response.status().as_u16() == 202 => {
                        let body: serde_json::Value = response.json().await.unwrap_or_default();
                        if let Some(id) = body["executionId"].as_str() {
                            acknowledged.lock().unwrap().push(id.to_owned());
                        }
                    }
                    Ok(response) => panic!("unexpected status {}", response.status()),
                    Err(_) if Instant::now() >= stop_at => break,
                    Err(error) => panic!("request failed before the kill: {error}"),
                }
            }
        }));
    }
    tokio::time::sleep_until((stop_at).into()).await;
    server.kill().expect("kill -9"); // Child::kill sends SIGKILL on Unix.
    server.wait().expect("reap");
    for worker in workers {
        worker.await.expect("worker");
    }
    let mut ids = acknowledged.lock().unwrap().clone();
    ids.sort();
    ids.dedup();
    assert!(
        !ids.is_empty(),
        "no trigger was acknowledged before the kill"
    );

    let mut server = spawn_server(dir.path(), port, "warn");
    wait_healthy(port).await;
    for id in &ids {
        let account = &id["ondemand-C123456-".len().."ondemand-C123456-".len() + 12];
        let request = signed(
            port,
            &creds,
            "GET",
            &format!("{}/{id}", trigger_path(account)),
            "",
        );
        let response = client.execute(request).await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            200,
            "acknowledged execution {id} lost after kill -9"
        );
    }
    assert!(
        ids.len() > 100,
        "only {} triggers acknowledged: the test did not load the server",
        ids.len()
    );
    eprintln!(
        "crash test: {} acknowledged executions all present after kill -9",
        ids.len()
    );
    server.kill().ok();
    server.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_admin_output_hold_no_secret_or_signature() {
    let dir = tempfile::tempdir().unwrap();
    let creds = provision(dir.path(), 1);
    let account = "200000000000";
    let port = free_port();
    let mut server = spawn_server(dir.path(), port, "trace");
    wait_healthy(port).await;
    let client = reqwest::Client::new();
    let ok = signed(
        port,
        &creds,
        "POST",
        &trigger_path(account),
        &trigger_body(account),
    );
    let signature = ok.headers()["authorization"]
        .to_str()
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(client.execute(ok).await.unwrap().status().as_u16(), 202);
    let wrong = Credentials::new(creds.access_key_id.clone(), "x".repeat(40), None);
    let bad = signed(
        port,
        &wrong,
        "POST",
        &trigger_path(account),
        &trigger_body(account),
    );
    assert_eq!(client.execute(bad).await.unwrap().status().as_u16(), 403);

    // Graceful stop (SIGTERM) so everything is flushed and logged.
    let pid = server.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.wait().unwrap();
    assert!(
        status.success(),
        "k9 serve should exit 0 on SIGTERM, got {status}"
    );
    let mut logs = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("listening on http://127.0.0.1"), "{logs}");
    // stderr is a pipe here, as under systemd or `2> file`: no colour codes.
    assert!(
        !logs.contains('\x1b'),
        "ANSI escapes in piped logs: {logs:?}"
    );
    assert!(!logs.contains(&creds.secret_access_key), "secret in logs");
    assert!(!logs.contains(&signature), "signature in logs");

    let keys = admin(dir.path(), &["key", "list"]).to_string();
    assert!(keys.contains(&creds.access_key_id));
    assert!(
        !keys.contains(&creds.secret_access_key),
        "key list must not print secrets"
    );
    let audit = admin(dir.path(), &["audit", "--limit", "100"]).to_string();
    assert!(
        audit.contains("AuthenticationFailed") && audit.contains("Allowed"),
        "{audit}"
    );
    assert!(!audit.contains(&creds.secret_access_key) && !audit.contains(&signature));
}

#[test]
fn admin_refuses_invalid_ids_saying_the_valid_form() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (vec!["customer", "create", "X12"], "C123456"),
        (vec!["account", "add", "C123456", "12"], "12 digits"),
        (
            vec!["user", "create", "arn:aws:iam::12:user/x"],
            "arn:aws:iam::",
        ),
        (vec!["approve", "C123456", "not-an-arn"], "arn:aws:iam::"),
    ] {
        let output = Command::new(K9)
            .arg("admin")
            .arg("--data-dir")
            .arg(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn admin_reads_of_a_data_dir_without_k9_data_fail_instead_of_creating_a_store() {
    // A mistyped --data-dir must not answer "no keys" from a brand-new empty store.
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("k9-dta");
    for args in [
        vec!["key", "list"],
        vec!["show", "C123456"],
        vec!["audit"],
        vec!["key", "deactivate", "AKIAIOSFODNN7EXAMPLE"],
        vec!["account", "add", "C123456", "123456789012"],
        vec!["approve", "C123456", "arn:aws:iam::123456789012:user/alice"],
    ] {
        let output = Command::new(K9)
            .arg("admin")
            .arg("--data-dir")
            .arg(&typo)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("no k9 data in"), "{args:?}: {stderr}");
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
    // A path that cannot be read (here: below a regular file) is not a typo: exit 1.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let output = Command::new(K9)
        .arg("admin")
        .arg("--data-dir")
        .arg(file.join("k9-data"))
        .args(["key", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read"), "{stderr}");
    // Creating something is how a store starts: that still works on a new directory.
    admin(&typo, &["customer", "create", "C123456"]);
    assert_eq!(
        admin(&typo, &["key", "list"])["AccessKeyMetadata"],
        serde_json::json!([])
    );
}

#[test]
fn serve_and_demo_on_a_busy_port_create_no_data_dir() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    for command in ["serve", "demo"] {
        let data_dir = dir.path().join(command);
        let output = Command::new(K9)
            .args([command, "--listen", &address, "--data-dir"])
            .arg(&data_dir)
            .env_remove("K9_MASTER_KEY")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("cannot listen on"), "{command}: {stderr}");
        assert!(
            !data_dir.exists(),
            "{command} created {}",
            data_dir.display()
        );
    }
}

#[tokio::test]
async fn serve_prunes_audit_rows_older_than_the_retention_at_start() {
    use k9_store::{AuditOutcome, AuditRecord, MasterKey, SqliteStore, Store};
    let dir = tempfile::tempdir().unwrap();
    {
        let store =
            SqliteStore::open(dir.path(), MasterKey::load_or_create(dir.path()).unwrap()).unwrap();
        for (request_id, age_days) in [("stale", 200), ("fresh", 10)] {
            k9_store::record_audit(
                &store,
                AuditRecord {
                    time: time::OffsetDateTime::now_utc() - time::Duration::days(age_days),
                    request_id,
                    access_key_id: None,
                    principal: None,
                    method: "GET",
                    path: &"/",
                    outcome: AuditOutcome::AuthenticationFailed,
                    reason: &"missing_authentication",
                },
            )
            .await;
        }
        store.flush().await.unwrap();
    }
    let port = free_port();
    let mut server = Command::new(K9)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--audit-retention-days", "90", "--data-dir"])
        .arg(dir.path())
        .env_remove("K9_MASTER_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(port).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let audit = admin(dir.path(), &["audit", "--limit", "100"]).to_string();
        assert!(audit.contains("fresh"), "{audit}");
        if !audit.contains("stale") {
            break;
        }
        assert!(Instant::now() < deadline, "stale row not pruned: {audit}");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn admin_session_create_prints_sts_shaped_credentials() {
    let dir = tempfile::tempdir().unwrap();
    admin(
        dir.path(),
        &[
            "role",
            "create",
            "arn:aws:iam::123456789012:role/ops/k9-automation",
        ],
    );
    let session = admin(
        dir.path(),
        &[
            "session",
            "create",
            "arn:aws:iam::123456789012:role/ops/k9-automation",
            "--session-name",
            "ci",
        ],
    );
    assert!(session["Credentials"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .starts_with("ASIA"));
    assert_eq!(
        session["Credentials"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
    assert!(
        session["Credentials"]["SessionToken"]
            .as_str()
            .unwrap()
            .len()
            > 40
    );
    assert!(session["Credentials"]["Expiration"].is_string());
    assert_eq!(
        session["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::123456789012:assumed-role/k9-automation/ci"
    );
    assert!(session["AssumedRoleUser"]["AssumedRoleId"]
        .as_str()
        .unwrap()
        .ends_with(":ci"));
    let user = admin(
        dir.path(),
        &["user", "create", "arn:aws:iam::123456789012:user/alice"],
    );
    for field in [
        "UserName",
        "AccessKeyId",
        "Status",
        "SecretAccessKey",
        "CreateDate",
    ] {
        assert!(
            user["AccessKey"][field].is_string(),
            "missing AccessKey.{field}: {user}"
        );
    }
    assert_eq!(user["AccessKey"]["UserName"], "alice");
    assert_eq!(user["AccessKey"]["Status"], "Active");
}

#[test]
fn demo_walks_through_the_main_job_and_exits_with_exit_flag() {
    let output = Command::new(K9)
        .args(["demo", "--exit", "--listen", "127.0.0.1:0"])
        .env_remove("K9_MASTER_KEY")
        .output()
        .expect("run k9 demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "k9 demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "< 202 Accepted",
        "\"status\": \"queued\"",
        "Caller is not authorized to trigger analysis for k9 customerId (C123456) and accountId (123456789012)",
        "x-amzn-errortype: InvalidSignatureException",
        "\"message\": \"Missing Authentication Token\"",
    ] {
        assert!(stdout.contains(expected), "demo output lacks {expected:?}:\n{stdout}");
    }
    assert_eq!(stdout.matches("< 403 Forbidden").count(), 3, "{stdout}");
    // The server is gone: no credentials for it, and its temporary data (secrets) removed.
    assert!(!stdout.contains("AWS_SECRET_ACCESS_KEY"), "{stdout}");
    assert_demo_data_dir_removed(&stdout);
}

/// The data directory the demo announced no longer exists, and the demo said so.
fn assert_demo_data_dir_removed(stdout: &str) {
    let dir = stdout
        .lines()
        .find_map(|line| line.strip_prefix("k9 demo: data directory "))
        .expect("the demo names its data directory");
    assert!(
        stdout.contains(&format!(
            "k9 demo: removed the temporary data directory {dir}"
        )),
        "{stdout}"
    );
    assert!(!Path::new(dir).exists(), "{dir} still exists");
}

/// `k9 demo` running on a free port, its stdout gathered as it comes.
struct RunningDemo {
    child: Child,
    output: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl RunningDemo {
    fn start() -> Self {
        let mut child = Command::new(K9)
            .args(["demo", "--listen", "127.0.0.1:0"])
            .env_remove("K9_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run k9 demo");
        let mut stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let reader = {
            let output = output.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = stdout.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    output
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            })
        };
        Self {
            child,
            output,
            reader,
        }
    }

    /// Waits until the demo has printed `needle`, sends it `signal` (`-INT`, `-TERM`), and
    /// returns its exit status and everything it printed.
    fn signal_after(mut self, needle: &str, signal: &str) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.output.lock().unwrap().contains(needle) {
            assert!(Instant::now() < deadline, "{}", self.output.lock().unwrap());
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        self.reader.join().unwrap();
        let stdout = self.output.lock().unwrap().clone();
        (exit, stdout)
    }
}

#[test]
fn demo_stopped_during_the_walkthrough_still_removes_its_data() {
    let (exit, stdout) = RunningDemo::start().signal_after("k9 demo: data directory ", "-TERM");
    // 130 if the signal came during the requests, 0 if they had already finished.
    let code = exit.code();
    assert!(matches!(code, Some(0 | 130)), "{code:?}");
    assert_demo_data_dir_removed(&stdout);
}

#[test]
fn demo_keeps_serving_with_a_ready_curl_line_until_interrupted() {
    let (exit, stdout) = RunningDemo::start().signal_after("press Ctrl-C to stop", "-INT");
    assert!(exit.success());
    for expected in [
        "### Try it yourself",
        "export AWS_SECRET_ACCESS_KEY=",
        "curl --aws-sigv4 \"aws:amz:us-east-1:execute-api\"",
        // The running binary's path, since `k9` may not be on PATH yet.
        &format!("{} analysis list --customer-id C123456", canonical_k9()),
    ] {
        assert!(
            stdout.contains(expected),
            "demo output lacks {expected:?}:\n{stdout}"
        );
    }
    assert_demo_data_dir_removed(&stdout);
}

#[test]
fn admin_data_dir_may_follow_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    admin(dir.path(), &["customer", "create", "C123456"]);
    let output = Command::new(K9)
        .args(["admin", "show", "C123456", "--data-dir"])
        .arg(dir.path())
        .env_remove("K9_DATA_DIR")
        .env_remove("K9_MASTER_KEY")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["customerId"], "C123456");
}

#[test]
fn listen_address_that_is_a_host_name_is_refused_with_the_fix() {
    for command in ["serve", "demo"] {
        let output = Command::new(K9)
            .args([command, "--listen", "localhost:8080"])
            .env_remove("K9_LISTEN")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("'localhost:8080' is not an IP address and port")
                && stderr.contains("127.0.0.1:8080"),
            "{command}: {stderr}"
        );
    }
}
