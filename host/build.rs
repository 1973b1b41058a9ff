//! Carries the SDK this binary was built with, so that `rekey plugin sdk`
//! and `rekey plugin new` can write it out and a new Rust plugin builds
//! on a machine with only the `rekey` binary and a Rust toolchain. Its
//! manifest is written as `cargo package` would: with the workspace's
//! values filled in where it inherits them.

use std::path::{Path, PathBuf};

fn main() {
    let host = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = host.parent().expect("the host crate lives in the workspace");
    let sdk = root.join("sdk");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    for watched in [root.join("Cargo.toml"), sdk.join("Cargo.toml"), sdk.join("build.rs"), sdk.join("src")] {
        println!("cargo::rerun-if-changed={}", watched.display());
    }
    let manifest = standalone_manifest(&read(&root.join("Cargo.toml")), &read(&sdk.join("Cargo.toml")));
    std::fs::write(out.join("sdk-Cargo.toml"), manifest).expect("OUT_DIR is writable");
    let mut files = vec![("build.rs".to_string(), sdk.join("build.rs"))];
    sources(&sdk, &sdk.join("src"), &mut files);
    files.sort();
    let entries: String = files
        .iter()
        .map(|(name, path)| format!("    ({name:?}, include_str!({:?})),\n", path.display().to_string()))
        .collect();
    let code = format!(
        "/// The SDK's files but its manifest and WIT, by path in the crate.\npub const SOURCES: &[(&str, &str)] = &[\n{entries}];\n"
    );
    std::fs::write(out.join("sdk_sources.rs"), code).expect("OUT_DIR is writable");
}

fn read(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The SDK's manifest with every `workspace = true` replaced by the
/// workspace's value (a dependency keeps its own extra keys, such as
/// `features`).
fn standalone_manifest(workspace: &toml::Table, sdk: &toml::Table) -> String {
    let shared = &workspace["workspace"];
    let mut manifest = sdk.clone();
    let inherited = |value: &toml::Value| value.get("workspace").and_then(toml::Value::as_bool) == Some(true);
    if let Some(package) = manifest.get_mut("package").and_then(toml::Value::as_table_mut) {
        for (key, value) in package.iter_mut() {
            if inherited(value) {
                *value = shared["package"][key.as_str()].clone();
            }
        }
    }
    for section in ["dependencies", "build-dependencies", "dev-dependencies"] {
        let Some(dependencies) = manifest.get_mut(section).and_then(toml::Value::as_table_mut) else { continue };
        for (name, spec) in dependencies.iter_mut() {
            if !inherited(spec) {
                continue;
            }
            let mut resolved = match &shared["dependencies"][name.as_str()] {
                toml::Value::String(version) => {
                    toml::Table::from_iter([("version".to_string(), version.clone().into())])
                }
                toml::Value::Table(table) => table.clone(),
                other => panic!("workspace dependency {name}: {other}"),
            };
            for (key, value) in spec.as_table().into_iter().flatten().filter(|(key, _)| *key != "workspace") {
                resolved.insert(key.clone(), value.clone());
            }
            *spec = toml::Value::Table(resolved);
        }
    }
    manifest.to_string()
}

/// Every file under `dir`, by its path from `base`.
fn sources(base: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a readable folder").path();
        if path.is_dir() {
            sources(base, &path, files);
        } else {
            let name = path.strip_prefix(base).expect("under base").to_string_lossy().into_owned();
            files.push((name, path));
        }
    }
}
