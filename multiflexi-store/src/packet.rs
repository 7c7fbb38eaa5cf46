//! MySQL/MariaDB accept no statement larger than `max_allowed_packet` (MariaDB's default is
//! 16 MiB, MySQL 8's 64 MiB): an artifact's content travels in one INSERT, so the store reads
//! the server's limit when it connects and lowers its artifact cap to fit under it.

use crate::error::map_db;
use multiflexi_core::Result;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// What a statement carries besides one artifact's content: the SQL text, the other columns,
/// the protocol's framing — an eighth of the packet, at least 64 KiB.
pub(crate) fn headroom(packet: u64) -> u64 {
    (packet / 8).max(64 * 1024)
}

/// The artifact cap that fits one artifact into one statement under `packet` bytes: the
/// configured cap, or `packet` minus [`headroom`] when that is smaller (never below 1 KiB).
pub(crate) fn fitting_cap(configured: u64, packet: u64) -> u64 {
    configured.min(packet.saturating_sub(headroom(packet)).max(1024))
}

/// The session's `@@max_allowed_packet`.
pub(crate) async fn mysql_max_packet(db: &DatabaseConnection, name: &'static str) -> Result<u64> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT CAST(@@max_allowed_packet AS SIGNED)",
        ))
        .await
        .map_err(|e| map_db(name, "max_allowed_packet", "", e))?;
    let packet: i64 = row
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    Ok(u64::try_from(packet).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_under_the_packet() {
        let mib = 1024 * 1024;
        assert_eq!(fitting_cap(64 * mib, 256 * mib), 64 * mib, "fits already");
        assert_eq!(fitting_cap(64 * mib, 16 * mib), 14 * mib);
        assert_eq!(fitting_cap(64 * mib, 64 * mib), 56 * mib);
        assert_eq!(fitting_cap(64 * mib, 256 * 1024), 192 * 1024);
        assert_eq!(fitting_cap(64 * mib, 0), 1024, "never zero");
        for packet in [1024 * 1024, 4 * mib, 16 * mib, 1024 * mib] {
            assert!(fitting_cap(u64::MAX, packet) + headroom(packet) <= packet);
        }
    }
}
