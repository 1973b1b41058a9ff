//! Builds every guest crate (the bundled plugins and the hostile test
//! guests) for `wasm32-wasip2` with one nested `cargo build`, and writes
//! their paths as constants.
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
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(&root).args(["build", "--release", "--target", TARGET, "--target-dir"]).arg(&target_dir);
    for dir in plugins
        .iter()
        .map(|n| root.join("plugins").join(n))
        .chain(guests.iter().map(|n| root.join("tests/guests").join(n)))
    {
        cargo.arg("-p").arg(package_name(&dir));
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
        "building the guests for {TARGET} failed (is the target installed? `rustup target add {TARGET}`)"
    );

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
