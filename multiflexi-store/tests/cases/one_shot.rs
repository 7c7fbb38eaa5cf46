//! The one-shot store (`SqlStoreOptions::one_shot`, what `multiflexi-cli` opens).

use crate::support::Ctx;
use multiflexi_core::store::{Catalog as _, JobQueue as _};

/// A one-shot store on a SQLite file starts no writer thread (and so no checkpointer), while a
/// daemon's store on the same file does; both see what the other wrote.
pub async fn runs_no_writer_thread(ctx: &Ctx) {
    let one_shot = ctx.store().await;
    assert!(!one_shot.runs_writer_thread());
    let daemon = ctx
        .store_with(
            multiflexi_store::SqlStoreOptions::default()
                .with_master_key(ctx.key.clone())
                .with_clock(ctx.clock.clone() as std::sync::Arc<dyn multiflexi_core::Clock>),
        )
        .await;
    assert!(daemon.runs_writer_thread());
    let fx = super::fixture(&one_shot).await;
    assert_eq!(daemon.get_app(fx.app.id).await.unwrap(), fx.app);
    let overview = one_shot.queue_overview().await.unwrap();
    assert_eq!(overview, daemon.queue_overview().await.unwrap());
}
