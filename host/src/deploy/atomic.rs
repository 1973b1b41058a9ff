//! Replacing a file so that a reader sees the old content or the new one,
//! never half of either, and a crash loses neither: write a private
//! temporary file beside it, fsync, rename over, fsync the folder.

use super::DeployError;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Replaces `path` with `content`, mode 0600.
pub fn write(path: &Path, content: &[u8]) -> Result<(), DeployError> {
    let fail = |what: &str, e: std::io::Error| DeployError(format!("cannot {what} {}: {e}", path.display()));
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| DeployError(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(".{}.rekey-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        file.write_all(content)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| fail("write", e))
}
