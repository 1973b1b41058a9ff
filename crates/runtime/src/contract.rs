//! The WIT contract this host speaks, built into the binary, so that an
//! author in any language can get it from the `rekey` they target
//! (`rekey plugin wit --out DIR`) instead of from a clone of the repository.

pub use super::bindings::CONTRACT_VERSION as VERSION;

/// Each file of `wit/`, by its path there, with its text.
pub const FILES: &[(&str, &str)] = &[
    ("world.wit", include_str!("../../../wit/world.wit")),
    ("provider.wit", include_str!("../../../wit/provider.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("log.wit", include_str!("../../../wit/log.wit")),
    ("destination.wit", include_str!("../../../wit/destination.wit")),
    ("deps/cli.wit", include_str!("../../../wit/deps/cli.wit")),
    ("deps/clocks.wit", include_str!("../../../wit/deps/clocks.wit")),
    ("deps/filesystem.wit", include_str!("../../../wit/deps/filesystem.wit")),
    ("deps/http.wit", include_str!("../../../wit/deps/http.wit")),
    ("deps/io.wit", include_str!("../../../wit/deps/io.wit")),
    ("deps/random.wit", include_str!("../../../wit/deps/random.wit")),
    ("deps/sockets.wit", include_str!("../../../wit/deps/sockets.wit")),
    ("deps/tls.wit", include_str!("../../../wit/deps/tls.wit")),
];

/// Writes the contract into `dir` (created if needed), one file each as
/// in the repository's `wit/`; the paths written.
pub fn write(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    FILES
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn every_file_of_the_repositorys_wit_is_built_in_as_it_is() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
        let mut on_disk = Vec::new();
        for dir in [root.clone(), root.join("deps")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "wit") {
                    on_disk.push(path.strip_prefix(&root).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let mut built_in: Vec<String> = super::FILES.iter().map(|(name, _)| name.to_string()).collect();
        built_in.sort();
        assert_eq!(built_in, on_disk, "a WIT file was added or removed: update runtime/contract.rs");
        let written = tempfile::tempdir().unwrap();
        super::write(written.path()).unwrap();
        for name in &on_disk {
            assert_eq!(
                std::fs::read(written.path().join(name)).unwrap(),
                std::fs::read(root.join(name)).unwrap(),
                "{name}"
            );
        }
    }
}
