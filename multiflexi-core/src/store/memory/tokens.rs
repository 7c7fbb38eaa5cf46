//! [`AccessTokens`] for [`InMemoryStore`].

use super::InMemoryStore;
use super::state::next_id;
use crate::ids::CompanyId;
use crate::store::{
    AccessToken, AccessTokens, IssuedToken, TokenScope, new_token_secret, token_hash,
};
use crate::{Error, Result};
use async_trait::async_trait;

#[async_trait]
impl AccessTokens for InMemoryStore {
    async fn create_token(&self, name: &str, scope: TokenScope) -> Result<IssuedToken> {
        let secret = new_token_secret()?;
        let now = self.now();
        let mut st = self.lock();
        if st.tokens.values().any(|(t, _)| t.name == name) {
            return Err(Error::AlreadyExists {
                entity: "token",
                key: format!("name {name:?}"),
            });
        }
        if let TokenScope::Company(c) = scope
            && !st.companies.contains_key(&c)
        {
            return Err(Error::not_found(CompanyId::ENTITY, c));
        }
        let id = next_id(&mut st.last_id.token);
        let token = AccessToken {
            id,
            name: name.to_string(),
            scope,
            created: now,
            revoked: None,
        };
        st.tokens.insert(id, (token.clone(), token_hash(&secret)));
        Ok(IssuedToken { token, secret })
    }

    async fn authenticate(&self, secret: &str) -> Result<Option<AccessToken>> {
        let hash = token_hash(secret);
        let st = self.lock();
        Ok(st
            .tokens
            .values()
            .find(|(t, h)| *h == hash && t.revoked.is_none())
            .map(|(t, _)| t.clone()))
    }

    async fn list_tokens(&self) -> Result<Vec<AccessToken>> {
        Ok(self
            .lock()
            .tokens
            .values()
            .map(|(t, _)| t.clone())
            .collect())
    }

    async fn revoke_token(&self, id: i64) -> Result<AccessToken> {
        let now = self.now();
        let mut st = self.lock();
        let (t, _) = st
            .tokens
            .get_mut(&id)
            .ok_or_else(|| Error::not_found("token", id))?;
        t.revoked.get_or_insert(now);
        Ok(t.clone())
    }

    async fn reissue_token(&self, id: i64) -> Result<IssuedToken> {
        let secret = new_token_secret()?;
        let mut st = self.lock();
        let (t, hash) = st
            .tokens
            .get_mut(&id)
            .ok_or_else(|| Error::not_found("token", id))?;
        if t.revoked.is_some() {
            return Err(Error::conflict(format!(
                "token {id} is revoked; token:create makes a new one"
            )));
        }
        *hash = token_hash(&secret);
        Ok(IssuedToken {
            token: t.clone(),
            secret,
        })
    }

    async fn rename_token(&self, id: i64, name: &str) -> Result<AccessToken> {
        let mut st = self.lock();
        if st
            .tokens
            .values()
            .any(|(t, _)| t.name == name && t.id != id)
        {
            return Err(Error::AlreadyExists {
                entity: "token",
                key: format!("name {name:?}"),
            });
        }
        let (t, _) = st
            .tokens
            .get_mut(&id)
            .ok_or_else(|| Error::not_found("token", id))?;
        t.name = name.to_string();
        Ok(t.clone())
    }
}
