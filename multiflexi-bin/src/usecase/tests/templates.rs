// Settings are built a field at a time, as each case changes one.
#![allow(clippy::field_reassign_with_default)]

use super::*;
use crate::usecase::companies::NewCompany;
use crate::usecase::templates::{ConfigChange, NewTemplate, TemplateChange, TemplateSettings};
use multiflexi_core::model::{App, Company, Credential, EnvFieldDef, EnvFieldType, RunTemplate};
use multiflexi_core::telemetry::RecordingTelemetry;
use multiflexi_core::{CredentialId, ManualClock, RunTemplateId};

/// Two companies, an app with a plain and a password field, use cases over one in-memory store
/// and clock, reporting to a recorder.
pub(super) struct World {
    pub u: UseCases,
    pub clock: Arc<ManualClock>,
    pub telemetry: Arc<RecordingTelemetry>,
    pub acme: Company,
    pub other: Company,
    pub app: App,
}

pub(super) async fn world() -> World {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let telemetry = Arc::new(RecordingTelemetry::new());
    let u = UseCases::new(
        Arc::new(InMemoryStore::with_clock(clock.clone())),
        clock.clone(),
        telemetry.clone(),
    );
    let acme = u
        .create_company(&operator(), NewCompany::named("Acme"))
        .await
        .unwrap();
    let other = u
        .create_company(&operator(), NewCompany::named("Other"))
        .await
        .unwrap();
    let app = u
        .store()
        .put_app(
            &App::new("report", "/usr/bin/report")
                .with_field(EnvFieldDef::new("FORMAT", EnvFieldType::String))
                .with_field(EnvFieldDef::new("API_PASSWORD", EnvFieldType::Password)),
        )
        .await
        .unwrap();
    World {
        u,
        clock,
        telemetry,
        acme,
        other,
        app,
    }
}

impl World {
    /// A new template of `company` by `caller` with these settings.
    pub async fn template_as(
        &self,
        caller: &Caller,
        company: CompanyId,
        settings: TemplateSettings,
    ) -> multiflexi_core::Result<RunTemplate> {
        let mut new = NewTemplate::new("nightly", self.app.id, company);
        new.settings = settings;
        Ok(self.u.create_template(caller, new).await?.template)
    }

    /// An active on-demand template of Acme, by the operator.
    pub async fn template(&self) -> RunTemplate {
        self.template_as(&operator(), self.acme.id, TemplateSettings::default())
            .await
            .unwrap()
    }
}

/// The audit rows of run templates and jobs (the companies' are the fixture's).
pub(super) async fn own_rows(u: &UseCases) -> Vec<(String, String, String)> {
    audit_rows(u)
        .await
        .into_iter()
        .filter(|r| !r.1.starts_with("company:"))
        .collect()
}

/// One change to the settings of a case.
type Tweak = Box<dyn Fn(&mut TemplateSettings)>;

fn set(k: &str, v: &str) -> (String, ConfigChange) {
    (
        k.to_string(),
        ConfigChange::Set {
            value: v.to_string(),
            secret: false,
        },
    )
}

#[tokio::test]
async fn create_parses_settings_stores_secrets_and_audits_once() {
    let w = world().await;
    let mut s = TemplateSettings::default();
    s.cron = Some(" 30 2 * * * ".into());
    s.timezone = Some("Europe/Prague".into());
    s.config = vec![
        set("FORMAT", "pdf"),
        set("API_PASSWORD", "pw-SECRET-1"),
        set("EXTRA", "x"),
    ];
    s.retry_backoff = Some("exponential".into());
    s.timeout = Some(0);
    let mut new = NewTemplate::new("  nightly ", w.app.id, w.acme.id);
    new.settings = s;
    let saved = w.u.create_template(&operator(), new).await.unwrap();
    let t = saved.template;
    assert_eq!(t.name, "nightly");
    assert_eq!(
        (t.interv.code(), t.cron.as_deref()),
        ('c', Some("30 2 * * *"))
    );
    assert_eq!(t.timezone, "Europe/Prague");
    assert!(t.config.0["API_PASSWORD"].secret, "a password field");
    assert!(!t.config.0["FORMAT"].secret);
    assert_eq!(t.timeout, None, "0 is no limit");
    // A name the app does not declare is a note, not a refusal.
    assert_eq!(saved.warnings.len(), 1, "{:?}", saved.warnings);
    assert!(saved.warnings[0].contains("EXTRA"));
    let rows = own_rows(&w.u).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "runtemplate:create");
    assert!(rows[0].2.contains(&format!("run template {}", t.id)));
    assert!(!rows[0].2.contains("pw-SECRET-1"));
}

