//! `cfg(test_host)`: the `test-host` feature in a native build (a plugin's
//! `cargo test`), where calls the sandbox would serve go to
//! `rekey_sdk::testing` instead. A wasm32 build ignores the feature.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_host)");
    let native = std::env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|family| !family.split(',').any(|f| f == "wasm"));
    if native && std::env::var_os("CARGO_FEATURE_TEST_HOST").is_some() {
        println!("cargo::rustc-cfg=test_host");
    }
}
