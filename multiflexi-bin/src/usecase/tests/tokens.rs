use super::*;
use crate::usecase::companies::NewCompany;

#[tokio::test]
async fn tokens_are_made_by_admins_with_checked_names_and_audited() {
    let u = usecases();
    let issued = u
        .create_token(&operator(), "ci-bot", TokenScope::Admin)
        .await
        .unwrap();
    assert!(!issued.secret.is_empty());
    for bad in ["", " ci", "ci\n"] {
        assert_eq!(
            field_of(u.create_token(&operator(), bad, TokenScope::Admin).await),
            "name"
        );
    }
    // A token for a company that does not exist is refused.
    assert!(matches!(
        u.create_token(&operator(), "x", TokenScope::Company(CompanyId(7)))
            .await,
        Err(Error::NotFound { .. })
    ));
    let c = u
        .create_company(&operator(), NewCompany::named("Acme"))
        .await
        .unwrap();
    assert_eq!(
        field_of(
            u.create_token(&company_token(c.id), "mine", TokenScope::Admin)
                .await
        ),
        "token"
    );
    let revoked = u.revoke_token(&operator(), issued.token.id).await.unwrap();
    assert!(revoked.revoked.is_some());
    assert!(
        u.store()
            .authenticate(&issued.secret)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(field_of(u.revoke_token(&operator(), 0).await), "id");
    let rows = audit_rows(&u).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(actions, ["token:create", "company:create", "token:revoke"]);
    assert!(
        rows.iter().all(|r| !r.2.contains(&issued.secret)),
        "the secret is never audited"
    );
}

#[tokio::test]
async fn token_update_renames_and_reissues_once_audited_and_refuses_the_rest() {
    let u = usecases();
    let issued = u
        .create_token(&operator(), "ci", TokenScope::Admin)
        .await
        .unwrap();
    let (t, none) = u
        .update_token(&operator(), issued.token.id, Some("ci-runner"), false)
        .await
        .unwrap();
    assert_eq!(t.name, "ci-runner");
    assert!(none.is_none());
    // the rename kept the secret
    assert!(
        u.store()
            .authenticate(&issued.secret)
            .await
            .unwrap()
            .is_some()
    );
    let (_, again) = u
        .update_token(&operator(), issued.token.id, None, true)
        .await
        .unwrap();
    let again = again.expect("a new secret");
    assert!(
        u.store()
            .authenticate(&issued.secret)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        u.store()
            .authenticate(&again.secret)
            .await
            .unwrap()
            .is_some()
    );
    // bad input: nothing to change, a bad name, a company token, an unknown id
    assert_eq!(
        field_of(u.update_token(&operator(), t.id, None, false).await),
        "token"
    );
    assert_eq!(
        field_of(u.update_token(&operator(), t.id, Some(" x"), false).await),
        "name"
    );
    assert_eq!(
        field_of(
            u.update_token(&company_token(CompanyId(1)), t.id, None, true)
                .await
        ),
        "token"
    );
    assert!(matches!(
        u.update_token(&operator(), t.id + 100, None, true).await,
        Err(Error::NotFound { .. })
    ));
    u.revoke_token(&operator(), t.id).await.unwrap();
    assert!(matches!(
        u.update_token(&operator(), t.id, None, true).await,
        Err(Error::Conflict { .. })
    ));
    let rows = audit_rows(&u).await;
    let updates: Vec<&str> = rows
        .iter()
        .filter(|r| r.1 == "token:update")
        .map(|r| r.2.as_str())
        .collect();
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert!(updates[0].contains("renamed from \"ci\""), "{updates:?}");
    assert!(updates[1].contains("new secret"), "{updates:?}");
    assert!(rows.iter().all(|r| !r.2.contains(&again.secret)));
}
