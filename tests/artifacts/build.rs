//! Builds every guest crate for `wasm32-wasip2` with nested `cargo build`s
//! (each bundled plugin alone, reproducibly; the hostile test guests
//! together), and writes their paths as constants.
//!
//! The nested build uses its own target folder so it never waits on the
//! lock of the build that runs this script.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let plugins = crates_in(&root.join("plugins"));
    let guests = crates_in(&root.join("tests/guests")).into_iter().filter(|name| name != "support").collect::<Vec<_>>();
    for watched in ["wit", "crates/runtime/wit", "sdk", "plugins", "tests/guests"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let target_dir = root.join("target/guests");
    let package = |dir: &str, name: &String| package_name(&root.join(dir).join(name));
    // Each bundled plugin is built on its own: Cargo unifies the features of
    // the crates built together, so a plugin built beside others (one that
    // turns on a feature of a shared dependency) has other bytes than the
    // same plugin built alone, as a reviewer builds it. The hostile guests
    // are not reviewed: one build.
    for plugin in &plugins {
        build(&root, &target_dir, &[package("plugins", plugin)]);
    }
    build(&root, &target_dir, &guests.iter().map(|g| package("tests/guests", g)).collect::<Vec<_>>());

    let out_dir = target_dir.join(TARGET).join("release");
    let mut code = String::new();
    let mut section = |module: &str, doc: &str, names: &[String]| {
        writeln!(code, "/// {doc}\npub mod {module} {{").unwrap();
        for name in names {
            let file = out_dir.join(format!("{}.wasm", name.replace('-', "_")));
            assert!(file.exists(), "guest `{name}` built no {}", file.display());
            let constant = name.to_uppercase().replace('-', "_");
            writeln!(code, "    /// `{name}`.\n    pub const {constant}: &str = {:?};", file.display().to_string())
                .unwrap();
        }
        code.push_str("}\n");
    };
    section("plugins", "The bundled provider plugins.", &plugins);
    section("guests", "The hostile test guests.", &guests);
    code.push_str("/// Calls `$m!(name)` for every hostile guest.\n#[macro_export]\nmacro_rules! foreach_guest {\n    ($m:ident) => {\n");
    for name in &guests {
        writeln!(code, "        $m!({});", name.replace('-', "_")).unwrap();
    }
    code.push_str("    };\n}\n");
    std::fs::write(PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("artifacts.rs"), code).unwrap();
}

/// `cargo build --release --target wasm32-wasip2` of `packages`, in its
/// own target folder, reproducibly.
fn build(root: &Path, target_dir: &Path, packages: &[String]) {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(root).args(["build", "--release", "--target", TARGET, "--target-dir"]).arg(target_dir);
    for package in packages {
        cargo.arg("-p").arg(package);
    }
    // Settings meant for the host build must not leak into the guest build.
    for var in ["RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER"] {
        cargo.env_remove(var);
    }
    // Reproducible: the only machine-dependent path rustc writes into a
    // plugin (in a dependency's panic locations) is Cargo's home, renamed
    // as `scripts/reproducible` and a reviewer's rebuild rename it.
    cargo.env("CARGO_ENCODED_RUSTFLAGS", format!("--remap-path-prefix={}=/cargo", cargo_home().display()));
    let status = cargo.status().expect("cannot run cargo to build the guests");
    assert!(
        status.success(),
        "building {} for {TARGET} failed (is the target installed? `rustup target add {TARGET}`)",
        packages.join(", ")
    );
}

/// Cargo's home, as Cargo finds it: `$CARGO_HOME`, or `~/.cargo`.
fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .expect("neither CARGO_HOME nor HOME is set")
}

/// The crate folders directly below `dir`, sorted.
fn crates_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The `name` in a crate's `[package]` section.
fn package_name(dir: &Path) -> String {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("name = ").map(|v| v.trim_matches('"').to_string()))
        .unwrap_or_else(|| panic!("{} has no package name", dir.display()))
}
