//! `k9 analyze` and `k9 analysis`: the API client commands.
//!
//! Each command parses and validates its ids (clap does, through the domain types' `FromStr`),
//! loads AWS credentials the way the AWS CLI does, calls the API through [`k9_client`], and
//! prints the answer, or an `error:` line with a `hint:` for the usual causes, and exits
//! with one of the `EXIT_*` codes below.

use std::error::Error as StdError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::imds;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::region::ProfileFileRegionProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::Region;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use clap::{Args, Subcommand, ValueEnum};
use k9_client::{
    AccountId, ClientConfig, ClientError, CustomerId, Execution, ExecutionId, ExecutionList,
    FailureClass, K9Client, NetworkErrorKind, DEFAULT_ENDPOINT, DEFAULT_REGION,
};
use serde::Serialize;

/// Exit code: the command succeeded.
pub const EXIT_SUCCESS: u8 = 0;
/// Exit code: bad flags or an invalid id (clap exits with 2 too); nothing was sent.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: authentication or authorization refused (HTTP 401/403), or no usable AWS
/// credentials were found.
pub const EXIT_AUTH: u8 = 3;
/// Exit code: the API could not be reached or failed (connection, TLS, timeout, HTTP 5xx
/// after retries, or an answer that is not the k9 API's).
pub const EXIT_UNAVAILABLE: u8 = 4;
/// Exit code: the API rejected the request (HTTP 4xx other than 401/403, e.g. 400, 404, 413).
pub const EXIT_REJECTED: u8 = 5;

/// The exit code table, shown at the end of each client command's `--help`.
const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  2  usage error: bad flags or an invalid id (nothing was sent)
  3  authentication or authorization refused (HTTP 401/403), or no AWS credentials found
  4  network or server error: unreachable, timeout, TLS, HTTP 5xx after retries
  5  request rejected by the API: other HTTP 4xx (400, 404, 413, ...)";

/// How long to wait for the EC2 instance metadata service before concluding there is none.
/// The SDK's defaults (1 s, 4 attempts) make "no credentials found" take ~5 s off EC2.
const IMDS_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const IMDS_READ_TIMEOUT: Duration = Duration::from_secs(1);
const IMDS_ATTEMPTS: u32 = 2;

/// `k9 analyze ...`: start analyses.
#[derive(Debug, Subcommand)]
pub enum AnalyzeCommand {
    /// Start an IAM analysis of an AWS account.
    #[command(
        long_about = "Start an IAM analysis of an AWS account.\n\n\
            Sends a request signed with your AWS credentials to the k9 API, which queues the \
            analysis and answers with its execution id. Starting an analysis while one is \
            already queued for the same account returns the queued one.",
        after_help = analyze_account_after_help()
    )]
    Account(AnalyzeAccountArgs),
}

/// `k9 analysis ...`: read analyses.
#[derive(Debug, Subcommand)]
pub enum AnalysisCommand {
    /// Show one analysis execution: its status, who requested it and when.
    #[command(
        long_about = "Show one analysis execution: its status, who requested it and when.\n\n\
            The customer and account are part of the execution id, so only the id is needed.",
        after_help = analysis_get_after_help()
    )]
    Get(AnalysisGetArgs),
    /// List the analysis executions of an account, newest first.
    #[command(
        long_about = "List the analysis executions of an account, newest first.\n\n\
            Results come in pages; when there are more, the command prints the --next-token \
            to pass to get the next page.",
        after_help = analysis_list_after_help()
    )]
    List(AnalysisListArgs),
}

/// Arguments of `k9 analyze account`.
#[derive(Debug, Args)]
pub struct AnalyzeAccountArgs {
    /// The k9 customer id: C followed by 5 or 6 digits, e.g. C123456.
    #[arg(
        long = "customer-id",
        alias = "customer_id",
        value_name = "CUSTOMER_ID"
    )]
    customer_id: CustomerId,
    /// The 12-digit id of the AWS account to analyse, e.g. 123456789012.
    #[arg(long = "account", alias = "account-id", value_name = "ACCOUNT_ID")]
    account: AccountId,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `k9 analysis get`.
#[derive(Debug, Args)]
pub struct AnalysisGetArgs {
    /// The execution id printed by `k9 analyze account`, e.g.
    /// ondemand-C123456-123456789012-2024-05-06_AB12.
    #[arg(value_name = "EXECUTION_ID")]
    execution_id: ExecutionId,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `k9 analysis list`.
#[derive(Debug, Args)]
pub struct AnalysisListArgs {
    /// The k9 customer id: C followed by 5 or 6 digits, e.g. C123456.
    #[arg(
        long = "customer-id",
        alias = "customer_id",
        value_name = "CUSTOMER_ID"
    )]
    customer_id: CustomerId,
    /// The 12-digit id of the AWS account, e.g. 123456789012.
    #[arg(long = "account", alias = "account-id", value_name = "ACCOUNT_ID")]
    account: AccountId,
    /// Executions per page, 1 to 100 (the server's default is 20).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    limit: Option<u32>,
    /// Continue a listing: the token printed at the end of the previous page.
    #[arg(long = "next-token", value_name = "TOKEN")]
    next_token: Option<String>,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Where the API is, how to sign, and how to print: shared by every client command.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection and output")]
