//! Listing the containers of a label filter, tolerant of Podman's passing states.

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use std::collections::HashMap;
use std::time::Duration;

/// Every container (running or not) matching `filters`. Podman reports passing states bollard's
/// model does not know (`stopped`, between running and exited): such a listing fails to parse,
/// and is asked again a moment later (up to 2 s) instead of failing the caller.
pub(super) async fn list_labelled(
    docker: &Docker,
    filters: &HashMap<String, Vec<String>>,
) -> std::result::Result<Vec<bollard::models::ContainerSummary>, bollard::errors::Error> {
    let mut tries = 0;
    loop {
        let r = docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(filters)
                    .build(),
            ))
            .await;
        match r {
            Err(bollard::errors::Error::JsonDataError { .. }) if tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}
