//! The HTTP API and the dashboard over real HTTP, on a SQLite file store.
//!
//! `api` covers every endpoint with its bad-input and auth cases (and runs schemathesis against
//! the live server); `dashboard` drives headless Chromium through the pages.

mod api;
mod dashboard;
mod server;
