//! Stale run templates (upstream's `run-template:stale`): active, scheduled templates whose
//! next slot lies further in the past than a tolerance — the scheduler is not running, or does
//! not get to them. For monitoring; nothing is changed.

use super::{Caller, UseCases};
use multiflexi_core::model::RunTemplate;
use multiflexi_core::schedule::IntervalCode;
use multiflexi_core::store::RunTemplateFilter;
use multiflexi_core::{Error, Result};

impl UseCases {
    /// The caller's active, scheduled templates whose `next_schedule` is more than
    /// `tolerance_hours` before now, oldest slot first (a company token: its own only).
    pub async fn stale_templates(
        &self,
        caller: &Caller,
        tolerance_hours: f64,
    ) -> Result<Vec<RunTemplate>> {
        if !tolerance_hours.is_finite() || tolerance_hours < 0.0 {
            return Err(Error::invalid(
                "tolerance-hours",
                format!("{tolerance_hours} is not a number of hours (0 or more, e.g. 6 or 0.5)"),
            ));
        }
        let lag = chrono::Duration::milliseconds((tolerance_hours * 3_600_000.0).round() as i64);
        let threshold = self.clock.now() - lag;
        let mut filter = RunTemplateFilter::default();
        filter.company_id = caller.scope.company();
        filter.active = Some(true);
        let mut stale: Vec<RunTemplate> = self
            .store
            .list_runtemplates(&filter)
            .await?
            .into_iter()
            .filter(|t| t.interv != IntervalCode::Disabled)
            .filter(|t| t.next_schedule.is_some_and(|n| n < threshold))
            .collect();
        stale.sort_by_key(|t| (t.next_schedule, t.id));
        Ok(stale)
    }
}