struct ConnectionArgs {
    /// Base URL of the k9 API, e.g. http://127.0.0.1:8080 for a local `k9 serve`.
    ///
    /// [env: K9_ENDPOINT_URL] [default: https://api.k9security.io]
    #[arg(long = "endpoint-url", value_name = "URL", conflicts_with = "api")]
    endpoint_url: Option<String>,
    /// Host name of the k9 API, as in the original k9-cli: `--api HOST` means
    /// `--endpoint-url https://HOST`.
    #[arg(long, value_name = "HOST")]
    api: Option<String>,
    /// The region the API verifies signatures for. This is the k9 API's region, not your
    /// AWS default region or your profile's, which are ignored here.
    #[arg(long, env = "K9_REGION", value_name = "REGION", default_value = DEFAULT_REGION)]
    region: String,
    /// Sign with the credentials of this AWS profile (from ~/.aws/config and
    /// ~/.aws/credentials, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE): static keys,
    /// role_arn, SSO (after `aws sso login`) or credential_process. Takes precedence over
    /// AWS_ACCESS_KEY_ID; without it, credentials come from the AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN variables, then the AWS_PROFILE (or
    /// default) profile, web identity, ECS and EC2 instance roles.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// How to print the result: `text` for people, `json` for scripts (the API's JSON).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    /// Also trust the CA certificate(s) in this PEM file, for a k9 server with a private or
    /// self-signed certificate.
    #[arg(long = "ca-cert", env = "K9_CA_CERT", value_name = "PEM_FILE")]
    ca_cert: Option<PathBuf>,
}

/// The `--output` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// Readable text and tables.
    Text,
    /// The API's JSON, pretty-printed.
    Json,
}

fn analyze_account_after_help() -> String {
    format!(
        "Example:\n  \
         k9 analyze account --customer-id C123456 --account 123456789012 --profile k9-automation\n  \
         (prints: Started analysis for C123456 account 123456789012 with execution ID: ondemand-...)\n\n\
         {EXIT_CODES_HELP}"
    )
}

fn analysis_get_after_help() -> String {
    format!(
        "Example:\n  k9 analysis get ondemand-C123456-123456789012-2024-05-06_AB12 --output json\n\n\
         {EXIT_CODES_HELP}"
    )
}

fn analysis_list_after_help() -> String {
    format!(
        "Example:\n  k9 analysis list --customer-id C123456 --account 123456789012 --limit 20\n\n\
         {EXIT_CODES_HELP}"
    )
}

/// Runs `k9 analyze ...` and returns the process exit code.
pub async fn run_analyze(command: AnalyzeCommand) -> ExitCode {
    match command {
        AnalyzeCommand::Account(args) => {
            let target = Some((args.customer_id.clone(), args.account.clone()));
            finish(&args.connection, target, analyze_account(&args).await).await
        }
    }
}

/// Runs `k9 analysis ...` and returns the process exit code.
pub async fn run_analysis(command: AnalysisCommand) -> ExitCode {
    match command {
        AnalysisCommand::Get(args) => {
            let id = &args.execution_id;
            let target = Some((id.customer_id(), id.account_id()));
            finish(&args.connection, target, analysis_get(&args).await).await
        }
        AnalysisCommand::List(args) => {
            let target = Some((args.customer_id.clone(), args.account.clone()));
            finish(&args.connection, target, analysis_list(&args).await).await
        }
    }
}

async fn analyze_account(args: &AnalyzeAccountArgs) -> Result<(), Failure> {
    let session = Session::open(&args.connection).await?;
    let response = session
        .client
        .trigger_analysis(&args.customer_id, &args.account)
        .await
        .map_err(|error| session.failure(error))?;
    match args.connection.output {
        OutputFormat::Json => print_json(&response),
        OutputFormat::Text => print_stdout(&format!(
            "Started analysis for {} account {} with execution ID: {}\n",
            response.customer_id, response.account_id, response.execution_id
        )),
    }
    Ok(())
}

async fn analysis_get(args: &AnalysisGetArgs) -> Result<(), Failure> {
    let session = Session::open(&args.connection).await?;
    let execution = session
        .client
        .get_execution(&args.execution_id)
        .await
        .map_err(|error| session.failure(error))?;
    match args.connection.output {
        OutputFormat::Json => print_json(&execution),
        OutputFormat::Text => print_stdout(&execution_details(&execution)),
    }
    Ok(())
}

async fn analysis_list(args: &AnalysisListArgs) -> Result<(), Failure> {
    let session = Session::open(&args.connection).await?;
    let list = session
        .client
        .list_executions(
            &args.customer_id,
            &args.account,
            args.limit,
            args.next_token.as_deref(),
        )
        .await
        .map_err(|error| session.failure(error))?;
    match args.connection.output {
        OutputFormat::Json => print_json(&list),
        OutputFormat::Text => {
            print_stdout(&execution_table(&list, &args.customer_id, &args.account))
        }
    }
    Ok(())
}

