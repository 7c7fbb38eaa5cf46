use super::*;
use crate::usecase::companies::NewCompany;
use crate::usecase::credentials::NewCredential;

fn with_fields(company: CompanyId, fields: &[(&str, &str, bool)]) -> NewCredential {
    let mut new = NewCredential::new(company, "bank", "RaiffeisenBank");
    new.fields = fields
        .iter()
        .map(|(k, v, s)| (k.to_string(), v.to_string(), *s))
        .collect();
    new
}

#[tokio::test]
async fn credentials_check_names_values_and_tenancy_and_never_audit_secrets() {
    let u = usecases();
    let acme = u
        .create_company(&operator(), NewCompany::named("Acme"))
        .await
        .unwrap();
    let other = u
        .create_company(&operator(), NewCompany::named("Other"))
        .await
        .unwrap();
    let c = u
        .create_credential(
            &company_token(acme.id),
            with_fields(
                acme.id,
                &[("BANK_USER", "acme", false), ("BANK_PASS", "hunter2", true)],
            ),
        )
        .await
        .unwrap();
    assert_eq!(c.fields.len(), 2);
    assert!(c.fields.iter().any(|f| f.name == "BANK_PASS" && f.secret));

    for (fields, field) in [
        (vec![("1BAD", "x", false)], "fields[0].name"),
        (
            vec![("OK", "x", false), ("OK", "y", false)],
            "fields[1].name",
        ),
        (vec![("OK", "a\0b", false)], "fields[0].name"),
        (vec![("LD_PRELOAD", "/x.so", false)], "fields.LD_PRELOAD"),
    ] {
        let got = field_of(
            u.create_credential(&operator(), with_fields(acme.id, &fields))
                .await,
        );
        assert_eq!(got, field, "{fields:?}");
    }
    let mut unnamed = with_fields(acme.id, &[]);
    unnamed.name = " ".into();
    assert_eq!(
        field_of(u.create_credential(&operator(), unnamed).await),
        "name"
    );
    let mut untyped = with_fields(acme.id, &[]);
    untyped.kind = "".into();
    assert_eq!(
        field_of(u.create_credential(&operator(), untyped).await),
        "type"
    );

    // Another company's credentials do not exist for a company token.
    assert!(matches!(
        u.create_credential(&company_token(acme.id), with_fields(other.id, &[]))
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        u.delete_credential(&company_token(other.id), c.id).await,
        Err(Error::NotFound { .. })
    ));
    u.delete_credential(&company_token(acme.id), c.id)
        .await
        .unwrap();
    let rows = audit_rows(&u).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        actions,
        [
            "company:create",
            "company:create",
            "credential:create",
            "credential:delete"
        ]
    );
    assert_eq!(rows[2].0, "acme-bot");
    assert!(rows.iter().all(|r| !r.2.contains("hunter2")));
}

#[tokio::test]
async fn credential_update_stays_in_its_company_and_keeps_secrets_secret() {
    use crate::usecase::credential_update::CredentialChange;
    let u = usecases();
    let acme = u
        .create_company(&operator(), NewCompany::named("Acme"))
        .await
        .unwrap();
    let other = u
        .create_company(&operator(), NewCompany::named("Other"))
        .await
        .unwrap();
    let c = u
        .create_credential(
            &operator(),
            with_fields(acme.id, &[("BANK_PASS", "hunter2", true)]),
        )
        .await
        .unwrap();
    let set = |k: &str, v: &str| CredentialChange {
        set: vec![(k.to_string(), v.to_string(), false)],
        ..CredentialChange::default()
    };
    // Another company's token: the credential does not exist for it.
    assert!(matches!(
        u.update_credential(&company_token(other.id), c.id, set("BANK_PASS", "x"))
            .await,
        Err(Error::NotFound { .. })
    ));
    // Its own company's token: a secret set again stays secret; a loader name is refused.
    let updated = u
        .update_credential(&company_token(acme.id), c.id, set("BANK_PASS", "n3w"))
        .await
        .unwrap();
    assert!(updated.fields[0].secret && updated.fields[0].value == "n3w");
    assert_eq!(
        field_of(
            u.update_credential(&company_token(acme.id), c.id, set("LD_PRELOAD", "/x.so"))
                .await
        ),
        "fields.LD_PRELOAD"
    );
    let moved = CredentialChange {
        company_id: Some(other.id),
        ..CredentialChange::default()
    };
    assert_eq!(
        field_of(u.update_credential(&operator(), c.id, moved).await),
        "company_id"
    );
    assert_eq!(
        u.store().get_credential(c.id).await.unwrap().company_id,
        acme.id
    );
    let rows = audit_rows(&u).await;
    let updates: Vec<&str> = rows
        .iter()
        .filter(|r| r.1 == "credential:update")
        .map(|r| r.2.as_str())
        .collect();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert!(!updates[0].contains("n3w") && updates[0].contains("set BANK_PASS"));
}
