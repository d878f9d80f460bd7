//! `k9 admin`: manage principals, keys, customers and approvals directly in the data
//! directory, whether or not a server is running on it. Prints JSON.

use std::process::ExitCode;

use clap::Subcommand;
use k9_domain::{AccessKeyId, AccountId, CustomerId, PrincipalArn};
use k9_store::{KeyStatus, Store, StoreError};
use serde_json::json;
use time::OffsetDateTime;

use crate::common::{self, DataDirArgs, EXIT_FAILURE, EXIT_USAGE};

/// Administration commands.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub data_dir: DataDirArgs,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// What to administer.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// IAM users and their access keys.
    #[command(subcommand)]
    User(UserCommand),
    /// Access keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// IAM roles that sessions can assume.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Temporary credentials (assumed-role sessions).
    #[command(subcommand)]
    Session(SessionCommand),
    /// k9 customers.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// AWS accounts registered to customers.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Approve a principal (user or role ARN) to act for a customer.
    ///
    /// The ARN need not have been created here (`user create`, `role create`): an approval
    /// applies to whatever is signed as that ARN. Approving a role covers all its sessions.
    Approve {
        /// Customer id, e.g. C123456.
        customer_id: String,
        /// arn:aws:iam::<account>:user/<name> or arn:aws:iam::<account>:role/<path/><name>.
        arn: String,
    },
    /// Withdraw a principal's approval.
    Revoke {
        /// Customer id, e.g. C123456.
        customer_id: String,
        /// The approved ARN.
        arn: String,
    },
    /// Show a customer's accounts and approved principals.
    Show {
        /// Customer id, e.g. C123456.
        customer_id: String,
    },
    /// Show the newest audit log entries (authentication and authorization decisions).
    Audit {
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// `k9 admin user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an IAM user (if new) and a new access key for it; prints the secret once.
    Create {
        /// arn:aws:iam::<12-digit account>:user/<name>
        arn: String,
    },
}

/// `k9 admin key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List access keys (never their secrets).
    List,
    /// Make a key Inactive: requests signed with it are refused.
    Deactivate {
        /// e.g. AKIA...
        access_key_id: String,
    },
    /// Make a key Active again.
    Activate {
        /// e.g. AKIA...
        access_key_id: String,
    },
    /// Delete a key for good.
    Delete {
        /// e.g. AKIA...
        access_key_id: String,
    },
}

/// `k9 admin role ...`
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Register an IAM role so sessions can be created for it.
    Create {
        /// arn:aws:iam::<account>:role/<path/><name>
        arn: String,
    },
}

/// `k9 admin session ...`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Create temporary credentials for a role, like `aws sts assume-role`.
    Create {
        /// The role ARN (registered with `k9 admin role create`).
        role_arn: String,
        /// The session name; the caller becomes arn:aws:sts::<account>:assumed-role/<role>/<session>.
        #[arg(long)]
        session_name: String,
        /// Lifetime, 900 to 43200 seconds.
        #[arg(long, default_value_t = 3600)]
        duration_seconds: u32,
    },
}

/// `k9 admin customer ...`
#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Create a customer.
    Create {
        /// 'C' followed by 5 or 6 digits, e.g. C123456.
        customer_id: String,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
    },
}

/// `k9 admin account ...`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Register one or more AWS accounts to a customer.
    Add {
        /// Customer id, e.g. C123456.
        customer_id: String,
        /// 12-digit AWS account ids.
        #[arg(required = true, num_args = 1..)]
        account_ids: Vec<String>,
    },
}

