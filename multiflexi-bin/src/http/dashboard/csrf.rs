//! CSRF protection of every POST form.
//!
//! A form's token is `HMAC-SHA256(session secret, purpose)` in hex: only a page rendered for
//! this session holds it, and it reveals nothing of the secret. The sign-in form, which has no
//! session yet, uses `HMAC-SHA256(per-process key, nonce)` with the nonce in a short-lived
//! cookie. Besides the token, a POST whose `Origin` (or, without one, `Referer`) names another
//! origin than the request's `Host` is refused.

use super::DashState;
use super::error::PageError;
use super::session::Session;
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN, REFERER};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// What a form's token is derived for (bump to invalidate every rendered form).
const FORM_PURPOSE: &[u8] = b"multiflexi dashboard form v1";

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The form token of a session whose token secret is `secret`.
pub(crate) fn form_token(secret: &str) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), FORM_PURPOSE))
}

/// The sign-in form's token for `nonce`.
pub(crate) fn login_token(key: &[u8; 32], nonce: &str) -> String {
    hex::encode(hmac_sha256(key, nonce.as_bytes()))
}

/// 32 random bytes (falls back to a hash of the time and address space layout when the OS has
/// no randomness, which only weakens the sign-in form's token).
pub(crate) fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    if getrandom::fill(&mut key).is_err() {
        let seed = format!("{:?} {:p}", std::time::SystemTime::now(), &key);
        key = Sha256::digest(seed.as_bytes()).into();
    }
    key
}

/// A random nonce in hex.
pub(crate) fn nonce() -> String {
    hex::encode(&random_key()[..16])
}

/// Compares in time independent of where the inputs differ.
pub(crate) fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether a POST comes from a page of this server: its `Origin` (else `Referer`) names the
/// request's `Host`. A request with neither (not a browser) passes: the token still decides.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let allowed = [format!("http://{host}"), format!("https://{host}")];
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        return allowed.iter().any(|a| a == origin);
    }
    if let Some(referer) = headers.get(REFERER) {
        let referer = referer.to_str().unwrap_or("");
        return allowed.iter().any(|a| {
            referer
                .strip_prefix(a.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
    }
    true
}

/// A form with a CSRF token field.
pub(crate) trait CsrfForm {
    /// The token the form carried (empty when missing).
    fn csrf(&self) -> &str;
}

/// A POST form from a signed-in session whose CSRF token and origin were checked.
#[derive(Debug)]
pub(crate) struct Checked<T> {
    /// Who posted it.
    pub(crate) session: Session,
    /// The form's fields.
    pub(crate) form: T,
}

impl<T> FromRequest<DashState> for Checked<T>
where
    T: DeserializeOwned + CsrfForm + Send,
{
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &DashState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers) {
            return Err(PageError::forbidden(
                "This form was sent from another site. Reload the page and try again.",
            )
            .for_session(&session));
        }
        let req = Request::from_parts(parts, body);
        let Form(form) = Form::<T>::from_request(req, state).await.map_err(|e| {
            PageError::bad_request(format!("The form could not be read: {}", e.body_text()))
                .for_session(&session)
        })?;
        if !constant_eq(form.csrf(), &session.csrf()) {
            return Err(PageError::forbidden(
                "The form's security token is missing or out of date. Reload the page and try again.",
            )
            .for_session(&session));
        }
        Ok(Checked { session, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        h.insert(HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h));
        h.remove(ORIGIN);
        h.insert(REFERER, "http://127.0.0.1:8080/jobs".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(REFERER, "http://127.0.0.1:8080.evil/".parse().unwrap());
        assert!(!same_origin(&h));
    }

    #[test]
    fn tokens_differ_per_secret() {
        assert_ne!(form_token("mfx_a"), form_token("mfx_b"));
        assert!(constant_eq(&form_token("mfx_a"), &form_token("mfx_a")));
        assert!(!constant_eq("", &form_token("mfx_a")));
    }
}
