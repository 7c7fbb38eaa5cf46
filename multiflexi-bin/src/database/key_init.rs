//! `encryption:init` on a key file: create it when missing, keep it when present, and replace it
//! only when asked (`force`), keeping the old file beside it, never deleting it.

use super::key_file::{create_key_file_once, read_key_file};
use anyhow::Context;
use multiflexi_store::MasterKey;
use std::path::{Path, PathBuf};

/// What [`init_key_file`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInit {
    /// There was no key file; one was created with this key id.
    Created {
        /// The new key's id.
        key_id: String,
    },
    /// A key file was there; nothing changed.
    Kept {
        /// Its key's id.
        key_id: String,
    },
    /// The old key file was moved to `old_path` and a new key written in its place. Values
    /// sealed with the old key cannot be read with the new one.
    Rotated {
        /// The new key's id.
        key_id: String,
        /// The old key's id.
        old_key_id: String,
        /// Where the old key file is now.
        old_path: PathBuf,
    },
}

/// Creates the key file at `path` when there is none; keeps one that is there unless `force`,
/// which moves it to `<path>.<old key id>.old` (refused when that name is taken) and writes a
/// new key (mode 0600, through a temporary file renamed into place).
pub fn init_key_file(path: &Path, force: bool) -> anyhow::Result<KeyInit> {
    let Some(old) = read_key_file(path)? else {
        let key = MasterKey::generate();
        if create_key_file_once(path, &key)? {
            return Ok(KeyInit::Created {
                key_id: key.id().to_string(),
            });
        }
        // Another process created it meanwhile: that one is the key now.
        let theirs = read_key_file(path)?
            .with_context(|| format!("the key file {} vanished", path.display()))?;
        return Ok(KeyInit::Kept {
            key_id: theirs.id().to_string(),
        });
    };
    if !force {
        return Ok(KeyInit::Kept {
            key_id: old.id().to_string(),
        });
    }
    let safe_id: String = old
        .id()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut old_name = path.as_os_str().to_owned();
    old_name.push(format!(".{safe_id}.old"));
    let old_path = PathBuf::from(old_name);
    std::fs::hard_link(path, &old_path).map_err(|e| {
        anyhow::anyhow!(
            "cannot keep the old key file as {} ({e}); nothing was changed",
            old_path.display()
        )
    })?;
    let key = MasterKey::generate();
    let tmp = path.with_file_name(format!(".multiflexi.key.{}.new", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = create_key_file_once(&tmp, &key)
        .and_then(|_| std::fs::rename(&tmp, path).map_err(anyhow::Error::from));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(&old_path);
        return Err(e.context(format!(
            "cannot write the new key file {}; the old key is still in use",
            path.display()
        )));
    }
    Ok(KeyInit::Rotated {
        key_id: key.id().to_string(),
        old_key_id: old.id().to_string(),
        old_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::KEY_FILE_NAME;

    #[test]
    fn created_then_kept_then_rotated_with_the_old_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        let KeyInit::Created { key_id } = init_key_file(&path, false).unwrap() else {
            panic!("not created")
        };
        assert_eq!(
            init_key_file(&path, false).unwrap(),
            KeyInit::Kept {
                key_id: key_id.clone()
            }
        );
        let before = std::fs::read_to_string(&path).unwrap();
        let KeyInit::Rotated {
            key_id: new_id,
            old_key_id,
            old_path,
        } = init_key_file(&path, true).unwrap()
        else {
            panic!("not rotated")
        };
        assert_eq!(old_key_id, key_id);
        assert_ne!(new_id, key_id);
        assert_eq!(std::fs::read_to_string(&old_path).unwrap(), before);
        assert_ne!(std::fs::read_to_string(&path).unwrap(), before);
        // The old file's name is taken by now only if the same key is rotated again.
        assert!(init_key_file(&path, true).is_ok());
    }
}
