//! For backend authors, not for users of a store: the default implementations a new backend
//! can fall back on, and the errors and texts every backend must produce alike (the
//! conformance suite checks them).

pub use super::actions::action_conflict;
pub use super::job_queue::{begin_then_finish, fence_conflict, finish_separately};
pub use super::output_log::check_chunks_of;
pub use super::release::release_audit_detail;
