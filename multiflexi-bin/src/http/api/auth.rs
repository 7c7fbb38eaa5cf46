//! Token authentication and the scope rules: an admin token sees everything; a company token sees
//! its own company's objects only (others do not exist for it: 404) and may not use admin-only
//! actions (403).
//!
//! The token comes as `Authorization: Bearer <token>`, or — as upstream MultiFlexi's generated
//! clients send it — as HTTP Basic with the token as the password. The Basic user name is
//! ignored: the token alone says who calls (its name is the audit actor).

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
            .and_then(token_of)
            .ok_or_else(|| {
                unauthorized(
                    "the Authorization header must be \"Bearer <token>\" or HTTP Basic with the token as the password",
                )
                .with_field("Authorization")
            })?;
        match state.store.authenticate(&secret).await? {
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

/// The token of an `Authorization` header value: `Bearer <token>`, or `Basic base64(user:token)`
/// (the user name is ignored; a value without `:` is the token itself). `None` when the value
/// is neither or the token is empty.
pub fn token_of(header: &str) -> Option<String> {
    use base64::Engine;
    let (scheme, rest) = header.trim().split_once(' ')?;
    let rest = rest.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        match text.split_once(':') {
            Some((_user, password)) => password.to_string(),
            None => text,
        }
    } else {
        return None;
    };
    Some(token).filter(|t| !t.is_empty())
}

/// Whether the request authenticates with HTTP Basic (upstream's generated clients do).
pub fn is_basic(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
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

#[cfg(test)]
mod tests {
    use super::token_of;
    use base64::Engine;

    fn basic(user_pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    #[test]
    fn reads_bearer_and_basic_tokens() {
        assert_eq!(token_of("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(token_of("bearer  abc ").as_deref(), Some("abc"));
        // The Basic user name is ignored; the password is the token (it may hold ':').
        assert_eq!(token_of(&basic("anyone:abc")).as_deref(), Some("abc"));
        assert_eq!(token_of(&basic(":a:b")).as_deref(), Some("a:b"));
        assert_eq!(token_of(&basic("abc")).as_deref(), Some("abc"));
    }

    #[test]
    fn refuses_other_values() {
        assert_eq!(token_of("Bearer "), None);
        assert_eq!(token_of(&basic("user:")), None);
        assert_eq!(token_of("Basic not-base64!"), None);
        assert_eq!(token_of("Digest abc"), None);
        assert_eq!(token_of("abc"), None);
    }
}
