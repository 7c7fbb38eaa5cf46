//! Typed identifiers, so an `AppId` can never be passed where a `JobId` is meant.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $entity:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The entity name used in messages (`job`, `app`, …).
            pub const ENTITY: &'static str = $entity;
            /// The raw database value.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                Self(v)
            }
        }

        impl FromStr for $name {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse::<i64>().map(Self).map_err(|_| {
                    crate::Error::invalid(
                        concat!($entity, " id"),
                        format!("{s:?} is not a number; ids are positive integers"),
                    )
                })
            }
        }
    };
}

typed_id!(
    /// Identifies an application (`apps` row).
    AppId,
    "app"
);
typed_id!(
    /// Identifies a company.
    CompanyId,
    "company"
);
typed_id!(
    /// Identifies a credential.
    CredentialId,
    "credential"
);
typed_id!(
    /// Identifies a run template.
    RunTemplateId,
    "runtemplate"
);
typed_id!(
    /// Identifies a job.
    JobId,
    "job"
);
typed_id!(
    /// Identifies a stored artifact.
    ArtifactId,
    "artifact"
);
