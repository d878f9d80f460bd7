//! Pieces several subcommands share: the data directory, the store, logging.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use k9_store::{MasterKey, SqliteStore};

/// Exit code for a usage error (bad flags or ids), as clap uses.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for failures that are not the user's input (I/O, store, server).
pub const EXIT_FAILURE: u8 = 1;

/// `--data-dir`, shared by `serve` and `admin` (`demo` has its own: a fresh directory).
#[derive(Debug, Clone, clap::Args)]
pub struct DataDirArgs {
    /// Where k9 keeps its SQLite database and master key. `serve` creates it, as do `admin user
    /// create`, `role create` and `customer create`; other `admin` commands need it to exist.
    // Global, so `k9 admin show C123456 --data-dir DIR` works as well as
    // `k9 admin --data-dir DIR show C123456`.
    #[arg(
        long,
        global = true,
        env = "K9_DATA_DIR",
        default_value = "./k9-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
}

/// Parses `--listen`: an IP address and a port. Host names are refused rather than resolved
/// (`localhost` may resolve to `::1` alone, or to something else entirely), with the fix.
pub fn parse_listen(value: &str) -> Result<std::net::SocketAddr, String> {
    value.parse().map_err(|_| {
        format!(
            "'{value}' is not an IP address and port: use e.g. 127.0.0.1:8080 (this machine \
             only), 0.0.0.0:8080 (every IPv4 interface) or [::1]:8080"
        )
    })
}

/// Opens (creating if needed) the store in `data_dir`. The master key comes from
/// `K9_MASTER_KEY` (64 hex characters) if set, else from `<data_dir>/master.key`.
pub fn open_store(data_dir: &Path) -> Result<Arc<SqliteStore>, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", data_dir.display()))?;
    let master_key = match std::env::var("K9_MASTER_KEY") {
        Ok(hex) if !hex.is_empty() => {
            MasterKey::from_hex(&hex).map_err(|e| format!("K9_MASTER_KEY is not usable: {e}"))?
        }
        _ => MasterKey::load_or_create(data_dir)
            .map_err(|e| format!("cannot load master key from {}: {e}", data_dir.display()))?,
    };
    SqliteStore::open(data_dir, master_key)
        .map(Arc::new)
        .map_err(|e| format!("cannot open store in {}: {e}", data_dir.display()))
}

/// Log output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Starts `tracing` output on stderr. The level comes from `K9_LOG` (e.g. `debug`,
/// `k9_server=debug`), else `default_level`.
pub fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("K9_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not in a log file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second initialisation (tests, demo) is harmless: keep the first.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
