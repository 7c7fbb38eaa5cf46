//! PostgreSQL `LISTEN` task feeding the store's work signal.
//!
//! Scheduling a job sends `NOTIFY multiflexi_work` in the creating transaction (delivered at
//! commit). This task listens on its own connection and bumps a `watch` counter per
//! notification. Dispatchers mark the counter seen *before* they claim and wait for a change
//! after, so a notification that arrives while a claim is in flight is never lost. When the
//! connection drops, the task reconnects and bumps the counter once (a notification may have
//! been missed meanwhile), so waiters re-check instead of sleeping until their poll.

#![cfg(feature = "postgres")]

use crate::store::NOTIFY_CHANNEL;
use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::watch;

fn bump(tx: &watch::Sender<u64>) {
    tx.send_modify(|v| *v = v.wrapping_add(1));
}

/// Listens until aborted (the store aborts it when dropped).
pub(crate) async fn listen(pool: PgPool, tx: watch::Sender<u64>) {
    let mut delay = Duration::from_millis(100);
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(NOTIFY_CHANNEL).await {
                Ok(()) => {
                    delay = Duration::from_millis(100);
                    // Anything sent while we were not listening is unknown: make waiters look.
                    bump(&tx);
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => bump(&tx),
                            // The connection was lost; the next call reconnects. Notifications
                            // in between are lost, so wake waiters to look for themselves.
                            Ok(None) => bump(&tx),
                            Err(e) => {
                                tracing::warn!(error = %e, "LISTEN {NOTIFY_CHANNEL} failed; reconnecting");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "LISTEN {NOTIFY_CHANNEL} failed; retrying"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot open the LISTEN connection; retrying"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
