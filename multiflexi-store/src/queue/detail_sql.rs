//! An audit detail as a PostgreSQL expression over a statement's own rows, for the texts that
//! its set-wise claim and start write in the same statement as the rows (a claim's lease token
//! and expiry are known only to the database).

use multiflexi_core::lifecycle::DetailWriter;

/// Renders [`DetailWriter`] pieces as one PostgreSQL `text` expression; the values are SQL
/// expressions (columns of the rows being written).
#[derive(Debug, Default)]
pub(super) struct PgDetail {
    pieces: Vec<String>,
}

impl PgDetail {
    /// The expression: the pieces concatenated with `||`.
    pub(super) fn sql(&self) -> String {
        self.pieces.join(" || ")
    }
}

impl DetailWriter for PgDetail {
    type Integer = &'static str;
    type Instant = &'static str;
    type Optional = &'static str;
    fn text(&mut self, text: &str) {
        self.pieces.push(format!("'{}'", text.replace('\'', "''")));
    }
    fn integer(&mut self, value: &str) {
        self.pieces.push(format!("({value})::text"));
    }
    fn or_dash(&mut self, value: &str) {
        self.pieces.push(format!("COALESCE(({value})::text, '-')"));
    }
    fn instant_micros(&mut self, value: &str) {
        self.pieces.push(format!(
            r#"to_char(({value}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"#
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiflexi_core::lifecycle::PhaseAudit;

    #[test]
    fn a_detail_is_one_expression_over_the_written_rows() {
        let mut d = PgDetail::default();
        PhaseAudit::write_queued(&mut d, "c.lease_token", "c.lease_expires");
        assert_eq!(
            d.sql(),
            r#"'lease_token=' || (c.lease_token)::text || ' expires=' || to_char((c.lease_expires) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"#
        );
        let mut started = PgDetail::default();
        PhaseAudit::write_running(&mut started, "s.pid", "s.external_id");
        assert_eq!(
            started.sql(),
            "'pid=' || COALESCE((s.pid)::text, '-') || ' external_id=' || COALESCE((s.external_id)::text, '-')"
        );
        let mut quoted = PgDetail::default();
        quoted.text("it's");
        assert_eq!(quoted.sql(), "'it''s'");
    }
}
