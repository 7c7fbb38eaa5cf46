//! Secrets at rest: XChaCha20-Poly1305 under the master key (`MULTIFLEXI_MASTER_KEY`).
//!
//! ## Key format
//!
//! `MULTIFLEXI_MASTER_KEY` holds 32 random bytes, written as 64 hex digits or as base64
//! (standard or URL-safe alphabet, padding optional), optionally prefixed by a key id and a colon:
//! `prod2026:3q2+7w…`. Without an id, the id is derived from the key (`k` + 8 hex digits of
//! SHA-256), so it never reveals the key. Generate one with `openssl rand -base64 32`.
//!
//! ## Sealed format
//!
//! A sealed blob is `mfenc1:<key id>:` followed by a random 24-byte nonce and the ciphertext with
//! its 16-byte tag. The associated data names where the value lives (`job.env`,
//! `credential_values.value`, …), so a blob cannot be moved to another column. Text columns hold
//! the blob as `mfenc1:<key id>:<base64 of nonce ‖ ciphertext>`. Because the key id travels with
//! every blob, keys can rotate: configure the new key as the master key and the old ones as
//! [`MasterKey`]s in `SqlStoreOptions::old_keys`; values are read with whichever key they name
//! and written with the current one.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use multiflexi_core::Error;
use sha2::{Digest, Sha256};
use std::fmt;

/// The prefix of every sealed value.
pub const SEALED_PREFIX: &str = "mfenc1:";
/// The prefix of an unencrypted job blob (no master key and no secret in it).
const PLAIN_PREFIX: &[u8] = b"mfplain1:";
const NONCE_LEN: usize = 24;

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The master key variable is malformed.
    #[error(
        "MULTIFLEXI_MASTER_KEY is malformed: {0}; expected 32 bytes as 64 hex digits or base64, optionally prefixed by `<key id>:`"
    )]
    BadKey(String),
    /// A secret must be written but no key is configured.
    #[error(
        "cannot store {0}: it holds secrets and no master key is configured (set MULTIFLEXI_MASTER_KEY to 32 random bytes, hex or base64)"
    )]
    NoKey(String),
    /// The blob names a key that is not configured.
    #[error(
        "cannot read {what}: it is encrypted with key id {key_id:?}, which is not configured (MULTIFLEXI_MASTER_KEY{configured})"
    )]
    UnknownKey {
        /// Which value.
        what: String,
        /// The key id the blob names.
        key_id: String,
        /// What is configured.
        configured: String,
    },
    /// Decryption failed (wrong key under the same id, or tampered data).
    #[error(
        "cannot read {0}: decryption failed (wrong MULTIFLEXI_MASTER_KEY for its key id, or the data was altered)"
    )]
    Decrypt(String),
    /// The stored value is not a blob this code knows.
    #[error("cannot read {0}: not a sealed value")]
    Malformed(String),
}

impl From<SecretError> for Error {
    fn from(e: SecretError) -> Self {
        Error::backend("secrets", false, e)
    }
}

/// A 32-byte master key with its id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A key from raw bytes; the id is derived from the key.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"multiflexi master key id\0")
            .chain_update(key)
            .finalize();
        Self {
            id: format!("k{}", hex::encode(&digest[..4])),
            key,
        }
    }

    /// A key with an explicit id (letters, digits, `-`, `_`, `.`).
    pub fn with_id(id: impl Into<String>, key: [u8; 32]) -> Result<Self, SecretError> {
        let id = id.into();
        if id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(SecretError::BadKey(format!(
                "key id {id:?} must be 1-64 letters, digits, '-', '_' or '.'"
            )));
        }
        Ok(Self { id, key })
    }

    /// Parses the `MULTIFLEXI_MASTER_KEY` format (see the module docs).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let (id, material) = match text.rsplit_once(':') {
            Some((id, m)) => (Some(id), m),
            None => (None, text),
        };
        let bytes = decode_key_material(material)?;
        match id {
            Some(id) => Self::with_id(id, bytes),
            None => Ok(Self::from_bytes(bytes)),
        }
    }

    /// The key from `MULTIFLEXI_MASTER_KEY`, `None` when unset or empty.
    pub fn from_env() -> Result<Option<Self>, SecretError> {
        match std::env::var("MULTIFLEXI_MASTER_KEY") {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        Self::from_bytes(key)
    }

    /// The key as `MULTIFLEXI_MASTER_KEY` accepts it (id and base64).
    pub fn to_env_value(&self) -> String {
        format!("{}:{}", self.id, STANDARD.encode(self.key))
    }

    /// The key id written into every blob.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new_from_slice(&self.key).expect("32-byte key")
    }
}

