//! Plugins built for contract 0.2 keep loading. Their `provider` export has
//! no `list-keys` and their capabilities no `lists-keys`; every other type is the
//! same, field for field, so values cross between the two versions'
//! bindings through their serde forms, and `lists-keys` is false.

use super::bindings::{CallContext, PluginInfo, ProviderError};
use super::plugin::{Request, Response};
use super::sandbox::Sandbox;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::Store;

mod v02 {
    wasmtime::component::bindgen!({
        path: "wit/v0.2",
        world: "plugin",
        imports: { "rekey:provider/log.log": trappable },
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi": wasmtime_wasi::p2::bindings,
        },
    });
}

pub(super) use v02::PluginPre;
use v02::rekey::provider as contract;

/// Whether an export's version is one of 0.2's.
pub(super) fn is_v02(version: &str) -> bool {
    version.starts_with("0.2.")
}

/// Runs one call on a 0.2 plugin.
pub(super) async fn call(
    pre: &PluginPre<Sandbox>,
    store: &mut Store<Sandbox>,
    context: &CallContext,
    request: Request<'_>,
) -> wasmtime::Result<Result<Response, ProviderError>> {
    let bindings = pre.instantiate_async(&mut *store).await?;
    let provider = bindings.rekey_provider_provider();
    let context: contract::types::CallContext = convert(context);
    let answer = match request {
        Request::Info => Ok(Response::Info(info(provider.call_info(&mut *store).await?))),
        Request::Generate => {
            provider.call_generate(&mut *store, &context).await?.map(|c| Response::Generated(convert(&c)))
        }
        Request::Verify(c) => {
            provider.call_verify(&mut *store, &context, &convert(c)).await?.map(|v| Response::Verified(convert(&v)))
        }
        Request::Revoke(c) => {
            provider.call_revoke(&mut *store, &context, &convert(c)).await?.map(|()| Response::Revoked)
        }
        Request::List => {
            return Ok(Err(ProviderError::Rejected("a plugin built for contract 0.2 cannot list keys".into())));
        }
    };
    Ok(answer.map_err(|e| convert(&e)))
}

/// A 0.2 `plugin-info` as 0.3 has it: it cannot list keys.
fn info(info: contract::types::PluginInfo) -> PluginInfo {
    let mut value = serde_json::to_value(&info).expect("plugin info serializes");
    value["capabilities"]["lists_keys"] = false.into();
    serde_json::from_value(value).expect("0.2's plugin-info is 0.3's without lists-keys")
}

/// A value of one version's bindings as the other's.
fn convert<A: Serialize, B: DeserializeOwned>(value: &A) -> B {
    serde_json::from_value(serde_json::to_value(value).expect("contract values serialize"))
        .expect("the type is the same in contracts 0.2 and 0.3")
}

impl contract::log::Host for Sandbox {
    fn log(&mut self, level: contract::log::Level, message: String) -> wasmtime::Result<()> {
        super::bindings::rekey::provider::log::Host::log(self, convert(&level), message)
    }
}

impl contract::types::Host for Sandbox {}

/// Links 0.2's own interfaces (`log`, `types`); WASI is shared with 0.3.
pub(super) fn link(linker: &mut wasmtime::component::Linker<Sandbox>) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    contract::log::add_to_linker::<_, HasSelf<Sandbox>>(linker, |s| s)?;
    contract::types::add_to_linker::<_, HasSelf<Sandbox>>(linker, |s| s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credential;

    #[test]
    fn a_credential_crosses_between_the_versions_unchanged() {
        let key = Credential {
            key_id: "k1".into(),
            secret: "s".into(),
            attributes: vec![super::super::bindings::Pair { key: "a".into(), value: "b".into() }],
            expires_at: Some(7),
        };
        let old: contract::types::Credential = convert(&key);
        let back: Credential = convert(&old);
        assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&key).unwrap());
    }

    #[test]
    fn a_0_2_plugin_never_lists_keys() {
        let old = contract::types::PluginInfo {
            name: "old".into(),
            version: "1.0.0".into(),
            description: "d".into(),
            config: vec![],
            capabilities: contract::types::Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: true,
            },
            permissions: contract::types::Permissions { http_hosts: vec![], tcp: vec![] },
        };
        let info = info(old);
        assert!(info.capabilities.idempotent_generate && !info.capabilities.lists_keys);
    }
}