/// A client ready to call the API, and what is known about how it signs (for hints).
struct Session {
    client: K9Client,
    signer: SignerInfo,
}

impl Session {
    async fn open(connection: &ConnectionArgs) -> Result<Self, Failure> {
        let endpoint = connection.endpoint()?;
        let ca_cert_pem = match &connection.ca_cert {
            Some(path) => Some(read_ca_cert(path)?),
            None => None,
        };
        let mut config = ClientConfig::new(endpoint);
        config.region = connection.region.clone();
        config.ca_cert_pem = ca_cert_pem;
        // A bad endpoint or CA file is a usage error, reported before credentials are
        // looked for (which can take a moment, and might fail too).
        config.validate().map_err(|error| Failure::Client {
            error: Box::new(error),
            signer: None,
        })?;
        let credentials = load_credentials(connection.profile.as_deref()).await?;
        let signer = SignerInfo::new(&credentials, connection.profile.as_deref());
        let client = K9Client::new(config, credentials).map_err(|error| Failure::Client {
            error: Box::new(error),
            signer: None,
        })?;
        Ok(Self { client, signer })
    }

    fn failure(&self, error: ClientError) -> Failure {
        Failure::Client {
            error: Box::new(error),
            signer: Some(self.signer.clone()),
        }
    }
}

impl ConnectionArgs {
    /// The endpoint, from `--endpoint-url`, `--api`, `K9_ENDPOINT_URL` or the default, in
    /// that order. The environment variable is read here rather than by clap so that it
    /// does not conflict with `--api` the way an explicit `--endpoint-url` does.
    fn endpoint(&self) -> Result<String, Failure> {
        if let Some(url) = &self.endpoint_url {
            return Ok(url.clone());
        }
        if let Some(host) = &self.api {
            let host = host.trim();
            if host.is_empty() {
                return Err(Failure::Usage(
                    "--api needs a host name, e.g. api.k9security.io".into(),
                ));
            }
            return Ok(if host.contains("://") {
                host.to_owned()
            } else {
                format!("https://{host}")
            });
        }
        match std::env::var("K9_ENDPOINT_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(url),
            _ => Ok(DEFAULT_ENDPOINT.to_owned()),
        }
    }

    fn endpoint_for_hint(&self) -> String {
        self.endpoint()
            .unwrap_or_else(|_| DEFAULT_ENDPOINT.to_owned())
    }
}

fn read_ca_cert(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|error| {
        Failure::Usage(format!(
            "cannot read the CA certificate file {}: {error}",
            path.display()
        ))
    })
}

/// Loads credentials the way the AWS CLI does: an explicit `--profile` wins; otherwise the
/// SDK's default chain (environment, `AWS_PROFILE`/default profile, web identity, ECS, EC2).
/// Credential files are read and parsed by aws-config, never here.
async fn load_credentials(profile: Option<&str>) -> Result<Credentials, Failure> {
    let region = sts_region(profile).await;
    let result = match profile {
        Some(name) => {
            let config = ProviderConfig::default().with_region(Some(region));
            ProfileFileCredentialsProvider::builder()
                .profile_name(name)
                .configure(&config)
                .build()
                .provide_credentials()
                .await
        }
        None => {
            let imds = imds::Client::builder()
                .connect_timeout(IMDS_CONNECT_TIMEOUT)
                .read_timeout(IMDS_READ_TIMEOUT)
                .max_attempts(IMDS_ATTEMPTS)
                .build();
            DefaultCredentialsChain::builder()
                .region(region)
                .imds_client(imds)
                .build()
                .await
                .provide_credentials()
                .await
        }
    };
    match result {
        Ok(credentials) => Ok(credentials),
        Err(error) => Err(Failure::NoCredentials {
            profile: profile.map(str::to_owned),
            profile_defined: match profile {
                Some(name) => profile_defined(name).await,
                None => None,
            },
            not_found: matches!(error, CredentialsError::CredentialsNotLoaded(_)),
            detail: error_chain(&error),
        }),
    }
}

/// The region for the AWS calls that loading credentials may make (STS for a `role_arn`
/// profile or web identity; SSO has its own `sso_region`): `AWS_REGION`, else the profile's
/// `region`, else `us-east-1`. It never affects how k9 requests are signed (`--region`).
///
/// Without the fallback a role profile with no region fails ("missing signing region"), and
/// the SDK's own chain would also ask EC2 metadata, which hangs for seconds off EC2.
async fn sts_region(profile: Option<&str>) -> Region {
    let mut from_profile = ProfileFileRegionProvider::builder();
    if let Some(name) = profile {
        from_profile = from_profile.profile_name(name);
    }
    RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(from_profile.build())
        .or_else(Region::from_static(DEFAULT_REGION))
        .region()
        .await
        .unwrap_or(Region::from_static(DEFAULT_REGION))
}

