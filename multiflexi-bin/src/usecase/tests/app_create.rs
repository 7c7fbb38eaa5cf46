//! `application:create` under the rules: admin only, no second app of a name or uuid.

use super::{company_token, field_of, operator, usecases};
use crate::usecase::app_create::NewApp;
use multiflexi_core::{CompanyId, Error};

#[tokio::test]
async fn create_app_is_for_admins_and_refuses_a_taken_name_or_uuid() {
    let u = usecases();
    assert_eq!(
        field_of(
            u.create_app(&company_token(CompanyId(1)), NewApp::new("A", "/bin/true"))
                .await
        ),
        "token"
    );
    let mut first = NewApp::new("A", "/bin/true");
    first.uuid = Some("0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11".into());
    let made = u.create_app(&operator(), first).await.unwrap();
    assert!(made.created);
    let mut same_uuid = NewApp::new("B", "/bin/true");
    same_uuid.uuid = Some("0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11".into());
    for again in [NewApp::new("A", "/bin/false"), same_uuid] {
        assert!(matches!(
            u.create_app(&operator(), again).await,
            Err(Error::Conflict { .. })
        ));
    }
    assert_eq!(u.store().list_apps().await.unwrap().len(), 1);
}
