//! `encryption:init`: the key file beside a SQLite database, created once, never replaced
//! without --force.
//!
//! `encryption:status`: whether secrets can be sealed, with which key, from where — never the
//! key itself. As upstream's (`master_key` configured / missing, `total_keys`, `active_keys`,
//! `keys`), from the database settings alone: the database is not opened, and a SQLite
//! database's key file is not created by asking.

use super::Ctx;
use super::output::{Report, fields};
use crate::database::KeySource;
use crate::database::key_init::{KeyInit, init_key_file};
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

/// `encryption:init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Replace a key file that is there: the old file is kept as `multiflexi.key.<key id>.old`
    /// beside it, and secrets sealed with the old key cannot be read with the new one (put the
    /// old file back to read them).
    #[arg(long)]
    pub force: bool,
}

/// What happens to secrets sealed with a replaced key.
const ROTATED_WARNING: &str = "secrets stored so far (credential values, secret company and \
     template values, job environments) were sealed with the old key and cannot be read with the \
     new one: re-enter them, or put the old key file back; restart every daemon that opens this \
     database (a running one keeps sealing with the old key)";

/// `encryption:init [--force]`: the key file beside a SQLite database, as upstream's: created
/// when missing, left alone when present (exit 0, said so), replaced only with --force.
pub async fn init(ctx: &Ctx, a: &InitArgs) -> anyhow::Result<Report> {
    let settings = ctx.database_settings().await?;
    let path = match &settings.key {
        KeySource::Variable(k) => {
            if a.force {
                anyhow::bail!(
                    "the master key comes from MULTIFLEXI_MASTER_KEY (key id {}); encryption:init \
                     --force replaces only a key file: change the variable yourself",
                    k.id()
                );
            }
            return Ok(Report::new(
                format!(
                    "The master key comes from MULTIFLEXI_MASTER_KEY (key id {}); nothing to \
                     initialise, nothing written.",
                    k.id()
                ),
                json!({
                    "key_name": k.id(), "algorithm": ALGORITHM, "source": "MULTIFLEXI_MASTER_KEY",
                    "initialized": false, "rotated": false,
                }),
            ));
        }
        KeySource::None => anyhow::bail!(
            "a PostgreSQL or MySQL database keeps no key file: set MULTIFLEXI_MASTER_KEY to 32 \
             random bytes as 64 hex digits (for example the output of `openssl rand -hex 32`) in \
             every process that opens it"
        ),
        KeySource::NoKeyFileYet(path) | KeySource::KeyFile { path, .. } => path.clone(),
    };
    let file = path.display().to_string();
    Ok(match init_key_file(&path, a.force)? {
        KeyInit::Created { key_id } => Report::new(
            format!(
                "Encryption key initialised: created the key file {file} (mode 0600, key id \
                 {key_id}); keep it with the database."
            ),
            json!({
                "key_name": key_id, "algorithm": ALGORITHM, "source": file,
                "initialized": true, "rotated": false,
            }),
        ),
        KeyInit::Kept { key_id } => Report::new(
            format!(
                "The key file {file} is there already (key id {key_id}); left as it is. \
                 --force replaces it ({ROTATED_WARNING})."
            ),
            json!({
                "key_name": key_id, "algorithm": ALGORITHM, "source": file,
                "initialized": false, "rotated": false,
            }),
        ),
        KeyInit::Rotated {
            key_id,
            old_key_id,
            old_path,
        } => Report::new(
            format!(
                "Encryption key rotated: {file} now holds key {key_id}; the old key {old_key_id} \
                 is kept in {}.\nwarning: {ROTATED_WARNING}.",
                old_path.display()
            ),
            json!({
                "key_name": key_id, "algorithm": ALGORITHM, "source": file,
                "initialized": true, "rotated": true,
                "previous_key_name": old_key_id,
                "previous_key_file": old_path.display().to_string(),
                "warning": ROTATED_WARNING,
            }),
        ),
    })
}
