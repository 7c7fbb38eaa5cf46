//! [`Catalog`] for [`SqlStore`].

use crate::convert::{app_from_model, app_to_model, template_from_model, to_json};
use crate::entity::{
    apps, company, company_env, credential_values, credentials, job, runtemplate,
    runtemplate_config, runtemplate_count, runtemplate_credential,
};
use crate::entity::{ts, ts_opt, utc_opt};
use crate::store::{SqlStore, in_tx};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multiflexi_core::model::{
    Company, Credential, CredentialField, EnvValue, Environment, RunTemplate,
};
use multiflexi_core::schedule::IntervalCode;
use multiflexi_core::store::{Catalog, RunTemplateFilter, SchedulableTemplate};
use multiflexi_core::{
    App, AppId, CompanyId, CredentialId, Error, JobId, Phase, Result, RunTemplateId, to_micros,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    NotSet, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

const COMPANY_ENV: &str = "company_env.value";
const TEMPLATE_CONFIG: &str = "runtemplate_config.value";
const CREDENTIAL_VALUE: &str = "credential_values.value";

/// A template's jobs that are not finished. Besides the phase it says `"end" IS NULL` (every
/// completion sets `end`), so the query reads `ix_job_template_end`'s few unfinished entries of
/// the template, not every job it ever ran (migration 12).
fn unfinished_of_template(template: i64) -> Condition {
    Condition::all()
        .add(job::Column::RuntemplateId.eq(template))
        .add(job::Column::End.is_null())
        .add(job::Column::Phase.is_in([
            Phase::Created.as_str(),
            Phase::Scheduled.as_str(),
            Phase::Queued.as_str(),
            Phase::Running.as_str(),
        ]))
}

impl SqlStore {
    /// Writes a credential's values as rows of credential `id`, secret ones sealed.
    async fn insert_credential_values<C: ConnectionTrait>(
        &self,
        c: &C,
        id: i64,
        cred: &Credential,
    ) -> Result<()> {
        let rows = cred
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let value = if f.secret {
                    self.inner.keys.seal_text(CREDENTIAL_VALUE, &f.value)?
                } else {
                    f.value.clone()
                };
                Ok(credential_values::ActiveModel {
                    id: NotSet,
                    credential_id: Set(id),
                    position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
                    name: Set(f.name.clone()),
                    value: Set(value),
                    secret: Set(f.secret),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !rows.is_empty() {
            credential_values::Entity::insert_many(rows)
                .exec(c)
                .await
                .map_err(|e| self.dberr(e))?;
        }
        Ok(())
    }

    fn seal_value(&self, context: &str, v: &EnvValue) -> Result<String> {
        if v.secret {
            Ok(self.inner.keys.seal_text(context, &v.value)?)
        } else {
            Ok(v.value.clone())
        }
    }

    fn open_value(&self, context: &str, value: String, secret: bool) -> Result<String> {
        if secret {
            Ok(self.inner.keys.open_text(context, &value)?)
        } else {
            Ok(value)
        }
    }

    async fn company_in<C: ConnectionTrait>(&self, c: &C, id: CompanyId) -> Result<Company> {
        let row = company::Entity::find_by_id(id.0)
            .one(c)
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| Error::not_found(CompanyId::ENTITY, id))?;
        let env_rows = company_env::Entity::find()
            .filter(company_env::Column::CompanyId.eq(id.0))
            .all(c)
            .await
            .map_err(|e| self.dberr(e))?;
        let mut env = Environment::new();
        for r in env_rows {
            let value = self.open_value(COMPANY_ENV, r.value, r.secret)?;
            env.0.insert(
                r.name,
                EnvValue {
                    value,
                    secret: r.secret,
                },
            );
        }
        let mut out = Company::new(row.name);
        out.id = CompanyId(row.id);
        out.slug = row.slug;
        out.email = row.email;
        out.zabbix_host = row.zabbix_host;
        out.enabled = row.enabled;
        out.environment = env;
        out.created = utc_opt(row.created);
        out.updated = utc_opt(row.updated);
        Ok(out)
    }

    async fn write_company_env<C: ConnectionTrait>(
        &self,
        c: &C,
        id: i64,
        env: &Environment,
    ) -> Result<()> {
        company_env::Entity::delete_many()
            .filter(company_env::Column::CompanyId.eq(id))
            .exec(c)
            .await
            .map_err(|e| self.dberr(e))?;
        let rows = env
            .0
            .iter()
            .map(|(name, v)| {
                Ok(company_env::ActiveModel {
                    id: NotSet,
                    company_id: Set(id),
                    name: Set(name.clone()),
                    value: Set(self.seal_value(COMPANY_ENV, v)?),
                    secret: Set(v.secret),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !rows.is_empty() {
            company_env::Entity::insert_many(rows)
                .exec(c)
                .await
                .map_err(|e| self.dberr(e))?;
        }
        Ok(())
    }

    async fn check_company_unique<C: ConnectionTrait>(&self, c: &C, co: &Company) -> Result<()> {
        if co.name.is_empty() {
            return Err(Error::invalid("name", "a company needs a name"));
        }
        if co.slug.is_empty() {
            return Err(Error::invalid(
                "slug",
                "a company needs a slug (lower-case letters, digits and '-')",
            ));
        }
        let clash = company::Entity::find()
            .filter(company::Column::Id.ne(co.id.0))
            .filter(
                company::Column::Name
                    .eq(co.name.clone())
                    .or(company::Column::Slug.eq(co.slug.clone())),
            )
            .one(c)
            .await
            .map_err(|e| self.dberr(e))?;
        if let Some(other) = clash {
            let key = if other.name == co.name {
                format!("name {:?}", co.name)
            } else {
                format!("slug {:?}", co.slug)
            };
            return Err(Error::AlreadyExists {
                entity: CompanyId::ENTITY,
                key,
            });
        }
        Ok(())
    }

    async fn credential_in<C: ConnectionTrait>(
        &self,
        c: &C,
        id: CredentialId,
    ) -> Result<Credential> {
        let row = credentials::Entity::find_by_id(id.0)
            .one(c)
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| Error::not_found(CredentialId::ENTITY, id))?;
        self.credential_from(c, row).await
    }

    async fn credential_from<C: ConnectionTrait>(
        &self,
        c: &C,
        row: credentials::Model,
    ) -> Result<Credential> {
        let values = credential_values::Entity::find()
            .filter(credential_values::Column::CredentialId.eq(row.id))
            .order_by_asc(credential_values::Column::Position)
            .all(c)
            .await
            .map_err(|e| self.dberr(e))?;
        let mut out = Credential::new(CompanyId(row.company_id), row.name, row.kind);
        out.id = CredentialId(row.id);
        for v in values {
            let value = self.open_value(CREDENTIAL_VALUE, v.value, v.secret)?;
            out.fields.push(CredentialField {
                name: v.name,
                value,
                secret: v.secret,
            });
        }
        Ok(out)
    }

    pub(crate) async fn template_in<C: ConnectionTrait>(
        &self,
        c: &C,
        id: RunTemplateId,
    ) -> Result<RunTemplate> {
        let row = runtemplate::Entity::find_by_id(id.0)
            .one(c)
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| Error::not_found(RunTemplateId::ENTITY, id))?;
        self.template_from(c, row).await
    }

    pub(crate) async fn template_from<C: ConnectionTrait>(
        &self,
        c: &C,
        row: runtemplate::Model,
    ) -> Result<RunTemplate> {
        let config_rows = runtemplate_config::Entity::find()
            .filter(runtemplate_config::Column::RuntemplateId.eq(row.id))
            .all(c)
            .await
            .map_err(|e| self.dberr(e))?;
        let mut config = Environment::new();
        for r in config_rows {
            let value = self.open_value(TEMPLATE_CONFIG, r.value, r.secret)?;
            config.0.insert(
                r.name,
                EnvValue {
                    value,
                    secret: r.secret,
                },
            );
        }
        let creds = runtemplate_credential::Entity::find()
            .filter(runtemplate_credential::Column::RuntemplateId.eq(row.id))
            .order_by_asc(runtemplate_credential::Column::Position)
            .all(c)
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(|r| CredentialId(r.credential_id))
            .collect();
        let id = row.id;
        let mut t = template_from_model(row, config, creds)?;
        if let Some((ok, failed)) = self.template_counts_in(c, id).await? {
            t.successfull_jobs_count = ok;
            t.failed_jobs_count = failed;
        }
        t.on_success = self.open_actions(std::mem::take(&mut t.on_success))?;
        t.on_failure = self.open_actions(std::mem::take(&mut t.on_failure))?;
        Ok(t)
    }

    async fn check_template<C: ConnectionTrait>(&self, c: &C, t: &RunTemplate) -> Result<()> {
        if apps::Entity::find_by_id(t.app_id.0)
            .count(c)
            .await
            .map_err(|e| self.dberr(e))?
            == 0
        {
            return Err(Error::not_found(AppId::ENTITY, t.app_id));
        }
        if company::Entity::find_by_id(t.company_id.0)
            .count(c)
            .await
            .map_err(|e| self.dberr(e))?
            == 0
        {
            return Err(Error::not_found(CompanyId::ENTITY, t.company_id));
        }
        for cred in &t.credentials {
            if credentials::Entity::find_by_id(cred.0)
                .count(c)
                .await
                .map_err(|e| self.dberr(e))?
                == 0
            {
                return Err(Error::not_found(CredentialId::ENTITY, cred));
            }
        }
        t.schedule()?;
        Ok(())
    }

    fn template_active_model(&self, t: &RunTemplate) -> runtemplate::ActiveModel {
        runtemplate::ActiveModel {
            id: if t.id.0 == 0 { NotSet } else { Set(t.id.0) },
            app_id: Set(t.app_id.0),
            company_id: Set(t.company_id.0),
            name: Set(t.name.clone()),
            interv: Set(t.interv.code().to_string()),
            cron: Set(t.cron.clone()),
            timezone: Set(t.timezone.clone()),
            delay: Set(i64::from(t.delay)),
            executor: Set(t.executor.as_str().to_string()),
            active: Set(t.active),
            next_schedule: Set(ts_opt(t.next_schedule)),
            last_schedule: Set(ts_opt(t.last_schedule)),
            successfull_jobs_count: Set(clamp_i64(t.successfull_jobs_count)),
            failed_jobs_count: Set(clamp_i64(t.failed_jobs_count)),
            max_retries: Set(i64::from(t.retry.max_retries)),
            retry_delay: Set(i64::from(t.retry.retry_delay)),
            retry_backoff: Set(t.retry.retry_backoff.as_str().to_string()),
            retry_on_exit_codes: Set(to_json(&t.retry.retry_on_exit_codes)),
            timeout: Set(t.timeout.map(i64::from)),
            memory_limit_mb: Set(t.memory_limit_mb.map(i64::from)),
            pids_max: Set(t.pids_max.map(i64::from)),
            cpu_seconds: Set(t.cpu_seconds.map(i64::from)),
            concurrency_policy: Set(t.concurrency_policy.as_str().to_string()),
            catchup: Set(t.catchup.as_str().to_string()),
            created: Set(ts_opt(t.created)),
            updated: Set(ts_opt(t.updated)),
            // sealed by the caller (SqlStore::seal_actions can fail)
            on_success: NotSet,
            on_failure: NotSet,
        }
    }

    async fn write_template_children<C: ConnectionTrait>(
        &self,
        c: &C,
        id: i64,
        t: &RunTemplate,
    ) -> Result<()> {
        runtemplate_config::Entity::delete_many()
            .filter(runtemplate_config::Column::RuntemplateId.eq(id))
            .exec(c)
            .await
            .map_err(|e| self.dberr(e))?;
        runtemplate_credential::Entity::delete_many()
            .filter(runtemplate_credential::Column::RuntemplateId.eq(id))
            .exec(c)
            .await
            .map_err(|e| self.dberr(e))?;
        let rows = t
            .config
            .0
            .iter()
            .map(|(name, v)| {
                Ok(runtemplate_config::ActiveModel {
                    id: NotSet,
                    runtemplate_id: Set(id),
                    name: Set(name.clone()),
                    value: Set(self.seal_value(TEMPLATE_CONFIG, v)?),
                    secret: Set(v.secret),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !rows.is_empty() {
            runtemplate_config::Entity::insert_many(rows)
                .exec(c)
                .await
                .map_err(|e| self.dberr(e))?;
        }
        let mut seen = std::collections::HashSet::new();
        let links: Vec<_> = t
            .credentials
            .iter()
            .filter(|c| seen.insert(**c))
            .enumerate()
            .map(|(i, cred)| runtemplate_credential::ActiveModel {
                id: NotSet,
                runtemplate_id: Set(id),
                credential_id: Set(cred.0),
                position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            })
            .collect();
        if !links.is_empty() {
            runtemplate_credential::Entity::insert_many(links)
                .exec(c)
                .await
                .map_err(|e| self.dberr(e))?;
        }
        Ok(())
    }

    /// Jobs of a template with a slot that are not finished, oldest first.
    pub(crate) async fn outstanding_in<C: ConnectionTrait>(
        &self,
        c: &C,
        id: i64,
    ) -> Result<Vec<JobId>> {
        Ok(job::Entity::find()
            .filter(unfinished_of_template(id))
            .filter(job::Column::Slot.is_not_null())
            .order_by_asc(job::Column::Id)
            .all(c)
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(|j| JobId(j.id))
            .collect())
    }
}

pub(crate) fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl Catalog for SqlStore {
    async fn put_app(&self, app: &App) -> Result<App> {
        let now = self.now().await?;
        in_tx!(self, |txn| async {
            let existing = if app.id.0 != 0 {
                Some(
                    apps::Entity::find_by_id(app.id.0)
                        .one(&txn)
                        .await
                        .map_err(|e| self.dberr(e))?
                        .ok_or_else(|| Error::not_found(AppId::ENTITY, app.id))?,
                )
            } else if let Some(uuid) = &app.uuid {
                apps::Entity::find()
                    .filter(apps::Column::Uuid.eq(uuid.clone()))
                    .one(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?
            } else {
                apps::Entity::find()
                    .filter(apps::Column::Name.eq(app.name.text().to_string()))
                    .order_by_asc(apps::Column::Id)
                    .all(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?
                    .into_iter()
                    // byte-exact, whatever the collation
                    .find(|a| a.name == app.name.text())
            };
            let mut stored = app.clone();
            stored.updated = Some(now);
            let key = format!("uuid {:?}", app.uuid.as_deref().unwrap_or(""));
            let id = match existing {
                Some(old) => {
                    stored.id = AppId(old.id);
                    stored.created = utc_opt(old.created);
                    if app.id.0 == 0 {
                        // An import: the container settings are the operator's, not the file's.
                        stored.container =
                            crate::convert::from_json("app container security", &old.container)?;
                    }
                    let mut am = app_to_model(&stored).into_active_model();
                    am = am.reset_all();
                    am.update(&txn)
                        .await
                        .map_err(|e| self.err(AppId::ENTITY, &key, e))?;
                    old.id
                }
                None => {
                    stored.created = Some(now);
                    let mut am = app_to_model(&stored).into_active_model().reset_all();
                    am.id = NotSet;
                    apps::Entity::insert(am)
                        .exec(&txn)
                        .await
                        .map_err(|e| self.err(AppId::ENTITY, &key, e))?
                        .last_insert_id
                }
            };
            let row = apps::Entity::find_by_id(id)
                .one(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .ok_or_else(|| Error::not_found(AppId::ENTITY, id))?;
            app_from_model(row)
        }
        .await)
    }

    async fn get_app(&self, id: AppId) -> Result<App> {
        let row = apps::Entity::find_by_id(id.0)
            .one(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| Error::not_found(AppId::ENTITY, id))?;
        app_from_model(row)
    }

    async fn list_apps(&self) -> Result<Vec<App>> {
        apps::Entity::find()
            .order_by_asc(apps::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(app_from_model)
            .collect()
    }

    async fn delete_app(&self, id: AppId) -> Result<()> {
        in_tx!(self, |txn| async {
            if apps::Entity::find_by_id(id.0)
                .count(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                == 0
            {
                return Err(Error::not_found(AppId::ENTITY, id));
            }
            let users: Vec<String> = runtemplate::Entity::find()
                .filter(runtemplate::Column::AppId.eq(id.0))
                .order_by_asc(runtemplate::Column::Id)
                .all(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .into_iter()
                .map(|t| t.id.to_string())
                .collect();
            if !users.is_empty() {
                return Err(Error::conflict(format!(
                    "app {id} is used by run templates {}",
                    users.join(", ")
                )));
            }
            apps::Entity::delete_by_id(id.0)
                .exec(&txn)
                .await
                .map_err(|e| self.err(AppId::ENTITY, &id.to_string(), e))?;
            Ok(())
        }
        .await)
    }

    async fn create_company(&self, co: &Company) -> Result<Company> {
        let now = self.now().await?;
        in_tx!(self, |txn| async {
            let mut c = co.clone();
            c.id = CompanyId(0);
            self.check_company_unique(&txn, &c).await?;
            let am = company::ActiveModel {
                id: NotSet,
                name: Set(c.name.clone()),
                slug: Set(c.slug.clone()),
                email: Set(c.email.clone()),
                zabbix_host: Set(c.zabbix_host.clone()),
                enabled: Set(c.enabled),
                created: Set(Some(ts(now))),
                updated: Set(Some(ts(now))),
            };
            let id = company::Entity::insert(am)
                .exec(&txn)
                .await
                .map_err(|e| self.err(CompanyId::ENTITY, &format!("name {:?}", c.name), e))?
                .last_insert_id;
            self.write_company_env(&txn, id, &c.environment).await?;
            self.company_in(&txn, CompanyId(id)).await
        }
        .await)
    }

    async fn update_company(&self, co: &Company) -> Result<Company> {
        let now = self.now().await?;
        in_tx!(self, |txn| async {
            let old = company::Entity::find_by_id(co.id.0)
                .one(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .ok_or_else(|| Error::not_found(CompanyId::ENTITY, co.id))?;
            self.check_company_unique(&txn, co).await?;
            let am = company::ActiveModel {
                id: Set(old.id),
                name: Set(co.name.clone()),
                slug: Set(co.slug.clone()),
                email: Set(co.email.clone()),
                zabbix_host: Set(co.zabbix_host.clone()),
                enabled: Set(co.enabled),
                created: Set(old.created),
                updated: Set(Some(ts(now))),
            };
            am.update(&txn)
                .await
                .map_err(|e| self.err(CompanyId::ENTITY, &format!("name {:?}", co.name), e))?;
            self.write_company_env(&txn, old.id, &co.environment)
                .await?;
            self.company_in(&txn, co.id).await
        }
        .await)
    }

    async fn get_company(&self, id: CompanyId) -> Result<Company> {
        self.company_in(self.db(), id).await
    }

    async fn list_companies(&self) -> Result<Vec<Company>> {
        let ids: Vec<i64> = company::Entity::find()
            .order_by_asc(company::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(|c| c.id)
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.company_in(self.db(), CompanyId(id)).await {
                Ok(c) => out.push(c),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn delete_company(&self, id: CompanyId) -> Result<()> {
        in_tx!(self, |txn| async {
            if company::Entity::find_by_id(id.0)
                .count(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                == 0
            {
                return Err(Error::not_found(CompanyId::ENTITY, id));
            }
            if runtemplate::Entity::find()
                .filter(runtemplate::Column::CompanyId.eq(id.0))
                .count(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                > 0
            {
                return Err(Error::conflict(format!(
                    "company {id} still has run templates"
                )));
            }
            if credentials::Entity::find()
                .filter(credentials::Column::CompanyId.eq(id.0))
                .count(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                > 0
            {
                return Err(Error::conflict(format!(
                    "company {id} still has credentials"
                )));
            }
            company::Entity::delete_by_id(id.0)
                .exec(&txn)
                .await
                .map_err(|e| self.err(CompanyId::ENTITY, &id.to_string(), e))?;
            Ok(())
        }
        .await)
    }

    async fn create_credential(&self, cred: &Credential) -> Result<Credential> {
        in_tx!(self, |txn| async {
            if company::Entity::find_by_id(cred.company_id.0)
                .count(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                == 0
            {
                return Err(Error::not_found(CompanyId::ENTITY, cred.company_id));
            }
            if cred.name.is_empty() {
                return Err(Error::invalid("name", "a credential needs a name"));
            }
            let key = format!("company {} name {:?}", cred.company_id, cred.name);
            let clash = credentials::Entity::find()
                .filter(credentials::Column::CompanyId.eq(cred.company_id.0))
                .filter(credentials::Column::Name.eq(cred.name.clone()))
                .all(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .into_iter()
                .any(|c| c.name == cred.name);
            if clash {
                return Err(Error::AlreadyExists {
                    entity: CredentialId::ENTITY,
                    key,
                });
            }
            let id = credentials::Entity::insert(credentials::ActiveModel {
                id: NotSet,
                company_id: Set(cred.company_id.0),
                name: Set(cred.name.clone()),
                kind: Set(cred.kind.clone()),
            })
            .exec(&txn)
            .await
            .map_err(|e| self.err(CredentialId::ENTITY, &key, e))?
            .last_insert_id;
            self.insert_credential_values(&txn, id, cred).await?;
            self.credential_in(&txn, CredentialId(id)).await
        }
        .await)
    }

    async fn update_credential(&self, cred: &Credential) -> Result<Credential> {
        in_tx!(self, |txn| async {
            let stored = credentials::Entity::find_by_id(cred.id.0)
                .one(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .ok_or_else(|| Error::not_found(CredentialId::ENTITY, cred.id))?;
            if stored.company_id != cred.company_id.0 {
                return Err(Error::invalid(
                    "company_id",
                    format!(
                        "credential {} belongs to company {}; a credential stays with its company",
                        cred.id, stored.company_id
                    ),
                ));
            }
            if cred.name.is_empty() {
                return Err(Error::invalid("name", "a credential needs a name"));
            }
            let key = format!("company {} name {:?}", cred.company_id, cred.name);
            let clash = credentials::Entity::find()
                .filter(credentials::Column::CompanyId.eq(cred.company_id.0))
                .filter(credentials::Column::Name.eq(cred.name.clone()))
                .all(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .into_iter()
                .any(|c| c.name == cred.name && c.id != cred.id.0);
            if clash {
                return Err(Error::AlreadyExists {
                    entity: CredentialId::ENTITY,
                    key,
                });
            }
            let mut am: credentials::ActiveModel = stored.into();
            am.name = Set(cred.name.clone());
            am.kind = Set(cred.kind.clone());
            am.update(&txn)
                .await
                .map_err(|e| self.err(CredentialId::ENTITY, &key, e))?;
            credential_values::Entity::delete_many()
                .filter(credential_values::Column::CredentialId.eq(cred.id.0))
                .exec(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            self.insert_credential_values(&txn, cred.id.0, cred).await?;
            self.credential_in(&txn, cred.id).await
        }
        .await)
    }

    async fn get_credential(&self, id: CredentialId) -> Result<Credential> {
        self.credential_in(self.db(), id).await
    }

    async fn list_credentials(&self, company_id: Option<CompanyId>) -> Result<Vec<Credential>> {
        let mut q = credentials::Entity::find().order_by_asc(credentials::Column::Id);
        if let Some(c) = company_id {
            q = q.filter(credentials::Column::CompanyId.eq(c.0));
        }
        let rows = q.all(self.db()).await.map_err(|e| self.dberr(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.credential_from(self.db(), r).await?);
        }
        Ok(out)
    }

    async fn delete_credential(&self, id: CredentialId) -> Result<()> {
        in_tx!(self, |txn| async {
            if credentials::Entity::find_by_id(id.0)
                .count(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                == 0
            {
                return Err(Error::not_found(CredentialId::ENTITY, id));
            }
            if runtemplate_credential::Entity::find()
                .filter(runtemplate_credential::Column::CredentialId.eq(id.0))
                .count(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                > 0
            {
                return Err(Error::conflict(format!(
                    "credential {id} is used by run templates"
                )));
            }
            credentials::Entity::delete_by_id(id.0)
                .exec(&txn)
                .await
                .map_err(|e| self.err(CredentialId::ENTITY, &id.to_string(), e))?;
            Ok(())
        }
        .await)
    }

    async fn create_runtemplate(&self, template: &RunTemplate) -> Result<RunTemplate> {
        let now = self.now().await?;
        in_tx!(self, |txn| async {
            self.check_template(&txn, template).await?;
            let mut t = template.clone();
            t.id = RunTemplateId(0);
            t.created = Some(now);
            t.updated = Some(now);
            let mut am = self.template_active_model(&t);
            am.on_success = Set(self.seal_actions(&t.on_success)?);
            am.on_failure = Set(self.seal_actions(&t.on_failure)?);
            let id = runtemplate::Entity::insert(am)
                .exec(&txn)
                .await
                .map_err(|e| self.err(RunTemplateId::ENTITY, &t.name, e))?
                .last_insert_id;
            self.write_template_children(&txn, id, &t).await?;
            self.template_in(&txn, RunTemplateId(id)).await
        }
        .await)
    }

    async fn update_runtemplate(&self, template: &RunTemplate) -> Result<RunTemplate> {
        let now = self.now().await?;
        in_tx!(self, |txn| async {
            let old = runtemplate::Entity::find_by_id(template.id.0)
                .one(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .ok_or_else(|| Error::not_found(RunTemplateId::ENTITY, template.id))?;
            self.check_template(&txn, template).await?;
            let outstanding = self.outstanding_in(&txn, old.id).await?;
            let mut t = template.clone();
            t.successfull_jobs_count = u64::try_from(old.successfull_jobs_count).unwrap_or(0);
            t.failed_jobs_count = u64::try_from(old.failed_jobs_count).unwrap_or(0);
            t.last_schedule = utc_opt(old.last_schedule);
            t.created = utc_opt(old.created);
            t.updated = Some(now);
            t.next_schedule = if outstanding.is_empty() {
                None
            } else {
                utc_opt(old.next_schedule)
            };
            let mut am = self.template_active_model(&t);
            // counters are changed only by completions (atomically), never overwritten here
            am.successfull_jobs_count = NotSet;
            am.failed_jobs_count = NotSet;
            am.on_success = Set(self.seal_actions(&t.on_success)?);
            am.on_failure = Set(self.seal_actions(&t.on_failure)?);
            am.update(&txn)
                .await
                .map_err(|e| self.err(RunTemplateId::ENTITY, &t.name, e))?;
            self.write_template_children(&txn, old.id, &t).await?;
            self.template_in(&txn, t.id).await
        }
        .await)
    }

    async fn get_runtemplate(&self, id: RunTemplateId) -> Result<RunTemplate> {
        self.template_in(self.db(), id).await
    }

    async fn list_runtemplates(&self, filter: &RunTemplateFilter) -> Result<Vec<RunTemplate>> {
        let mut q = runtemplate::Entity::find().order_by_asc(runtemplate::Column::Id);
        if let Some(c) = filter.company_id {
            q = q.filter(runtemplate::Column::CompanyId.eq(c.0));
        }
        if let Some(a) = filter.app_id {
            q = q.filter(runtemplate::Column::AppId.eq(a.0));
        }
        if let Some(active) = filter.active {
            q = q.filter(runtemplate::Column::Active.eq(active));
        }
        let rows = q.all(self.db()).await.map_err(|e| self.dberr(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.template_from(self.db(), r).await?);
        }
        Ok(out)
    }

    async fn delete_runtemplate(&self, id: RunTemplateId) -> Result<()> {
        in_tx!(self, |txn| async {
            if runtemplate::Entity::find_by_id(id.0)
                .count(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                == 0
            {
                return Err(Error::not_found(RunTemplateId::ENTITY, id));
            }
            let busy: Vec<String> = job::Entity::find()
                .filter(unfinished_of_template(id.0))
                .order_by_asc(job::Column::Id)
                .all(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .into_iter()
                .map(|j| j.id.to_string())
                .collect();
            if !busy.is_empty() {
                return Err(Error::conflict(format!(
                    "run template {id} has unfinished jobs {}",
                    busy.join(", ")
                )));
            }
            runtemplate_count::Entity::delete_many()
                .filter(runtemplate_count::Column::RuntemplateId.eq(id.0))
                .exec(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            runtemplate::Entity::delete_by_id(id.0)
                .exec(&txn)
                .await
                .map_err(|e| self.err(RunTemplateId::ENTITY, &id.to_string(), e))?;
            Ok(())
        }
        .await)
    }

    async fn fold_template_counts(&self) -> Result<u64> {
        self.fold_count_deltas().await
    }

    async fn set_next_schedule(
        &self,
        id: RunTemplateId,
        expected: Option<DateTime<Utc>>,
        new: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        in_tx!(self, |txn| async {
            let mut q = runtemplate::Entity::update_many()
                .col_expr(runtemplate::Column::NextSchedule, Expr::value(ts_opt(new)))
                .filter(runtemplate::Column::Id.eq(id.0));
            q = match expected {
                None => q.filter(runtemplate::Column::NextSchedule.is_null()),
                Some(e) => q.filter(runtemplate::Column::NextSchedule.eq(ts(to_micros(e)))),
            };
            let n = q.exec(&txn).await.map_err(|e| self.dberr(e))?.rows_affected;
            if n == 0
                && runtemplate::Entity::find_by_id(id.0)
                    .count(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?
                    == 0
            {
                return Err(Error::not_found(RunTemplateId::ENTITY, id));
            }
            Ok(n > 0)
        }
        .await)
    }

    async fn schedulable_runtemplates(&self) -> Result<Vec<SchedulableTemplate>> {
        let rows = runtemplate::Entity::find()
            .filter(runtemplate::Column::Active.eq(true))
            .filter(runtemplate::Column::Interv.ne(IntervalCode::Disabled.code().to_string()))
            .order_by_asc(runtemplate::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| self.dberr(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id = r.id;
            let template = self.template_from(self.db(), r).await?;
            let outstanding = self.outstanding_in(self.db(), id).await?;
            out.push(SchedulableTemplate {
                template,
                outstanding,
            });
        }
        Ok(out)
    }
}
