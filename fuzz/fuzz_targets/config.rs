//! `rekey.toml` is operator input, and may come from a repository an attacker
//! can send a pull request to: any text must give a config or a located
//! error, never a panic, and an accepted config must be usable as checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekey::config::Config;
use std::path::Path;

fuzz_target!(|text: &str| {
    let file = Path::new("/etc/rekey/rekey.toml");
    match Config::parse(file, text) {
        Ok(config) => {
            let _ = config.store_path();
            let _ = config.key_file();
            for spec in &config.manifest.credentials {
                assert!(config.credential(spec.name.get_ref()).is_some());
                let _ = config.plugin_path(spec);
                let _ = rekey::config::plugin_config(spec);
            }
        }
        Err(error) => {
            // A file ending in a newline has an empty last line an error may point at.
            let lines = text.matches('\n').count() + 1;
            assert!(error.line.is_none_or(|line| line <= lines), "{error} points past the last line ({lines})");
        }
    }
});
