//! The engine scenarios (Scheduler + Dispatcher + FakeExecutor, end to end) on [`InMemoryStore`].

use multiflexi_core::InMemoryStore;
use multiflexi_core::conformance::store::{StoreHarness, manual_clock};
use std::sync::Arc;

multiflexi_core::engine_conformance_tests!(async {
    let clock = manual_clock();
    let store = Arc::new(InMemoryStore::with_clock(clock.clone()));
    StoreHarness::new(store.clone(), store, clock)
});
