//! `token:*`: bearer tokens of the HTTP API and the dashboard. A token's secret is printed once,
//! when it is made; the database keeps only its SHA-256.

use super::Ctx;
use super::args::{self, IdArg};
use super::output::{Report, table, ts};
use clap::Args;
use multiflexi_core::store::{AccessToken, AccessTokens as _, TokenScope};
use multiflexi_core::{CompanyId, Error};
use serde_json::{Value, json};

/// `token:create`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["admin", "company"])))]
pub struct CreateArgs {
    /// A unique name: who or what uses the token.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The token may see and do everything.
    #[arg(long)]
    pub admin: bool,
    /// The token sees and acts on this company only.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: Option<String>,
}

/// A token as JSON (never its secret).
pub fn token_json(t: &AccessToken) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "scope": match t.scope { TokenScope::Admin => "admin", TokenScope::Company(_) => "company" },
        "company_id": t.scope.company().map(|c| c.0),
        "created": t.created,
        "revoked": t.revoked,
    })
}

/// `token:create --name N (--admin | --company ID)`.
pub async fn create(ctx: &Ctx, a: &CreateArgs) -> anyhow::Result<Report> {
    let scope = match &a.company {
        Some(id) => TokenScope::Company(args::id::<CompanyId>(id)?),
        None => TokenScope::Admin,
    };
    let issued = ctx
        .usecases()
        .await?
        .create_token(&ctx.caller(), &a.name, scope)
        .await?;
    let mut j = token_json(&issued.token);
    j["secret"] = Value::String(issued.secret.clone());
    Ok(Report::new(
        format!(
            "Created token {} {:?} ({scope}).\nSecret (shown only now; send it as `Authorization: Bearer <secret>` or paste it on the dashboard's login page):\n{}",
            issued.token.id, issued.token.name, issued.secret
        ),
        j,
    ))
}

/// `token:list`.
pub async fn list(ctx: &Ctx) -> anyhow::Result<Report> {
    let store = ctx.store().await?;
    let tokens = store.list_tokens().await?;
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.name.clone(),
                t.scope.to_string(),
                ts(t.created),
                t.revoked.map(ts).unwrap_or_default(),
            ]
        })
        .collect();
    Ok(Report::new(
        table(&["ID", "NAME", "SCOPE", "CREATED", "REVOKED"], &rows),
        Value::Array(tokens.iter().map(token_json).collect()),
    ))
}

pub(crate) fn token_id(a: &IdArg) -> Result<i64, Error> {
    let raw = a.id.as_deref().or(a.pos.as_deref()).unwrap_or("");
    raw.trim().parse().ok().filter(|i| *i > 0).ok_or_else(|| {
        Error::invalid(
            "ID",
            format!("{raw:?} is not a token id (a positive integer; token:list shows them)"),
        )
    })
}

/// `token:get <id>`: one token, never its secret.
pub async fn get(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let t = ctx
        .usecases()
        .await?
        .get_token(&ctx.caller(), token_id(a)?)
        .await?;
    Ok(Report::new(
        format!(
            "token {} {:?} ({}), created {}{}",
            t.id,
            t.name,
            t.scope,
            ts(t.created),
            t.revoked
                .map(|r| format!(", revoked {}", ts(r)))
                .unwrap_or_default()
        ),
        token_json(&t),
    ))
}

/// `token:revoke <id>` (also `token:delete`).
pub async fn revoke(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id = token_id(a)?;
    let t = ctx
        .usecases()
        .await?
        .revoke_token(&ctx.caller(), id)
        .await?;
    Ok(Report::new(
        format!(
            "Revoked token {} {:?}; it authenticates nothing from now on.",
            t.id, t.name
        ),
        token_json(&t),
    ))
}