/// Reads the AWS config and credentials files (through aws-config) and returns the named
/// profile, or `None` if the files cannot be read or do not define it.
async fn load_profile(name: &str) -> Option<aws_config::profile::Profile> {
    // The alias is deprecated in favour of aws-runtime's `EnvConfigFiles`, the same type;
    // naming it through aws-config spares a direct aws-runtime dependency.
    #[allow(deprecated)]
    let files = aws_config::profile::profile_file::ProfileFiles::default();
    let set = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &files,
        Some(name.to_owned().into()),
    )
    .await
    .ok()?;
    set.get_profile(name).cloned()
}

/// Whether the AWS config files define profile `name`; `None` if they cannot be read.
async fn profile_defined(name: &str) -> Option<bool> {
    Some(load_profile(name).await.is_some())
}

/// What can be said locally about who a request was signed as, for the
/// "not authorized" hint. Holds no secret: the access key id is shown masked like
/// `aws configure list` does.
#[derive(Debug, Clone)]
struct SignerInfo {
    masked_access_key_id: String,
    source: CredentialSource,
}

/// Where the credentials came from, as far as can be told without asking AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CredentialSource {
    /// A named profile: `--profile`, or `AWS_PROFILE` when no keys are in the environment.
    Profile(String),
    /// `AWS_ACCESS_KEY_ID` and friends.
    Environment,
    /// The rest of the default chain: the default profile, web identity, ECS or EC2.
    DefaultChain,
}

impl SignerInfo {
    fn new(credentials: &Credentials, profile: Option<&str>) -> Self {
        // The same precedence as `load_credentials`: --profile, then the environment's keys,
        // then AWS_PROFILE, then the rest of the chain.
        let source = match profile {
            Some(profile) => CredentialSource::Profile(profile.to_owned()),
            None if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() => {
                CredentialSource::Environment
            }
            None => match std::env::var("AWS_PROFILE") {
                Ok(profile) if !profile.is_empty() => CredentialSource::Profile(profile),
                _ => CredentialSource::DefaultChain,
            },
        };
        Self {
            masked_access_key_id: mask(credentials.access_key_id()),
            source,
        }
    }

    fn profile(&self) -> Option<&str> {
        match &self.source {
            CredentialSource::Profile(profile) => Some(profile),
            _ => None,
        }
    }

    /// The role the profile assumes, if it names one (`role_arn`), read through aws-config.
    async fn profile_role_arn(&self) -> Option<String> {
        let profile = load_profile(self.profile()?).await?;
        profile.get("role_arn").map(str::to_owned)
    }
}

/// `****************WXYZ`: the last four characters, as `aws configure list` shows keys.
fn mask(access_key_id: &str) -> String {
    let hidden = access_key_id.chars().count().saturating_sub(4);
    access_key_id
        .chars()
        .enumerate()
        .map(|(i, c)| if i < hidden { '*' } else { c })
        .collect()
}

/// Why a client command failed.
#[derive(Debug)]
enum Failure {
    /// Wrong arguments, found after clap's own checks (a bad endpoint, an unreadable file).
    Usage(String),
    /// No credentials could be loaded.
    NoCredentials {
        profile: Option<String>,
        /// Whether the AWS config files define `profile` (`None`: unknown).
        profile_defined: Option<bool>,
        /// No provider had any credentials (as opposed to one failing to load them).
        not_found: bool,
        detail: String,
    },
    /// The API call failed.
    Client {
        /// Boxed: a `ClientError` is large, and `Failure` travels in every `Result` here.
        error: Box<ClientError>,
        signer: Option<SignerInfo>,
    },
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::NoCredentials { .. } => EXIT_AUTH,
            Failure::Client { error, .. } => exit_code_for(error),
        }
    }
}

/// The exit code for a failed API call.
fn exit_code_for(error: &ClientError) -> u8 {
    match error.class() {
        FailureClass::Usage => EXIT_USAGE,
        FailureClass::Auth => EXIT_AUTH,
        FailureClass::Unavailable => EXIT_UNAVAILABLE,
        FailureClass::Rejected => EXIT_REJECTED,
    }
}

/// Prints the outcome and turns it into the exit code.
async fn finish(
    connection: &ConnectionArgs,
    target: Option<(CustomerId, AccountId)>,
    outcome: Result<(), Failure>,
) -> ExitCode {
    let Err(failure) = outcome else {
        return ExitCode::from(EXIT_SUCCESS);
    };
    // Finding the profile's role reads the AWS config files: only done when it is shown.
    let role_arn = match &failure {
        Failure::Client {
            error,
            signer: Some(signer),
        } if is_authorization_refusal(error) => signer.profile_role_arn().await,
        _ => None,
    };
    let report = FailureReport::new(&failure, connection, target.as_ref(), role_arn.as_deref());
    eprint!("{}", report.render());
    ExitCode::from(failure.exit_code())
}

/// Whether the API authenticated the caller but refused the action.
fn is_authorization_refusal(error: &ClientError) -> bool {
    error.is_auth_refusal()
        && (error.error_type() == Some("AccessDeniedException")
            || (error.error_type().is_none() && error.to_string().contains("not authorized")))
}

