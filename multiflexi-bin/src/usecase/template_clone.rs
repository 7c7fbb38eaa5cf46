//! Cloning a run template (upstream's `run-template:clone`): everything the operator set is
//! copied (schedule, executor, configuration with its secrets, credentials, policies, actions);
//! the clone is inactive (review it, then activate it), with no schedule marks and no counts.
//! It is checked and written as a new template is.

use super::audit::Action;
use super::templates::{SavedTemplate, check_name};
use super::{Caller, UseCases};
use multiflexi_core::tenancy::check_template_write;
use multiflexi_core::{Result, RunTemplateId};

impl UseCases {
    /// Clones template `id` as `name` (default `<its name> Clone`), inactive. Another
    /// company's template is NotFound; the tenant rules of a new template apply.
    pub async fn clone_template(
        &self,
        caller: &Caller,
        id: RunTemplateId,
        name: Option<&str>,
    ) -> Result<SavedTemplate> {
        let source = self.store.get_runtemplate(id).await?;
        caller.check_sees(source.company_id, "runtemplate", id)?;
        let app = self.store.get_app(source.app_id).await?;
        let mut t = source.clone();
        t.id = RunTemplateId(0);
        t.name = check_name(name.unwrap_or(&format!("{} Clone", source.name)))?;
        t.active = false;
        t.next_schedule = None;
        t.last_schedule = None;
        t.successfull_jobs_count = 0;
        t.failed_jobs_count = 0;
        t.created = None;
        t.updated = None;
        check_template_write(caller.scope, None, &t, &app)?;
        self.check_template(caller, &t, &app).await?;
        self.check_launch_targets(caller, &t).await?;
        let t = self.store.create_runtemplate(&t).await?;
        self.audit(
            caller,
            None,
            Action::TemplateCreate,
            format!(
                "run template {} \"{}\" cloned from run template {id} (app {}, company {}, \
                 executor {}; inactive)",
                t.id, t.name, t.app_id, t.company_id, t.executor
            ),
        )
        .await;
        Ok(SavedTemplate {
            template: t,
            warnings: Vec::new(),
        })
    }
}
