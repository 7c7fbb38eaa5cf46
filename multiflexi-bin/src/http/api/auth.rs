//! Bearer-token authentication and the scope rules: an admin token sees everything; a company
//! token sees its own company's objects only (others do not exist for it: 404) and may not use
//! admin-only actions (403).

use super::error::{ApiError, ApiResult};
use crate::http::HttpState;
use axum::extract::FromRequestParts;
use axum::http::{StatusCode, header, request::Parts};
use multiflexi_core::CompanyId;
use multiflexi_core::store::TokenScope;

/// Who is calling: the authenticated token's name and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's id (scopes its idempotency keys).
    pub token_id: i64,
    /// The token's name (the actor of audit rows and `launched_by`).
    pub name: String,
    /// What it may see and do.
    pub scope: TokenScope,
}

impl FromRequestParts<HttpState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = |detail: &str| ApiError::new(StatusCode::UNAUTHORIZED, detail);
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                "this endpoint needs a token: send Authorization: Bearer <token> (make one with multiflexi-cli token:create)",
            )
            .with_field("Authorization"));
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                unauthorized("the Authorization header must be \"Bearer <token>\"")
                    .with_field("Authorization")
            })?;
        match state.store.authenticate(secret).await? {
            Some(token) => Ok(Caller {
                token_id: token.id,
                name: token.name,
                scope: token.scope,
            }),
            None => Err(unauthorized("the token is not valid (unknown or revoked)")
                .with_field("Authorization")),
        }
    }
}

impl Caller {
    /// 403 unless this is an admin token; `what` names the action.
    pub fn require_admin(&self, what: &str) -> ApiResult<()> {
        match self.scope {
            TokenScope::Admin => Ok(()),
            TokenScope::Company(_) => Err(ApiError::forbidden(format!(
                "{what} needs an admin token; this token is scoped to one company"
            ))),
        }
    }

    /// 404 for `entity` `id` unless this token may see `company`'s objects.
    pub fn check_company(
        &self,
        company: CompanyId,
        entity: &str,
        id: impl std::fmt::Display,
    ) -> ApiResult<()> {
        if self.scope.sees_company(company) {
            Ok(())
        } else {
            Err(ApiError::not_found(entity, id))
        }
    }

    /// The company a company token is bound to (lists are filtered to it).
    pub fn company(&self) -> Option<CompanyId> {
        self.scope.company()
    }

    /// This token as the application layer's caller.
    pub fn as_caller(&self) -> crate::usecase::Caller {
        crate::usecase::Caller::token(self.name.clone(), self.scope)
    }

    /// The actor written to the audit log and `launched_by`: the token's name.
    pub fn actor(&self) -> String {
        self.name.clone()
    }
}
