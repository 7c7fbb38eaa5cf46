//! [`JobStatistics`] for [`InMemoryStore`]: the reference computation over the jobs themselves.

use super::InMemoryStore;
use crate::Result;
use crate::ids::CompanyId;
use crate::model::Job;
use crate::store::{HourCount, JobStatistics, JobStats, StatsQuery, hourly_of_jobs};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl JobStatistics for InMemoryStore {
    async fn job_stats(&self, query: &StatsQuery) -> Result<JobStats> {
        let st = self.lock();
        let jobs: Vec<&Job> = st.jobs.values().collect();
        Ok(JobStats::of_jobs(query, &jobs))
    }

    async fn hourly_outcomes(
        &self,
        since: DateTime<Utc>,
        company: Option<CompanyId>,
    ) -> Result<Vec<HourCount>> {
        let st = self.lock();
        let jobs: Vec<&Job> = st.jobs.values().collect();
        Ok(hourly_of_jobs(&jobs, since, company))
    }
}
