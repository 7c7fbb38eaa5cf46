use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One environment value, with whether it is secret (encrypted at rest, redacted, masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvValue {
    /// The value.
    pub value: String,
    /// Whether it is a secret.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// A set of environment variables (name → value), ordered by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Environment(pub BTreeMap<String, EnvValue>);

impl Environment {
    /// Whether `name` can be an environment variable name: a letter or `_`, then letters,
    /// digits and `_`.
    pub fn is_variable_name(name: &str) -> bool {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    /// The rule for one variable anyone sets: a variable name, a value without a NUL
    /// character. `field` names the input in the error (`env.NAME` style is the caller's).
    pub fn check_variable(field: &str, name: &str, value: &str) -> crate::Result<()> {
        if !Environment::is_variable_name(name) {
            return Err(crate::Error::invalid(
                field,
                format!(
                    "{name:?} is not a variable name; use letters, digits and _, not starting \
                     with a digit"
                ),
            ));
        }
        if value.contains('\0') {
            return Err(crate::Error::invalid(
                field,
                format!("the value of {name} contains a NUL character"),
            ));
        }
        Ok(())
    }

    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a plain value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.0.insert(
            name.into(),
            EnvValue {
                value: value.into(),
                secret: false,
            },
        );
        self
    }

    /// Sets a secret value.
    pub fn set_secret(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.0.insert(
            name.into(),
            EnvValue {
                value: value.into(),
                secret: true,
            },
        );
        self
    }

    /// Builder form of [`Environment::set`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(name, value);
        self
    }

    /// Builder form of [`Environment::set_secret`].
    pub fn with_secret(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set_secret(name, value);
        self
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.value.as_str())
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) -> Option<EnvValue> {
        self.0.remove(name)
    }

    /// Name/value pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.value.as_str()))
    }

    /// The non-empty secret values (for masking and redaction).
    pub fn secret_values(&self) -> Vec<&str> {
        self.0
            .values()
            .filter(|v| v.secret && !v.value.is_empty())
            .map(|v| v.value.as_str())
            .collect()
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Copies every variable of `other` over this one (later layers win).
    pub fn overlay(&mut self, other: &Environment) {
        for (k, v) in &other.0 {
            self.0.insert(k.clone(), v.clone());
        }
    }

    /// A copy with every secret value replaced by `***`.
    pub fn redacted(&self) -> Environment {
        Environment(
            self.0
                .iter()
                .map(|(k, v)| {
                    let value = if v.secret {
                        "***".to_string()
                    } else {
                        v.value.clone()
                    };
                    (
                        k.clone(),
                        EnvValue {
                            value,
                            secret: v.secret,
                        },
                    )
                })
                .collect(),
        )
    }
}
