//! The job lifecycle as pure functions: phases, outcomes, the transition table, retries.
//!
//! See [`Phase::apply`] for the phase × event table.
//!
//! ## Vocabulary
//!
//! `phase` is where a job is; `outcome` is how a Completed job ended:
//!
//! | outcome          | exit code            | when                                          |
//! |------------------|----------------------|-----------------------------------------------|
//! | `success`        | 0                    | completed successfully                        |
//! | `warning`        | 1                    | minor issues, check logs                      |
//! | `failed`         | other non-zero       | the job failed                                |
//! | `not_executable` | 126                  | permission denied / not executable            |
//! | `not_found`      | 127                  | command or binary not found                   |
//! | `timeout`        | 128 + signal         | killed after its timeout                      |
//! | `cancelled`      | 128 + signal, or -1 before start | cancelled by an operator          |
//! | `oom`            | 128 + signal         | killed for exceeding its memory limit         |
//! | `lost`           | -1                   | its lease expired (executor gone)             |
//! | `platform_error` | -1                   | engine/API unreachable, image missing…        |
//!
//! Retries ([`retry_at`]): a new job (`trigger = retry`, same slot, `attempt + 1`, `retry_of`)
//! iff `attempt < max_retries` and the outcome is `lost` / `platform_error`, or the exit code is
//! in the template's `retry_on_exit_codes` (else the app's `exitCodes[code].retry`).

mod audit;
mod completion;
mod creation;
mod outcome;
mod phase;
mod retry;
mod trigger;

pub use audit::{DetailWriter, PhaseAudit, phase_action};
pub use completion::{CompletionPlan, plan_completion, planned_actions};
pub use creation::{CreationPlan, Reference, SlotKey, TemplateMarks, plan_creation};
pub use outcome::Outcome;
pub use phase::{Event, Phase, Transition};
pub use retry::{RetryBackoff, RetryPolicy, retry_at};
pub use trigger::Trigger;
