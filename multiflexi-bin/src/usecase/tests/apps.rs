use super::*;
use crate::usecase::apps::AppChange;
use crate::usecase::companies::NewCompany;

const DEFINITION: &[u8] = br#"{"name": "probe", "executable": "/bin/true", "uuid": "6f1c0b52-2b0e-4e8e-9d55-4c1c7d0c2a11"}"#;

#[tokio::test]
async fn import_creates_then_updates_and_audits_where_from() {
    let u = usecases();
    let first = u
        .import_app(&operator(), DEFINITION, "probe.json")
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.action(), "created");
    let again = u
        .import_app(&operator(), DEFINITION, "the API")
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.app.id, first.app.id);
    let rows = audit_rows(&u).await;
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        [
            format!("app {} \"probe\" created from probe.json", first.app.id),
            format!("app {} \"probe\" updated from the API", first.app.id),
        ]
    );
    assert!(rows.iter().all(|r| r.1 == "app:import" && r.0 == "alice"));
}

#[tokio::test]
async fn import_refuses_what_is_not_an_app_naming_the_path_and_writes_nothing() {
    let u = usecases();
    assert_eq!(
        field_of(u.import_app(&operator(), b"{not json", "x.json").await),
        "application file"
    );
    assert_eq!(
        field_of(
            u.import_app(&operator(), br#"{"executable": "/bin/true"}"#, "x.json")
                .await
        ),
        "/name"
    );
    let c = u
        .create_company(&operator(), NewCompany::named("Acme"))
        .await
        .unwrap();
    assert_eq!(
        field_of(
            u.import_app(&company_token(c.id), DEFINITION, "the API")
                .await
        ),
        "token"
    );
    assert!(u.store().list_apps().await.unwrap().is_empty());
    assert_eq!(audit_rows(&u).await.len(), 1, "only the company's row");
}

#[tokio::test]
async fn container_settings_are_checked_and_nothing_to_change_is_refused() {
    let u = usecases();
    let app = u
        .import_app(&operator(), DEFINITION, "probe.json")
        .await
        .unwrap()
        .app;
    let change = AppChange {
        capabilities: Some(vec!["net_bind_service".into()]),
        read_only_root_fs: Some(false),
    };
    let changed = u.update_app(&operator(), app.id, change).await.unwrap();
    assert_eq!(changed.container.capabilities, ["NET_BIND_SERVICE"]);
    let bad = AppChange {
        capabilities: Some(vec!["CAP_TIME_TRAVEL".into()]),
        read_only_root_fs: None,
    };
    assert_eq!(
        field_of(u.update_app(&operator(), app.id, bad).await),
        "capabilities"
    );
    assert_eq!(
        field_of(
            u.update_app(&operator(), app.id, AppChange::default())
                .await
        ),
        "app"
    );
    let deleted = u.delete_app(&operator(), app.id).await.unwrap();
    assert_eq!(deleted.id, app.id);
    let actions: Vec<String> = audit_rows(&u).await.into_iter().map(|r| r.1).collect();
    assert_eq!(actions, ["app:import", "app:update", "app:delete"]);
}
