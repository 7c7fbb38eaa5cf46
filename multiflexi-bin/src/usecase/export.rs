//! Exporting everything stored about a company (a data-subject request): its catalog rows
//! with every secret value redacted, its jobs (environment redacted) and their artifacts. A
//! company already deleted can still be exported: whatever is left under its id.

use super::{Caller, UseCases};
use multiflexi_core::model::{ArtifactMeta, Company, Credential, Job, RunTemplate};
use multiflexi_core::output::SecretMasker;
use multiflexi_core::store::{JobFilter, RunTemplateFilter};
use multiflexi_core::{ArtifactSink, CompanyId, Result};

/// What is stored about one company, secrets redacted (`***`).
#[derive(Debug, Clone)]
pub struct CompanyExport {
    /// The company (`None`: its row is gone, its jobs may remain).
    pub company: Option<Company>,
    /// Its run templates.
    pub templates: Vec<RunTemplate>,
    /// Its credentials.
    pub credentials: Vec<Credential>,
    /// Its jobs, newest first, each with its artifacts' metadata.
    pub jobs: Vec<(Job, Vec<ArtifactMeta>)>,
}

impl UseCases {
    /// Everything stored about company `id` (admin only); artifact contents are read from
    /// `artifacts` by the caller as it writes them out.
    pub async fn export_company(
        &self,
        caller: &Caller,
        id: CompanyId,
        artifacts: &dyn ArtifactSink,
    ) -> Result<CompanyExport> {
        caller.require_admin("exporting a company's data")?;
        let company = match self.store.get_company(id).await {
            Ok(mut c) => {
                c.environment = c.environment.redacted();
                Some(c)
            }
            Err(multiflexi_core::Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let mut filter = RunTemplateFilter::default();
        filter.company_id = Some(id);
        let templates = self
            .store
            .list_runtemplates(&filter)
            .await?
            .into_iter()
            .map(|mut t| {
                t.config = t.config.redacted();
                let mask = super::variables::REDACTED;
                t.on_success = t.on_success.iter().map(|a| a.redacted(mask)).collect();
                t.on_failure = t.on_failure.iter().map(|a| a.redacted(mask)).collect();
                t
            })
            .collect();
        let credentials = self
            .store
            .list_credentials(Some(id))
            .await?
            .into_iter()
            .map(|mut c| {
                for f in c.fields.iter_mut().filter(|f| f.secret) {
                    f.value = super::variables::REDACTED.to_string();
                }
                c
            })
            .collect();
        let mut jobs = Vec::new();
        let mut page = JobFilter::default();
        page.company_id = Some(id);
        page.limit = Some(500);
        loop {
            let batch = self.store.list_jobs(&page).await?;
            let Some(last) = batch.last() else { break };
            page.before_id = Some(last.id);
            for mut job in batch {
                // Arguments may carry a secret value (a macro expanded at creation).
                let masker = SecretMasker::new(&job.spec.env.secret_values());
                let args: Vec<String> = job
                    .spec
                    .args
                    .iter()
                    .map(|a| String::from_utf8_lossy(&masker.mask(a.as_bytes())).into_owned())
                    .collect();
                job.spec.args = args;
                job.spec.env = job.spec.env.redacted();
                let metas = artifacts.list(job.id).await?;
                jobs.push((job, metas));
            }
        }
        Ok(CompanyExport {
            company,
            templates,
            credentials,
            jobs,
        })
    }
}
