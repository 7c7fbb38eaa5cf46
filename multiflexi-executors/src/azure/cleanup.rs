//! Deleting a job's container group on every path: at the end of a launch, in the background
//! when ARM cannot be reached then, and from a drop guard when the launch future is dropped.

use super::arm::ArmClient;
use std::sync::Arc;
use std::time::Duration;

/// Keeps deleting container group `name` until it is gone, for up to an hour (backing off to a
/// minute between tries): for when ARM could not be reached at the end of a launch.
pub fn retry_in_background(arm: Arc<ArmClient>, name: String) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    handle.spawn(async move {
        let mut delay = Duration::from_secs(1);
        let until = tokio::time::Instant::now() + Duration::from_secs(3600);
        while tokio::time::Instant::now() < until {
            tokio::time::sleep(delay).await;
            if arm.delete_group(&name).await.is_ok() {
                tracing::info!(group = %name, "deleted a job's container group after all");
                return;
            }
            delay = (delay * 2).min(Duration::from_secs(60));
        }
        tracing::warn!(group = %name, "gave up deleting a job's container group; reap will");
    });
}

/// Deletes the group when the launch future is dropped before its own cleanup ran (a leaked
/// future runs nothing at all: `reap` is for that).
#[derive(Debug)]
pub struct Guard {
    arm: Arc<ArmClient>,
    name: String,
    armed: bool,
}

impl Guard {
    /// Armed: dropping it deletes the group.
    pub fn new(arm: Arc<ArmClient>, name: String) -> Self {
        Self {
            arm,
            name,
            armed: true,
        }
    }

    /// The launch cleaned up itself.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.armed {
            retry_in_background_now(self.arm.clone(), std::mem::take(&mut self.name));
        }
    }
}

fn retry_in_background_now(arm: Arc<ArmClient>, name: String) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    handle.spawn(async move {
        if arm.delete_group(&name).await.is_err() {
            retry_in_background(arm, name);
        }
    });
}
