//! `k9 demo`: the main job in one command, on a fresh data directory.
//!
//! Starts the server, provisions a customer, an account, an approved user and an unapproved
//! one, sends real signed requests (and a tampered one), prints each request and response,
//! then keeps serving and prints credentials and a ready `curl --aws-sigv4` line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use k9_client::RequestSigner;
use k9_domain::{AccountId, CustomerId, PrincipalArn};
use k9_server::AppState;
use k9_store::Store;
use time::OffsetDateTime;

use crate::common::{self, LogFormat, EXIT_FAILURE, EXIT_USAGE};

const CUSTOMER: &str = "C123456";
const ACCOUNT: &str = "123456789012";
const APPROVED: &str = "arn:aws:iam::123456789012:user/alice";
const UNAPPROVED: &str = "arn:aws:iam::123456789012:user/mallory";

/// Run the k9 walkthrough against a fresh server.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  k9 demo                 # walkthrough, then keeps serving on 127.0.0.1:8080 until Ctrl-C\n  k9 demo --exit          # walkthrough only"
)]
pub struct DemoArgs {
    /// Address and port for the demo server.
    #[arg(
        long,
        default_value = "127.0.0.1:8080",
        value_name = "ADDR:PORT",
        value_parser = crate::common::parse_listen
    )]
    pub listen: SocketAddr,
    /// A data directory that does not exist yet or is empty (default: a new temporary one).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Region the demo server verifies signatures for.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Stop after the walkthrough instead of serving until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
}

fn fresh_data_dir(requested: Option<PathBuf>) -> Result<PathBuf, String> {
    match requested {
        Some(dir) => {
            let has_entries = std::fs::read_dir(&dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            if has_entries {
                return Err(format!(
                    "{} is not empty; `k9 demo` needs a fresh data directory (omit --data-dir for a temporary one)",
                    dir.display()
                ));
            }
            Ok(dir)
        }
        None => {
            let stamp = OffsetDateTime::now_utc().unix_timestamp_nanos();
            Ok(std::env::temp_dir().join(format!("k9-demo-{}-{stamp}", std::process::id())))
        }
    }
}

struct Exchange<'a> {
    title: &'a str,
    method: &'a str,
    path: String,
    body: Option<String>,
    signer: Option<(&'a str, &'a Credentials)>,
    tamper: bool,
}

async fn show(
    client: &reqwest::Client,
    base: &str,
    region: &str,
    exchange: Exchange<'_>,
) -> Result<serde_json::Value, String> {
    println!("\n### {}", exchange.title);
    let url = format!("{base}{}", exchange.path);
    let mut request = http::Request::builder().method(exchange.method).uri(&url);
    if exchange.body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let mut request = request
        .body(exchange.body.clone().unwrap_or_default().into_bytes())
        .map_err(|e| format!("cannot build request: {e}"))?;
    if let Some((_, creds)) = exchange.signer {
        RequestSigner::new(creds, region, k9_server::SIGNING_SERVICE)
            .sign(&mut request, SystemTime::now())
            .map_err(|e| format!("cannot sign: {e}"))?;
    }
    if exchange.tamper {
        // Flip the last hex digit of the signature: the request is otherwise intact.
        if let Some(value) = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        {
            let mut text = value.to_owned();
            let last = if text.ends_with('0') { "1" } else { "0" };
            text.pop();
            text.push_str(last);
            if let Ok(value) = text.parse() {
                request.headers_mut().insert("authorization", value);
            }
        }
    }
    println!("> {} {}", exchange.method, url);
    // The HTTP client adds Host from the URL; it is signed all the same.
    if let Some(host) = request.uri().authority() {
        println!("> host: {host}");
    }
    let mut names: Vec<_> = request
        .headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect();
    names.sort();
    for name in names {
        if let Some(value) = request.headers().get(&name).and_then(|v| v.to_str().ok()) {
            println!("> {name}: {value}");
        }
    }
    if let Some(body) = &exchange.body {
        println!(">\n> {body}");
    }
    if let Some((who, _)) = exchange.signer {
        println!("  (signed with SigV4 as {who})");
    }
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, url.as_str())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    println!(
        "< {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    for name in ["x-amzn-requestid", "x-amzn-errortype"] {
        if let Some(value) = response.headers().get(name).and_then(|v| v.to_str().ok()) {
            println!("< {name}: {value}");
        }
    }
    let text = response
        .text()
        .await
        .map_err(|e| format!("cannot read response: {e}"))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.clone()));
    println!("<\n{}", serde_json::to_string_pretty(&json).unwrap_or(text));
    Ok(json)
}

