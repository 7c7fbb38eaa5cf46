//! Free-text fields of the objects the use cases write (an e-mail, a Zabbix host, a
//! description): trimmed, empty meaning "none", never a NUL character (which PostgreSQL cannot
//! store).

use multiflexi_core::{Error, Result};

/// `value` trimmed, `None` when empty; refused when it holds a NUL character.
pub fn optional_text(field: &str, value: &str) -> Result<Option<String>> {
    let t = value.trim();
    if t.contains('\0') {
        return Err(Error::invalid(
            field,
            format!("{field} holds a NUL character; give plain text"),
        ));
    }
    Ok(Some(t.to_string()).filter(|t| !t.is_empty()))
}