/// The text printed on stderr for a failure: `error: ...`, then details and hints.
struct FailureReport {
    error: String,
    detail: Option<String>,
    hints: Vec<String>,
}

impl FailureReport {
    fn new(
        failure: &Failure,
        connection: &ConnectionArgs,
        target: Option<&(CustomerId, AccountId)>,
        role_arn: Option<&str>,
    ) -> Self {
        match failure {
            Failure::Usage(message) => Self {
                error: message.clone(),
                detail: None,
                hints: Vec::new(),
            },
            Failure::NoCredentials {
                profile,
                profile_defined,
                not_found,
                detail,
            } => no_credentials_report(profile.as_deref(), *profile_defined, *not_found, detail),
            Failure::Client { error, signer } => {
                client_error_report(error, signer.as_ref(), connection, target, role_arn)
            }
        }
    }

    fn render(&self) -> String {
        let mut text = format!("error: {}\n", self.error);
        if let Some(detail) = &self.detail {
            text.push_str(&format!("  ({detail})\n"));
        }
        for hint in &self.hints {
            text.push_str(&format!("hint: {hint}\n"));
        }
        text
    }
}

fn no_credentials_report(
    profile: Option<&str>,
    profile_defined: Option<bool>,
    not_found: bool,
    detail: &str,
) -> FailureReport {
    let error = match (profile, profile_defined, not_found) {
        (Some(profile), Some(false), _) => format!(
            "AWS profile '{profile}' is not defined (looked in {})",
            aws_files_searched()
        ),
        (Some(profile), _, true) => format!("AWS profile '{profile}' has no credentials"),
        (Some(profile), _, false) => {
            format!("cannot load AWS credentials for profile '{profile}': {detail}")
        }
        (None, _, true) => "no AWS credentials found".to_owned(),
        (None, _, false) => format!("cannot load AWS credentials: {detail}"),
    };
    let mut hints = vec![
        "k9 signs requests with your AWS credentials. Provide them with \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary \
         credentials), or --profile NAME / AWS_PROFILE for a profile in ~/.aws/config or \
         ~/.aws/credentials."
            .to_owned(),
    ];
    let lower = detail.to_ascii_lowercase();
    hints.push(match profile {
        Some(profile) => format!(
            "check the profile with `aws configure list --profile {profile}`; for an SSO \
             profile sign in first with `aws sso login --profile {profile}`."
        ),
        None => "for an SSO profile run `aws sso login --profile NAME`, then pass --profile NAME."
            .to_owned(),
    });
    if profile.is_none() && lower.contains("imds") {
        hints.push(
            "the EC2 instance metadata service was only tried because no environment \
             variables or profile provided credentials."
                .to_owned(),
        );
    }
    FailureReport {
        error,
        detail: (not_found && profile.is_none()).then(|| detail.to_owned()),
        hints,
    }
}

/// Where aws-config looks for profiles, for messages.
fn aws_files_searched() -> String {
    let config = std::env::var("AWS_CONFIG_FILE").unwrap_or_else(|_| "~/.aws/config".into());
    let credentials = std::env::var("AWS_SHARED_CREDENTIALS_FILE")
        .unwrap_or_else(|_| "~/.aws/credentials".into());
    format!("{config} and {credentials}")
}