/// Runs `k9 demo`.
pub async fn run(args: DemoArgs) -> ExitCode {
    // The walkthrough prints what matters; logs would interleave with it.
    common::init_logging(LogFormat::Human, "warn");
    match demo(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

async fn demo(args: DemoArgs) -> Result<ExitCode, String> {
    // A temporary data directory holds a master key and secrets: it goes when the demo ends.
    let temporary = args.data_dir.is_none();
    let data_dir = match fresh_data_dir(args.data_dir) {
        Ok(dir) => dir,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    // Bind first, so a busy port leaves no data directory behind.
    let listener = match std::net::TcpListener::bind(args.listen) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "error: cannot listen on {}: {error} (choose another with --listen 127.0.0.1:PORT)",
                args.listen
            );
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    // Ctrl-C or SIGTERM at any point from here ends the demo through the clean-up below.
    let (interrupt_tx, interrupted) = tokio::sync::watch::channel(false);
    let signals = tokio::spawn(async move {
        crate::serve::shutdown_signal().await;
        let _ = interrupt_tx.send(true);
    });
    let result = walkthrough(&args.region, args.exit, &data_dir, listener, interrupted).await;
    signals.abort();
    if temporary {
        match std::fs::remove_dir_all(&data_dir) {
            Ok(()) => println!(
                "k9 demo: removed the temporary data directory {}",
                data_dir.display()
            ),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => eprintln!(
                "warning: could not remove the temporary data directory {}: {error}",
                data_dir.display()
            ),
        }
    }
    result
}

/// Provisions the store in `data_dir`, serves on `listener`, sends the walkthrough's
/// requests, then stops at once (`exit`) or at Ctrl-C.
async fn walkthrough(
    region: &str,
    exit: bool,
    data_dir: &std::path::Path,
    listener: std::net::TcpListener,
    mut interrupted: tokio::sync::watch::Receiver<bool>,
) -> Result<ExitCode, String> {
    let store = common::open_store(data_dir)?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{address}");

    let now = OffsetDateTime::now_utc();
    let customer = CustomerId::parse(CUSTOMER).map_err(|e| e.to_string())?;
    let account = AccountId::parse(ACCOUNT).map_err(|e| e.to_string())?;
    let store_error = |e: k9_store::StoreError| e.to_string();
    store
        .create_customer(&customer, Some("Demo Corp"), now)
        .await
        .map_err(store_error)?;
    store
        .add_account(&customer, &account, now)
        .await
        .map_err(store_error)?;
    let approved = PrincipalArn::parse(APPROVED).map_err(|e| e.to_string())?;
    let unapproved = PrincipalArn::parse(UNAPPROVED).map_err(|e| e.to_string())?;
    let alice_key = store
        .create_user(&approved, now)
        .await
        .map_err(store_error)?;
    let mallory_key = store
        .create_user(&unapproved, now)
        .await
        .map_err(store_error)?;
    store
        .approve(&customer, &approved, now)
        .await
        .map_err(store_error)?;
    let creds = |key: &k9_store::NewAccessKey| {
        Credentials::from_keys(
            key.access_key.access_key_id.to_string(),
            key.access_key.secret_access_key.expose().to_owned(),
            None,
        )
    };
    let alice = creds(&alice_key);
    let mallory = creds(&mallory_key);

    println!("k9 demo: data directory {}", data_dir.display());
    println!("k9 demo: customer {CUSTOMER}, account {ACCOUNT}");
    println!(
        "k9 demo: approved principal   {APPROVED} ({})",
        alice.access_key_id()
    );
    println!(
        "k9 demo: unapproved principal {UNAPPROVED} ({})",
        mallory.access_key_id()
    );
    println!("k9 demo: server on {base} (region {region}, service execute-api)");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(store.clone(), region);
    let server = tokio::spawn(k9_server::serve(
        listener,
        None,
        state,
        async {
            let _ = stop_rx.await;
        },
        Duration::from_secs(10),
    ));

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let trigger_path = format!("/customer/{CUSTOMER}/account/{ACCOUNT}/analysis");
    let trigger_body = format!(r#"{{"customerId": "{CUSTOMER}", "accountId": "{ACCOUNT}"}}"#);

    // The requests run until done or until Ctrl-C, whichever comes first: an interrupted
    // walkthrough still stops the server and lets `demo` remove the data directory.
    let steps = async {
        let trigger = |title, signer, tamper| Exchange {
            title,
            method: "POST",
            path: trigger_path.clone(),
            body: Some(trigger_body.clone()),
            signer,
            tamper,
        };
        let queued = show(
            &client,
            &base,
            region,
            trigger(
                "1. alice (approved) triggers an analysis: 202 once the execution is durably queued",
                Some(("alice", &alice)),
                false,
            ),
        )
        .await?;
        let execution_id = queued["executionId"].as_str().unwrap_or("missing");
        let rest = [
            Exchange {
                title: "2. alice reads the execution's status",
                method: "GET",
                path: format!("{trigger_path}/{execution_id}"),
                body: None,
                signer: Some(("alice", &alice)),
                tamper: false,
            },
            trigger(
                "3. mallory (valid signature, not approved for C123456) is refused",
                Some(("mallory", &mallory)),
                false,
            ),
            trigger(
                "4. alice's request with one hex digit of the signature changed is refused",
                Some(("alice", &alice)),
                true,
            ),
            trigger(
                "5. an unsigned request is refused, as API Gateway does",
                None,
                false,
            ),
        ];
        for exchange in rest {
            show(&client, &base, region, exchange).await?;
        }
        Ok::<(), String>(())
    };
    let walkthrough_result = tokio::select! {
        result = steps => Some(result),
        _ = interrupted.wait_for(|interrupted| *interrupted) => None,
    };
    let code = match walkthrough_result {
        None => {
            println!("\nk9 demo: interrupted");
            ExitCode::from(130)
        }
        Some(Err(error)) => {
            let _ = stop_tx.send(());
            return Err(error);
        }
        Some(Ok(())) if exit => ExitCode::SUCCESS,
        Some(Ok(())) => {
            try_it_yourself(region, &alice, &base, &trigger_path, &trigger_body);
            println!("\nk9 demo: serving on {base}; press Ctrl-C to stop.");
            let _ = interrupted.wait_for(|interrupted| *interrupted).await;
            ExitCode::SUCCESS
        }
    };
    let _ = stop_tx.send(());
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(error.to_string()),
        Err(error) => return Err(format!("server task failed: {error}")),
    }
    store.flush().await.map_err(store_error)?;
    Ok(code)
}

/// Credentials and ready commands for the running demo server.
fn try_it_yourself(
    region: &str,
    alice: &Credentials,
    base: &str,
    trigger_path: &str,
    trigger_body: &str,
) {
    println!("\n### Try it yourself");
    println!("export AWS_ACCESS_KEY_ID={}", alice.access_key_id());
    println!("export AWS_SECRET_ACCESS_KEY={}", alice.secret_access_key());
    println!(
        "curl --aws-sigv4 \"aws:amz:{region}:execute-api\" --user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" \\\n  -H 'Content-Type: application/json' -d '{trigger_body}' \\\n  {base}{trigger_path}"
    );
    // The binary that is running, so the line works before `cargo install` put `k9` on PATH.
    let k9 = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "k9".to_owned());
    println!(
        "{k9} analysis list --customer-id {CUSTOMER} --account {ACCOUNT} --endpoint-url {base}"
    );
}
