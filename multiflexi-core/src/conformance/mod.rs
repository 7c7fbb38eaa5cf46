//! Conformance suites every backend runs under its own test names (feature `conformance`).
//!
//! - [`store`]: cases taking a fresh `&dyn Store`; expand them with
//!   [`store_conformance_tests!`](crate::store_conformance_tests).
//! - [`engine`]: end-to-end engine scenarios (Scheduler + Dispatcher + FakeExecutor) on any
//!   store; expand them with [`engine_conformance_tests!`](crate::engine_conformance_tests).
//! - [`executor`]: cases taking an executor and the test programs it can run; expand them with
//!   [`executor_conformance_tests!`](crate::executor_conformance_tests).

pub mod engine;
pub mod executor;
pub mod store;
