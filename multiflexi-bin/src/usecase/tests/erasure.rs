use super::retention::with_finished_jobs;
use super::*;
use crate::usecase::credentials::NewCredential;
use multiflexi_core::model::{JobSpec, NewJob};
use multiflexi_core::store::{ClaimOptions, RunTemplateFilter};
use multiflexi_core::{Clock as _, ExecutorKind, Trigger};

#[tokio::test]
async fn erasure_stops_cancels_refuses_while_running_then_deletes_everything() {
    let (u, clock, company) = with_finished_jobs(2).await;
    let store = u.store().clone();
    let mut filter = RunTemplateFilter::default();
    filter.company_id = Some(company);
    let t = store.list_runtemplates(&filter).await.unwrap().remove(0);
    u.create_credential(&operator(), NewCredential::new(company, "bank", "Bank"))
        .await
        .unwrap();
    let new = |after| {
        NewJob::new(
            t.id,
            company,
            t.app_id,
            ExecutorKind::Native,
            JobSpec::new("/bin/true", vec![]),
            Trigger::Manual,
            after,
        )
    };
    // One job running (claimed), one waiting.
    store.create_and_schedule(&new(clock.now())).await.unwrap();
    store
        .claim(&ClaimOptions::new("x", vec![ExecutorKind::Native], 1))
        .await
        .unwrap();
    let waiting = store
        .create_and_schedule(&new(clock.now() + chrono::Duration::hours(1)))
        .await
        .unwrap();

    assert_eq!(
        field_of(u.erase_company(&company_token(company), company).await),
        "token"
    );
    let refused = u.erase_company(&operator(), company).await;
    assert!(
        matches!(refused, Err(Error::Conflict { .. })),
        "{refused:?}"
    );
    assert!(
        !store.get_runtemplate(t.id).await.unwrap().active,
        "its template is stopped"
    );
    assert!(
        store.get_job(waiting.id).await.unwrap().phase.is_finished(),
        "the waiting job is cancelled"
    );
    assert!(
        store.get_company(company).await.is_ok(),
        "nothing deleted yet"
    );

    // The running job ends; the erasure goes through.
    let running = store
        .list_jobs(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|j| !j.phase.is_finished())
        .unwrap();
    let running = store
        .begin_many(&[multiflexi_core::store::Begin::new(
            multiflexi_core::store::LeaseRef::of(&running),
            None,
            None,
        )])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    store
        .complete_many(&[multiflexi_core::store::Completion::new(
            multiflexi_core::store::LeaseRef::of(&running),
            multiflexi_core::Outcome::Cancelled,
            143,
        )])
        .await
        .unwrap();
    let erased = u.erase_company(&operator(), company).await.unwrap();
    assert_eq!(
        (
            erased.jobs,
            erased.templates,
            erased.credentials,
            erased.company
        ),
        (4, 1, 1, true)
    );
    assert!(
        store
            .list_jobs(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.get_company(company).await,
        Err(Error::NotFound { .. })
    ));
    let last = audit_rows(&u).await.pop().unwrap();
    assert_eq!(last.1, "company:erase");
    assert!(
        last.2.starts_with(&format!("company {company}: 4 job(s)")),
        "{}",
        last.2
    );
    // Nothing left under that id: erasing again deletes nothing and says the row was gone.
    let again = u.erase_company(&operator(), company).await.unwrap();
    assert_eq!((again.jobs, again.company), (0, false));
}
