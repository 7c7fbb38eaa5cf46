//! Environment maps in requests and responses (company environment, template config, job env,
//! one-off overrides). Secret values never leave the server: responses show `***`.

use super::error::ApiResult;
use crate::usecase::variables::Variable;
use multiflexi_core::model::Environment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What responses show of a secret value.
pub use crate::usecase::variables::REDACTED;

/// One variable as a request gives it: a plain string, or `{value, secret}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EnvInput {
    /// A value; secret when the app declares the field secret.
    Plain(String),
    /// A value with an explicit secret flag.
    Full(EnvValueInput),
}

/// A value with an explicit secret flag.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvValueInput {
    /// The value.
    pub value: String,
    /// Store it as a secret (encrypted at rest, redacted, masked in output).
    #[serde(default)]
    pub secret: bool,
}

impl EnvInput {
    /// The value and whether the request marked it secret.
    pub fn parts(&self) -> (&str, bool) {
        match self {
            EnvInput::Plain(v) => (v, false),
            EnvInput::Full(f) => (&f.value, f.secret),
        }
    }
}

/// One variable in a response (`value` is `***` when `secret`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EnvVarView {
    /// The value, or `***` for a secret.
    pub value: String,
    /// Whether it is a secret.
    pub secret: bool,
}

/// An environment as responses show it, secrets redacted.
pub fn env_view(env: &Environment) -> BTreeMap<String, EnvVarView> {
    env.0
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                EnvVarView {
                    value: if v.secret {
                        REDACTED.to_string()
                    } else {
                        v.value.clone()
                    },
                    secret: v.secret,
                },
            )
        })
        .collect()
}

/// Checks a variable name and value (the rule: `Environment::check_variable`); the refusal
/// names `field.NAME`.
pub fn check_var(field: &str, name: &str, value: &str) -> ApiResult<()> {
    Ok(crate::usecase::variables::check_variable(
        field, name, value,
    )?)
}

/// Builds an environment from a request map; `is_secret(name)` adds secrecy the app declares.
pub fn to_environment(
    field: &str,
    input: &BTreeMap<String, EnvInput>,
    is_secret: impl Fn(&str) -> bool,
) -> ApiResult<Environment> {
    let mut env = Environment::new();
    for (k, v) in input {
        let (value, secret) = v.parts();
        check_var(field, k, value)?;
        if secret || is_secret(k) {
            env.set_secret(k.clone(), value);
        } else {
            env.set(k.clone(), value);
        }
    }
    Ok(env)
}

/// A request map as the use cases take it (they check the names and values).
pub fn to_variables(input: &BTreeMap<String, EnvInput>) -> Vec<Variable> {
    input
        .iter()
        .map(|(k, v)| {
            let (value, secret) = v.parts();
            Variable {
                name: k.clone(),
                value: value.to_string(),
                secret,
            }
        })
        .collect()
}
