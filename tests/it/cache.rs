//! The compiled-code cache: a plugin is compiled once, and only files this
//! host wrote, in a folder only it can write, are ever loaded back.

use rekey::runtime::{CallOptions, Limits, Runtime};
use rekey_test_artifacts::plugins;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn cached_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn load_and_call(cache: &Path) {
    let runtime = Runtime::new(Limits::default(), Some(cache.to_path_buf())).unwrap();
    let plugin = runtime.load(Path::new(plugins::RANDOM)).await.unwrap();
    plugin.generate(&CallOptions::default()).await.result.unwrap();
}

#[tokio::test]
async fn a_plugin_is_compiled_once_into_a_private_file_named_by_its_digest() {
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("code");
    load_and_call(&cache).await;
    let files = cached_files(&cache);
    assert_eq!(files.len(), 1);
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(std::fs::read(plugins::RANDOM).unwrap()));
    assert!(files[0].file_name().unwrap().to_str().unwrap().starts_with(&digest), "{files:?}");
    assert_eq!((mode(&cache), mode(&files[0])), (0o700, 0o600));

    let written = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    load_and_call(&cache).await;
    assert_eq!(std::fs::metadata(&files[0]).unwrap().modified().unwrap(), written, "the second load reuses the file");
}

#[tokio::test]
async fn a_corrupt_cached_file_is_recompiled() {
    let root = tempfile::tempdir().unwrap();
    load_and_call(root.path()).await;
    let file = cached_files(root.path()).remove(0);
    std::fs::write(&file, b"not compiled code").unwrap();
    load_and_call(root.path()).await;
    assert_ne!(std::fs::read(&file).unwrap(), b"not compiled code");
}

#[tokio::test]
async fn a_cached_file_others_can_write_is_never_loaded() {
    let root = tempfile::tempdir().unwrap();
    load_and_call(root.path()).await;
    let file = cached_files(root.path()).remove(0);
    let planted = std::fs::read(&file).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    load_and_call(root.path()).await;
    // Replaced by a fresh, private compilation rather than trusted.
    assert_eq!(mode(&file), 0o600);
    assert_eq!(std::fs::read(&file).unwrap().len(), planted.len());
}

/// The cached description of the `random` plugin.
fn cached_info(dir: &Path) -> PathBuf {
    let code = cached_files(dir).remove(0);
    let name = code.file_name().unwrap().to_str().unwrap().replace(".cwasm", ".info.json");
    dir.join(name)
}

#[tokio::test]
async fn a_plugins_description_is_kept_beside_its_code_and_read_back_instead_of_calling_it() {
    let root = tempfile::tempdir().unwrap();
    load_and_call(root.path()).await;
    let info = cached_info(root.path());
    assert_eq!(mode(&info), 0o600);
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&info).unwrap()).unwrap();
    assert_eq!(kept["name"], "random");

    // Read back, not asked again: an edit of the cached answer shows.
    let edited = std::fs::read_to_string(&info).unwrap().replace("Static secrets", "Edited in the cache");
    std::fs::write(&info, &edited).unwrap();
    let runtime = Runtime::new(Limits::default(), Some(root.path().to_path_buf())).unwrap();
    let plugin = runtime.load(Path::new(plugins::RANDOM)).await.unwrap();
    assert!(plugin.info().description.starts_with("Edited in the cache"), "{}", plugin.info().description);

    // One that others can write is ignored, and the plugin asked again.
    std::fs::set_permissions(&info, std::fs::Permissions::from_mode(0o666)).unwrap();
    let plugin = runtime.load(Path::new(plugins::RANDOM)).await.unwrap();
    assert!(plugin.info().description.starts_with("Static secrets"), "{}", plugin.info().description);
}
