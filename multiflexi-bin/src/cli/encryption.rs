//! `encryption:status`: whether secrets can be sealed, with which key, from where — never the
//! key itself. As upstream's (`master_key` configured / missing, `total_keys`, `active_keys`,
//! `keys`), from the database settings alone: the database is not opened, and a SQLite
//! database's key file is not created by asking.

use super::Ctx;
use super::output::{Report, fields};
use crate::database::KeySource;
use serde_json::{Value, json};

/// The cipher every sealed value uses.
const ALGORITHM: &str = "XChaCha20-Poly1305";

/// `encryption:status`.
pub async fn status(ctx: &Ctx) -> anyhow::Result<Report> {
    let settings = ctx.database_settings().await?;
    let (key, source): (Option<&str>, Value) = match &settings.key {
        KeySource::Variable(k) => (Some(k.id()), json!("MULTIFLEXI_MASTER_KEY")),
        KeySource::KeyFile { path, key } => (Some(key.id()), json!(path.display().to_string())),
        KeySource::NoKeyFileYet(_) | KeySource::None => (None, Value::Null),
    };
    let keys: Vec<Value> = key
        .map(|id| {
            json!({
                "key_name": id,
                "algorithm": ALGORITHM,
                "is_active": true,
                "source": source,
            })
        })
        .into_iter()
        .collect();
    let text = fields(&[
        (
            "master key",
            if key.is_some() {
                "configured"
            } else {
                "missing"
            }
            .to_string(),
        ),
        ("where", settings.describe_key()),
        ("algorithm", ALGORITHM.to_string()),
        ("total keys", keys.len().to_string()),
        ("active keys", keys.len().to_string()),
    ]);
    Ok(Report::new(
        text,
        json!({
            "master_key": if key.is_some() { "configured" } else { "missing" },
            "source": settings.describe_key(),
            "total_keys": keys.len(),
            "active_keys": keys.len(),
            "keys": keys,
        }),
    ))
}
