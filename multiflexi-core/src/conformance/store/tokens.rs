//! API tokens: issued once, stored hashed, scoped, revocable.

use super::StoreHarness;
use super::fixtures::*;
use crate::model::Company;
use crate::store::{TOKEN_PREFIX, TokenScope, token_hash};
use crate::{CompanyId, Error};

/// A token authenticates by its secret only while it is live; names are unique; a company
/// scope must name a company; the secret is never listed; revoking keeps the first time.
pub async fn tokens_issue_authenticate_revoke(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let acme = s.create_company(&Company::new("Acme")).await.unwrap();

    let admin = s.create_token("ops", TokenScope::Admin).await.unwrap();
    assert!(admin.secret.starts_with(TOKEN_PREFIX), "{}", admin.secret);
    assert_eq!(admin.secret.len(), TOKEN_PREFIX.len() + 64);
    assert_eq!(admin.token.name, "ops");
    assert_eq!(admin.token.scope, TokenScope::Admin);
    assert_eq!(admin.token.created, t0);
    assert_eq!(admin.token.revoked, None);
    let company = s
        .create_token("acme-bot", TokenScope::Company(acme.id))
        .await
        .unwrap();
    assert_ne!(admin.secret, company.secret);
    assert!(company.token.id > admin.token.id);

    // names unique (case-sensitive), company must exist
    assert!(matches!(
        s.create_token("ops", TokenScope::Admin).await,
        Err(Error::AlreadyExists { .. })
    ));
    s.create_token("OPS", TokenScope::Admin).await.unwrap();
    assert!(matches!(
        s.create_token("ghost", TokenScope::Company(CompanyId(acme.id.0 + 1000)))
            .await,
        Err(Error::NotFound { .. })
    ));

    // authenticate by exact secret only
    let found = s.authenticate(&admin.secret).await.unwrap().unwrap();
    assert_eq!(found, admin.token);
    let found = s.authenticate(&company.secret).await.unwrap().unwrap();
    assert_eq!(found.scope, TokenScope::Company(acme.id));
    assert_eq!(s.authenticate("").await.unwrap(), None);
    assert_eq!(
        s.authenticate(&admin.secret.to_uppercase()).await.unwrap(),
        None
    );
    assert_eq!(
        s.authenticate(&format!("{} ", admin.secret)).await.unwrap(),
        None
    );
    // the stored hash is not a secret that authenticates
    assert_eq!(
        s.authenticate(&token_hash(&admin.secret)).await.unwrap(),
        None
    );

    // listing shows every token, by id, without secrets
    let listed = s.list_tokens().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["ops", "acme-bot", "OPS"]);
    let shown = format!("{listed:?}");
    assert!(!shown.contains(&admin.secret[TOKEN_PREFIX.len()..]));
    assert!(!format!("{admin:?}").contains(&admin.secret[TOKEN_PREFIX.len()..]));

    // revoke: stops authenticating, keeps the first revocation time
    let t1 = advance(h, secs(5));
    let revoked = s.revoke_token(admin.token.id).await.unwrap();
    assert_eq!(revoked.revoked, Some(t1));
    assert_eq!(s.authenticate(&admin.secret).await.unwrap(), None);
    advance(h, secs(5));
    assert_eq!(
        s.revoke_token(admin.token.id).await.unwrap().revoked,
        Some(t1)
    );
    assert!(s.authenticate(&company.secret).await.unwrap().is_some());
    assert!(matches!(
        s.revoke_token(admin.token.id + 1000).await,
        Err(Error::NotFound { .. })
    ));
    let listed = s.list_tokens().await.unwrap();
    assert_eq!(listed[0].revoked, Some(t1));
}

/// A reissued token authenticates by its new secret only (same row, name and scope); a revoked
/// one cannot be reissued; a rename keeps the secret and refuses another token's name.
pub async fn tokens_reissue_and_rename(h: &StoreHarness) {
    start(h);
    let s = h.store.as_ref();
    let first = s.create_token("ci", TokenScope::Admin).await.unwrap();
    let other = s.create_token("other", TokenScope::Admin).await.unwrap();

    let again = s.reissue_token(first.token.id).await.unwrap();
    assert_eq!(again.token, first.token);
    assert_ne!(again.secret, first.secret);
    assert!(again.secret.starts_with(TOKEN_PREFIX), "{}", again.secret);
    assert_eq!(s.authenticate(&first.secret).await.unwrap(), None);
    assert_eq!(
        s.authenticate(&again.secret).await.unwrap().map(|t| t.id),
        Some(first.token.id)
    );
    assert!(s.authenticate(&other.secret).await.unwrap().is_some());

    let renamed = s.rename_token(first.token.id, "ci-runner").await.unwrap();
    assert_eq!(renamed.name, "ci-runner");
    assert_eq!(renamed.id, first.token.id);
    assert_eq!(
        s.authenticate(&again.secret).await.unwrap().map(|t| t.name),
        Some("ci-runner".to_string())
    );
    assert!(matches!(
        s.rename_token(first.token.id, "other").await,
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        s.rename_token(first.token.id + 1000, "x").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.reissue_token(first.token.id + 1000).await,
        Err(Error::NotFound { .. })
    ));

    s.revoke_token(other.token.id).await.unwrap();
    assert!(matches!(
        s.reissue_token(other.token.id).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(s.authenticate(&other.secret).await.unwrap(), None);
}
