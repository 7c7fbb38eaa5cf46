//! `token:generate`: upstream's name for making a token whose secret is printed once. Tokens
//! here belong to no user: the scope is `--admin` or `--company ID`, and upstream's `--user`,
//! `--login`, `--email` are refused with that message; tokens do not expire, so `--ttl` is
//! refused too (token:revoke ends one).

use super::Ctx;
use super::args;
use super::output::Report;
use super::token::token_json;
use clap::Args;
use multiflexi_core::store::TokenScope;
use multiflexi_core::{CompanyId, Error};
use serde_json::Value;

/// `token:generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A unique name: who or what uses it (default `generated-<UTC time>`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The token may see and do everything.
    #[arg(long, conflicts_with = "company")]
    pub admin: bool,
    /// The token sees and acts on this company only.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: Option<String>,
    /// Upstream's user id: refused (tokens here belong to no user).
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// Upstream's user login: refused (tokens here belong to no user).
    #[arg(long, value_name = "LOGIN")]
    pub login: Option<String>,
    /// Upstream's user e-mail: refused (tokens here belong to no user).
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    /// Upstream's lifetime: refused (tokens here live until token:revoke).
    #[arg(long, value_name = "TTL")]
    pub ttl: Option<String>,
}

/// `token:generate (--admin | --company ID) [--name NAME]`.
pub async fn generate(ctx: &Ctx, a: &GenerateArgs) -> anyhow::Result<Report> {
    if let Some((flag, value)) = [("user", &a.user), ("login", &a.login), ("email", &a.email)]
        .into_iter()
        .find_map(|(f, v)| v.as_ref().map(|v| (f, v)))
    {
        return Err(Error::invalid(
            flag,
            format!(
                "--{flag} {value}: tokens are not per user in multiflexi-rs (there are no \
                 users); give --admin or --company ID, and --name to say who uses it"
            ),
        )
        .into());
    }
    if let Some(ttl) = &a.ttl {
        return Err(Error::invalid(
            "ttl",
            format!(
                "--ttl {ttl}: tokens here do not expire; leave --ttl out and end the token with \
                 token:revoke when it is no longer needed"
            ),
        )
        .into());
    }
    let scope = match (&a.company, a.admin) {
        (Some(id), _) => TokenScope::Company(args::id::<CompanyId>(id)?),
        (None, true) => TokenScope::Admin,
        (None, false) => {
            return Err(Error::invalid(
                "scope",
                "say what the token may do: --admin (everything) or --company ID (one company)",
            )
            .into());
        }
    };
    let name = a.name.clone().unwrap_or_else(|| {
        format!(
            "generated-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
        )
    });
    let issued = ctx
        .usecases()
        .await?
        .create_token(&ctx.caller(), &name, scope)
        .await?;
    let mut j = token_json(&issued.token);
    j["token_id"] = Value::from(issued.token.id);
    j["token"] = Value::String(issued.secret.clone());
    j["secret"] = Value::String(issued.secret.clone());
    Ok(Report::new(
        format!(
            "Generated token {} {:?} ({scope}); save it now, it will not be shown again:\n{}",
            issued.token.id, issued.token.name, issued.secret
        ),
        j,
    ))
}
