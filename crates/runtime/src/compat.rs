//! Providers built for the older contracts keep loading: 0.2 (no
//! `list-keys`, no `lists-keys`) and 0.3 (the `plugin` world as it is in
//! 0.4). Every type they share is the same, field for field, so values
//! cross between the versions' bindings through their serde forms, and a
//! 0.2 plugin's `lists-keys` is false.

use super::bindings::{CallContext, PluginInfo, ProviderError};
use super::plugin::{Request, Response};
use super::sandbox::Sandbox;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::Store;

/// The bindings of one older contract version, its `log` and `types`
/// linked to the host's own, and its calls answered through them.
macro_rules! older_contract {
    ($module:ident, $path:literal, $list:ident, { $($with:tt)* }) => {
        mod $module {
            wasmtime::component::bindgen!({
                path: $path,
                world: "plugin",
                imports: { "rekey:provider/log.log": trappable },
                exports: { default: async },
                additional_derives: [serde::Serialize, serde::Deserialize],
                with: {
                    "wasi:http": wasmtime_wasi_http::p2::bindings::http,
                    "wasi": wasmtime_wasi::p2::bindings,
                    $($with)*
                },
            });

            use self::rekey::provider as contract;
            use super::*;

            impl contract::log::Host for Sandbox {
                fn log(&mut self, level: contract::log::Level, message: String) -> wasmtime::Result<()> {
                    crate::bindings::rekey::provider::log::Host::log(self, convert(&level), message)
                }
            }

            impl contract::types::Host for Sandbox {}

            /// Links this version's own interfaces (`log`, `types`); WASI is shared.
            pub(super) fn link(linker: &mut wasmtime::component::Linker<Sandbox>) -> wasmtime::Result<()> {
                use wasmtime::component::HasSelf;
                contract::log::add_to_linker::<_, HasSelf<Sandbox>>(linker, |s| s)?;
                contract::types::add_to_linker::<_, HasSelf<Sandbox>>(linker, |s| s)
            }

            /// Runs one call.
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
                    Request::Info => Ok(Response::Info(info(&provider.call_info(&mut *store).await?))),
                    Request::Generate => {
                        provider.call_generate(&mut *store, &context).await?.map(|c| Response::Generated(convert(&c)))
                    }
                    Request::Verify(c) => provider
                        .call_verify(&mut *store, &context, &convert(c))
                        .await?
                        .map(|v| Response::Verified(convert(&v))),
                    Request::Revoke(c) => {
                        provider.call_revoke(&mut *store, &context, &convert(c)).await?.map(|()| Response::Done)
                    }
                    Request::List => older_contract!(@list $list, provider, store, context),
                    _ => return Ok(Err(not_a_target())),
                };
                Ok(answer.map_err(|e| convert(&e)))
            }
        }
    };
    (@list lists, $provider:ident, $store:ident, $context:ident) => {
        $provider.call_list_keys(&mut *$store, &$context).await?.map(|keys| Response::Listed(convert(&keys)))
    };
    (@list no_list, $provider:ident, $store:ident, $context:ident) => {
        return Ok(Err(ProviderError::Rejected("a plugin built for contract 0.2 cannot list keys".into())))
    };
}

older_contract!(v02, "wit/v0.2", no_list, {});
older_contract!(v03, "wit/v0.3", lists, { "wasi:tls": wasmtime_wasi_tls::p2::bindings, });

/// A provider built for an older contract, ready to instantiate.
pub(super) enum Pre {
    V02(v02::PluginPre<Sandbox>),
    V03(v03::PluginPre<Sandbox>),
}

impl Pre {
    /// The bindings of the version `version` (of the provider export), if it
    /// is an older one this host loads.
    pub(super) fn new(
        version: &str,
        instance: wasmtime::component::InstancePre<Sandbox>,
    ) -> Option<wasmtime::Result<Self>> {
        if version.starts_with("0.2.") {
            Some(v02::PluginPre::new(instance).map(Self::V02))
        } else if version.starts_with("0.3.") {
            Some(v03::PluginPre::new(instance).map(Self::V03))
        } else {
            None
        }
    }

    /// Runs one call.
    pub(super) async fn call(
        &self,
        store: &mut Store<Sandbox>,
        context: &CallContext,
        request: Request<'_>,
    ) -> wasmtime::Result<Result<Response, ProviderError>> {
        match self {
            Self::V02(pre) => v02::call(pre, store, context, request).await,
            Self::V03(pre) => v03::call(pre, store, context, request).await,
        }
    }
}

/// Links the older versions' own interfaces; WASI is shared with 0.4.
pub(super) fn link(linker: &mut wasmtime::component::Linker<Sandbox>) -> wasmtime::Result<()> {
    v02::link(linker)?;
    v03::link(linker)
}

/// An older `plugin-info` as 0.4 has it: one from 0.2 cannot list keys.
fn info<T: Serialize>(info: &T) -> PluginInfo {
    let mut value = serde_json::to_value(info).expect("plugin info serializes");
    let capabilities = &mut value["capabilities"];
    capabilities["lists_keys"] = capabilities.get("lists_keys").cloned().unwrap_or(false.into());
    serde_json::from_value(value).expect("an older plugin-info is 0.4's, lists-keys aside")
}

/// A value of one version's bindings as the other's.
fn convert<A: Serialize, B: DeserializeOwned>(value: &A) -> B {
    serde_json::from_value(serde_json::to_value(value).expect("contract values serialize"))
        .expect("the type is the same in every contract version")
}

/// What a provider answers when asked to act as a deploy target.
pub(super) fn not_a_target() -> ProviderError {
    ProviderError::Rejected("this plugin is a provider, not a deploy target (it exports no `target` interface)".into())
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
        let old: v02::rekey::provider::types::Credential = convert(&key);
        let back: Credential = convert(&old);
        assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&key).unwrap());
    }

    #[test]
    fn a_0_2_plugin_never_lists_keys() {
        let old = v02::rekey::provider::types::PluginInfo {
            name: "old".into(),
            version: "1.0.0".into(),
            description: "d".into(),
            config: vec![],
            capabilities: v02::rekey::provider::types::Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: true,
            },
            permissions: v02::rekey::provider::types::Permissions { http_hosts: vec![], tcp: vec![] },
        };
        let info = info(&old);
        assert!(info.capabilities.idempotent_generate && !info.capabilities.lists_keys);
    }
}
