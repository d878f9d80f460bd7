//! k9's domain ids, parsed once at the edge.
//!
//! Every type here can only be built from a valid value: a `CustomerId` inside k9 is
//! always `C` followed by 5 or 6 digits, a `PrincipalArn` is always one of the three
//! principal shapes k9 understands, and so on. Parse strings from the outside world with
//! [`str::parse`] (or serde, which validates the same way) and pass the typed value on.
//!
//! Invalid input gives an [`IdError`] whose message shows the valid form, so it can be
//! shown to the user as it is.

#![warn(missing_docs)]

mod access_key;
mod account;
mod arn;
mod customer;
mod error;
mod execution;
mod inline;
mod status;

pub use access_key::AccessKeyId;
pub use account::AccountId;
pub use arn::PrincipalArn;
pub use customer::CustomerId;
pub use error::IdError;
pub use execution::ExecutionId;
pub use status::ExecutionStatus;

/// Implements the string plumbing shared by the newtype ids: `Display`, `FromStr`,
/// `TryFrom<String>`, `From<Id> for String`, `as_str` and `Serialize` (as the string, without
/// a copy). Deserializing goes through `TryFrom<String>` (`#[serde(try_from = "String")]`),
/// so it validates.
macro_rules! string_id {
    ($ty:ident) => {
        impl $ty {
            /// The canonical string form.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::IdError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.0.as_str().to_owned()
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.0.as_str()
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.0.as_str())
            }
        }
    };
}
pub(crate) use string_id;