fn client_error_report(
    error: &ClientError,
    signer: Option<&SignerInfo>,
    connection: &ConnectionArgs,
    target: Option<&(CustomerId, AccountId)>,
    role_arn: Option<&str>,
) -> FailureReport {
    let mut detail_parts = Vec::new();
    if let Some(status) = error.status() {
        detail_parts.push(format!("HTTP {status}"));
    }
    if let Some(error_type) = error.error_type() {
        detail_parts.push(error_type.to_owned());
    }
    if let Some(request_id) = error.request_id() {
        detail_parts.push(format!("request id {request_id}"));
    }
    let detail = (!detail_parts.is_empty()).then(|| detail_parts.join(", "));
    let endpoint = connection.endpoint_for_hint();
    let profile_flag = signer
        .and_then(SignerInfo::profile)
        .map(|p| format!(" --profile {p}"))
        .unwrap_or_default();
    let key = signer
        .map(|s| s.masked_access_key_id.clone())
        .unwrap_or_else(|| "your access key".to_owned());

    let mut hints = Vec::new();
    match error {
        ClientError::Api { .. } if is_authorization_refusal(error) => {
            let source = match signer.map(|s| &s.source) {
                Some(CredentialSource::Profile(profile)) => match role_arn {
                    Some(role) => format!("profile '{profile}', which assumes role {role}"),
                    None => format!("profile '{profile}'"),
                },
                Some(CredentialSource::Environment) => {
                    "the AWS_ACCESS_KEY_ID environment variable".to_owned()
                }
                Some(CredentialSource::DefaultChain) | None => {
                    "the default credential chain".to_owned()
                }
            };
            let (what, fix) = match target {
                Some((customer, account)) => (
                    format!("customer {customer} and account {account}"),
                    format!(
                        "`k9 admin approve {customer} ARN` and `k9 admin account add {customer} {account}`, \
                         after `k9 admin customer create {customer}` if the customer is new"
                    ),
                ),
                None => (
                    "this customer and account".to_owned(),
                    "`k9 admin approve CUSTOMER ARN` and `k9 admin account add CUSTOMER ACCOUNT`, \
                     after `k9 admin customer create CUSTOMER` if the customer is new"
                        .to_owned(),
                ),
            };
            // The server answers the same whether the approval or the account is missing, so
            // the hint names both.
            hints.push(format!(
                "the k9 server authenticated the request, but either the principal it was \
                 signed as is not approved for the customer, or the account is not registered \
                 to that customer, or there is no such customer ({what}); the server gives one \
                 answer for all three (`k9 admin audit` on the server says which). It was signed \
                 with access key {key} from {source}. Its ARN: `k9 admin key list` on the \
                 server (keys made by `k9 admin`), or `aws sts get-caller-identity{profile_flag}` \
                 (AWS keys)."
            ));
            hints.push(format!(
                "ask your k9 administrator to approve that ARN and register the account \
                 ({fix}), or use --profile with credentials that are approved."
            ));
        }
        ClientError::Api { error_type, .. } if error.is_auth_refusal() => {
            match error_type.as_deref() {
                Some("InvalidSignatureException") => hints.push(format!(
                    "the signature did not verify: check that the secret access key belongs to \
                     access key {key}, that this machine's clock is correct (signatures are \
                     valid for 5 minutes), and that --region ({}) is the region the k9 server \
                     verifies for.",
                    connection.region
                )),
                Some("UnrecognizedClientException") => hints.push(format!(
                    "access key {key} is not known to this k9 server ({endpoint}) or is \
                     deactivated; for temporary credentials (ASIA...), the session token may be \
                     missing or not the one issued with the key. Sign with credentials the \
                     server has given you (--profile NAME), or ask its administrator to \
                     register or reactivate this key (`k9 admin key list`)."
                )),
                Some("ExpiredTokenException") => hints.push(format!(
                    "the session credentials have expired: refresh them (aws sso login{profile_flag}, \
                     or get new temporary credentials) and try again."
                )),
                Some("MissingAuthenticationTokenException" | "IncompleteSignatureException") => {
                    hints.push(format!(
                        "the server did not receive a complete signature: check that \
                         --endpoint-url ({endpoint}) is a k9 API (API Gateway answers this for \
                         unknown paths) and that no proxy strips the Authorization header."
                    ))
                }
                _ => hints.push(format!(
                    "the k9 server refused the credentials (access key {key}); check that they \
                     are the ones it expects, and --region ({}).",
                    connection.region
                )),
            }
        }
        ClientError::Api { status: 404, .. } => hints.push(format!(
            "check the ids, and that --endpoint-url ({endpoint}) is the k9 API that holds them."
        )),
        ClientError::Api { status: 413, .. } => {
            hints.push("the request was larger than the server accepts.".to_owned())
        }
        ClientError::Api { .. } => {}
        ClientError::Network(network) => hints.push(match network.kind {
            NetworkErrorKind::Tls => format!(
                "the TLS connection to {endpoint} failed. If the server uses a private or \
                 self-signed certificate, pass its CA with --ca-cert PEM_FILE (or K9_CA_CERT); \
                 a self-signed server certificate must itself be a leaf (basicConstraints \
                 CA:FALSE, as `openssl req -x509 -addext basicConstraints=critical,CA:FALSE` \
                 makes it), not a CA, or the TLS library refuses it (CaUsedAsEndEntity); \
                 check that the host name matches the certificate, and that the server speaks \
                 HTTPS (use http:// for a plain HTTP server)."
            ),
            NetworkErrorKind::Timeout => format!(
                "the k9 API at {endpoint} did not answer in time: check --endpoint-url, the \
                 network and any proxy (HTTPS_PROXY), and try again."
            ),
            _ => format!(
                "cannot reach the k9 API at {endpoint}: check --endpoint-url (or K9_ENDPOINT_URL) \
                 and that the server is running and reachable from here."
            ),
        }),
        ClientError::Server { .. } => hints.push(
            "the k9 API failed; try again later, and quote the request id to its operator if \
             it persists."
                .to_owned(),
        ),
        ClientError::InvalidResponse(_) => hints.push(format!(
            "check that --endpoint-url ({endpoint}) points at a k9 API."
        )),
        ClientError::Signing(_) => hints.push(
            "the credentials could not be used to sign; check the access key id, secret and \
             session token for stray characters."
                .to_owned(),
        ),
        ClientError::Usage(_) => {}
    }
    FailureReport {
        error: error.to_string(),
        detail,
        hints,
    }
}

