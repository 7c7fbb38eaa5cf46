//! `queue:fix` and `prune` under the tenant-isolation rules.

use super::{audit_rows, company_token, field_of, operator, usecases};
use multiflexi_core::CompanyId;

#[tokio::test]
async fn queue_fix_is_for_admins_and_quiet_when_nothing_expired() {
    let u = usecases();
    assert_eq!(
        field_of(u.fix_queue(&company_token(CompanyId(1))).await),
        "token"
    );
    let r = u.fix_queue(&operator()).await.unwrap();
    assert!(r.requeued.is_empty() && r.lost.is_empty() && r.retries.is_empty());
    assert!(
        audit_rows(&u).await.is_empty(),
        "nothing changed, nothing audited"
    );
}

#[tokio::test]
async fn prune_refuses_keeping_nothing() {
    let u = usecases();
    assert_eq!(field_of(u.prune_jobs(&operator(), 0, false).await), "keep");
    let p = u.prune_jobs(&operator(), 10, false).await.unwrap();
    assert_eq!((p.kept, p.deleted.len()), (0, 0));
}
