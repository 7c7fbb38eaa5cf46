//! The ARM REST client: the documented Azure Container Instances operations
//! (`api-version` [`API_VERSION`]), a bearer token on every request, bounded retries of 429
//! (after its `Retry-After`), 408, 5xx and unanswered requests, and long-running operations
//! followed through `Azure-AsyncOperation` / `Location`.

use super::config::AzureConfig;
use super::error::{AzureError, is_transient};
use super::token::TokenSource;
use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The ACI REST API version every request states.
pub const API_VERSION: &str = "2023-05-01";

/// An answer that was not retried away.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The header's value, if it is text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// ARM's error answer (`{"error": {"code", "message"}}`) as an error.
    pub fn error(&self, what: impl Into<String>) -> AzureError {
        let v = self.json();
        let text = |k: &str| v["error"][k].as_str().unwrap_or_default().to_owned();
        let mut message = text("message");
        if message.is_empty() {
            message = String::from_utf8_lossy(&self.body)
                .chars()
                .take(500)
                .collect();
        }
        AzureError::Status {
            what: what.into(),
            status: self.status,
            code: text("code"),
            message,
        }
    }
}

/// One failed attempt, and whether (and when) to try again.
#[derive(Debug)]
struct Attempt {
    error: AzureError,
    retry: bool,
    retry_after: Option<Duration>,
}

/// A long-running operation's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Still going; poll again after this long.
    InProgress(Duration),
    /// Done.
    Succeeded,
    /// `Failed` or `Canceled`, with ARM's message.
    Failed { status: String, message: String },
}

/// Talks to ARM for one executor.
#[derive(Debug)]
pub struct ArmClient {
    http: reqwest::Client,
    config: Arc<AzureConfig>,
    tokens: TokenSource,
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

impl ArmClient {
    /// A client for `config` (rustls with the ring provider, the platform's trust store).
    pub fn new(config: Arc<AzureConfig>) -> Result<Self, AzureError> {
        // kube uses the same provider; installing it twice is harmless (the first one stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(config.request_timeout)
            .build()
            .map_err(|source| AzureError::Unreachable {
                what: "building the HTTP client".into(),
                url: config.arm_endpoint.clone(),
                source,
            })?;
        Ok(Self {
            http,
            config,
            tokens: TokenSource::new(),
        })
    }

