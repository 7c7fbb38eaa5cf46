use super::*;
use crate::usecase::companies::{CompanyChange, EnvChange, NewCompany};
use multiflexi_core::model::Environment;

#[tokio::test]
async fn create_checks_name_slug_and_texts_and_audits_once() {
    let u = usecases();
    let mut new = NewCompany::named("  Acme s.r.o. ");
    new.email = Some(" ops@acme.example ".into());
    new.zabbix_host = Some("".into());
    let c = u.create_company(&operator(), new).await.unwrap();
    assert_eq!(
        (c.name.as_str(), c.slug.as_str()),
        ("Acme s.r.o.", "acme-s-r-o")
    );
    assert_eq!(c.email.as_deref(), Some("ops@acme.example"));
    assert_eq!(c.zabbix_host, None);
    assert!(c.enabled);
    assert_eq!(
        audit_rows(&u).await,
        [(
            "alice".to_string(),
            "company:create".to_string(),
            format!("company {} \"Acme s.r.o.\" (slug acme-s-r-o)", c.id)
        )]
    );

    for (name, slug, email, field) in [
        ("", None, None, "name"),
        ("a\0b", None, None, "name"),
        ("***", None, None, "slug"),
        ("Beta", Some("Beta Co"), None, "slug"),
        ("Beta", None, Some("x\0y"), "email"),
    ] {
        let mut new = NewCompany::named(name);
        new.slug = slug.map(str::to_string);
        new.email = email.map(str::to_string);
        assert_eq!(field_of(u.create_company(&operator(), new).await), field);
    }
    // Taken names are the store's conflict.
    let again = u
        .create_company(&operator(), NewCompany::named("Acme s.r.o."))
        .await;
    assert!(
        matches!(again, Err(Error::AlreadyExists { .. })),
        "{again:?}"
    );
    assert_eq!(audit_rows(&u).await.len(), 1, "refusals write no audit row");
}

#[tokio::test]
async fn a_company_token_cannot_create_change_or_delete_companies() {
    let u = usecases();
    let c = u
        .create_company(&operator(), NewCompany::named("Acme"))
        .await
        .unwrap();
    let other = u
        .create_company(&operator(), NewCompany::named("Other"))
        .await
        .unwrap();
    let token = company_token(c.id);
    assert_eq!(
        field_of(u.create_company(&token, NewCompany::named("Mine")).await),
        "token"
    );
    assert_eq!(
        field_of(
            u.update_company(&token, c.id, CompanyChange::default())
                .await
        ),
        "token"
    );
    // Another company does not exist for it.
    assert!(matches!(
        u.delete_company(&token, other.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(u.store().get_company(other.id).await.is_ok());
}

#[tokio::test]
async fn update_clears_with_empty_text_and_checks_the_slug() {
    let u = usecases();
    let mut new = NewCompany::named("Acme");
    new.email = Some("a@b.example".into());
    let c = u.create_company(&operator(), new).await.unwrap();
    let change = CompanyChange {
        email: Some(" ".into()),
        enabled: Some(false),
        ..CompanyChange::default()
    };
    let c = u.update_company(&operator(), c.id, change).await.unwrap();
    assert_eq!((c.email, c.enabled), (None, false));
    let change = CompanyChange {
        slug: Some("NOT A SLUG".into()),
        ..CompanyChange::default()
    };
    assert_eq!(
        field_of(u.update_company(&operator(), c.id, change).await),
        "slug"
    );
    assert!(matches!(
        u.update_company(&operator(), CompanyId(99), CompanyChange::default())
            .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn environment_set_refuses_loader_variables_and_unset_names_what_exists() {
    let u = usecases();
    let c = u
        .create_company(&operator(), NewCompany::named("Acme"))
        .await
        .unwrap();
    let set = |values: &[(&str, &str)], secret| EnvChange::Set {
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        secret,
    };
    let c2 = u
        .change_company_env(&operator(), c.id, set(&[("API_KEY", "s3cr3t")], true))
        .await
        .unwrap();
    assert!(c2.environment.0["API_KEY"].secret);
    assert_eq!(
        field_of(
            u.change_company_env(&operator(), c.id, set(&[("LD_PRELOAD", "/x.so")], false))
                .await
        ),
        "environment.LD_PRELOAD"
    );
    let refused = u
        .change_company_env(&operator(), c.id, EnvChange::Unset(vec!["NOPE".into()]))
        .await;
    match refused {
        Err(Error::InvalidInput { field, message }) => {
            assert_eq!(field, "environment");
            assert!(
                message.contains("NOPE") && message.contains("API_KEY"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let c3 = u
        .change_company_env(&operator(), c.id, EnvChange::Unset(vec!["API_KEY".into()]))
        .await
        .unwrap();
    assert_eq!(c3.environment, Environment::new());
    let actions: Vec<String> = audit_rows(&u).await.into_iter().map(|r| r.1).collect();
    assert_eq!(
        actions,
        ["company:create", "company:env-set", "company:env-unset"]
    );
    let details: Vec<String> = audit_rows(&u).await.into_iter().map(|r| r.2).collect();
    assert!(
        details.iter().all(|d| !d.contains("s3cr3t")),
        "no secret in the audit log: {details:?}"
    );
}
