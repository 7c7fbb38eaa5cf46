//! What a token may see: admin tokens everything; a company token its own company's templates,
//! jobs and artifacts, and the apps those templates run. Anything else is "not found".

use super::error::PageError;
use super::session::Session;
use multiflexi_core::store::RunTemplateFilter;
use multiflexi_core::{App, AppId, Error, Job, JobId, RunTemplate, RunTemplateId, Store};

fn hide<T>(r: Result<T, Error>, what: impl std::fmt::Display) -> Result<T, PageError> {
    match r {
        Ok(v) => Ok(v),
        Err(Error::NotFound { .. }) => Err(PageError::not_found(what)),
        Err(e) => Err(e.into()),
    }
}

/// A job the session may see.
pub(crate) async fn job(store: &dyn Store, session: &Session, id: JobId) -> Result<Job, PageError> {
    let what = format!("Job {id}");
    let job = hide(store.get_job(id).await, &what)?;
    if session.sees(job.company_id) {
        Ok(job)
    } else {
        Err(PageError::not_found(what))
    }
}

/// A run template the session may see.
pub(crate) async fn template(
    store: &dyn Store,
    session: &Session,
    id: RunTemplateId,
) -> Result<RunTemplate, PageError> {
    let what = format!("Run template {id}");
    let t = hide(store.get_runtemplate(id).await, &what)?;
    if session.sees(t.company_id) {
        Ok(t)
    } else {
        Err(PageError::not_found(what))
    }
}

/// The run templates the session may see.
pub(crate) async fn templates(
    store: &dyn Store,
    session: &Session,
) -> Result<Vec<RunTemplate>, PageError> {
    let mut filter = RunTemplateFilter::default();
    filter.company_id = session.scope().company();
    Ok(store.list_runtemplates(&filter).await?)
}

/// The apps the session may see.
pub(crate) async fn apps(store: &dyn Store, session: &Session) -> Result<Vec<App>, PageError> {
    let apps = store.list_apps().await?;
    if session.is_admin() {
        return Ok(apps);
    }
    let used: Vec<AppId> = templates(store, session)
        .await?
        .iter()
        .map(|t| t.app_id)
        .collect();
    Ok(apps.into_iter().filter(|a| used.contains(&a.id)).collect())
}

/// An app the session may see.
pub(crate) async fn app(store: &dyn Store, session: &Session, id: AppId) -> Result<App, PageError> {
    let what = format!("App {id}");
    let app = hide(store.get_app(id).await, &what)?;
    if session.is_admin()
        || templates(store, session)
            .await?
            .iter()
            .any(|t| t.app_id == id)
    {
        Ok(app)
    } else {
        Err(PageError::not_found(what))
    }
}
