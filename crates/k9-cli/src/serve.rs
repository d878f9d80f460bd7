//! `k9 serve`: run the API.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use k9_server::{AppState, TlsFiles};
use k9_sigv4::VerifierConfig;

use crate::common::{self, DataDirArgs, LogFormat, EXIT_FAILURE, EXIT_USAGE};

/// Start the k9 API server.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Every option can also be set through the environment variable shown.\n\
Also from the environment:\n\
  K9_MASTER_KEY  64 hex characters: the key that encrypts stored secrets, instead of\n\
                 <data-dir>/master.key\n\
  K9_LOG         log level or filter, e.g. debug or k9_server=debug (default info)\n\
Example:\n  k9 serve --listen 127.0.0.1:8080 --data-dir ./k9-data"
)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "K9_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR:PORT",
        value_parser = crate::common::parse_listen
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub data_dir: DataDirArgs,
    /// The region clients sign for (the signing service is always `execute-api`).
    #[arg(long, env = "K9_REGION", default_value = "us-east-1")]
    pub region: String,
    /// TLS certificate chain (PEM). With --tls-key, serve HTTPS.
    #[arg(long, env = "K9_TLS_CERT", requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "K9_TLS_KEY", requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<std::path::PathBuf>,
    /// How far a request's signing time may be from this server's clock.
    #[arg(
        long,
        env = "K9_CLOCK_SKEW_SECONDS",
        default_value_t = 300,
        value_name = "SECONDS"
    )]
    pub clock_skew_seconds: u64,
    /// Days of audit log to keep; older events are deleted at start and every hour. 0 keeps
    /// everything (the log then grows by one event per request that reaches authentication).
    #[arg(
        long,
        env = "K9_AUDIT_RETENTION_DAYS",
        default_value_t = 90,
        value_name = "DAYS"
    )]
    pub audit_retention_days: u32,
    /// Log format (level from K9_LOG, e.g. `debug`).
    #[arg(long, env = "K9_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Runs `k9 serve`.
pub async fn run(args: ServeArgs) -> ExitCode {
    common::init_logging(args.log_format, "info");
    // Bind first: a busy port should not leave a new data directory behind.
    let listener = match std::net::TcpListener::bind(args.listen) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", args.listen);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let store = match common::open_store(&args.data_dir.data_dir) {
        Ok(store) => store,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let retention = (args.audit_retention_days > 0).then(|| {
        tokio::spawn(k9_server::retention::prune_audit_log(
            store.clone(),
            Duration::from_secs(u64::from(args.audit_retention_days) * 86_400),
            Duration::from_secs(3_600),
        ))
    });
    let mut config = VerifierConfig::new(&args.region, k9_server::SIGNING_SERVICE);
    config.clock_skew = Duration::from_secs(args.clock_skew_seconds);
    let state = AppState::with_verifier_config(store.clone(), config);
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let address = listener.local_addr().map_or(args.listen, |a| a);
    tracing::info!(
        data_dir = %args.data_dir.data_dir.display(),
        region = %args.region,
        "k9 API listening on {scheme}://{address}"
    );
    let result = k9_server::serve(
        listener,
        tls,
        state,
        shutdown_signal(),
        Duration::from_secs(30),
    )
    .await;
    if let Some(retention) = retention {
        retention.abort();
    }
    let flushed = k9_store::Store::flush(store.as_ref()).await;
    match (result, flushed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(error), _) => {
            eprintln!("error: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
        (_, Err(error)) => {
            eprintln!("error: could not flush the store at shutdown: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
