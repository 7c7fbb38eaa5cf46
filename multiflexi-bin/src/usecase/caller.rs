//! Who is asking: the operator (the CLI) or a token of the API or dashboard.

use multiflexi_core::store::TokenScope;
use multiflexi_core::{CompanyId, Error, Result};

/// Who a use case runs for: the name written to the audit log and `launched_by`, and what the
/// caller may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The actor's name (a user name for the CLI, a token's name for the API and dashboard).
    pub actor: String,
    /// What it may reach.
    pub scope: TokenScope,
}

impl Caller {
    /// The operator at the command line (every right), named after the logged-in user.
    pub fn operator(actor: impl Into<String>) -> Caller {
        Caller {
            actor: actor.into(),
            scope: TokenScope::Admin,
        }
    }

    /// A token of the API or the dashboard.
    pub fn token(name: impl Into<String>, scope: TokenScope) -> Caller {
        Caller {
            actor: name.into(),
            scope,
        }
    }

    /// Whether this caller may see `company`'s objects.
    pub fn sees(&self, company: CompanyId) -> bool {
        self.scope.sees_company(company)
    }

    /// `NotFound` for `entity` `id` unless this caller may see `company`'s objects (another
    /// company's objects do not exist for a company token).
    pub fn check_sees(
        &self,
        company: CompanyId,
        entity: &'static str,
        id: impl std::fmt::Display,
    ) -> Result<()> {
        if self.sees(company) {
            Ok(())
        } else {
            Err(Error::not_found(entity, id))
        }
    }

    /// `Forbidden` unless this is the operator or an admin token; `what` names the action.
    pub fn require_admin(&self, what: &str) -> Result<()> {
        match self.scope {
            TokenScope::Admin => Ok(()),
            TokenScope::Company(_) => Err(Error::forbidden(
                "token",
                format!("{what} needs an admin token; this token is scoped to one company"),
            )),
        }
    }
}
