//! Shared modules of the multiflexi binaries: configuration from the environment (ARCHITECTURE
//! §10). The binaries themselves are thin `main`s over the library crates.

mod allocator;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod database;
pub mod http;
pub mod multicall;
pub mod telemetry;
pub mod usecase;
