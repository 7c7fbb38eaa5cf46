//! Bearer tokens for ARM: a service principal's client-credentials grant, or a managed
//! identity's token endpoint (only the one configured; the instance metadata address is never
//! assumed). Tokens are cached until five minutes before they expire.

use super::config::{AzureConfig, AzureCredential};
use super::error::AzureError;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long before its expiry a token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A token and when to stop using it.
#[derive(Clone)]
struct Cached {
    token: String,
    until: Instant,
}

/// Gets and caches tokens.
pub struct TokenSource {
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSource")
    }
}

/// A token request that failed, with whether another attempt may pass.
#[derive(Debug)]
pub struct TokenFailure {
    pub error: AzureError,
    pub transient: bool,
}

impl TokenSource {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            cached: Mutex::new(None),
        }
    }

    /// Forgets the cached token (ARM answered 401).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    /// A valid token, fetched when none is cached or it is about to expire.
    pub async fn get(
        &self,
        http: &reqwest::Client,
        config: &AzureConfig,
    ) -> Result<String, TokenFailure> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.until) {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = fetch(http, config).await?;
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        *cached = Some(Cached {
            token: token.clone(),
            until: Instant::now() + lifetime - margin,
        });
        Ok(token)
    }
}

async fn fetch(
    http: &reqwest::Client,
    config: &AzureConfig,
) -> Result<(String, Duration), TokenFailure> {
    let (what, url, request) = match &config.credential {
        AzureCredential::ClientSecret {
            tenant_id,
            client_id,
            client_secret,
            authority_host,
        } => {
            let url = format!("{authority_host}/{tenant_id}/oauth2/v2.0/token");
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.as_str()),
                ("scope", &config.scope()),
            ];
            let req = http.post(&url).form(&form);
            ("requesting a token for the service principal", url, req)
        }
        AzureCredential::ManagedIdentity {
            endpoint,
            client_id,
        } => {
            let resource = format!("{}/", config.arm_endpoint);
            let mut query = vec![("api-version", "2018-02-01"), ("resource", &resource)];
            if let Some(id) = client_id {
                query.push(("client_id", id));
            }
            let req = http.get(endpoint).query(&query).header("Metadata", "true");
            ("requesting a managed identity token", endpoint.clone(), req)
        }
    };
    let reply = request
        .timeout(config.request_timeout)
        .send()
        .await
        .map_err(|source| TokenFailure {
            error: AzureError::Unreachable {
                what: what.into(),
                url: url.clone(),
                source,
            },
            transient: true,
        })?;
    let status = reply.status().as_u16();
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    if status != 200 {
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        return Err(TokenFailure {
            error: AzureError::Status {
                what: format!("{what} at {url}"),
                status,
                code: text("error"),
                message: text("error_description"),
            },
            transient: super::error::is_transient(status),
        });
    }
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    // `expires_in` is a number from Entra ID and a string from the metadata service.
    let seconds = body["expires_in"]
        .as_u64()
        .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0);
    if token.is_empty() || seconds == 0 {
        return Err(TokenFailure {
            error: AzureError::BadReply {
                what: format!("{what} at {url}"),
                message: "no access_token / expires_in in the answer".into(),
            },
            transient: false,
        });
    }
    Ok((token, Duration::from_secs(seconds)))
}
