//! [`AccessTokens`]: the bearer tokens of the HTTP API and the dashboard.
//!
//! A token's secret is shown once, when it is made, and only its SHA-256 is stored: a stolen
//! database gives no usable token. Secrets carry 256 random bits, so a fast hash is enough.

use crate::Result;
use crate::ids::CompanyId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::{self, Debug};

/// What a token may see and do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Everything.
    Admin,
    /// One company's templates, jobs, credentials and artifacts; nothing else exists for it.
    Company(CompanyId),
}

impl TokenScope {
    /// Whether this scope may see a company's data.
    pub fn sees_company(self, company: CompanyId) -> bool {
        match self {
            TokenScope::Admin => true,
            TokenScope::Company(c) => c == company,
        }
    }

    /// The company a company-scoped token is bound to.
    pub fn company(self) -> Option<CompanyId> {
        match self {
            TokenScope::Admin => None,
            TokenScope::Company(c) => Some(c),
        }
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenScope::Admin => f.write_str("admin"),
            TokenScope::Company(c) => write!(f, "company {c}"),
        }
    }
}

/// A stored token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessToken {
    /// Row id.
    pub id: i64,
    /// Unique name (who or what uses it).
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// When it was made (the store's clock).
    pub created: DateTime<Utc>,
    /// When it was revoked; a revoked token authenticates nothing.
    pub revoked: Option<DateTime<Utc>>,
}

impl AccessToken {
    /// A stored token as a backend reads it back.
    pub fn new(
        id: i64,
        name: impl Into<String>,
        scope: TokenScope,
        created: DateTime<Utc>,
        revoked: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            id,
            name: name.into(),
            scope,
            created,
            revoked,
        }
    }
}

impl IssuedToken {
    /// A token and its secret, as [`AccessTokens::create_token`] returns them.
    pub fn new(token: AccessToken, secret: String) -> Self {
        Self { token, secret }
    }
}

/// A token just made: the only moment its secret exists outside the client.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The stored token.
    pub token: AccessToken,
    /// The bearer secret (`mfx_` + 64 hex digits).
    pub secret: String,
}

impl Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &self.token)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Prefix of every token secret (lets secret scanners and humans recognise one).
pub const TOKEN_PREFIX: &str = "mfx_";

/// A fresh secret: [`TOKEN_PREFIX`] + 32 random bytes in hex.
pub fn new_token_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| crate::Error::backend("getrandom", true, format!("no randomness: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// What the store keeps of a secret: SHA-256, lowercase hex.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Issuing, checking and revoking API tokens.
#[async_trait]
pub trait AccessTokens: Send + Sync + Debug + 'static {
    /// Makes a token (name unique: AlreadyExists otherwise; a company scope must name an existing
    /// company: NotFound otherwise) and returns its secret, which is not stored.
    async fn create_token(&self, name: &str, scope: TokenScope) -> Result<IssuedToken>;
    /// The live (not revoked) token whose secret this is, if any.
    async fn authenticate(&self, secret: &str) -> Result<Option<AccessToken>>;
    /// Every token, revoked ones included, by id.
    async fn list_tokens(&self) -> Result<Vec<AccessToken>>;
    /// Revokes a token (NotFound when unknown; revoking twice keeps the first time).
    async fn revoke_token(&self, id: i64) -> Result<AccessToken>;
    /// Gives a live token a new secret and returns it (not stored: only its hash is); the old
    /// secret authenticates nothing from then on. NotFound when unknown, Conflict when revoked.
    async fn reissue_token(&self, id: i64) -> Result<IssuedToken>;
    /// Renames a token (AlreadyExists when another token has the name; NotFound when unknown).
    async fn rename_token(&self, id: i64, name: &str) -> Result<AccessToken>;
}
