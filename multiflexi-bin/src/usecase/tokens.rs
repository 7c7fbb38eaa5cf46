//! Bearer tokens of the API and the dashboard: made (the secret is returned once), renamed or
//! given a new secret (returned once), and revoked.

use super::audit::Action;
use super::{Caller, UseCases};
use multiflexi_core::store::{AccessToken, IssuedToken, TokenScope};
use multiflexi_core::{Error, Result};

/// The token name rule: not empty, no leading or trailing space, no control character.
pub fn check_name(name: &str) -> Result<&str> {
    if name.trim().is_empty() || name.trim() != name || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "a token name must be non-empty, without leading or trailing spaces or control \
             characters",
        ));
    }
    Ok(name)
}

impl UseCases {
    /// Makes a token (admin only); the answer holds its secret, which is never stored.
    pub async fn create_token(
        &self,
        caller: &Caller,
        name: &str,
        scope: TokenScope,
    ) -> Result<IssuedToken> {
        caller.require_admin("making tokens")?;
        let name = check_name(name)?;
        if let TokenScope::Company(id) = scope {
            self.store.get_company(id).await?;
        }
        let issued = self.store.create_token(name, scope).await?;
        self.audit(
            caller,
            None,
            Action::TokenCreate,
            format!(
                "token {} {:?} ({scope})",
                issued.token.id, issued.token.name
            ),
        )
        .await;
        Ok(issued)
    }

    /// One token (admin only), never its secret; NotFound when no token has this id.
    pub async fn get_token(&self, caller: &Caller, id: i64) -> Result<AccessToken> {
        caller.require_admin("reading tokens")?;
        if id <= 0 {
            return Err(Error::invalid(
                "id",
                format!("{id} is not a token id (a positive integer; token:list shows them)"),
            ));
        }
        self.store
            .list_tokens()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::not_found("token", id))
    }

    /// Revokes a token (admin only): it authenticates nothing from then on.
    pub async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<AccessToken> {
        caller.require_admin("revoking tokens")?;
        if id <= 0 {
            return Err(Error::invalid(
                "id",
                format!("{id} is not a token id (a positive integer; token:list shows them)"),
            ));
        }
        let t = self.store.revoke_token(id).await?;
        self.audit(
            caller,
            None,
            Action::TokenRevoke,
            format!("token {} {:?} ({})", t.id, t.name, t.scope),
        )
        .await;
        Ok(t)
    }

    /// Renames a token and/or gives it a new secret (admin only; one audit row). With
    /// `new_secret`, the answer holds the new secret (shown once; only its hash is stored) and
    /// the old one authenticates nothing from then on. A revoked token is a Conflict.
    pub async fn update_token(
        &self,
        caller: &Caller,
        id: i64,
        name: Option<&str>,
        new_secret: bool,
    ) -> Result<(AccessToken, Option<IssuedToken>)> {
        caller.require_admin("changing tokens")?;
        let before = self.get_token(caller, id).await?;
        if name.is_none() && !new_secret {
            return Err(Error::invalid(
                "token",
                "nothing to change: give --name NEW to rename it or --regenerate for a new \
                 secret (shown once)",
            ));
        }
        if before.revoked.is_some() {
            return Err(Error::conflict(format!(
                "token {id} {:?} is revoked; token:create makes a new one",
                before.name
            )));
        }
        let mut changed = Vec::new();
        let mut token = before.clone();
        if let Some(name) = name {
            token = self.store.rename_token(id, check_name(name)?).await?;
            changed.push(format!("renamed from {:?}", before.name));
        }
        let issued = if new_secret {
            let issued = self.store.reissue_token(id).await?;
            token = issued.token.clone();
            changed.push("new secret".to_string());
            Some(issued)
        } else {
            None
        };
        self.audit(
            caller,
            None,
            Action::TokenUpdate,
            format!(
                "token {} {:?} ({}): {}",
                token.id,
                token.name,
                token.scope,
                changed.join(", ")
            ),
        )
        .await;
        Ok((token, issued))
    }
}
