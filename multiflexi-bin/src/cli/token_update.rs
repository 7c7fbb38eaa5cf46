//! `token:update`: rename a token (`--name`) or give it a new secret (`--regenerate`, printed
//! once; the old one stops working). Upstream's `--token VALUE` (a secret the caller chooses)
//! and `--user` are refused: a secret here is always generated, and tokens belong to no user.

use super::Ctx;
use super::output::Report;
use super::token::{token_id, token_json};
use clap::Args;
use multiflexi_core::Error;
use serde_json::Value;

/// `token:update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub id: super::args::IdArg,
    /// A new unique name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Give it a new secret (printed once; the old secret authenticates nothing from then on).
    #[arg(long)]
    pub regenerate: bool,
    /// Upstream's chosen secret: refused (secrets are always generated; use --regenerate).
    #[arg(long, value_name = "VALUE")]
    pub token: Option<String>,
    /// Upstream's user id: refused (tokens here belong to no user).
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
}

/// `token:update --id ID [--name NEW] [--regenerate]`.
pub async fn update(ctx: &Ctx, a: &UpdateArgs) -> anyhow::Result<Report> {
    if a.token.is_some() {
        return Err(Error::invalid(
            "token",
            "a token's secret is never chosen by the caller in multiflexi-rs (only its hash is \
             stored, and it must be random); --regenerate gives it a new one, printed once",
        )
        .into());
    }
    if let Some(user) = &a.user {
        return Err(Error::invalid(
            "user",
            format!(
                "--user {user}: tokens are not per user in multiflexi-rs (there are no users); \
                 a token's scope is set when it is made (token:create --admin | --company ID)"
            ),
        )
        .into());
    }
    let id = token_id(&a.id)?;
    let (token, issued) = ctx
        .usecases()
        .await?
        .update_token(&ctx.caller(), id, a.name.as_deref(), a.regenerate)
        .await?;
    let mut j = token_json(&token);
    j["token_id"] = Value::from(token.id);
    j["updated"] = Value::Bool(true);
    let mut text = format!(
        "Updated token {} {:?} ({}).",
        token.id, token.name, token.scope
    );
    if let Some(issued) = issued {
        j["secret"] = Value::String(issued.secret.clone());
        text.push_str(&format!(
            "\nNew secret (shown only now; the old one no longer works):\n{}",
            issued.secret
        ));
    }
    Ok(Report::new(text, j))
}
