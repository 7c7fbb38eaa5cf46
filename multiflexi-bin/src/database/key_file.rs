//! The key file kept beside a SQLite database when `MULTIFLEXI_MASTER_KEY` is unset: where it
//! is, reading it, and creating it once (mode 0600) even when several processes start together.

use anyhow::{Context, bail};
use multiflexi_store::MasterKey;
use multiflexi_store::crypto::SecretError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The name of the key file kept beside a SQLite database when `MULTIFLEXI_MASTER_KEY` is unset.
pub const KEY_FILE_NAME: &str = "multiflexi.key";

/// The key file beside a SQLite database file.
pub fn key_file_for(db_path: &Path) -> PathBuf {
    match db_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(KEY_FILE_NAME),
        _ => PathBuf::from(KEY_FILE_NAME),
    }
}

/// The key in `path`; `None` when there is no such file.
pub(super) fn read_key_file(path: &Path) -> anyhow::Result<Option<MasterKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = MasterKey::parse(&text).map_err(|e| {
                let why = match e {
                    SecretError::BadKey(why) => why,
                    other => other.to_string(),
                };
                anyhow::anyhow!(
                    "the key file {} is not a master key: {why}; it must hold 32 bytes as 64 hex \
                     digits or base64 (optionally `<key id>:` first); fix or remove it, or set \
                     MULTIFLEXI_MASTER_KEY",
                    path.display()
                )
            })?;
            warn_if_readable_by_others(path);
            Ok(Some(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => bail!("cannot read the key file {}: {e}", path.display()),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: the key file {} can be read by other users; chmod 600 it",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Creates the key file with its content in one step (written to a temporary file, then linked
/// into place, which fails when the file exists). Returns false when another process created it
/// first.
pub(super) fn create_key_file_once(path: &Path, key: &MasterKey) -> anyhow::Result<bool> {
    let tmp = path.with_file_name(format!(".{KEY_FILE_NAME}.{}.tmp", std::process::id()));
    let linked = write_key(&tmp, key, false).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    let created = match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            // A file system without hard links: create the file itself.
            write_key(path, key, true)
        }
        other => other,
    };
    match created {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create the key file {}", path.display())),
    }
}

/// Writes the key to `path` with mode 0600 (`create_new`: fail when it exists).
fn write_key(path: &Path, key: &MasterKey, create_new: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(format!("{}\n", key.to_env_value()).as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_beside_the_database() {
        assert_eq!(
            key_file_for(Path::new("/var/lib/m.db")),
            Path::new("/var/lib/multiflexi.key")
        );
        assert_eq!(key_file_for(Path::new("m.db")), Path::new("multiflexi.key"));
    }

    #[test]
    fn created_once_then_read_back_and_a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        assert!(read_key_file(&path).unwrap().is_none());
        let key = MasterKey::generate();
        assert!(create_key_file_once(&path, &key).unwrap());
        assert!(!create_key_file_once(&path, &MasterKey::generate()).unwrap());
        assert_eq!(read_key_file(&path).unwrap().unwrap().id(), key.id());
        std::fs::write(&path, "not a key").unwrap();
        let err = read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("64 hex"), "{err}");
    }
}
