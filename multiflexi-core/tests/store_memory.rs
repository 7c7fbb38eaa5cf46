//! The store conformance suite on [`InMemoryStore`], the reference every SQL store must match.

use multiflexi_core::artifact::ArtifactSink;
use multiflexi_core::conformance::store::{StoreHarness, manual_clock};
use multiflexi_core::{InMemoryStore, Store};
use std::sync::Arc;

/// The suite with the store as both `Store` and `ArtifactSink`.
mod in_memory {
    use super::*;

    multiflexi_core::store_conformance_tests!(async {
        let clock = manual_clock();
        let store = Arc::new(InMemoryStore::with_clock(clock.clone()));
        StoreHarness::new(store.clone(), store, clock)
    });
}

/// The suite again, the store built behind `Arc<dyn Store>` / `Arc<dyn ArtifactSink>` by a
/// factory (as a binary wires it) and handed over as the harness tuple.
mod through_trait_objects {
    use super::*;

    fn build(clock: Arc<multiflexi_core::ManualClock>) -> (Arc<dyn Store>, Arc<dyn ArtifactSink>) {
        let store = Arc::new(InMemoryStore::with_clock(clock).with_artifact_cap(1024 * 1024));
        (store.clone(), store)
    }

    multiflexi_core::store_conformance_tests!(async {
        let clock = manual_clock();
        let (store, artifacts) = build(clock.clone());
        (store, artifacts, clock)
    });
}

/// Behaviour specific to InMemoryStore's configuration: the artifact size cap.
mod artifact_cap {
    use super::*;
    use multiflexi_core::Trigger;
    use multiflexi_core::artifact::DEFAULT_ARTIFACT_CAP;
    use multiflexi_core::conformance::store::start_instant;
    use multiflexi_core::model::ExecutorKind;
    use multiflexi_core::model::{App, Company, JobSpec, NewJob, RunTemplate};
    use multiflexi_core::store::{Catalog, ClaimOptions, JobQueue, LeaseRef};

    /// A claimed job's lease (artifacts are written under it).
    async fn job(store: &InMemoryStore) -> LeaseRef {
        let app = store.put_app(&App::new("a", "/bin/true")).await.unwrap();
        let company = store.create_company(&Company::new("c")).await.unwrap();
        let t = store
            .create_runtemplate(&RunTemplate::new(app.id, company.id, "t"))
            .await
            .unwrap();
        let new = NewJob::new(
            t.id,
            company.id,
            app.id,
            t.executor,
            JobSpec::new("/bin/true", vec![]),
            Trigger::Manual,
            start_instant(),
        );
        store.create_and_schedule(&new).await.unwrap();
        let claim = ClaimOptions::new("executor-1", vec![ExecutorKind::Native], 1);
        LeaseRef::of(&store.claim(&claim).await.unwrap()[0])
    }

    #[tokio::test]
    async fn content_over_the_cap_is_truncated_with_a_note() {
        let store = InMemoryStore::with_clock(manual_clock()).with_artifact_cap(10);
        assert_eq!(store.artifact_cap(), 10);
        let j = job(&store).await;
        let mut content: &[u8] = b"0123456789abcdef\x00\xff";
        let id = store
            .put(j, "out.bin", "application/octet-stream", &mut content)
            .await
            .unwrap();
        let a = store.get(id).await.unwrap();
        assert_eq!(a.content, b"0123456789");
        assert_eq!(a.meta.size, 10);
        let note = a.meta.note.expect("a truncation note");
        assert!(note.contains("10") && note.contains("18"), "{note}");

        // exactly at the cap: no note; a re-put replaces the note too
        let mut content: &[u8] = b"0123456789";
        assert_eq!(store.put(j, "out.bin", "", &mut content).await.unwrap(), id);
        let a = store.get(id).await.unwrap();
        assert_eq!(
            (a.content.as_slice(), a.meta.note),
            (&b"0123456789"[..], None)
        );
        assert_eq!(
            a.meta.content_type, "application/octet-stream",
            "detected (from the name) when not given"
        );
    }

    #[tokio::test]
    async fn default_cap_is_64_mib() {
        let store = InMemoryStore::new();
        assert_eq!(store.artifact_cap(), DEFAULT_ARTIFACT_CAP);
        assert_eq!(DEFAULT_ARTIFACT_CAP, 64 * 1024 * 1024);
        assert!(format!("{store:?}").contains("InMemoryStore"));
    }
}
