//! [`CatalogNames`]: the catalog names and Zabbix hosts the sinks need, cached.

use crate::ids::{AppId, CompanyId, RunTemplateId};
use crate::store::{Catalog, RunTemplateFilter};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::task::JoinHandle;

/// What the sinks need of a company.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyNames {
    /// Its name.
    pub name: String,
    /// The Zabbix host its jobs report to (`company.zabbix_host`).
    pub zabbix_host: Option<String>,
}

#[derive(Debug, Default)]
struct Names {
    companies: HashMap<CompanyId, CompanyNames>,
    apps: HashMap<AppId, String>,
    runtemplates: HashMap<RunTemplateId, String>,
}

/// Company, app and run-template names plus each company's `zabbix_host`, looked up
/// synchronously by sinks (the Zabbix host of an item, the names in the low-level discovery
/// record). The binary fills it from the store ([`refresh`](Self::refresh),
/// [`spawn_refresh`](Self::spawn_refresh)); tests and embedders may fill it by hand.
#[derive(Debug, Default)]
pub struct CatalogNames {
    names: RwLock<Names>,
}

impl CatalogNames {
    /// An empty cache.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A company's names.
    pub fn company(&self, id: CompanyId) -> Option<CompanyNames> {
        self.names.read().unwrap().companies.get(&id).cloned()
    }

    /// A company's Zabbix host, when it has one.
    pub fn zabbix_host(&self, id: CompanyId) -> Option<String> {
        self.names
            .read()
            .unwrap()
            .companies
            .get(&id)
            .and_then(|c| c.zabbix_host.clone())
            .filter(|h| !h.trim().is_empty())
    }

    /// An app's name.
    pub fn app_name(&self, id: AppId) -> Option<String> {
        self.names.read().unwrap().apps.get(&id).cloned()
    }

    /// A run template's name.
    pub fn runtemplate_name(&self, id: RunTemplateId) -> Option<String> {
        self.names.read().unwrap().runtemplates.get(&id).cloned()
    }

    /// Sets a company's names.
    pub fn set_company(&self, id: CompanyId, names: CompanyNames) {
        self.names.write().unwrap().companies.insert(id, names);
    }

    /// Sets an app's name.
    pub fn set_app(&self, id: AppId, name: impl Into<String>) {
        self.names.write().unwrap().apps.insert(id, name.into());
    }

    /// Sets a run template's name.
    pub fn set_runtemplate(&self, id: RunTemplateId, name: impl Into<String>) {
        self.names
            .write()
            .unwrap()
            .runtemplates
            .insert(id, name.into());
    }

    /// Reloads every company, app and run template from the catalog (replacing the cache).
    pub async fn refresh<C: Catalog + ?Sized>(&self, catalog: &C) -> crate::Result<()> {
        let companies = catalog.list_companies().await?;
        let apps = catalog.list_apps().await?;
        let templates = catalog
            .list_runtemplates(&RunTemplateFilter::default())
            .await?;
        let fresh = Names {
            companies: companies
                .into_iter()
                .map(|c| {
                    (
                        c.id,
                        CompanyNames {
                            name: c.name,
                            zabbix_host: c.zabbix_host,
                        },
                    )
                })
                .collect(),
            apps: apps
                .into_iter()
                .map(|a| (a.id, a.name.text().to_string()))
                .collect(),
            runtemplates: templates.into_iter().map(|t| (t.id, t.name)).collect(),
        };
        *self.names.write().unwrap() = fresh;
        Ok(())
    }

    /// Refreshes from `catalog` now and then every `every`, in a background task; a failed
    /// refresh keeps the previous names and is logged.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn spawn_refresh<C: Catalog + ?Sized>(
        self: &Arc<Self>,
        catalog: Arc<C>,
        every: Duration,
    ) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.refresh(&*catalog).await {
                    tracing::warn!("telemetry: refreshing catalog names failed: {e}");
                }
            }
        })
    }
}
