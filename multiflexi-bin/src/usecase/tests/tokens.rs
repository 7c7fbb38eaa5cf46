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
