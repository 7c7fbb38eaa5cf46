//! Assigning a credential to a run template and unassigning it (upstream's
//! `run-template:assign-credential` / `unassign-credential`): a change of the template's
//! credential list made through [`UseCases::update_template`], so the credential rules (it must
//! be the template's company's: `RunTemplate::check_credentials`) and the audit row are the
//! update's. Read, then written: two concurrent changes of one template's list may lose one.

use super::templates::{SavedTemplate, TemplateChange};
use super::{Caller, UseCases};
use multiflexi_core::{CredentialId, Error, Result, RunTemplateId};

impl UseCases {
    /// Adds `credential` to the template's credentials (`assign`), or removes it; assigning one
    /// already there changes nothing, removing one that is not there is InvalidInput.
    pub async fn assign_credential(
        &self,
        caller: &Caller,
        template: RunTemplateId,
        credential: CredentialId,
        assign: bool,
    ) -> Result<SavedTemplate> {
        let t = self.store.get_runtemplate(template).await?;
        caller.check_sees(t.company_id, "runtemplate", template)?;
        let mut list = t.credentials.clone();
        let present = list.contains(&credential);
        match (assign, present) {
            (true, true) => {
                return Ok(SavedTemplate {
                    template: t,
                    warnings: Vec::new(),
                });
            }
            (true, false) => {
                self.store.get_credential(credential).await?;
                list.push(credential);
            }
            (false, true) => list.retain(|c| *c != credential),
            (false, false) => {
                return Err(Error::invalid(
                    "credential_id",
                    format!(
                        "credential {credential} is not assigned to run template {template}; \
                         run-template:list-credentials shows the ones that are"
                    ),
                ));
            }
        }
        let mut change = TemplateChange::default();
        change.settings.credentials = Some(list);
        self.update_template(caller, template, change).await
    }
}
