//! The error returned when a string is not a valid domain id.

/// Longest piece of rejected input echoed back in an error message; longer input is cut
/// so that a hostile multi-megabyte value does not end up in logs and responses.
const MAX_ECHOED_INPUT: usize = 100;

/// A string that is not a valid domain id. The message names the valid form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not `C` followed by 5 or 6 digits.
    #[error("invalid customer id '{0}': expected 'C' followed by 5 or 6 digits, e.g. C123456")]
    CustomerId(String),
    /// Not 12 digits.
    #[error("invalid account id '{0}': expected 12 digits, e.g. 123456789012")]
    AccountId(String),
    /// Not `ondemand-<customer>-<account>-<YYYY-MM-DD>_<4 of A-Z0-9>`.
    #[error(
        "invalid execution id '{0}': expected ondemand-<customer id>-<12-digit account id>-<YYYY-MM-DD>_<4 of A-Z and 0-9>, e.g. ondemand-C123456-123456789012-2022-11-11_ONO2"
    )]
    ExecutionId(String),
    /// Not `AKIA` or `ASIA` followed by 16 of `A-Z2-7`.
    #[error(
        "invalid access key id '{0}': expected AKIA (long-term) or ASIA (temporary) followed by 16 of A-Z and 2-7, e.g. AKIAIOSFODNN7EXAMPLE"
    )]
    AccessKeyId(String),
    /// Not one of the three principal ARN shapes.
    #[error(
        "invalid principal ARN '{0}': expected arn:aws:iam::<12-digit account>:user/<path/><name>, arn:aws:iam::<account>:role/<path/><name>, or arn:aws:sts::<account>:assumed-role/<role>/<session> (names: 1 to 64 letters, digits or +=,.@_-; a session name at least 2)"
    )]
    PrincipalArn(String),
    /// A role session name outside `[\w+=,.@-]{2,64}`.
    #[error(
        "invalid role session name '{0}': expected 2 to 64 of letters, digits and the characters _+=,.@-"
    )]
    SessionName(String),
    /// A session was asked of an ARN that is not a role.
    #[error("'{0}' is not a role ARN: only a role (arn:aws:iam::<account>:role/<path/><name>) can be assumed")]
    NotARole(String),
    /// Not one of the execution status names.
    #[error("invalid execution status '{0}': expected queued, running, succeeded or failed")]
    ExecutionStatus(String),
}

/// The rejected input as it is shown in an error: cut to [`MAX_ECHOED_INPUT`] characters.
pub(crate) fn shown(input: &str) -> String {
    match input.char_indices().nth(MAX_ECHOED_INPUT) {
        Some((cut, _)) => format!("{}...", &input[..cut]),
        None => input.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_rejected_input_is_cut_in_the_message() {
        let long = "x".repeat(10_000);
        let shown = shown(&long);
        assert_eq!(shown.len(), MAX_ECHOED_INPUT + 3);
        assert!(shown.ends_with("..."));
    }

    #[test]
    fn short_rejected_input_is_shown_whole() {
        assert_eq!(shown("C12"), "C12");
    }
}
