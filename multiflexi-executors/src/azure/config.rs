//! [`AzureConfig`]: where the executor's container groups run and how it authenticates, from
//! the usual `AZURE_*` variables. Every endpoint is configurable; nothing is guessed (the
//! instance metadata address is used only when it is configured).

use multiflexi_core::{Error, Result};
use std::fmt;
use std::time::Duration;

/// The ARM endpoint of the public cloud (`MULTIFLEXI_AZURE_ARM_ENDPOINT` overrides it).
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";
/// The Microsoft Entra authority of the public cloud (`AZURE_AUTHORITY_HOST` overrides it).
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// How the executor gets its ARM bearer tokens.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AzureCredential {
    /// A service principal with a client secret: `POST {authority}/{tenant}/oauth2/v2.0/token`.
    ClientSecret {
        /// `AZURE_TENANT_ID`.
        tenant_id: String,
        /// `AZURE_CLIENT_ID`.
        client_id: String,
        /// `AZURE_CLIENT_SECRET`.
        client_secret: String,
        /// `AZURE_AUTHORITY_HOST` (default [`DEFAULT_AUTHORITY_HOST`]).
        authority_host: String,
    },
    /// A managed identity: `GET {endpoint}?api-version=2018-02-01&resource=…` with
    /// `Metadata: true` (the instance metadata service's token shape).
    ManagedIdentity {
        /// `MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT` (no default, e.g.
        /// `http://169.254.169.254/metadata/identity/oauth2/token`).
        endpoint: String,
        /// `AZURE_CLIENT_ID`: a user-assigned identity (none: the system-assigned one).
        client_id: Option<String>,
    },
}

impl fmt::Debug for AzureCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AzureCredential::ClientSecret {
                tenant_id,
                client_id,
                authority_host,
                ..
            } => f
                .debug_struct("ClientSecret")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("client_secret", &"<redacted>")
                .field("authority_host", authority_host)
                .finish(),
            AzureCredential::ManagedIdentity {
                endpoint,
                client_id,
            } => f
                .debug_struct("ManagedIdentity")
                .field("endpoint", endpoint)
                .field("client_id", client_id)
                .finish(),
        }
    }
}

/// Settings of the [`AzureExecutor`](super::AzureExecutor).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AzureConfig {
    /// `AZURE_SUBSCRIPTION_ID`.
    pub subscription_id: String,
    /// `AZURE_RESOURCE_GROUP`: where the container groups are created.
    pub resource_group: String,
    /// `AZURE_LOCATION`: the container groups' region (`westeurope`).
    pub location: String,
    /// How tokens are obtained.
    pub credential: AzureCredential,
    /// `MULTIFLEXI_AZURE_ARM_ENDPOINT` (default [`DEFAULT_ARM_ENDPOINT`]), without a trailing
    /// slash. Tokens are requested for `{arm_endpoint}/.default` and sent only to it.
    pub arm_endpoint: String,
    /// CPU cores requested per job (`MULTIFLEXI_AZURE_CPU`, default 1; a job has no CPU-rate
    /// field).
    pub cpu: f64,
    /// Memory per job when its template sets no limit (`MULTIFLEXI_AZURE_MEMORY_GB`, default 1.5).
    pub default_memory_gb: f64,
    /// How often the container group and its log are polled (default 2 s).
    pub poll_interval: Duration,
    /// One HTTP request's limit (default 30 s).
    pub request_timeout: Duration,
    /// Attempts of one request answered 429, 5xx or not at all (default 6).
    pub attempts: usize,
    /// The longest wait between two attempts, a `Retry-After` included (default 60 s).
    pub max_retry_wait: Duration,
    /// How long a container group may take to start its container before the launch is a
    /// platform error (image pulls included; default 15 min).
    pub start_limit: Duration,
}

fn positive_number(name: &str, value: Option<String>, default: f64) -> Result<f64> {
    match value {
        None => Ok(default),
        Some(v) => match v.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
            _ => Err(Error::invalid(
                name,
                format!("{v:?} is not a positive number"),
            )),
        },
    }
}

