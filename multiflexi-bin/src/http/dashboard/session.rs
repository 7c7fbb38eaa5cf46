//! Sign-in with an API token, the session cookie, sign-out.

use super::DashState;
use super::csrf::{self, CsrfForm};
use super::error::PageError;
use super::layout;
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use multiflexi_core::CompanyId;
use multiflexi_core::store::{AccessToken, TokenScope};
use serde::Deserialize;

/// The cookie holding the signed-in token's secret.
pub const SESSION_COOKIE: &str = "mfx_session";
/// The cookie holding the sign-in form's nonce.
const LOGIN_COOKIE: &str = "mfx_login";
/// How long a session cookie lives, in seconds.
const SESSION_MAX_AGE: u32 = 12 * 3600;

/// A signed-in token.
#[derive(Clone)]
pub(crate) struct Session {
    /// The token (never its secret).
    pub(crate) token: AccessToken,
    secret: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The token every POST form of this session carries.
    pub(crate) fn csrf(&self) -> String {
        csrf::form_token(&self.secret)
    }

    /// What the token may see.
    pub(crate) fn scope(&self) -> TokenScope {
        self.token.scope
    }

    /// Whether the token may see `company`'s data.
    pub(crate) fn sees(&self, company: CompanyId) -> bool {
        self.token.scope.sees_company(company)
    }

    /// Whether the token is an admin token.
    pub(crate) fn is_admin(&self) -> bool {
        self.token.scope == TokenScope::Admin
    }

    /// Who acts, for job `launched_by` and audit rows.
    pub(crate) fn actor(&self) -> String {
        format!("dashboard:{}", self.token.name)
    }

    /// This session as the application layer's caller.
    pub(crate) fn caller(&self) -> crate::usecase::Caller {
        crate::usecase::Caller::token(self.actor(), self.token.scope)
    }
}

/// The value of cookie `name`, if the request carries it.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Whether `s` can be a token secret (and so can go into a cookie header as it is).
fn plausible_secret(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn set_cookie(state: &DashState, name: &str, value: &str, max_age: u32) -> HeaderValue {
    let secure = if state.http.options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let header =
        format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&header).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where to go after signing in: a local path only (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.starts_with("/login")
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn redirect_to_login(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let location = format!(
        "/login?next={}",
        percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
    );
    see_other(&location)
}

/// A 303 See Other to a local path.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}

impl FromRequestParts<DashState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &DashState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE).filter(|s| plausible_secret(s))
        else {
            return Err(redirect_to_login(parts));
        };
        match state.http.store.authenticate(&secret).await {
            Ok(Some(token)) => Ok(Session { token, secret }),
            Ok(None) => Err(redirect_to_login(parts)),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    csrf: String,
}

fn login_markup(next: &str, csrf: &str, error: Option<&str>) -> Markup {
    let body = html! {
        div.login {
            h1 { "Sign in to MultiFlexi" }
            p { "Paste an API token. An admin prints one with "
                code { "multiflexi-cli token:create --name NAME --admin" }
                "; " code { "multiflexi serve" } " keeps its first admin token in "
                code { "multiflexi.admin-token" } " beside the database." }
            @if let Some(e) = error {
                p.alert.alert-danger role="alert" { (e) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="token" { "API token" }
                    input #token type="password" name="token" required autocomplete="off"
                        autofocus spellcheck="false" placeholder="mfx_…";
                }
                button.btn.btn-primary type="submit" { "Sign in" }
            }
        }
    };
    layout::bare("Sign in", body)
}

fn login_response(
    state: &DashState,
    next: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let nonce = csrf::nonce();
    let token = csrf::login_token(&state.login_key, &nonce);
    let mut response = (status, login_markup(next, &token, error)).into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, set_cookie(state, LOGIN_COOKIE, &nonce, 3600));
    response
}

/// `GET /login`.
pub(crate) async fn login_page(
    State(state): State<DashState>,
    Query(q): Query<NextQuery>,
) -> Response {
    login_response(&state, &safe_next(q.next.as_deref()), StatusCode::OK, None)
}

/// `POST /login`: checks the form's token and origin, then the API token.
pub(crate) async fn login_submit(
    State(state): State<DashState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let nonce = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let expected = csrf::login_token(&state.login_key, &nonce);
    if nonce.is_empty() || !csrf::same_origin(&headers) || !csrf::constant_eq(&form.csrf, &expected)
    {
        return login_response(
            &state,
            &next,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired or came from another site. Please try again."),
        );
    }
    let secret = form.token.trim();
    let token = if plausible_secret(secret) {
        match state.http.store.authenticate(secret).await {
            Ok(t) => t,
            Err(e) => return PageError::from(e).into_response(),
        }
    } else {
        None
    };
    let Some(token) = token else {
        return login_response(
            &state,
            &next,
            StatusCode::UNAUTHORIZED,
            Some("That token is not valid or has been revoked."),
        );
    };
    tracing::info!(token = %token.name, "dashboard sign-in");
    let mut response = see_other(&next);
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, secret, SESSION_MAX_AGE),
    );
    headers.append(SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", 0));
    response
}

/// The sign-out form (its CSRF token only).
#[derive(Debug, Deserialize)]
pub(crate) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm for LogoutForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /logout`: forgets the cookie.
pub(crate) async fn logout(
    State(state): State<DashState>,
    checked: csrf::Checked<LogoutForm>,
) -> Response {
    tracing::info!(token = %checked.session.token.name, "dashboard sign-out");
    let mut response = see_other("/login");
    response
        .headers_mut()
        .append(SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_local_only() {
        assert_eq!(
            safe_next(Some("/jobs?status=failed")),
            "/jobs?status=failed"
        );
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/login")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "a=1; mfx_session=mfx_abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("mfx_abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(plausible_secret("mfx_abc"));
        assert!(!plausible_secret("mfx abc"));
        assert!(!plausible_secret("x;y"));
    }
}
