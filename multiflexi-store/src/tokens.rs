//! [`AccessTokens`] for [`SqlStore`]: the `access_token` table holds the SHA-256 of each secret.

use crate::entity::{access_token, company, ts, utc, utc_opt};
use crate::store::{SqlStore, in_tx};
use async_trait::async_trait;
use multiflexi_core::store::{
    AccessToken, AccessTokens, IssuedToken, TokenScope, new_token_secret, token_hash,
};
use multiflexi_core::{CompanyId, Error, Result};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, NotSet, QueryFilter, QueryOrder, Set};

fn token_from_model(m: access_token::Model) -> AccessToken {
    let scope = m
        .company_id
        .map_or(TokenScope::Admin, |c| TokenScope::Company(CompanyId(c)));
    AccessToken::new(m.id, m.name, scope, utc(m.created), utc_opt(m.revoked))
}

#[async_trait]
impl AccessTokens for SqlStore {
    async fn create_token(&self, name: &str, scope: TokenScope) -> Result<IssuedToken> {
        let secret = new_token_secret()?;
        let now = self.now().await?;
        in_tx!(self, |txn| async {
            if let TokenScope::Company(c) = scope {
                company::Entity::find_by_id(c.0)
                    .one(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?
                    .ok_or_else(|| Error::not_found(CompanyId::ENTITY, c))?;
            }
            let am = access_token::ActiveModel {
                id: NotSet,
                name: Set(name.to_string()),
                secret_hash: Set(token_hash(&secret)),
                company_id: Set(scope.company().map(|c| c.0)),
                created: Set(ts(now)),
                revoked: Set(None),
            };
            let m = am
                .insert(&txn)
                .await
                .map_err(|e| self.err("token", &format!("name {name:?}"), e))?;
            Ok(IssuedToken::new(token_from_model(m), secret.clone()))
        }
        .await)
    }

    async fn authenticate(&self, secret: &str) -> Result<Option<AccessToken>> {
        let m = access_token::Entity::find()
            .filter(access_token::Column::SecretHash.eq(token_hash(secret)))
            .filter(access_token::Column::Revoked.is_null())
            .one(self.db())
            .await
            .map_err(|e| self.dberr(e))?;
        Ok(m.map(token_from_model))
    }

    async fn list_tokens(&self) -> Result<Vec<AccessToken>> {
        Ok(access_token::Entity::find()
            .order_by_asc(access_token::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(token_from_model)
            .collect())
    }

    async fn revoke_token(&self, id: i64) -> Result<AccessToken> {
        let now = self.now().await?;
        in_tx!(self, |txn| async {
            let m = access_token::Entity::find_by_id(id)
                .one(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .ok_or_else(|| Error::not_found("token", id))?;
            if m.revoked.is_some() {
                return Ok(token_from_model(m));
            }
            let mut am: access_token::ActiveModel = m.into();
            am.revoked = Set(Some(ts(now)));
            let m = am.update(&txn).await.map_err(|e| self.dberr(e))?;
            Ok(token_from_model(m))
        }
        .await)
    }

    async fn reissue_token(&self, id: i64) -> Result<IssuedToken> {
        let secret = new_token_secret()?;
        in_tx!(self, |txn| async {
            let m = access_token::Entity::find_by_id(id)
                .one(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .ok_or_else(|| Error::not_found("token", id))?;
            if m.revoked.is_some() {
                return Err(Error::conflict(format!(
                    "token {id} is revoked; token:create makes a new one"
                )));
            }
            let mut am: access_token::ActiveModel = m.into();
            am.secret_hash = Set(token_hash(&secret));
            let m = am.update(&txn).await.map_err(|e| self.dberr(e))?;
            Ok(IssuedToken::new(token_from_model(m), secret.clone()))
        }
        .await)
    }

    async fn rename_token(&self, id: i64, name: &str) -> Result<AccessToken> {
        in_tx!(self, |txn| async {
            let m = access_token::Entity::find_by_id(id)
                .one(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .ok_or_else(|| Error::not_found("token", id))?;
            if m.name == name {
                return Ok(token_from_model(m));
            }
            let mut am: access_token::ActiveModel = m.into();
            am.name = Set(name.to_string());
            let m = am
                .update(&txn)
                .await
                .map_err(|e| self.err("token", &format!("name {name:?}"), e))?;
            Ok(token_from_model(m))
        }
        .await)
    }
}
