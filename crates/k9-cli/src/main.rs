//! The `k9` command: API server, administration, demo, and the API client.
//!
//! `main` only parses arguments and dispatches; each subcommand lives in its own module.

mod admin;
mod client_commands;
mod common;
mod demo;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// glibc's malloc is a measurable share of a signed request's cost once several threads
/// allocate at once (arena contention, `malloc_consolidate`); mimalloc is not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// k9: request IAM analyses of AWS accounts over an AWS SigV4-authenticated API.
#[derive(Debug, Parser)]
#[command(
    name = "k9",
    version,
    about = "k9: request IAM analyses of AWS accounts over an API authenticated with AWS Signature Version 4",
    after_help = "Start here: `k9 demo` runs the whole flow on a fresh local server.\n\
Server side:  k9 serve, k9 admin ...\n\
Client side:  k9 analyze account ..., k9 analysis get|list ... (uses your AWS credentials)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the k9 API server.
    Serve(serve::ServeArgs),
    /// Manage users, keys, roles, sessions, customers, accounts and approvals (works on the
    /// data directory directly, whether or not the server is running; prints JSON).
    Admin(admin::AdminArgs),
    /// Run the main job once on a fresh data directory: start a server, provision a customer,
    /// send real signed requests and print them, then keep serving.
    Demo(demo::DemoArgs),
    /// Start an analysis (client; signs with your AWS credentials).
    #[command(subcommand)]
    Analyze(client_commands::AnalyzeCommand),
    /// Read analyses (client; signs with your AWS credentials).
    #[command(subcommand)]
    Analysis(client_commands::AnalysisCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Admin(args) => admin::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Analyze(command) => client_commands::run_analyze(command).await,
            Command::Analysis(command) => client_commands::run_analysis(command).await,
        }
    })
}
