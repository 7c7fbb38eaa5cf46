//! Finding one app or company by what a script knows of it: its id (`<ID>` or `--id`), or
//! `--name`, `--slug` (companies), `--uuid` (apps), as upstream's `get` commands allow. A name
//! two objects share is refused with both ids; an unknown one is NotFound.

use clap::Args;
use multiflexi_core::model::{App, Company};
use multiflexi_core::store::Catalog;
use multiflexi_core::{AppId, CompanyId, Error};

/// `company:get`: one company by id, name or slug.
#[derive(Debug, Clone, Args)]
#[group(id = "company_key", required = true, multiple = false)]
pub struct CompanyLookup {
    /// The company's id.
    #[arg(value_name = "ID", group = "company_key")]
    pub pos: Option<String>,
    /// The company's id (same as the positional form).
    #[arg(long = "id", value_name = "ID", group = "company_key")]
    pub id: Option<String>,
    /// The company's exact name.
    #[arg(long, value_name = "NAME", group = "company_key")]
    pub name: Option<String>,
    /// The company's slug.
    #[arg(long, value_name = "SLUG", group = "company_key")]
    pub slug: Option<String>,
    /// Upstream's company registration number (IČ): not stored here, refused with a message.
    #[arg(long, value_name = "IC", group = "company_key")]
    pub ic: Option<String>,
}

/// `application:get`: one app by id, name or uuid.
#[derive(Debug, Clone, Args)]
#[group(id = "app_key", required = true, multiple = false)]
pub struct AppLookup {
    /// The app's id.
    #[arg(value_name = "ID", group = "app_key")]
    pub pos: Option<String>,
    /// The app's id (same as the positional form).
    #[arg(long = "id", value_name = "ID", group = "app_key")]
    pub id: Option<String>,
    /// The app's exact name (in any of its languages).
    #[arg(long, value_name = "NAME", group = "app_key")]
    pub name: Option<String>,
    /// The app's uuid.
    #[arg(long, value_name = "UUID", group = "app_key")]
    pub uuid: Option<String>,
}

/// The one match of `key`, else NotFound, or InvalidInput naming the ids that share it.
fn one<T>(
    entity: &'static str,
    field: &str,
    key: &str,
    found: Vec<T>,
    id: impl Fn(&T) -> i64,
) -> anyhow::Result<T> {
    let mut found = found;
    match found.len() {
        0 => Err(Error::not_found(entity, format!("{field} {key:?}")).into()),
        1 => Ok(found.remove(0)),
        _ => {
            let ids: Vec<String> = found.iter().map(|x| id(x).to_string()).collect();
            Err(Error::invalid(
                field,
                format!(
                    "{} {entity}s have {field} {key:?} (ids {}); give --id",
                    found.len(),
                    ids.join(", ")
                ),
            )
            .into())
        }
    }
}

impl CompanyLookup {
    /// The company it names.
    pub async fn find(&self, store: &dyn Catalog) -> anyhow::Result<Company> {
        if let Some(raw) = self.id.as_deref().or(self.pos.as_deref()) {
            return Ok(store.get_company(raw.parse::<CompanyId>()?).await?);
        }
        if self.ic.is_some() {
            return Err(Error::invalid(
                "ic",
                "companies here have no registration number (IČ) field; look one up by --id, \
                 --name or --slug",
            )
            .into());
        }
        let all = store.list_companies().await?;
        let (field, key, found): (&str, &str, Vec<Company>) = match (&self.name, &self.slug) {
            (Some(n), _) => (
                "name",
                n,
                all.into_iter().filter(|c| c.name == *n).collect(),
            ),
            (None, Some(s)) => (
                "slug",
                s,
                all.into_iter().filter(|c| c.slug == *s).collect(),
            ),
            (None, None) => return Err(Error::invalid("id", "give an id, --name or --slug").into()),
        };
        one("company", field, key, found, |c| c.id.0)
    }
}

impl AppLookup {
    /// The app it names.
    pub async fn find(&self, store: &dyn Catalog) -> anyhow::Result<App> {
        if let Some(raw) = self.id.as_deref().or(self.pos.as_deref()) {
            return Ok(store.get_app(raw.parse::<AppId>()?).await?);
        }
        match (&self.name, &self.uuid) {
            (_, Some(u)) => app_by_uuid(store, u).await,
            (Some(n), None) => {
                let all = store.list_apps().await?;
                let found = all
                    .into_iter()
                    .filter(|a| a.display_name() == n || a.name.0.values().any(|v| v == n))
                    .collect();
                one("app", "name", n, found, |a| a.id.0)
            }
            (None, None) => Err(Error::invalid("id", "give an id, --name or --uuid").into()),
        }
    }
}

/// The app with `uuid` (compared without regard to case).
pub async fn app_by_uuid(store: &dyn Catalog, uuid: &str) -> anyhow::Result<App> {
    let all = store.list_apps().await?;
    let found = all
        .into_iter()
        .filter(|a| {
            a.uuid
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(uuid.trim()))
        })
        .collect();
    one("app", "uuid", uuid, found, |a| a.id.0)
}