#[tokio::test]
async fn every_bad_setting_is_refused_naming_its_field_and_writes_nothing() {
    let w = world().await;
    let cred = w
        .u
        .store()
        .create_credential(&Credential::new(w.other.id, "theirs", "x").with_field("T", "v", true))
        .await
        .unwrap();
    let cases: Vec<(Tweak, &str)> = vec![
        (Box::new(|s| s.interv = Some("q".into())), "interv"),
        (Box::new(|s| s.cron = Some("61 * * * *".into())), "cron"),
        (Box::new(|s| s.cron = Some("  ".into())), "cron"),
        (
            Box::new(|s| {
                s.cron = Some("* * * * *".into());
                s.interv = Some("d".into());
            }),
            "interv",
        ),
        (
            Box::new(|s| s.timezone = Some("Mars/Olympus".into())),
            "timezone",
        ),
        (
            Box::new(|s| s.executor = Some("Mainframe".into())),
            "executor",
        ),
        (Box::new(|s| s.executor = Some("Docker".into())), "ociimage"),
        (
            Box::new(|s| s.retry_backoff = Some("sometimes".into())),
            "retry_backoff",
        ),
        (
            Box::new(|s| s.concurrency_policy = Some("maybe".into())),
            "concurrency_policy",
        ),
        (Box::new(|s| s.catchup = Some("later".into())), "catchup"),
        (Box::new(|s| s.config = vec![set("A=B", "x")]), "config.A=B"),
        (Box::new(|s| s.config = vec![set("A", "x\0y")]), "config.A"),
        (
            Box::new(|s| s.config = vec![("NOPE".into(), ConfigChange::Remove)]),
            "config.NOPE",
        ),
        (
            Box::new(|s| s.credentials = Some(vec![CredentialId(4242)])),
            "credentials",
        ),
        (
            Box::new(move |s| s.credentials = Some(vec![cred.id])),
            "credentials",
        ),
    ];
    for (change, field) in cases {
        let mut s = TemplateSettings::default();
        change(&mut s);
        assert_eq!(
            field_of(w.template_as(&operator(), w.acme.id, s).await),
            field
        );
    }
    for name in ["", "  ", "a\0b"] {
        let new = NewTemplate::new(name, w.app.id, w.acme.id);
        assert_eq!(
            field_of(w.u.create_template(&operator(), new).await),
            "name"
        );
    }
    let new = NewTemplate::new("t", multiflexi_core::AppId(999), w.acme.id);
    assert!(matches!(
        w.u.create_template(&operator(), new).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        own_rows(&w.u).await.is_empty(),
        "refusals write no audit row"
    );
    assert!(
        w.u.store()
            .list_runtemplates(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn tenant_rules_executor_loader_variables_and_other_companies() {
    let w = world().await;
    let token = company_token(w.acme.id);
    // A company token choosing an executor: Forbidden, nothing written.
    let mut s = TemplateSettings::default();
    s.executor = Some("Docker".into());
    assert_eq!(
        field_of(w.template_as(&token, w.acme.id, s).await),
        "executor"
    );
    // A loader variable: Forbidden for everyone.
    for caller in [operator(), token.clone()] {
        let mut s = TemplateSettings::default();
        s.config = vec![set("LD_PRELOAD", "/x.so")];
        assert_eq!(
            field_of(w.template_as(&caller, w.acme.id, s).await),
            "config.LD_PRELOAD"
        );
    }
    // Another company does not exist for it.
    assert!(matches!(
        w.template_as(&token, w.other.id, TemplateSettings::default())
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(own_rows(&w.u).await.is_empty());
    // Its own company: fine. Another company's template is NotFound for every change.
    let mine = w
        .template_as(&token, w.acme.id, TemplateSettings::default())
        .await
        .unwrap();
    let theirs = w
        .template_as(&operator(), w.other.id, TemplateSettings::default())
        .await
        .unwrap();
    assert!(matches!(
        w.u.update_template(&token, theirs.id, TemplateChange::default())
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        w.u.delete_template(&token, theirs.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        w.u.schedule_template(&token, theirs.id, None).await,
        Err(Error::NotFound { .. })
    ));
    // Moving its template to another company is NotFound too.
    let mut change = TemplateChange::default();
    change.company_id = Some(w.other.id);
    assert!(matches!(
        w.u.update_template(&token, mine.id, change).await,
        Err(Error::NotFound { .. })
    ));
    assert!(w.u.store().get_runtemplate(theirs.id).await.is_ok());
}

#[tokio::test]
async fn update_changes_only_what_is_given_and_keeps_redacted_secrets() {
    let w = world().await;
    let mut s = TemplateSettings::default();
    s.cron = Some("*/15 * * * *".into());
    s.config = vec![set("API_PASSWORD", "pw-1"), set("FORMAT", "pdf")];
    let t = w.template_as(&operator(), w.acme.id, s).await.unwrap();

    let mut change = TemplateChange::default();
    change.settings.interv = Some("h".into());
    change.settings.active = Some(false);
    change.settings.config = vec![
        set("API_PASSWORD", "***"),
        ("FORMAT".into(), ConfigChange::Remove),
    ];
    let u =
        w.u.update_template(&operator(), t.id, change)
            .await
            .unwrap()
            .template;
    assert_eq!((u.interv.code(), u.cron.as_deref()), ('h', None));
    assert!(!u.active);
    assert_eq!(u.name, "nightly");
    assert_eq!(u.config.get("API_PASSWORD"), Some("pw-1"), "*** kept it");
    assert!(u.config.get("FORMAT").is_none());
    let rows = own_rows(&w.u).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1].1, "runtemplate:update");
    assert!(
        rows[1].2.contains("deactivated") && rows[1].2.contains("config FORMAT"),
        "{}",
        rows[1].2
    );
    assert!(!rows[1].2.contains("pw-1"));

    // A change that changes nothing writes nothing.
    let mut same = TemplateChange::default();
    same.settings.active = Some(false);
    w.u.update_template(&operator(), t.id, same).await.unwrap();
    assert_eq!(own_rows(&w.u).await.len(), 2);

    // A refused change leaves the template as it was.
    let mut bad = TemplateChange::default();
    bad.name = Some("renamed".into());
    bad.settings.timezone = Some("Nowhere/Here".into());
    assert_eq!(
        field_of(w.u.update_template(&operator(), t.id, bad).await),
        "timezone"
    );
    assert_eq!(
        w.u.store().get_runtemplate(t.id).await.unwrap().name,
        "nightly"
    );
    assert!(matches!(
        w.u.update_template(&operator(), RunTemplateId(999), TemplateChange::default())
            .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn schedule_moves_next_schedule_only_for_templates_the_scheduler_fires() {
    let w = world().await;
    let on_demand = w.template().await;
    assert_eq!(
        field_of(w.u.schedule_template(&operator(), on_demand.id, None).await),
        "interv"
    );
    let mut s = TemplateSettings::default();
    s.interv = Some("d".into());
    s.active = Some(false);
    let daily = w.template_as(&operator(), w.acme.id, s).await.unwrap();
    assert_eq!(
        field_of(w.u.schedule_template(&operator(), daily.id, None).await),
        "active"
    );
    let mut on = TemplateChange::default();
    on.settings.active = Some(true);
    w.u.update_template(&operator(), daily.id, on)
        .await
        .unwrap();
    let when = chrono::DateTime::parse_from_rfc3339("2030-01-02T03:04:05+01:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let t =
        w.u.schedule_template(&operator(), daily.id, Some(when))
            .await
            .unwrap();
    assert_eq!(t.next_schedule, Some(when));
    let rows = own_rows(&w.u).await;
    let last = rows.last().unwrap();
    assert_eq!(last.1, "runtemplate:schedule");
    assert!(last.2.contains("2030-01-02T02:04:05Z"), "{}", last.2);
}

#[tokio::test]
async fn delete_audits_once_and_another_company_cannot() {
    let w = world().await;
    let t = w.template().await;
    let gone = w.u.delete_template(&operator(), t.id).await.unwrap();
    assert_eq!(gone.id, t.id);
    assert!(matches!(
        w.u.delete_template(&operator(), t.id).await,
        Err(Error::NotFound { .. })
    ));
    let actions: Vec<String> = own_rows(&w.u).await.into_iter().map(|r| r.1).collect();
    assert_eq!(actions, ["runtemplate:create", "runtemplate:delete"]);
}

#[tokio::test]
async fn a_stored_problem_does_not_block_deactivating_but_blocks_activating() {
    let w = world().await;
    let mut t = w.template().await;
    // Written before today's rules: a container executor for an app without an image.
    t.executor = multiflexi_core::ExecutorKind::Docker;
    w.u.store().update_runtemplate(&t).await.unwrap();
    let mut off = TemplateChange::default();
    off.settings.active = Some(false);
    off.name = Some("renamed".into());
    let u =
        w.u.update_template(&operator(), t.id, off)
            .await
            .unwrap()
            .template;
    assert!(!u.active);
    let mut on = TemplateChange::default();
    on.settings.active = Some(true);
    assert_eq!(
        field_of(w.u.update_template(&operator(), t.id, on).await),
        "ociimage"
    );
}

#[tokio::test]
async fn actions_are_checked_kept_redacted_and_audited() {
    let w = world().await;
    let target = w.template().await;
    let mut s = TemplateSettings::default();
    s.on_failure = Some(serde_json::json!([
        {"kind": "webhook", "url": "https://hooks.example/x", "secret": "hook-SECRET"},
        {"kind": "launch", "template_id": target.id.get()}
    ]));
    let t = w
        .template_as(&operator(), w.acme.id, s.clone())
        .await
        .unwrap();
    assert_eq!(t.on_failure.len(), 2);
    let audit = own_rows(&w.u).await;
    assert!(audit.iter().any(|r| r.1 == "runtemplate:create"));

    // `***` keeps the stored secret; the list otherwise changes.
    let mut change = TemplateChange::default();
    change.settings.on_failure = Some(serde_json::json!([
        {"kind": "webhook", "url": "https://hooks.example/y", "secret": "***"}
    ]));
    let saved =
        w.u.update_template(&operator(), t.id, change)
            .await
            .unwrap();
    match &saved.template.on_failure[0] {
        multiflexi_core::model::Action::Webhook { url, secret, .. } => {
            assert_eq!(url, "https://hooks.example/y");
            assert_eq!(secret.as_deref(), Some("hook-SECRET"));
        }
        other => panic!("{other:?}"),
    }
    let audit = own_rows(&w.u).await;
    assert!(
        audit
            .iter()
            .any(|r| r.1 == "runtemplate:update" && r.2.contains("on_failure")),
        "{audit:?}"
    );
    let shown = crate::usecase::templates::actions_view(&saved.template.on_failure).to_string();
    assert!(
        !shown.contains("hook-SECRET") && shown.contains("***"),
        "{shown}"
    );

    // Refusals name the field.
    for (json, field) in [
        (
            serde_json::json!([{"kind": "launch", "template_id": 999}]),
            "on_success[0].template_id",
        ),
        (
            serde_json::json!([{"kind": "webhook", "url": "x"}]),
            "on_success[0].url",
        ),
        (serde_json::json!([{"kind": "teleport"}]), "on_success[0]"),
        (serde_json::json!({"kind": "deactivate"}), "on_success"),
    ] {
        let mut change = TemplateChange::default();
        change.settings.on_success = Some(json.clone());
        match w.u.update_template(&operator(), t.id, change).await {
            Err(multiflexi_core::Error::InvalidInput { field: f, .. }) => {
                assert_eq!(f, field, "{json}")
            }
            other => panic!("{json}: {other:?}"),
        }
    }
    // Another company's template is not a launch target for a company token.
    let theirs = w
        .template_as(&operator(), w.other.id, TemplateSettings::default())
        .await
        .unwrap();
    let mut change = TemplateChange::default();
    change.settings.on_success = Some(serde_json::json!([
        {"kind": "launch", "template_id": theirs.id.get()}
    ]));
    assert!(matches!(
        w.u.update_template(&company_token(w.acme.id), t.id, change)
            .await,
        Err(multiflexi_core::Error::InvalidInput { .. })
    ));

    // The company export redacts the webhook secret.
    let export =
        w.u.export_company(&operator(), w.acme.id, &InMemoryStore::new())
            .await
            .unwrap();
    let text = serde_json::to_string(&export.templates).unwrap();
    assert!(!text.contains("hook-SECRET"), "{text}");
}
