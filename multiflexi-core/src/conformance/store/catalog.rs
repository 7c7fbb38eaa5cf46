//! Catalog round trips and delete conflicts.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::{Outcome, RetryBackoff, RetryPolicy};
use crate::model::{
    App, ArtifactPattern, CatchupPolicy, Company, ConcurrencyPolicy, Credential, EnvFieldDef,
    EnvFieldType, Environment, ExecutorKind, ExitCodeInfo, LocalizedText, RunTemplate,
};
use crate::schedule::IntervalCode;
use crate::store::RunTemplateFilter;
use crate::{AppId, CompanyId, CredentialId, RunTemplateId, Trigger};

fn localized(pairs: &[(&str, &str)]) -> LocalizedText {
    LocalizedText(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// An app with every field set.
fn full_app() -> App {
    let mut app = App::new("unused", "/usr/local/bin/abraflexi-matcher")
        .with_cmdparams("--company {ABRAFLEXI_COMPANY} --days {DAYS}")
        .with_image("ghcr.io/vitexsoftware/abraflexi-matcher:1.2")
        .with_field(
            EnvFieldDef::new("ABRAFLEXI_URL", EnvFieldType::Url)
                .with_default("https://demo.flexibee.eu:5434")
                .required(),
        )
        .with_field(EnvFieldDef::new("ABRAFLEXI_PASSWORD", EnvFieldType::Password).required())
        .with_field(EnvFieldDef::new("DAYS", EnvFieldType::Integer).with_default("7"))
        .with_artifact(ArtifactPattern::new("report-*.json", "json"));
    app.container = crate::model::ContainerSecurity::new()
        .with_capabilities(["CHOWN", "NET_RAW"])
        .expect("known capabilities")
        .with_read_only_root_fs(true);
    app.uuid = Some("b5f8d9a0-5c3e-4a3b-9f0e-0123456789ab".into());
    app.name = localized(&[("en", "Invoice matcher"), ("cs", "Párovač faktur")]);
    app.description = localized(&[("", "Matches bank payments ✓"), ("cs", "Páruje platby")]);
    app.version = Some("1.2.3-rc.1".into());
    app.setup = Some("abraflexi-matcher-init".into());
    app.homepage = Some("https://github.com/VitexSoftware/abraflexi-matcher".into());
    app.tags = vec!["AbraFlexi".into(), "Bank".into(), "bank".into()];
    app.requirements = vec!["AbraFlexi".into(), "RaiffeisenBank".into()];
    let mut set = EnvFieldDef::new("MODE", EnvFieldType::Set).with_default("fast");
    set.options = vec![
        ("fast".into(), "Fast".into()),
        ("thorough".into(), "Důkladně".into()),
    ];
    set.description = localized(&[("en", "How hard to look"), ("cs", "Jak důkladně")]);
    set.hint = localized(&[("", "fast")]);
    app.environment.push(set);
    app.environment
        .push(EnvFieldDef::new("mode", EnvFieldType::Bool).secret());
    app.artifacts[0].description = localized(&[("en", "The matching report")]);
    app.artifacts[0].name = localized(&[("en", "Report"), ("cs", "Zpráva")]);
    app.exit_codes.insert(0, ExitCodeInfo::new("ok", false));
    app.exit_codes.insert(
        2,
        ExitCodeInfo {
            description: localized(&[("en", "API unreachable"), ("cs", "API nedostupné")]),
            severity: Some("error".into()),
            retry: true,
        },
    );
    app.exit_codes
        .insert(-1, ExitCodeInfo::new("platform", true));
    app.enabled = false;
    app
}

/// An app with every field (localized texts, environment fields with options, artifacts,
/// exit codes) is equal after write and read; a re-put matched by uuid keeps its id.
pub async fn app_round_trip_every_field(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let app = full_app();
    let stored = s.put_app(&app).await.unwrap();
    assert_ne!(stored.id, AppId(0));
    let mut want = app.clone();
    want.id = stored.id;
    want.created = Some(t0);
    want.updated = Some(t0);
    assert_eq!(stored, want, "as returned");
    assert_eq!(s.get_app(stored.id).await.unwrap(), want, "as read");
    assert_eq!(s.list_apps().await.unwrap(), vec![want.clone()]);

    // re-import: matched by uuid (id 0), updated in place; the file carries no container
    // settings, and the operator's stay
    let later = advance(h, secs(5) + micros(3));
    let mut v2 = app.clone();
    v2.container = crate::model::ContainerSecurity::default();
    v2.version = Some("1.3.0".into());
    v2.name = localized(&[("en", "Invoice matcher 2")]);
    v2.exit_codes.remove(&-1);
    let stored2 = s.put_app(&v2).await.unwrap();
    let mut want2 = v2.clone();
    want2.container = app.container.clone();
    want2.id = stored.id;
    want2.created = Some(t0);
    want2.updated = Some(later);
    assert_eq!(stored2, want2);
    assert_eq!(s.get_app(stored.id).await.unwrap(), want2);

    // an update by id
    let mut v3 = want2.clone();
    v3.uuid = None;
    v3.tags.clear();
    v3.environment.clear();
    v3.container = crate::model::ContainerSecurity::default();
    let stored3 = s.put_app(&v3).await.unwrap();
    assert_eq!(stored3.id, stored.id);
    assert_eq!(stored3.container, v3.container, "by id: as given");
    assert_eq!(s.get_app(stored.id).await.unwrap(), stored3);
    assert_eq!((stored3.uuid, stored3.environment.len()), (None, 0));

    // another app, by name
    let other = s.put_app(&App::new("Other", "/bin/true")).await.unwrap();
    assert_ne!(other.id, stored.id);
    assert_eq!(s.list_apps().await.unwrap().len(), 2);
    expect_err(
        s.get_app(AppId(987_654_321)).await,
        "NotFound",
        "unknown app",
    );
    let mut ghost = App::new("Ghost", "/bin/true");
    ghost.id = AppId(987_654_321);
    expect_err(s.put_app(&ghost).await, "NotFound", "put by an unknown id");
}

/// Companies (with environment, secrets included) and credentials (with their fields) are equal
/// after write and read; updates keep `created`.
pub async fn company_and_credential_round_trip(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let mut c = Company::new("Vitex Software s.r.o.");
    c.email = Some("info@vitexsoftware.cz".into());
    c.zabbix_host = Some("multiflexi.vitexsoftware.cz".into());
    c.enabled = false;
    c.environment = Environment::new()
        .with("ABRAFLEXI_COMPANY", "demo_de")
        .with("EMPTY", "")
        .with_secret("ABRAFLEXI_PASSWORD", "p@ss w0rd;'\"$(x)");
    let stored = s.create_company(&c).await.unwrap();
    assert_eq!(stored.slug, "vitex-software-s-r-o");
    let mut want = c.clone();
    want.id = stored.id;
    want.created = Some(t0);
    want.updated = Some(t0);
    assert_eq!(stored, want);
    assert_eq!(s.get_company(stored.id).await.unwrap(), want);

    let later = advance(h, secs(1) + micros(1));
    let mut upd = want.clone();
    upd.name = "Vitex Software".into();
    upd.slug = "vitex".into();
    upd.enabled = true;
    upd.email = None;
    upd.environment.remove("EMPTY");
    let got = s.update_company(&upd).await.unwrap();
    let mut want2 = upd.clone();
    want2.created = Some(t0);
    want2.updated = Some(later);
    assert_eq!(got, want2);
    assert_eq!(s.get_company(stored.id).await.unwrap(), want2);
    assert_eq!(s.list_companies().await.unwrap(), vec![want2.clone()]);

    let other = s.create_company(&Company::new("Other")).await.unwrap();
    let mut clash = want2.clone();
    clash.name = "Other".into();
    expect_err(
        s.update_company(&clash).await,
        "AlreadyExists",
        "rename onto another's name",
    );
    let mut clash = want2.clone();
    clash.slug = other.slug.clone();
    expect_err(
        s.update_company(&clash).await,
        "AlreadyExists",
        "slug of another company",
    );
    let mut ghost = want2.clone();
    ghost.id = CompanyId(987_654_321);
    expect_err(
        s.update_company(&ghost).await,
        "NotFound",
        "update of an unknown company",
    );

    let cred = Credential::new(stored.id, "Main bank", "RaiffeisenBank")
        .with_field("RB_CLIENT_ID", "client-1", false)
        .with_field("RB_CERT_PASS", "s3cret\u{0}x", true);
    let cs = s.create_credential(&cred).await.unwrap();
    assert_ne!(cs.id, CredentialId(0));
    let mut wantc = cred.clone();
    wantc.id = cs.id;
    assert_eq!(cs, wantc);
    assert_eq!(s.get_credential(cs.id).await.unwrap(), wantc);
    let oc = s
        .create_credential(&Credential::new(other.id, "Main bank", "Other"))
        .await
        .unwrap();
    assert_eq!(
        s.list_credentials(Some(stored.id)).await.unwrap(),
        vec![wantc.clone()]
    );
    assert_eq!(s.list_credentials(None).await.unwrap().len(), 2);
    // update: name, type and values replaced (secrets sealed again), the company fixed
    let mut updc = wantc.clone();
    updc.name = "Main bank (new)".into();
    updc.kind = "Fio".into();
    updc.fields.clear();
    let updc = updc.with_field("FIO_TOKEN", "t0k\u{0}en", true).with_field(
        "RB_CLIENT_ID",
        "client-2",
        false,
    );
    assert_eq!(s.update_credential(&updc).await.unwrap(), updc);
    assert_eq!(s.get_credential(cs.id).await.unwrap(), updc);
    let mut moved = updc.clone();
    moved.company_id = other.id;
    expect_err(
        s.update_credential(&moved).await,
        "InvalidInput",
        "credential moved to another company",
    );
    let second = s
        .create_credential(&Credential::new(stored.id, "Second", "x"))
        .await
        .unwrap();
    let mut clash = second.clone();
    clash.name = updc.name.clone();
    expect_err(
        s.update_credential(&clash).await,
        "AlreadyExists",
        "rename onto another credential's name",
    );
    let mut ghost = updc.clone();
    ghost.id = CredentialId(987_654_321);
    expect_err(
        s.update_credential(&ghost).await,
        "NotFound",
        "update of an unknown credential",
    );
    s.delete_credential(second.id).await.unwrap();
    assert_eq!(s.get_credential(cs.id).await.unwrap(), updc);
    expect_err(
        s.create_credential(&Credential::new(CompanyId(987_654_321), "x", "y"))
            .await,
        "NotFound",
        "credential of an unknown company",
    );
    s.delete_credential(oc.id).await.unwrap();
    expect_err(
        s.get_credential(oc.id).await,
        "NotFound",
        "deleted credential",
    );
    s.delete_company(other.id).await.unwrap();
    expect_err(s.get_company(other.id).await, "NotFound", "deleted company");
}

/// A template with every field set is equal after write and read; `list_runtemplates` filters.
pub async fn runtemplate_round_trip_every_field(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "rt", |t| t).await;
    let cred = s
        .create_credential(&Credential::new(fx.company.id, "Bank", "RaiffeisenBank"))
        .await
        .unwrap();
    let cred2 = s
        .create_credential(&Credential::new(fx.company.id, "Erp", "AbraFlexi"))
        .await
        .unwrap();
    let mut t = RunTemplate::new(fx.app.id, fx.company.id, "Nightly matcher ✓")
        .with_cron("*/15 2-4 * * 1-5")
        .with_timezone("Europe/Prague")
        .with_executor(ExecutorKind::Podman)
        .with_retry(RetryPolicy {
            retry_backoff: RetryBackoff::Exponential,
            retry_on_exit_codes: vec![2, 75, -1],
            ..RetryPolicy::new(4, 90)
        });
    t.delay = 45;
    t.active = false;
    t.next_schedule = Some(t0 + secs(3600) + micros(7));
    t.last_schedule = Some(t0 - secs(86_400) + micros(9));
    t.successfull_jobs_count = 12;
    t.failed_jobs_count = 3;
    t.config = Environment::new()
        .with("DAYS", "30")
        .with_secret("ABRAFLEXI_PASSWORD", "tajné");
    t.credentials = vec![cred2.id, cred.id];
    t.timeout = Some(3600);
    t.memory_limit_mb = Some(512);
    t.pids_max = Some(64);
    t.cpu_seconds = Some(90);
    t.concurrency_policy = ConcurrencyPolicy::Replace;
    t.catchup = CatchupPolicy::Once;
    let stored = s.create_runtemplate(&t).await.unwrap();
    assert_ne!(stored.id, RunTemplateId(0));
    let mut want = t.clone();
    want.id = stored.id;
    want.created = Some(t0);
    want.updated = Some(t0);
    assert_eq!(stored, want, "as returned");
    assert_eq!(s.get_runtemplate(stored.id).await.unwrap(), want, "as read");

    let minimal = RunTemplate::new(fx.app.id, fx.company.id, "nightly matcher ✓");
    let min = s.create_runtemplate(&minimal).await.unwrap();
    assert_eq!(
        (min.interv, min.cron.as_deref(), min.timezone.as_str()),
        (IntervalCode::Disabled, None, "UTC")
    );
    let all = s
        .list_runtemplates(&RunTemplateFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![fx.template.id, stored.id, min.id]
    );
    let active = s
        .list_runtemplates(&RunTemplateFilter {
            active: Some(false),
            ..RunTemplateFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(active, vec![want.clone()]);
    let none = s
        .list_runtemplates(&RunTemplateFilter {
            company_id: Some(CompanyId(987_654_321)),
            ..RunTemplateFilter::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let by_app = s
        .list_runtemplates(&RunTemplateFilter {
            app_id: Some(fx.app.id),
            company_id: Some(fx.company.id),
            active: Some(true),
        })
        .await
        .unwrap();
    assert_eq!(by_app.len(), 2);

    let mut bad = minimal.clone();
    bad.app_id = AppId(987_654_321);
    expect_err(
        s.create_runtemplate(&bad).await,
        "NotFound",
        "template of an unknown app",
    );
    let mut bad = minimal.clone();
    bad.credentials = vec![CredentialId(987_654_321)];
    expect_err(
        s.create_runtemplate(&bad).await,
        "NotFound",
        "unknown credential",
    );
    let bad = minimal.clone().with_cron("not a cron");
    expect_err(
        s.create_runtemplate(&bad).await,
        "InvalidInput",
        "a bad cron expression",
    );
    let bad = minimal.clone().with_timezone("Mars/Olympus_Mons");
    expect_err(
        s.create_runtemplate(&bad).await,
        "InvalidInput",
        "a bad timezone",
    );
    expect_err(
        s.get_runtemplate(RunTemplateId(987_654_321)).await,
        "NotFound",
        "unknown template",
    );
}

/// `update_runtemplate` writes the editable fields, keeps counters, `last_schedule` and
/// `created`, and resets `next_schedule` to NULL unless a scheduled job is outstanding.
pub async fn update_runtemplate_keeps_counters_and_resets_next(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "update", |t| t).await;
    let slot = t0;
    let done = finished(
        h,
        &slotted(&fx, slot, Some(cas(None, None))),
        Outcome::Success,
        0,
    )
    .await;
    assert_eq!(done.job.slot, Some(slot));
    let before = template(h, &fx).await;
    assert_eq!(before.next_schedule, Some(slot + secs(60)));
    assert_eq!(before.last_schedule, Some(t0));

    let at = advance(h, secs(10));
    let mut edit = before.clone();
    edit.name = "update template, edited".into();
    edit.interv = IntervalCode::Hourly;
    edit.delay = 30;
    edit.executor = ExecutorKind::Docker;
    edit.timeout = Some(60);
    edit.config = Environment::new().with("X", "1");
    edit.retry = RetryPolicy::new(2, 5);
    edit.concurrency_policy = ConcurrencyPolicy::Allow;
    // fields the update must not take from the caller
    edit.successfull_jobs_count = 99;
    edit.failed_jobs_count = 98;
    edit.last_schedule = Some(t0 + secs(999));
    edit.next_schedule = Some(t0 + secs(777));
    edit.created = None;
    let got = s.update_runtemplate(&edit).await.unwrap();
    let mut want = edit.clone();
    want.successfull_jobs_count = 1;
    want.failed_jobs_count = 0;
    want.last_schedule = Some(t0);
    want.next_schedule = None;
    want.created = before.created;
    want.updated = Some(at);
    assert_eq!(got, want, "nothing outstanding: next_schedule reset");
    assert_eq!(template(h, &fx).await, want);

    // with a scheduled job outstanding, next_schedule is kept
    let slot2 = t0 + secs(3600);
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(slot2))
            .await
            .unwrap()
    );
    s.create_and_schedule(&slotted(
        &fx,
        slot2,
        Some(cas(Some(slot2), Some(slot2 + secs(3600)))),
    ))
    .await
    .unwrap();
    let mut edit2 = template(h, &fx).await;
    edit2.name = "edited again".into();
    edit2.next_schedule = None;
    let got = s.update_runtemplate(&edit2).await.unwrap();
    assert_eq!(got.next_schedule, Some(slot2 + secs(3600)));
    assert_eq!(got.name, "edited again");
    // ad-hoc jobs are not outstanding scheduled jobs
    let fx2 = seed(h, "update2", |t| t).await;
    assert!(
        s.set_next_schedule(fx2.template.id, None, Some(slot2))
            .await
            .unwrap()
    );
    s.create_and_schedule(&adhoc(&fx2, Trigger::Manual, t0))
        .await
        .unwrap();
    let got = s
        .update_runtemplate(&template(h, &fx2).await)
        .await
        .unwrap();
    assert_eq!(got.next_schedule, None);

    let mut ghost = edit2.clone();
    ghost.id = RunTemplateId(987_654_321);
    expect_err(
        s.update_runtemplate(&ghost).await,
        "NotFound",
        "unknown template",
    );
    let mut bad = edit2.clone();
    bad.company_id = CompanyId(987_654_321);
    expect_err(
        s.update_runtemplate(&bad).await,
        "NotFound",
        "unknown company",
    );
    assert_eq!(
        template(h, &fx).await.name,
        "edited again",
        "a failed update changes nothing"
    );
}

/// Deleting what is still in use fails with Conflict: an app used by a template, a company with
/// templates or credentials, a credential used by a template, a template with unfinished jobs.
pub async fn delete_conflicts_while_in_use(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "delete", |t| t).await;
    let cred = s
        .create_credential(&Credential::new(fx.company.id, "Bank", "RaiffeisenBank"))
        .await
        .unwrap();
    let mut t = template(h, &fx).await;
    t.credentials = vec![cred.id];
    s.update_runtemplate(&t).await.unwrap();
    let job = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();

    expect_err(
        s.delete_app(fx.app.id).await,
        "Conflict",
        "app used by a template",
    );
    expect_err(
        s.delete_company(fx.company.id).await,
        "Conflict",
        "company with templates",
    );
    expect_err(
        s.delete_credential(cred.id).await,
        "Conflict",
        "credential used by a template",
    );
    expect_err(
        s.delete_runtemplate(fx.template.id).await,
        "Conflict",
        "template with a scheduled job",
    );
    let q = claim_one(h, "executor-1").await;
    expect_err(
        s.delete_runtemplate(fx.template.id).await,
        "Conflict",
        "template with a queued job",
    );
    let r = begin(h, &q).await;
    expect_err(
        s.delete_runtemplate(fx.template.id).await,
        "Conflict",
        "template with a running job",
    );
    complete(h, &r, Outcome::Success, 0).await;
    // everything is still there
    s.get_app(fx.app.id).await.unwrap();
    s.get_company(fx.company.id).await.unwrap();
    s.get_credential(cred.id).await.unwrap();

    s.delete_runtemplate(fx.template.id).await.unwrap();
    expect_err(
        s.get_runtemplate(fx.template.id).await,
        "NotFound",
        "deleted template",
    );
    s.get_job(job.id).await.unwrap();
    expect_err(
        s.delete_company(fx.company.id).await,
        "Conflict",
        "company with credentials",
    );
    s.delete_credential(cred.id).await.unwrap();
    s.delete_company(fx.company.id).await.unwrap();
    s.delete_app(fx.app.id).await.unwrap();
    expect_err(s.get_app(fx.app.id).await, "NotFound", "deleted app");
    expect_err(s.delete_app(fx.app.id).await, "NotFound", "delete twice");
    expect_err(
        s.delete_runtemplate(fx.template.id).await,
        "NotFound",
        "delete twice",
    );
}
