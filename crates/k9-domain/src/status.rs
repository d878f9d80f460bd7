//! `ExecutionStatus`: where an execution is in its life.

use std::fmt;
use std::str::FromStr;

use crate::error::shown;
use crate::IdError;

/// Where an execution is in its life. Serialized lowercase: `queued`, `running`,
/// `succeeded`, `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    /// Accepted and waiting for a worker.
    Queued,
    /// A worker is analysing the account.
    Running,
    /// Finished, results available.
    Succeeded,
    /// Finished without results; the execution's error says why.
    Failed,
}

impl ExecutionStatus {
    /// The lowercase name, as serialized and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Whether the execution has finished (succeeded or failed) and will not change again.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionStatus {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            _ => Err(IdError::ExecutionStatus(shown(s))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_serializes_lowercase_and_parses_back() {
        for status in [
            ExecutionStatus::Queued,
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
        ] {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(status.as_str().parse::<ExecutionStatus>().unwrap(), status);
        }
    }

    #[test]
    fn unknown_status_is_rejected_with_the_valid_names() {
        assert_eq!(
            "Queued".parse::<ExecutionStatus>().unwrap_err().to_string(),
            "invalid execution status 'Queued': expected queued, running, succeeded or failed"
        );
    }
}
