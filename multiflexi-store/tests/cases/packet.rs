//! MySQL/MariaDB: the artifact cap fits under the server's `max_allowed_packet`.

use crate::support::Ctx;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

pub async fn artifact_cap_fits_max_allowed_packet(ctx: &Ctx) {
    let huge = ctx
        .store_with(ctx.options().with_artifact_cap(u64::MAX))
        .await;
    let packet: i64 = huge
        .connection()
        .query_one_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT CAST(@@max_allowed_packet AS SIGNED)",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    let packet = u64::try_from(packet).unwrap();
    let cap = huge.artifact_cap();
    assert!(
        cap > 0 && cap <= packet - packet / 8,
        "cap {cap} leaves no headroom under max_allowed_packet {packet}"
    );
    let small = ctx.store_with(ctx.options().with_artifact_cap(4096)).await;
    assert_eq!(small.artifact_cap(), 4096, "a cap that fits is kept");
}
