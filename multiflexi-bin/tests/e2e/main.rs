//! The binaries end to end, in one test binary (linked once), a module each:
//!
//! - `actions`: actions after completion (webhooks to a real receiver, chained jobs) through
//!   the executor daemon;
//! - `cli`: `multiflexi-cli` commands on temporary SQLite databases;
//! - `daemons`: `multiflexi serve`, the scheduler and executor daemons, driven by the CLI;
//! - `telemetry`: OTLP, Prometheus and Zabbix export;
//! - `api`: the JSON API over real HTTP (every endpoint, bad input, auth, schemathesis);
//! - `dashboard`: the dashboard over HTTP and in headless Chromium;
//! - `server`: the in-process HTTP server the last two use;
//! - `job_supervisor`: builds the Native executor's job supervisor program next to the binaries.

mod actions;
mod api;
mod cli;
mod daemons;
mod dashboard;
mod isolation;
mod job_supervisor;
mod server;
mod telemetry;
mod upstream;