/// `error: cause: cause...` without repeating a cause already in the text.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The key-value table `k9 analysis get` prints.
fn execution_details(execution: &Execution) -> String {
    let rows = [
        ("Execution ID", execution.execution_id.to_string()),
        ("Customer ID", execution.customer_id.to_string()),
        ("Account", execution.account_id.to_string()),
        ("Status", execution.status.to_string()),
        ("Requested by", execution.requested_by.to_string()),
        ("Requested at", timestamp(Some(execution.requested_at))),
        ("Started at", timestamp(execution.started_at)),
        ("Finished at", timestamp(execution.finished_at)),
        (
            "Error",
            execution.error.clone().unwrap_or_else(|| "-".into()),
        ),
    ];
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(label, value)| format!("{:<width$} {value}\n", format!("{label}:")))
        .collect()
}

/// The table `k9 analysis list` prints, with the next-page command if there is one.
fn execution_table(list: &ExecutionList, customer: &CustomerId, account: &AccountId) -> String {
    if list.executions.is_empty() && list.next_token.is_none() {
        return format!("No analyses found for {customer} account {account}.\n");
    }
    let mut rows = vec![[
        "EXECUTION ID".to_owned(),
        "STATUS".to_owned(),
        "REQUESTED AT".to_owned(),
        "FINISHED AT".to_owned(),
        "REQUESTED BY".to_owned(),
    ]];
    for execution in &list.executions {
        rows.push([
            execution.execution_id.to_string(),
            execution.status.to_string(),
            timestamp(Some(execution.requested_at)),
            timestamp(execution.finished_at),
            execution.requested_by.to_string(),
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    if let Some(token) = &list.next_token {
        text.push_str(&format!(
            "\nMore analyses: run the same command with --next-token {token}\n"
        ));
    }
    text
}

/// RFC 3339 in UTC to the second, or `-`.
fn timestamp(time: Option<time::OffsetDateTime>) -> String {
    let Some(time) = time else {
        return "-".to_owned();
    };
    let time = time.to_offset(time::UtcOffset::UTC);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time.format(&format).unwrap_or_else(|_| time.to_string())
}

fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(json) => print_stdout(&format!("{json}\n")),
        // The API types serialize to JSON maps of strings; this cannot fail, but if it ever
        // did, say so rather than print nothing.
        Err(error) => eprintln!("error: cannot print the answer as JSON: {error}"),
    }
}

/// Writes to stdout, ignoring a closed pipe (`k9 analysis list | head`).
fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, error_type: Option<&str>, message: &str) -> ClientError {
        ClientError::Api {
            status,
            error_type: error_type.map(str::to_owned),
            message: message.to_owned(),
            request_id: Some("rid".to_owned()),
        }
    }

    fn connection() -> ConnectionArgs {
        ConnectionArgs {
            endpoint_url: Some("http://127.0.0.1:9".into()),
            api: None,
            region: "us-east-1".into(),
            profile: None,
            output: OutputFormat::Text,
            ca_cert: None,
        }
    }

    fn signer() -> SignerInfo {
        SignerInfo {
            masked_access_key_id: mask("AKIAIOSFODNN7EXAMPLE"),
            source: CredentialSource::Profile("k9test".into()),
        }
    }

    fn hints_for(error: &ClientError) -> String {
        let target = ("C123456".parse().unwrap(), "123456789012".parse().unwrap());
        client_error_report(
            error,
            Some(&signer()),
            &connection(),
            Some(&target),
            Some("arn:aws:iam::123456789012:role/k9"),
        )
        .render()
    }

    #[test]
    fn exit_codes_follow_the_failure_class() {
        assert_eq!(exit_code_for(&api(401, None, "x")), EXIT_AUTH);
        assert_eq!(
            exit_code_for(&api(403, Some("AccessDeniedException"), "x")),
            EXIT_AUTH
        );
        assert_eq!(exit_code_for(&api(400, None, "x")), EXIT_REJECTED);
        assert_eq!(exit_code_for(&api(404, None, "x")), EXIT_REJECTED);
        assert_eq!(exit_code_for(&api(413, None, "x")), EXIT_REJECTED);
        let server = ClientError::Server {
            status: 503,
            message: "x".into(),
            request_id: None,
            attempts: 3,
        };
        assert_eq!(exit_code_for(&server), EXIT_UNAVAILABLE);
        assert_eq!(
            exit_code_for(&ClientError::InvalidResponse("x".into())),
            EXIT_UNAVAILABLE
        );
        assert_eq!(exit_code_for(&ClientError::Usage("x".into())), EXIT_USAGE);
        let no_credentials = Failure::NoCredentials {
            profile: None,
            profile_defined: None,
            not_found: true,
            detail: "x".into(),
        };
        assert_eq!(no_credentials.exit_code(), EXIT_AUTH);
        assert_eq!(Failure::Usage("x".into()).exit_code(), EXIT_USAGE);
    }

    #[test]
    fn access_denied_hint_names_the_key_profile_role_and_target() {
        let text = hints_for(&api(
            403,
            Some("AccessDeniedException"),
            "Caller is not authorized to trigger analysis for k9 customerId (C123456) and accountId (123456789012)",
        ));
        assert!(
            text.starts_with("error: Caller is not authorized"),
            "{text}"
        );
        assert!(
            text.contains("(HTTP 403, AccessDeniedException, request id rid)"),
            "{text}"
        );
        assert!(text.contains("****************MPLE"), "{text}");
        assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"), "{text}");
        assert!(
            text.contains("profile 'k9test', which assumes role arn:aws:iam::123456789012:role/k9"),
            "{text}"
        );
        assert!(
            text.contains("aws sts get-caller-identity --profile k9test"),
            "{text}"
        );
        assert!(
            text.contains("customer C123456 and account 123456789012"),
            "{text}"
        );
        assert!(text.contains("k9 administrator"), "{text}");
        // The server gives one answer whether the approval or the account is missing.
        assert!(text.contains("not registered"), "{text}");
        assert!(
            text.contains(
                "`k9 admin approve C123456 ARN` and `k9 admin account add C123456 123456789012`"
            ),
            "{text}"
        );
        assert!(
            text.contains("after `k9 admin customer create C123456` if the customer is new"),
            "{text}"
        );
        assert!(text.contains("k9 admin key list"), "{text}");
    }

    #[test]
    fn signature_hints_point_at_the_cause() {
        let invalid = hints_for(&api(
            403,
            Some("InvalidSignatureException"),
            "The request signature we calculated does not match the signature you provided.",
        ));
        assert!(
            invalid.contains("clock")
                && invalid.contains("secret access key")
                && invalid.contains("--region (us-east-1)"),
            "{invalid}"
        );
        let unknown = hints_for(&api(403, Some("UnrecognizedClientException"), "x"));
        assert!(unknown.contains("not known to this k9 server"), "{unknown}");
        let expired = hints_for(&api(403, Some("ExpiredTokenException"), "x"));
        assert!(
            expired.contains("refresh") && expired.contains("aws sso login --profile k9test"),
            "{expired}"
        );
    }

    #[test]
    fn unreachable_hint_names_the_endpoint() {
        let error = ClientError::Network(k9_client::NetworkError {
            kind: NetworkErrorKind::Connect,
            url: "http://127.0.0.1:9/x".into(),
            detail: "Connection refused".into(),
            attempts: 3,
        });
        let text = hints_for(&error);
        assert!(
            text.contains(
                "hint: cannot reach the k9 API at http://127.0.0.1:9: check --endpoint-url"
            ),
            "{text}"
        );
    }

    #[test]
    fn no_credentials_hint_explains_how_to_configure() {
        let text = no_credentials_report(
            None,
            None,
            true,
            "no providers in chain provided credentials",
        )
        .render();
        assert!(
            text.starts_with("error: no AWS credentials found\n"),
            "{text}"
        );
        assert!(
            text.contains("AWS_ACCESS_KEY_ID")
                && text.contains("--profile")
                && text.contains("aws sso login"),
            "{text}"
        );
    }

    #[test]
    fn api_spelling_means_https_host_and_env_is_the_fallback() {
        let mut args = connection();
        args.endpoint_url = None;
        args.api = Some("api.example.com".into());
        assert_eq!(args.endpoint().unwrap(), "https://api.example.com");
        args.api = Some("http://127.0.0.1:8080".into());
        assert_eq!(args.endpoint().unwrap(), "http://127.0.0.1:8080");
    }

    #[test]
    fn access_keys_are_masked_like_the_aws_cli() {
        assert_eq!(mask("AKIAIOSFODNN7EXAMPLE"), "****************MPLE");
        assert_eq!(mask("abc"), "abc");
    }

    #[test]
    fn list_table_is_aligned_and_offers_the_next_page() {
        let execution: Execution = serde_json::from_str(
            r#"{"executionId":"ondemand-C123456-123456789012-2024-05-06_AB12","customerId":"C123456","accountId":"123456789012","status":"succeeded","requestedBy":"arn:aws:iam::123456789012:user/alice","requestedAt":"2024-05-06T07:08:09.123Z","startedAt":null,"finishedAt":"2024-05-06T08:00:00Z","error":null}"#,
        )
        .unwrap();
        let list = ExecutionList {
            executions: vec![execution.clone(), execution],
            next_token: Some("abc".into()),
        };
        let text = execution_table(
            &list,
            &"C123456".parse().unwrap(),
            &"123456789012".parse().unwrap(),
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("EXECUTION ID"), "{text}");
        let status_column = lines[0].find("STATUS").unwrap();
        assert_eq!(lines[1].find("succeeded"), Some(status_column), "{text}");
        assert!(lines[1].contains("2024-05-06T07:08:09Z"), "{text}");
        assert!(text.contains("--next-token abc"), "{text}");
    }

    #[test]
    fn empty_list_says_so() {
        let list = ExecutionList {
            executions: Vec::new(),
            next_token: None,
        };
        let text = execution_table(
            &list,
            &"C123456".parse().unwrap(),
            &"123456789012".parse().unwrap(),
        );
        assert_eq!(
            text,
            "No analyses found for C123456 account 123456789012.\n"
        );
    }
}