    fn group_path(&self) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerInstance/containerGroups",
            self.config.arm_endpoint, self.config.subscription_id, self.config.resource_group
        )
    }

    /// `…/containerGroups/{name}?api-version=…`.
    pub fn group_url(&self, name: &str) -> String {
        format!("{}/{name}?api-version={API_VERSION}", self.group_path())
    }

    /// `…/containerGroups?api-version=…` (the resource group's container groups).
    pub fn list_url(&self) -> String {
        format!("{}?api-version={API_VERSION}", self.group_path())
    }

    /// `…/containerGroups/{name}/containers/{container}/logs?api-version=…`.
    pub fn logs_url(&self, name: &str, container: &str) -> String {
        format!(
            "{}/{name}/containers/{container}/logs?api-version={API_VERSION}",
            self.group_path()
        )
    }

    /// Whether `url` is under the configured ARM endpoint (tokens go nowhere else).
    fn check_url(&self, what: &str, url: &str) -> Result<(), AzureError> {
        let arm = &self.config.arm_endpoint;
        let rest = url.strip_prefix(arm.as_str());
        if rest.is_some_and(|r| r.is_empty() || r.starts_with('/') || r.starts_with('?')) {
            Ok(())
        } else {
            Err(AzureError::ForeignUrl {
                what: what.into(),
                url: url.into(),
                arm: arm.clone(),
            })
        }
    }

    async fn once(
        &self,
        what: &str,
        method: &Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Reply, Attempt> {
        let token = self
            .tokens
            .get(&self.http, &self.config)
            .await
            .map_err(|f| Attempt {
                error: f.error,
                retry: f.transient,
                retry_after: None,
            })?;
        let mut req = self
            .http
            .request(method.clone(), url)
            .bearer_auth(token)
            .timeout(self.config.request_timeout);
        if let Some(b) = body {
            req = req.json(b);
        } else if *method == Method::POST {
            req = req.header("content-length", "0");
        }
        let reply = req.send().await.map_err(|source| Attempt {
            error: AzureError::Unreachable {
                what: what.into(),
                url: url.into(),
                source,
            },
            retry: true,
            retry_after: None,
        })?;
        let status = reply.status().as_u16();
        let headers = reply.headers().clone();
        let body = reply.bytes().await.map_err(|source| Attempt {
            error: AzureError::Unreachable {
                what: what.into(),
                url: url.into(),
                source,
            },
            retry: true,
            retry_after: None,
        })?;
        let reply = Reply {
            status,
            headers,
            body,
        };
        if status == 401 {
            // An expired or revoked token: fetch a new one for the next attempt.
            self.tokens.forget().await;
            return Err(Attempt {
                error: reply.error(what),
                retry: true,
                retry_after: None,
            });
        }
        if is_transient(status) {
            return Err(Attempt {
                retry_after: retry_after(&reply.headers),
                error: reply.error(what),
                retry: true,
            });
        }
        Ok(reply)
    }

    /// Sends one request to ARM (`url` must be under the ARM endpoint), retrying 401 (with a
    /// new token), 408, 429 (after `Retry-After`, at most the configured longest wait), 5xx
    /// and unanswered requests with exponential back-off, up to the configured attempts. Any
    /// other answer is returned for the caller to judge.
    pub async fn send(
        &self,
        what: &str,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Reply, AzureError> {
        self.check_url(what, url)?;
        let max = self.config.max_retry_wait;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200).min(max))
            .with_max_delay(max)
            .with_max_times(self.config.attempts.saturating_sub(1));
        (|| self.once(what, &method, url, body))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|a: &Attempt| a.retry)
            .adjust(|a: &Attempt, next: Option<Duration>| {
                next.map(|d| a.retry_after.map_or(d, |r| r.min(max)))
            })
            .notify(|a: &Attempt, wait: Duration| {
                tracing::warn!(error = %a.error, ?wait, "ARM request failed; trying again");
            })
            .await
            .map_err(|a| a.error)
    }

    /// Polls a long-running operation once: `Azure-AsyncOperation` answers
    /// `{"status": "InProgress" | "Succeeded" | "Failed" | "Canceled"}`; a `Location` URL
    /// answers 202 while it runs.
    pub async fn operation(
        &self,
        what: &str,
        url: &str,
        location: bool,
    ) -> Result<Operation, AzureError> {
        let reply = self.send(what, Method::GET, url, None).await?;
        let wait = retry_after(&reply.headers).unwrap_or(self.config.poll_interval);
        if location {
            return match reply.status {
                202 => Ok(Operation::InProgress(wait)),
                200..=299 | 404 => Ok(Operation::Succeeded),
                _ => Err(reply.error(what)),
            };
        }
        if reply.status != 200 {
            return Err(reply.error(what));
        }
        let v = reply.json();
        match v["status"].as_str() {
            Some("Succeeded") => Ok(Operation::Succeeded),
            Some(s @ ("Failed" | "Canceled")) => Ok(Operation::Failed {
                status: s.to_owned(),
                message: v["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            }),
            Some(_) => Ok(Operation::InProgress(wait)),
            None => Err(AzureError::BadReply {
                what: what.into(),
                message: "no status in the operation's answer".into(),
            }),
        }
    }

    /// The operation URL of a `201`/`202` answer: `Azure-AsyncOperation`, else `Location`
    /// (`true`), else none (the operation completed synchronously).
    pub fn operation_url(reply: &Reply) -> Option<(String, bool)> {
        reply
            .header("azure-asyncoperation")
            .map(|u| (u, false))
            .or_else(|| reply.header("location").map(|u| (u, true)))
    }

    /// Follows an operation to its end, for at most `limit`.
    pub async fn wait(&self, what: &str, reply: &Reply, limit: Duration) -> Result<(), AzureError> {
        let Some((url, location)) = Self::operation_url(reply) else {
            return Ok(());
        };
        let until = tokio::time::Instant::now() + limit;
        loop {
            match self.operation(what, &url, location).await? {
                Operation::Succeeded => return Ok(()),
                Operation::Failed { status, message } => {
                    return Err(AzureError::OperationFailed {
                        what: what.into(),
                        status,
                        message,
                    });
                }
                Operation::InProgress(wait) => {
                    if tokio::time::Instant::now() + wait > until {
                        return Err(AzureError::OperationFailed {
                            what: what.into(),
                            status: "InProgress".into(),
                            message: format!("still running after {limit:?}"),
                        });
                    }
                    tokio::time::sleep(wait.min(self.config.max_retry_wait)).await;
                }
            }
        }
    }

    /// Deletes container group `name` and waits until it is gone; `Ok(false)` when it was gone
    /// already.
    pub async fn delete_group(&self, name: &str) -> Result<bool, AzureError> {
        let what = format!("deleting container group {name}");
        let reply = self
            .send(&what, Method::DELETE, &self.group_url(name), None)
            .await?;
        match reply.status {
            204 | 404 => Ok(false),
            200 | 202 => {
                self.wait(&what, &reply, self.config.start_limit).await?;
                Ok(true)
            }
            _ => Err(reply.error(what)),
        }
    }

    /// Every container group of the resource group (following `nextLink`).
    pub async fn list_groups(&self) -> Result<Vec<Value>, AzureError> {
        let what = "listing container groups";
        let mut url = self.list_url();
        let mut out = Vec::new();
        loop {
            let reply = self.send(what, Method::GET, &url, None).await?;
            if reply.status != 200 {
                return Err(reply.error(what));
            }
            let mut v = reply.json();
            if let Some(items) = v["value"].as_array_mut() {
                out.append(items);
            }
            match v["nextLink"].as_str() {
                Some(next) if !next.is_empty() => url = next.to_owned(),
                _ => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::config::AzureCredential;

    fn client() -> ArmClient {
        let config = AzureConfig::new(
            "sub",
            "rg",
            "westeurope",
            AzureCredential::ManagedIdentity {
                endpoint: "http://127.0.0.1:2/token".into(),
                client_id: None,
            },
        )
        .with_arm_endpoint("http://127.0.0.1:1");
        ArmClient::new(Arc::new(config)).unwrap()
    }

    #[test]
    fn the_token_goes_only_to_the_arm_endpoint() {
        let arm = client();
        assert!(
            arm.check_url("w", "http://127.0.0.1:1/subscriptions/x")
                .is_ok()
        );
        assert!(
            arm.check_url("w", "http://127.0.0.1:1?api-version=1")
                .is_ok()
        );
        for foreign in [
            "http://127.0.0.1:10/subscriptions/x",
            "http://127.0.0.1:1.evil.example/x",
            "https://management.azure.com/x",
        ] {
            assert!(
                matches!(
                    arm.check_url("w", foreign),
                    Err(AzureError::ForeignUrl { .. })
                ),
                "{foreign}"
            );
        }
    }

    #[test]
    fn urls_state_the_api_version() {
        let arm = client();
        assert_eq!(
            arm.group_url("g"),
            "http://127.0.0.1:1/subscriptions/sub/resourceGroups/rg/providers/\
             Microsoft.ContainerInstance/containerGroups/g?api-version=2023-05-01"
        );
        assert!(
            arm.list_url()
                .ends_with("/containerGroups?api-version=2023-05-01")
        );
        assert!(
            arm.logs_url("g", "job")
                .ends_with("/containerGroups/g/containers/job/logs?api-version=2023-05-01")
        );
    }

    #[test]
    fn retry_after_in_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    }
}
