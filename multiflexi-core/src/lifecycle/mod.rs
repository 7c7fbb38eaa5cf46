//! The job lifecycle as pure functions: phases, outcomes, the transition table, retries.
//!
//! See [`Phase::apply`] for the phase × event table.

mod completion;
mod outcome;
mod phase;
mod retry;
mod trigger;

pub use completion::{CompletionPlan, plan_completion};
pub use outcome::Outcome;
pub use phase::{Event, Phase, Transition};
pub use retry::{RetryBackoff, RetryPolicy, retry_at};
pub use trigger::Trigger;
