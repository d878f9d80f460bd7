//! `PrincipalArn`: the IAM user, IAM role and STS assumed-role ARNs k9 authenticates.

use std::fmt;
use std::str::FromStr;

use crate::account::is_account_id;
use crate::error::shown;
use crate::{AccountId, IdError};

/// Longest IAM path, per the IAM API reference (`Path`: 1 to 512 characters).
const MAX_PATH_LEN: usize = 512;

/// A principal that can call k9: an IAM user, an IAM role, or a session of a role.
///
/// Only the `aws` partition is accepted. Parse with [`str::parse`]; the `Display` form is
/// the canonical ARN. The fields are public for matching; build values by parsing (or
/// with [`PrincipalArn::assumed_role_session`]) so they stay valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum PrincipalArn {
    /// `arn:aws:iam::<account>:user<path><name>`, e.g. `arn:aws:iam::123456789012:user/alice`.
    User {
        /// The account the user lives in.
        account: AccountId,
        /// `/` or `/some/path/`.
        path: String,
        /// `[\w+=,.@-]{1,64}`.
        name: String,
    },
    /// `arn:aws:iam::<account>:role<path><name>`, e.g.
    /// `arn:aws:iam::123456789012:role/ops/k9-automation`.
    Role {
        /// The account the role lives in.
        account: AccountId,
        /// `/` or `/some/path/`.
        path: String,
        /// `[\w+=,.@-]{1,64}`.
        name: String,
    },
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`, e.g.
    /// `arn:aws:sts::123456789012:assumed-role/k9-automation/ci`. AWS leaves the role's
    /// path out of session ARNs.
    AssumedRole {
        /// The account of the assumed role.
        account: AccountId,
        /// The role's name (without its path).
        role_name: String,
        /// `[\w+=,.@-]{2,64}`.
        session_name: String,
    },
}

impl PrincipalArn {
    /// Parses a user, role or assumed-role ARN in the `aws` partition.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        parse_arn(s).ok_or_else(|| IdError::PrincipalArn(shown(s)))
    }

    /// The account the principal belongs to.
    pub fn account(&self) -> &AccountId {
        match self {
            Self::User { account, .. }
            | Self::Role { account, .. }
            | Self::AssumedRole { account, .. } => account,
        }
    }

    /// Does an approved principal entry cover this caller?
    ///
    /// - A user is covered only by the exact same user ARN.
    /// - A role is covered only by the exact same role ARN.
    /// - A session `arn:aws:sts::A:assumed-role/R/S` is covered by an approved role
    ///   `arn:aws:iam::A:role/<any path>/R`: AWS drops the role path from session ARNs,
    ///   and role names are unique within an account whatever their path.
    ///
    /// Nothing else matches: a user never matches a role, different accounts never match,
    /// and an approved session ARN covers nothing (approve the role instead).
    pub fn is_covered_by(&self, approved: &PrincipalArn) -> bool {
        match (self, approved) {
            (Self::User { .. }, Self::User { .. }) | (Self::Role { .. }, Self::Role { .. }) => {
                self == approved
            }
            (
                Self::AssumedRole {
                    account, role_name, ..
                },
                Self::Role {
                    account: approved_account,
                    name,
                    ..
                },
            ) => account == approved_account && role_name == name,
            _ => false,
        }
    }

    /// The ARN of a session of this role named `session_name`, e.g. role
    /// `arn:aws:iam::123456789012:role/ops/k9-automation` and session `ci` give
    /// `arn:aws:sts::123456789012:assumed-role/k9-automation/ci`.
    ///
    /// Fails if `self` is not a role or the session name is not `[\w+=,.@-]{2,64}`.
    pub fn assumed_role_session(&self, session_name: &str) -> Result<PrincipalArn, IdError> {
        let Self::Role { account, name, .. } = self else {
            return Err(IdError::NotARole(shown(&self.to_string())));
        };
        if !is_name(session_name, 2) {
            return Err(IdError::SessionName(shown(session_name)));
        }
        Ok(Self::AssumedRole {
            account: account.clone(),
            role_name: name.clone(),
            session_name: session_name.to_owned(),
        })
    }

    /// The user's, role's or (for a session) the role's name, without any path.
    pub fn name(&self) -> &str {
        match self {
            Self::User { name, .. } | Self::Role { name, .. } => name,
            Self::AssumedRole { role_name, .. } => role_name,
        }
    }
}

/// A valid principal ARN, or `None`.
fn parse_arn(s: &str) -> Option<PrincipalArn> {
    if !s.is_ascii() {
        return None;
    }
    let mut parts = s.splitn(6, ':');
    let (arn, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn != "arn" || partition != "aws" || !region.is_empty() || !is_account_id(account) {
        return None;
    }
    let account = AccountId::parse(account).ok()?;
    match service {
        "iam" => {
            if let Some(rest) = resource.strip_prefix("user") {
                let (path, name) = split_path_and_name(rest)?;
                Some(PrincipalArn::User {
                    account,
                    path,
                    name,
                })
            } else if let Some(rest) = resource.strip_prefix("role") {
                let (path, name) = split_path_and_name(rest)?;
                Some(PrincipalArn::Role {
                    account,
                    path,
                    name,
                })
            } else {
                None
            }
        }
        "sts" => {
            let rest = resource.strip_prefix("assumed-role/")?;
            let (role_name, session_name) = rest.split_once('/')?;
            (is_name(role_name, 1) && is_name(session_name, 2)).then(|| PrincipalArn::AssumedRole {
                account,
                role_name: role_name.to_owned(),
                session_name: session_name.to_owned(),
            })
        }
        _ => None,
    }
}

/// Splits `/path/name` (the part after `user` or `role`) into a valid IAM path (`/` or
/// `/a/b/`, no empty segments, printable ASCII) and a valid name.
fn split_path_and_name(rest: &str) -> Option<(String, String)> {
    if !rest.starts_with('/') {
        return None;
    }
    let last_slash = rest.rfind('/')?;
    let (path, name) = (rest.get(..=last_slash)?, rest.get(last_slash + 1..)?);
    let path_ok = path.len() <= MAX_PATH_LEN
        && (path == "/"
            || path[1..path.len() - 1]
                .split('/')
                .all(|segment| !segment.is_empty()))
        && path.bytes().all(|b| (0x21..=0x7e).contains(&b));
    (path_ok && is_name(name, 1)).then(|| (path.to_owned(), name.to_owned()))
}

/// Whether `s` is an IAM user, role or session name: `[\w+=,.@-]{min,64}`.
fn is_name(s: &str, min: usize) -> bool {
    (min..=64).contains(&s.len())
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-')
        })
}

impl fmt::Display for PrincipalArn {
    /// Writes the pieces one by one rather than through `write!`'s argument machinery:
    /// ARNs are formatted on every authenticated request (cache keys, audit rows, JSON).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pieces: [&str; 6] = match self {
            Self::User {
                account,
                path,
                name,
            } => ["arn:aws:iam::", account.as_str(), ":user", path, name, ""],
            Self::Role {
                account,
                path,
                name,
            } => ["arn:aws:iam::", account.as_str(), ":role", path, name, ""],
            Self::AssumedRole {
                account,
                role_name,
                session_name,
            } => [
                "arn:aws:sts::",
                account.as_str(),
                ":assumed-role/",
                role_name,
                "/",
                session_name,
            ],
        };
        pieces.iter().try_for_each(|piece| f.write_str(piece))
    }
}

impl serde::Serialize for PrincipalArn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for PrincipalArn {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PrincipalArn {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PrincipalArn> for String {
    fn from(arn: PrincipalArn) -> String {
        arn.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(s: &str) -> PrincipalArn {
        s.parse().unwrap()
    }

    #[test]
    fn user_arn_without_path_parses_with_root_path() {
        let user = arn("arn:aws:iam::123456789012:user/alice");
        assert_eq!(
            user,
            PrincipalArn::User {
                account: AccountId::parse("123456789012").unwrap(),
                path: "/".into(),
                name: "alice".into()
            }
        );
        assert_eq!(user.account().as_str(), "123456789012");
        assert_eq!(user.name(), "alice");
    }

    #[test]
    fn user_arn_with_path_keeps_the_path() {
        let user = arn("arn:aws:iam::123456789012:user/some/path/alice");
        let PrincipalArn::User { path, name, .. } = &user else {
            panic!("not a user: {user:?}")
        };
        assert_eq!((path.as_str(), name.as_str()), ("/some/path/", "alice"));
    }

    #[test]
    fn role_and_session_arns_parse() {
        let role = arn("arn:aws:iam::123456789012:role/ops/k9-automation");
        assert!(
            matches!(&role, PrincipalArn::Role { path, name, .. } if path == "/ops/" && name == "k9-automation")
        );
        let session = arn("arn:aws:sts::123456789012:assumed-role/k9-automation/ci");
        assert!(
            matches!(&session, PrincipalArn::AssumedRole { role_name, session_name, .. }
            if role_name == "k9-automation" && session_name == "ci")
        );
    }

    #[test]
    fn display_gives_back_the_parsed_arn() {
        for s in [
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::123456789012:user/some/path/alice",
            "arn:aws:iam::123456789012:role/k9",
            "arn:aws:iam::123456789012:role/ops/team/k9-automation",
            "arn:aws:sts::123456789012:assumed-role/k9-automation/ci",
            "arn:aws:iam::123456789012:user/a_b+c=d,e.f@g-h",
        ] {
            assert_eq!(arn(s).to_string(), s);
        }
    }

    #[test]
    fn malformed_arns_are_rejected() {
        let too_long_name = format!("arn:aws:iam::123456789012:user/{}", "a".repeat(65));
        for bad in [
            "",
            "x",
            "arn:aws:iam::123456789012:user",
            "arn:aws:iam::123456789012:user/",
            "arn:aws:iam::123456789012:user/path/",
            "arn:aws:iam::123456789012:user//alice",
            "arn:aws:iam::123456789012:user/a//alice",
            "arn:aws:iam::123456789012:useralice",
            "arn:aws:iam::123456789012:group/devs",
            "arn:aws:iam::123456789012:user/al ice",
            "arn:aws:iam::123456789012:user/al:ice",
            "arn:aws:iam::123456789012:user/alicé",
            "arn:aws:iam:us-east-1:123456789012:user/alice",
            "arn:aws:iam::12345678901:user/alice",
            "arn:aws:s3::123456789012:user/alice",
            "arn:aws:sts::123456789012:role/k9",
            "arn:aws:sts::123456789012:assumed-role/k9",
            "arn:aws:sts::123456789012:assumed-role/k9/c",
            "arn:aws:sts::123456789012:assumed-role/k9/ci/extra",
            "arn:aws:sts::123456789012:assumed-role//ci",
            "arn:aws:iam::123456789012:assumed-role/k9/ci",
            "arn:aws:sts::123456789012:federated-user/bob",
            "arn:other:iam::123456789012:user/alice",
            too_long_name.as_str(),
        ] {
            assert!(
                PrincipalArn::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn longest_valid_names_are_accepted() {
        arn(&format!(
            "arn:aws:iam::123456789012:user/{}",
            "a".repeat(64)
        ));
        arn(&format!(
            "arn:aws:sts::123456789012:assumed-role/r/{}",
            "s".repeat(64)
        ));
    }

    #[test]
    fn invalid_arn_error_shows_the_valid_forms() {
        assert_eq!(
            PrincipalArn::parse("x").unwrap_err().to_string(),
            "invalid principal ARN 'x': expected arn:aws:iam::<12-digit account>:user/<path/><name>, \
             arn:aws:iam::<account>:role/<path/><name>, or arn:aws:sts::<account>:assumed-role/<role>/<session> \
             (names: 1 to 64 letters, digits or +=,.@_-; a session name at least 2)"
        );
    }

    #[test]
    fn user_is_covered_only_by_the_exact_same_user() {
        let alice = arn("arn:aws:iam::123456789012:user/alice");
        assert!(alice.is_covered_by(&arn("arn:aws:iam::123456789012:user/alice")));
        assert!(!alice.is_covered_by(&arn("arn:aws:iam::123456789012:user/admins/alice")));
        assert!(!alice.is_covered_by(&arn("arn:aws:iam::210987654321:user/alice")));
        assert!(!alice.is_covered_by(&arn("arn:aws:iam::123456789012:role/alice")));
    }

    #[test]
    fn session_is_covered_by_its_role_whatever_the_role_path() {
        let session = arn("arn:aws:sts::123456789012:assumed-role/k9-automation/ci");
        assert!(session.is_covered_by(&arn("arn:aws:iam::123456789012:role/ops/k9-automation")));
        assert!(session.is_covered_by(&arn("arn:aws:iam::123456789012:role/k9-automation")));
    }

    #[test]
    fn session_is_not_covered_by_another_role_account_user_or_session() {
        let session = arn("arn:aws:sts::123456789012:assumed-role/k9-automation/ci");
        assert!(!session.is_covered_by(&arn("arn:aws:iam::123456789012:role/k9-other")));
        assert!(!session.is_covered_by(&arn("arn:aws:iam::210987654321:role/k9-automation")));
        assert!(!session.is_covered_by(&arn("arn:aws:iam::123456789012:user/k9-automation")));
        assert!(!session.is_covered_by(&session.clone()));
    }

    #[test]
    fn role_caller_is_covered_by_the_same_role_arn_only() {
        let role = arn("arn:aws:iam::123456789012:role/ops/k9");
        assert!(role.is_covered_by(&role.clone()));
        assert!(!role.is_covered_by(&arn("arn:aws:iam::123456789012:user/k9")));
        assert!(!role.is_covered_by(&arn("arn:aws:sts::123456789012:assumed-role/k9/ci")));
    }

    #[test]
    fn role_gives_its_session_arn_without_the_path() {
        let role = arn("arn:aws:iam::123456789012:role/ops/k9-automation");
        assert_eq!(
            role.assumed_role_session("ci").unwrap().to_string(),
            "arn:aws:sts::123456789012:assumed-role/k9-automation/ci"
        );
    }

    #[test]
    fn only_a_role_with_a_valid_session_name_gives_a_session() {
        let role = arn("arn:aws:iam::123456789012:role/k9");
        assert!(matches!(
            role.assumed_role_session("c"),
            Err(IdError::SessionName(_))
        ));
        assert!(matches!(
            role.assumed_role_session("a b"),
            Err(IdError::SessionName(_))
        ));
        let user = arn("arn:aws:iam::123456789012:user/alice");
        assert!(matches!(
            user.assumed_role_session("ci"),
            Err(IdError::NotARole(_))
        ));
    }

    #[test]
    fn arn_serializes_as_its_string_and_deserialize_validates() {
        let role = arn("arn:aws:iam::123456789012:role/ops/k9");
        let json = serde_json::to_string(&role).unwrap();
        assert_eq!(json, "\"arn:aws:iam::123456789012:role/ops/k9\"");
        assert_eq!(serde_json::from_str::<PrincipalArn>(&json).unwrap(), role);
        assert!(serde_json::from_str::<PrincipalArn>("\"arn:aws:iam::1:user/x\"").is_err());
    }
}
