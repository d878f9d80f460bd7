//! Secret values: [`SecretString`] (never printed) and [`MasterKey`] (encrypts the
//! stored secrets, kept in `<data_dir>/master.key` or given as `K9_MASTER_KEY`).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rand::RngCore;

use crate::StoreError;

/// A secret (secret access key, session token) that must not end up in logs.
///
/// `Debug` and `Display` print `***`; [`SecretString::expose`] gives the value to the
/// code that really needs it (signature verification, the one-time admin output).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Serializes the secret's value. Only for the structs whose purpose is to hand a new
/// secret to its owner once ([`crate::NewAccessKey`], [`crate::NewSession`]);
/// `SecretString` itself deliberately does not implement `Serialize`.
pub(crate) fn serialize_exposed<S: serde::Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

/// The AES-256-GCM key that encrypts the stored secrets.
///
/// Kept as 64 hex characters in `<data_dir>/master.key` (mode 0600), or given in the
/// `K9_MASTER_KEY` environment variable. `Debug` does not print it.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// The key file's name inside the data directory.
    pub const FILE_NAME: &'static str = "master.key";

    /// Reads `<data_dir>/master.key`, or creates it with a new random key if it does not
    /// exist. The file is created with mode 0600 from the start (never chmod-ed later);
    /// the data directory is created (mode 0700) if needed.
    ///
    /// Creation is race-free: the key is written to a temporary file and hard-linked into
    /// place, so two processes starting at once end up with the same key.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, StoreError> {
        create_data_dir(data_dir)?;
        let path = data_dir.join(Self::FILE_NAME);
        match fs::read_to_string(&path) {
            Ok(text) => {
                warn_if_readable_by_others(&path);
                Self::from_hex(&text)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let key = Self::generate();
                key.write_new_file(data_dir, &path)?;
                // Another process may have created the file first: use whatever is there.
                let text = fs::read_to_string(&path).map_err(|source| StoreError::Io {
                    action: "read the master key file",
                    path: path.clone(),
                    source,
                })?;
                Self::from_hex(&text)
            }
            Err(source) => Err(StoreError::Io {
                action: "read the master key file",
                path,
                source,
            }),
        }
    }

    /// Parses 64 hex characters (surrounding whitespace ignored), as in `K9_MASTER_KEY`.
    pub fn from_hex(text: &str) -> Result<Self, StoreError> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key).map_err(|_| StoreError::InvalidMasterKey {
            message: "expected 64 hex characters (32 bytes), as in the master.key file".into(),
        })?;
        Ok(Self(key))
    }

    /// A new random key from the operating system's CSPRNG-seeded generator.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self(key)
    }

    /// The 64-hex-character form, e.g. to set `K9_MASTER_KEY` elsewhere.
    pub fn to_hex(&self) -> SecretString {
        SecretString(hex::encode(self.0))
    }

    /// The raw key bytes, for the cipher.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Writes the key to a new 0600 temporary file, fsyncs it, and links it to `path`
    /// unless `path` already exists.
    fn write_new_file(&self, data_dir: &Path, path: &Path) -> Result<(), StoreError> {
        let suffix: u64 = rand::random();
        let tmp = data_dir.join(format!(".{}.{suffix:016x}.tmp", Self::FILE_NAME));
        let io_error = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io {
                action,
                path,
                source,
            }
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_error("create the master key file", &tmp))?;
        let written = file
            .write_all(format!("{}\n", self.to_hex().expose()).as_bytes())
            .and_then(|()| file.sync_all());
        let linked = written.and_then(|()| match fs::hard_link(&tmp, path) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
            other => other,
        });
        // The temporary name is only a staging step; removing it cannot lose the key.
        let _ = fs::remove_file(&tmp);
        linked.map_err(io_error("create the master key file", path))?;
        sync_dir(data_dir);
        Ok(())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Creates the data directory (and parents) with mode 0700 if it does not exist.
pub(crate) fn create_data_dir(data_dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .map_err(|source| StoreError::Io {
            action: "create the data directory",
            path: data_dir.to_path_buf(),
            source,
        })
}

/// Makes a new directory entry durable; best effort, as not every file system allows it.
fn sync_dir(dir: &Path) {
    if let Err(e) = fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "could not fsync the data directory");
    }
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the master key file is readable by other users; it should be mode 600"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_string_debug_and_display_hide_the_value() {
        let secret = SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(secret.expose(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    }

    #[test]
    fn master_key_debug_hides_the_key() {
        let key = MasterKey::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(format!("{key:?}"), "MasterKey(***)");
    }

    #[test]
    fn master_key_hex_round_trips_and_ignores_surrounding_whitespace() {
        let key = MasterKey::generate();
        let hex = key.to_hex();
        let again = MasterKey::from_hex(&format!("  {}\n", hex.expose())).unwrap();
        assert_eq!(again.bytes(), key.bytes());
    }

    #[test]
    fn master_key_of_wrong_length_or_alphabet_is_rejected_without_echoing_it() {
        for bad in ["", "abcd", &"g".repeat(64), &"a".repeat(66)] {
            let err = MasterKey::from_hex(bad).unwrap_err();
            assert!(matches!(err, StoreError::InvalidMasterKey { .. }), "{err}");
            assert!(bad.len() < 8 || !err.to_string().contains(bad));
        }
    }

    #[test]
    fn master_key_file_is_created_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let created = MasterKey::load_or_create(&data_dir).unwrap();
        let path = data_dir.join(MasterKey::FILE_NAME);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        let reloaded = MasterKey::load_or_create(&data_dir).unwrap();
        assert_eq!(reloaded.bytes(), created.bytes());
        let leftovers: Vec<_> = fs::read_dir(&data_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            vec![std::ffi::OsString::from(MasterKey::FILE_NAME)]
        );
    }

    #[test]
    fn damaged_master_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(MasterKey::FILE_NAME), "not hex").unwrap();
        assert!(matches!(
            MasterKey::load_or_create(dir.path()),
            Err(StoreError::InvalidMasterKey { .. })
        ));
    }
}
