//! `rekey-sdk`: everything a plugin author needs.
//!
//! A provider is a WebAssembly component built for `wasm32-wasip2` that
//! implements [`Provider`] and exports it with [`export_provider!`]; a
//! deploy target implements [`Target`] and exports it with
//! [`export_target!`]. The host
//! runs it in a sandbox: no filesystem, no environment, and network access
//! only to the hosts its [`Permissions`] declare and the operator granted.
//!
//! # Example
//!
//! A complete plugin for a service that issues API keys over HTTP. Its
//! `Cargo.toml` needs `[lib] crate-type = ["cdylib"]` (without it cargo
//! builds an `.rlib` and no `.wasm` at all) and the dependency on
//! `rekey-sdk`; build it with `cargo build --target wasm32-wasip2 --release`:
//!
//! ```no_run
//! use rekey_sdk::{
//!     CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary,
//!     Permissions, PluginInfo, Provider, ProviderError, Verification, http,
//! };
//!
//! struct Example;
//!
//! impl Provider for Example {
//!     fn info() -> PluginInfo {
//!         PluginInfo {
//!             name: "example".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             description: "API keys of example.com".into(),
//!             config: vec![
//!                 ConfigField::new("api-url", FieldType::Url, "Base URL of the API")
//!                     .default_value("https://api.example.com"),
//!                 // A placeholder secret never enters the sandbox: the plugin
//!                 // sees `{{secret:admin-token}}`, and the host puts the
//!                 // value into the request headers on the way out.
//!                 ConfigField::new("admin-token", FieldType::Text, "Token allowed to manage keys")
//!                     .placeholder(),
//!             ],
//!             capabilities: Capabilities {
//!                 concurrent_keys: true,
//!                 reports_last_use: false,
//!                 idempotent_generate: false,
//!                 lists_keys: false,
//!             },
//!             permissions: Permissions { http_hosts: vec!["{api-url}".into()], tcp: vec![] },
//!         }
//!     }
//!
//!     fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
//!         let config = Config::new(&ctx);
//!         let url = format!("{}/keys", config.required("api-url")?);
//!         let token = config.secret("admin-token")?;
//!         let created: serde_json::Value = http::Request::post(&url)
//!             .bearer(token)
//!             .json(&serde_json::json!({ "label": ctx.rotation_id }))
//!             .send()?
//!             .json()?;
//!         Ok(Credential {
//!             key_id: created["id"].as_str().unwrap_or_default().into(),
//!             secret: created["secret"].as_str().unwrap_or_default().into(),
//!             attributes: vec![],
//!             expires_at: None,
//!         })
//!     }
//!
//!     fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
//!         let url = format!("{}/me", Config::new(&ctx).required("api-url")?);
//!         let status = http::Request::get(&url)
//!             .bearer(&key.secret)
//!             .send()?
//!             .status();
//!         Ok(Verification { valid: status == 200, detail: None, last_used: None })
//!     }
//!
//!     fn revoke(ctx: CallContext, key: Credential) -> Result<(), ProviderError> {
//!         let config = Config::new(&ctx);
//!         let url = format!("{}/keys/{}", config.required("api-url")?, key.key_id);
//!         http::Request::delete(&url).bearer(config.secret("admin-token")?).send()?;
//!         Ok(())
//!     }
//!
//!     fn list_keys(_ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
//!         Err(rekey_sdk::cannot_list())
//!     }
//! }
//!
//! rekey_sdk::export_provider!(Example);
//! ```

pub mod aws;
mod config;
mod error;
pub mod http;
pub mod log;
pub mod login;
pub mod oauth;
mod results;
mod schema;
pub mod secret;
pub mod tcp;
pub mod template;
#[cfg(test_host)]
pub mod testing;
pub mod time;

/// Generates the bindings of one world of the `rekey:provider` WIT package
/// (the crate's `wit/` folder, which is the repository's `wit/`, packaged
/// with the crate), its WASI imports mapped to `wasip2`'s.
macro_rules! world_bindings {
    ($world:literal, $module:literal, { $($with:tt)* }) => {
        wit_bindgen::generate!({
            path: "wit",
            world: $world,
            features: ["tls"],
            with: {
                $($with)*
                "wasi:http/types@0.2.12": wasip2::http::types,
                "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
                "wasi:io/error@0.2.12": wasip2::io::error,
                "wasi:io/poll@0.2.12": wasip2::io::poll,
                "wasi:io/streams@0.2.12": wasip2::io::streams,
                "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
                "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
                "wasi:random/random@0.2.12": wasip2::random::random,
                "wasi:random/insecure-seed@0.2.12": wasip2::random::insecure_seed,
                "wasi:cli/stdout@0.2.12": wasip2::cli::stdout,
                "wasi:cli/stderr@0.2.12": wasip2::cli::stderr,
                "wasi:sockets/network@0.2.12": wasip2::sockets::network,
                "wasi:sockets/instance-network@0.2.12": wasip2::sockets::instance_network,
                "wasi:sockets/tcp@0.2.12": wasip2::sockets::tcp,
                "wasi:sockets/tcp-create-socket@0.2.12": wasip2::sockets::tcp_create_socket,
            },
            pub_export_macro: true,
            default_bindings_module: $module,
        });
    };
}

/// The bindings of the `plugin` world (providers). The re-exports at the
/// crate root are what most plugins need.
#[allow(missing_docs)]
pub mod bindings {
    world_bindings!("plugin", "rekey_sdk::bindings", { "wasi:tls/types@0.2.0-draft": generate, });
}

/// The bindings of the `target` world (deploy targets, since contract
/// 0.4): its `destination` export, with the types, `log` and WASI of
/// [`bindings`]. Each world's export macro embeds its own world, so a crate
/// that exports a target is a target, and one that exports a provider a
/// provider.
#[allow(missing_docs)]
pub mod target_bindings {
    world_bindings!("target", "rekey_sdk::target_bindings", {
        "rekey:provider/types@0.4.0": rekey_sdk::bindings::rekey::provider::types,
        "rekey:provider/log@0.4.0": rekey_sdk::bindings::rekey::provider::log,
        "wasi:tls/types@0.2.0-draft": rekey_sdk::bindings::wasi::tls::types,
    });
}

extern crate self as rekey_sdk;

pub use bindings::exports::rekey::provider::provider::Guest as Provider;
pub use bindings::rekey::provider::types::{
    CallContext, Capabilities, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    ProviderError, RateLimit, Verification,
};
pub use config::Config;
pub use results::done_if_gone;
pub use target_bindings::exports::rekey::provider::destination::{Guest as Target, Placed, TargetInfo};

/// What `list-keys` answers in a plugin whose provider cannot enumerate its keys
/// (`capabilities.lists_keys` false); the host does not call it then.
pub fn cannot_list() -> ProviderError {
    ProviderError::Rejected("this provider cannot list its keys".into())
}

/// Exports a type that implements [`Provider`] as the plugin's `provider`
/// interface. Call it once, at the root of the plugin crate.
#[macro_export]
macro_rules! export_provider {
    ($provider:ident) => {
        $crate::bindings::export!($provider with_types_in $crate::bindings);
    };
}

/// Exports a type that implements [`Target`] as the plugin's `destination`
/// interface, which makes the plugin a deploy target. Call it once, at the
/// root of the plugin crate.
#[macro_export]
macro_rules! export_target {
    ($target:ident) => {
        $crate::target_bindings::export!($target with_types_in $crate::target_bindings);
    };
}