enum Failure {
    Usage(String),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

fn usage<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, Failure> {
    result.map_err(|e| Failure::Usage(e.to_string()))
}

fn print(value: &serde_json::Value) {
    // A serde_json::Value always serialises.
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Whether `command` reads, changes or refers to what already exists. Such a command pointed
/// at a data directory without a k9 database is a mistyped path, not a request for a new
/// store; only `user`, `role` and `customer create` may start one.
fn needs_existing_store(command: &AdminCommand) -> bool {
    matches!(
        command,
        AdminCommand::Key(_)
            | AdminCommand::Show { .. }
            | AdminCommand::Audit { .. }
            | AdminCommand::Revoke { .. }
            | AdminCommand::Approve { .. }
            | AdminCommand::Account(_)
            | AdminCommand::Session(_)
    )
}

/// Runs `k9 admin ...`.
pub async fn run(args: AdminArgs) -> ExitCode {
    let data_dir = &args.data_dir.data_dir;
    if needs_existing_store(&args.command) {
        match k9_store::SqliteStore::exists_in(data_dir) {
            Ok(true) => {}
            Ok(false) => {
                eprintln!(
                    "error: no k9 data in {} (no {}): pass the server's --data-dir or set K9_DATA_DIR",
                    data_dir.display(),
                    k9_store::SqliteStore::FILE_NAME
                );
                return ExitCode::from(EXIT_USAGE);
            }
            // Not a typo but an unreadable directory (permissions): say so.
            Err(error) => {
                eprintln!("error: cannot read {}: {error}", data_dir.display());
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }
    let store = match common::open_store(&args.data_dir.data_dir) {
        Ok(store) => store,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = execute(store.as_ref(), args.command).await;
    let flushed = store.flush().await;
    match (result, flushed) {
        (Ok(value), Ok(())) => {
            print(&value);
            ExitCode::SUCCESS
        }
        (Err(Failure::Usage(message)), _) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        (Err(Failure::Store(error)), _) => {
            eprintln!("error: {error}");
            ExitCode::from(match error {
                StoreError::NotFound { .. }
                | StoreError::AlreadyExists { .. }
                | StoreError::Invalid { .. } => EXIT_USAGE,
                _ => EXIT_FAILURE,
            })
        }
        (Ok(_), Err(error)) => {
            eprintln!("error: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value, Failure> {
    serde_json::to_value(value).map_err(|e| Failure::Usage(format!("cannot print result: {e}")))
}

async fn execute(store: &dyn Store, command: AdminCommand) -> Result<serde_json::Value, Failure> {
    let now = OffsetDateTime::now_utc();
    Ok(match command {
        AdminCommand::User(UserCommand::Create { arn }) => {
            let arn = usage(PrincipalArn::parse(&arn))?;
            if !matches!(arn, PrincipalArn::User { .. }) {
                return Err(Failure::Usage(format!(
                    "'{arn}' is not a user ARN: expected arn:aws:iam::<12-digit account>:user/<name> (use `k9 admin role create` for roles)"
                )));
            }
            let key = store.create_user(&arn, now).await?;
            to_json(&key)?
        }
        AdminCommand::Key(KeyCommand::List) => {
            let keys = store.list_keys().await?;
            json!({ "AccessKeyMetadata": keys })
        }
        AdminCommand::Key(KeyCommand::Deactivate { access_key_id }) => {
            let id = usage(AccessKeyId::parse(&access_key_id))?;
            store.set_key_status(&id, KeyStatus::Inactive).await?;
            json!({ "AccessKeyId": id.to_string(), "Status": "Inactive" })
        }
        AdminCommand::Key(KeyCommand::Activate { access_key_id }) => {
            let id = usage(AccessKeyId::parse(&access_key_id))?;
            store.set_key_status(&id, KeyStatus::Active).await?;
            json!({ "AccessKeyId": id.to_string(), "Status": "Active" })
        }
        AdminCommand::Key(KeyCommand::Delete { access_key_id }) => {
            let id = usage(AccessKeyId::parse(&access_key_id))?;
            store.delete_key(&id).await?;
            json!({ "AccessKeyId": id.to_string(), "Deleted": true })
        }
        AdminCommand::Role(RoleCommand::Create { arn }) => {
            let arn = usage(PrincipalArn::parse(&arn))?;
            if !matches!(arn, PrincipalArn::Role { .. }) {
                return Err(Failure::Usage(format!(
                    "'{arn}' is not a role ARN: expected arn:aws:iam::<12-digit account>:role/<path/><name>"
                )));
            }
            store.create_role(&arn, now).await?;
            json!({ "Role": { "RoleName": arn.name(), "Arn": arn.to_string() } })
        }
        AdminCommand::Session(SessionCommand::Create {
            role_arn,
            session_name,
            duration_seconds,
        }) => {
            let role = usage(PrincipalArn::parse(&role_arn))?;
            if !(900..=43_200).contains(&duration_seconds) {
                return Err(Failure::Usage(format!(
                    "--duration-seconds {duration_seconds} is out of range: expected 900 to 43200"
                )));
            }
            let session = store
                .create_session(
                    &role,
                    &session_name,
                    time::Duration::seconds(i64::from(duration_seconds)),
                    now,
                )
                .await?;
            to_json(&session)?
        }
        AdminCommand::Customer(CustomerCommand::Create { customer_id, name }) => {
            let id = usage(CustomerId::parse(&customer_id))?;
            store.create_customer(&id, name.as_deref(), now).await?;
            json!({ "CustomerId": id.to_string(), "Name": name })
        }
        AdminCommand::Account(AccountCommand::Add {
            customer_id,
            account_ids,
        }) => {
            let customer = usage(CustomerId::parse(&customer_id))?;
            let accounts = account_ids
                .iter()
                .map(|id| usage(AccountId::parse(id)))
                .collect::<Result<Vec<_>, _>>()?;
            // Concurrent adds share group commits: thousands of accounts take one fsync each
            // batch, not one each.
            futures::future::try_join_all(
                accounts
                    .iter()
                    .map(|account| store.add_account(&customer, account, now)),
            )
            .await?;
            let ids: Vec<String> = accounts.iter().map(ToString::to_string).collect();
            if let [only] = ids.as_slice() {
                json!({ "CustomerId": customer.to_string(), "AccountId": only })
            } else {
                json!({ "CustomerId": customer.to_string(), "AccountIds": ids })
            }
        }
        AdminCommand::Approve { customer_id, arn } => {
            let customer = usage(CustomerId::parse(&customer_id))?;
            let arn = usage(PrincipalArn::parse(&arn))?;
            store.approve(&customer, &arn, now).await?;
            json!({ "CustomerId": customer.to_string(), "Approved": arn.to_string() })
        }
        AdminCommand::Revoke { customer_id, arn } => {
            let customer = usage(CustomerId::parse(&customer_id))?;
            let arn = usage(PrincipalArn::parse(&arn))?;
            store.revoke(&customer, &arn).await?;
            json!({ "CustomerId": customer.to_string(), "Revoked": arn.to_string() })
        }
        AdminCommand::Show { customer_id } => {
            let customer = usage(CustomerId::parse(&customer_id))?;
            let info = store.customer(&customer).await?.ok_or_else(|| {
                Failure::Store(StoreError::NotFound {
                    what: format!("customer {customer}"),
                })
            })?;
            to_json(&info)?
        }
        AdminCommand::Audit { limit } => {
            let events = store.audit_events(limit).await?;
            to_json(&events)?
        }
    })
}