impl AzureConfig {
    /// Settings with the defaults for everything but where and who.
    pub fn new(
        subscription_id: impl Into<String>,
        resource_group: impl Into<String>,
        location: impl Into<String>,
        credential: AzureCredential,
    ) -> Self {
        Self {
            subscription_id: subscription_id.into(),
            resource_group: resource_group.into(),
            location: location.into(),
            credential,
            arm_endpoint: DEFAULT_ARM_ENDPOINT.into(),
            cpu: 1.0,
            default_memory_gb: 1.5,
            poll_interval: Duration::from_secs(2),
            request_timeout: Duration::from_secs(30),
            attempts: 6,
            max_retry_wait: Duration::from_secs(60),
            start_limit: Duration::from_secs(15 * 60),
        }
    }

    /// From the process environment: see [`AzureConfig::from_lookup`].
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From variables looked up by `var` (empty values count as unset): `AZURE_SUBSCRIPTION_ID`,
    /// `AZURE_RESOURCE_GROUP`, `AZURE_LOCATION`; a service principal (`AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_AUTHORITY_HOST`) or a managed identity
    /// (`MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT`, optional `AZURE_CLIENT_ID`);
    /// `MULTIFLEXI_AZURE_ARM_ENDPOINT`, `MULTIFLEXI_AZURE_CPU`, `MULTIFLEXI_AZURE_MEMORY_GB`.
    /// Whatever is missing is named in one `InvalidInput` error, with what to set.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut missing: Vec<&str> = Vec::new();
        let mut need = |name: &'static str| {
            let v = get(name);
            if v.is_none() {
                missing.push(name);
            }
            v.unwrap_or_default()
        };
        let subscription_id = need("AZURE_SUBSCRIPTION_ID");
        let resource_group = need("AZURE_RESOURCE_GROUP");
        let location = need("AZURE_LOCATION");
        let identity_endpoint = get("MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT");
        let credential = if let Some(client_secret) = get("AZURE_CLIENT_SECRET") {
            Some(AzureCredential::ClientSecret {
                tenant_id: need("AZURE_TENANT_ID"),
                client_id: need("AZURE_CLIENT_ID"),
                client_secret,
                authority_host: get("AZURE_AUTHORITY_HOST")
                    .unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.into())
                    .trim_end_matches('/')
                    .to_owned(),
            })
        } else {
            identity_endpoint.map(|endpoint| AzureCredential::ManagedIdentity {
                endpoint,
                client_id: get("AZURE_CLIENT_ID"),
            })
        };
        let mut problems: Vec<String> = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("set {}", missing.join(", ")));
        }
        if credential.is_none() {
            problems.push(
                "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service \
                 principal) or MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT (a managed identity, \
                 e.g. http://169.254.169.254/metadata/identity/oauth2/token: the metadata \
                 address is never contacted unless it is set)"
                    .to_owned(),
            );
        }
        let Some(credential) = credential.filter(|_| problems.is_empty()) else {
            return Err(Error::invalid(
                "Azure executor configuration",
                problems.join("; "),
            ));
        };
        let mut config = Self::new(subscription_id, resource_group, location, credential);
        if let Some(arm) = get("MULTIFLEXI_AZURE_ARM_ENDPOINT") {
            config.arm_endpoint = arm.trim_end_matches('/').to_owned();
        }
        config.cpu = positive_number("MULTIFLEXI_AZURE_CPU", get("MULTIFLEXI_AZURE_CPU"), 1.0)?;
        config.default_memory_gb = positive_number(
            "MULTIFLEXI_AZURE_MEMORY_GB",
            get("MULTIFLEXI_AZURE_MEMORY_GB"),
            1.5,
        )?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses endpoints that are not `http(s)://` URLs and names that ARM would refuse in a
    /// path.
    pub fn validate(&self) -> Result<()> {
        let url = |name: &str, v: &str| {
            if v.starts_with("https://") || v.starts_with("http://") {
                Ok(())
            } else {
                Err(Error::invalid(
                    name,
                    format!("{v:?} is not an http(s):// URL"),
                ))
            }
        };
        url("MULTIFLEXI_AZURE_ARM_ENDPOINT", &self.arm_endpoint)?;
        match &self.credential {
            AzureCredential::ClientSecret { authority_host, .. } => {
                url("AZURE_AUTHORITY_HOST", authority_host)?;
            }
            AzureCredential::ManagedIdentity { endpoint, .. } => {
                url("MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT", endpoint)?;
            }
        }
        for (name, v) in [
            ("AZURE_SUBSCRIPTION_ID", &self.subscription_id),
            ("AZURE_RESOURCE_GROUP", &self.resource_group),
            ("AZURE_LOCATION", &self.location),
        ] {
            let ok = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'));
            if !ok {
                return Err(Error::invalid(
                    name,
                    format!("{v:?} is not a valid Azure name"),
                ));
            }
        }
        Ok(())
    }

    /// Builder: the ARM endpoint.
    pub fn with_arm_endpoint(mut self, url: impl Into<String>) -> Self {
        self.arm_endpoint = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Builder: the poll interval.
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Builder: attempts per request and the longest wait between them.
    pub fn with_retries(mut self, attempts: usize, max_wait: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.max_retry_wait = max_wait;
        self
    }

    /// Builder: how long a container may take to start.
    pub fn with_start_limit(mut self, limit: Duration) -> Self {
        self.start_limit = limit;
        self
    }

    /// The scope tokens are requested for.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.arm_endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn nothing_set_names_every_variable() {
        let err = AzureConfig::from_lookup(lookup(&[]))
            .unwrap_err()
            .to_string();
        for v in [
            "AZURE_SUBSCRIPTION_ID",
            "AZURE_RESOURCE_GROUP",
            "AZURE_LOCATION",
            "AZURE_CLIENT_SECRET",
            "MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT",
        ] {
            assert!(err.contains(v), "{v} missing from: {err}");
        }
    }

    #[test]
    fn service_principal_needs_tenant_and_client() {
        let err = AzureConfig::from_lookup(lookup(&[
            ("AZURE_SUBSCRIPTION_ID", "sub"),
            ("AZURE_RESOURCE_GROUP", "rg"),
            ("AZURE_LOCATION", "westeurope"),
            ("AZURE_CLIENT_SECRET", "s3cret"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("AZURE_TENANT_ID") && err.contains("AZURE_CLIENT_ID"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn managed_identity_only_when_its_endpoint_is_set() {
        let base = [
            ("AZURE_SUBSCRIPTION_ID", "sub"),
            ("AZURE_RESOURCE_GROUP", "rg"),
            ("AZURE_LOCATION", "westeurope"),
            ("AZURE_CLIENT_ID", "uami"),
        ];
        assert!(AzureConfig::from_lookup(lookup(&base)).is_err());
        let mut vars = base.to_vec();
        vars.push((
            "MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT",
            "http://127.0.0.1:9/token",
        ));
        vars.push(("MULTIFLEXI_AZURE_ARM_ENDPOINT", "http://127.0.0.1:8/"));
        let c = AzureConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            c.credential,
            AzureCredential::ManagedIdentity {
                endpoint: "http://127.0.0.1:9/token".into(),
                client_id: Some("uami".into())
            }
        );
        assert_eq!(c.arm_endpoint, "http://127.0.0.1:8");
        assert_eq!(c.scope(), "http://127.0.0.1:8/.default");
    }

    #[test]
    fn defaults_and_redaction() {
        let c = AzureConfig::from_lookup(lookup(&[
            ("AZURE_SUBSCRIPTION_ID", "sub"),
            ("AZURE_RESOURCE_GROUP", "rg"),
            ("AZURE_LOCATION", "westeurope"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cret"),
        ]))
        .unwrap();
        assert_eq!(c.arm_endpoint, DEFAULT_ARM_ENDPOINT);
        assert!(matches!(
            &c.credential,
            AzureCredential::ClientSecret { authority_host, .. } if authority_host == DEFAULT_AUTHORITY_HOST
        ));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn bad_numbers_and_urls_are_refused() {
        let mut vars = vec![
            ("AZURE_SUBSCRIPTION_ID", "sub"),
            ("AZURE_RESOURCE_GROUP", "rg"),
            ("AZURE_LOCATION", "westeurope"),
            (
                "MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT",
                "169.254.169.254",
            ),
        ];
        assert!(AzureConfig::from_lookup(lookup(&vars)).is_err());
        vars[3].1 = "http://127.0.0.1:9/token";
        vars.push(("MULTIFLEXI_AZURE_CPU", "-1"));
        let err = AzureConfig::from_lookup(lookup(&vars)).unwrap_err();
        assert!(err.to_string().contains("MULTIFLEXI_AZURE_CPU"), "{err}");
    }
}