fn decode_key_material(m: &str) -> Result<[u8; 32], SecretError> {
    let bytes = if m.len() == 64 && m.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(m).map_err(|e| SecretError::BadKey(e.to_string()))?
    } else {
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(m).ok())
            .ok_or_else(|| SecretError::BadKey("neither 64 hex digits nor base64".into()))?
    };
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| SecretError::BadKey(format!("the key is {} bytes, not 32", b.len())))
}

/// The keys a store seals and opens with.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    current: Option<MasterKey>,
    old: Vec<MasterKey>,
}

impl Keyring {
    /// A keyring writing with `current` and also reading with `old`.
    pub fn new(current: Option<MasterKey>, old: Vec<MasterKey>) -> Self {
        Self { current, old }
    }

    fn find(&self, id: &str) -> Option<&MasterKey> {
        self.current
            .iter()
            .chain(self.old.iter())
            .find(|k| k.id == id)
    }

    fn configured(&self) -> String {
        match &self.current {
            None => " is not set".into(),
            Some(k) => format!(" has key id {:?}", k.id),
        }
    }

    /// Seals `plain` as a binary blob bound to `context`.
    pub fn seal_bytes(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>, SecretError> {
        let key = self
            .current
            .as_ref()
            .ok_or_else(|| SecretError::NoKey(context.to_string()))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let ct = key
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Decrypt(context.to_string()))?;
        let mut out =
            Vec::with_capacity(SEALED_PREFIX.len() + key.id.len() + 1 + NONCE_LEN + ct.len());
        out.extend_from_slice(SEALED_PREFIX.as_bytes());
        out.extend_from_slice(key.id.as_bytes());
        out.push(b':');
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a blob made by [`Keyring::seal_bytes`].
    pub fn open_bytes(&self, context: &str, blob: &[u8]) -> Result<Vec<u8>, SecretError> {
        let rest = blob
            .strip_prefix(SEALED_PREFIX.as_bytes())
            .ok_or_else(|| SecretError::Malformed(context.to_string()))?;
        let colon = rest
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| SecretError::Malformed(context.to_string()))?;
        let id = std::str::from_utf8(&rest[..colon])
            .map_err(|_| SecretError::Malformed(context.to_string()))?;
        let body = &rest[colon + 1..];
        if body.len() < NONCE_LEN + 16 {
            return Err(SecretError::Malformed(context.to_string()));
        }
        let key = self.find(id).ok_or_else(|| SecretError::UnknownKey {
            what: context.to_string(),
            key_id: id.to_string(),
            configured: self.configured(),
        })?;
        let nonce: [u8; NONCE_LEN] = body[..NONCE_LEN].try_into().expect("length checked");
        key.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &body[NONCE_LEN..],
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Decrypt(context.to_string()))
    }

    /// Seals a text value for a text column.
    pub fn seal_text(&self, context: &str, plain: &str) -> Result<String, SecretError> {
        let blob = self.seal_bytes(context, plain.as_bytes())?;
        let header_len = blob
            .iter()
            .skip(SEALED_PREFIX.len())
            .position(|&b| b == b':')
            .expect("sealed blobs have a key id")
            + SEALED_PREFIX.len()
            + 1;
        let header = std::str::from_utf8(&blob[..header_len]).expect("ascii header");
        Ok(format!("{header}{}", STANDARD.encode(&blob[header_len..])))
    }

    /// Opens a text value made by [`Keyring::seal_text`].
    pub fn open_text(&self, context: &str, stored: &str) -> Result<String, SecretError> {
        let rest = stored
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| SecretError::Malformed(context.to_string()))?;
        let (id, b64) = rest
            .split_once(':')
            .ok_or_else(|| SecretError::Malformed(context.to_string()))?;
        let body = STANDARD
            .decode(b64)
            .map_err(|_| SecretError::Malformed(context.to_string()))?;
        let mut blob = format!("{SEALED_PREFIX}{id}:").into_bytes();
        blob.extend_from_slice(&body);
        let plain = self.open_bytes(context, &blob)?;
        String::from_utf8(plain).map_err(|_| SecretError::Malformed(context.to_string()))
    }

    /// Seals a job blob when it holds secrets or a key is configured; otherwise keeps it readable
    /// (marked as plain) so a store without a key still runs jobs that carry no secrets.
    pub fn seal_job(
        &self,
        context: &str,
        plain: &[u8],
        has_secrets: bool,
    ) -> Result<Vec<u8>, SecretError> {
        if self.current.is_none() && !has_secrets {
            let mut out = PLAIN_PREFIX.to_vec();
            out.extend_from_slice(plain);
            return Ok(out);
        }
        self.seal_bytes(context, plain)
    }

    /// Opens a blob made by [`Keyring::seal_job`].
    pub fn open_job(&self, context: &str, blob: &[u8]) -> Result<Vec<u8>, SecretError> {
        match blob.strip_prefix(PLAIN_PREFIX) {
            Some(plain) => Ok(plain.to_vec()),
            None => self.open_bytes(context, blob),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_base64_and_ids() {
        let hex_key = "00".repeat(32);
        let k = MasterKey::parse(&hex_key).unwrap();
        assert!(k.id().starts_with('k') && k.id().len() == 9);
        let b64 = STANDARD.encode([7u8; 32]);
        let k2 = MasterKey::parse(&format!("prod-1:{b64}")).unwrap();
        assert_eq!(k2.id(), "prod-1");
        assert_eq!(MasterKey::parse(&k2.to_env_value()).unwrap().key, [7u8; 32]);
        let err = MasterKey::parse("abcd").unwrap_err().to_string();
        assert!(err.contains("MULTIFLEXI_MASTER_KEY"), "{err}");
        let short = STANDARD.encode([1u8; 16]);
        assert!(
            MasterKey::parse(&short)
                .unwrap_err()
                .to_string()
                .contains("16 bytes")
        );
    }

    #[test]
    fn seal_open_and_wrong_keys() {
        let ring = Keyring::new(Some(MasterKey::generate()), vec![]);
        let s = ring
            .seal_text("credential_values.value", "hunter2")
            .unwrap();
        assert!(!s.contains("hunter2"));
        assert_eq!(
            ring.open_text("credential_values.value", &s).unwrap(),
            "hunter2"
        );
        // bound to its column
        assert!(ring.open_text("company_env.value", &s).is_err());
        // another key: clear error naming the key id
        let other = Keyring::new(Some(MasterKey::generate()), vec![]);
        let err = other
            .open_text("credential_values.value", &s)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not configured"), "{err}");
        // no key at all
        let none = Keyring::default();
        let err = none.open_text("x", &s).unwrap_err().to_string();
        assert!(err.contains("is not set"), "{err}");
        assert!(matches!(
            none.seal_text("x", "v"),
            Err(SecretError::NoKey(_))
        ));
        // same id, wrong key
        let a = Keyring::new(Some(MasterKey::with_id("same", [1; 32]).unwrap()), vec![]);
        let b = Keyring::new(Some(MasterKey::with_id("same", [2; 32]).unwrap()), vec![]);
        let blob = a.seal_bytes("job.env", b"{}").unwrap();
        assert!(matches!(
            b.open_bytes("job.env", &blob),
            Err(SecretError::Decrypt(_))
        ));
    }

    #[test]
    fn rotation_reads_old_keys() {
        let old = MasterKey::generate();
        let v = Keyring::new(Some(old.clone()), vec![])
            .seal_bytes("c", b"x")
            .unwrap();
        let ring = Keyring::new(Some(MasterKey::generate()), vec![old]);
        assert_eq!(ring.open_bytes("c", &v).unwrap(), b"x");
    }
}
