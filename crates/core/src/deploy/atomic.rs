//! Replacing a file so that a reader sees the old content or the new one,
//! never half of either, and a crash loses neither: write a private
//! temporary file beside it, fsync, rename over, fsync the folder.
//!
//! Edits of one file are serialized, within this process and across
//! processes, by an exclusive lock on its folder: two credentials
//! deployed to one env file at once each keep the other's variable.

use super::DeployError;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Replaces `path` with `content`, mode 0600.
pub fn write(path: &Path, content: &[u8]) -> Result<(), DeployError> {
    replace(path, || Ok(content.to_vec()))
}

/// Replaces the text file at `path` with what `edit` makes of its text
/// (`None` when the file does not exist), read and written under the
/// folder's lock.
pub fn update(
    path: &Path,
    edit: impl FnOnce(Option<String>) -> Result<Vec<u8>, DeployError>,
) -> Result<(), DeployError> {
    replace(path, || match std::fs::read_to_string(path) {
        Ok(text) => edit(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => edit(None),
        Err(e) => Err(DeployError(format!("cannot read {}: {e}", path.display()))),
    })
}

/// Replaces `path` with what `content` makes, called under the lock.
fn replace(path: &Path, content: impl FnOnce() -> Result<Vec<u8>, DeployError>) -> Result<(), DeployError> {
    let fail = |what: &str, e: std::io::Error| DeployError(format!("cannot {what} {}: {e}", path.display()));
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| DeployError(format!("{} is not a file path", path.display())))?;
    let folder = std::fs::File::open(dir).map_err(|e| fail("write", e))?;
    rustix::fs::flock(&folder, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| fail("lock the folder of", e.into()))?;
    let content = content()?;
    // Under the lock, no other writer of this folder uses the name.
    let tmp = dir.join(format!(".{}.rekey-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        file.write_all(&content)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        folder.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| fail("write", e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn concurrent_edits_of_one_file_each_keep_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.env");
        std::thread::scope(|scope| {
            for i in 0..8 {
                let path = &path;
                scope.spawn(move || {
                    super::update(path, |old| Ok(format!("{}V{i}=x\n", old.unwrap_or_default()).into_bytes())).unwrap()
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 8, "{text}");
    }
}
