//! What a component imports and exports, read from its type without running
//! it: the basis of `rekey plugin inspect` and of the load-time checks.

use super::bindings::{CONTRACT, CONTRACT_VERSION, OLDER_CONTRACTS, TARGET};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{ComponentExtern, ComponentItem};

/// One import or export of a component.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Interface {
    /// The full name, e.g. `wasi:http/outgoing-handler@0.2.4`.
    pub name: String,
    /// The functions it holds (for an interface) or its own kind.
    pub functions: Vec<String>,
}

/// A component's imports and exports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Surface {
    /// What the component needs from the host.
    pub imports: Vec<Interface>,
    /// What the component provides.
    pub exports: Vec<Interface>,
}

impl Surface {
    pub(crate) fn of(component: &Component, engine: &Engine) -> Self {
        let ty = component.component_type();
        let list = |items: &mut dyn Iterator<Item = (&str, ComponentExtern<'_>)>| -> Vec<Interface> {
            items
                .map(|(name, item)| Interface { name: name.to_string(), functions: functions(engine, &item.ty) })
                .collect()
        };
        Self { imports: list(&mut ty.imports(engine)), exports: list(&mut ty.exports(engine)) }
    }

    /// The world this component targets, as far as its exports tell:
    /// `plugin` (a provider) or `target`.
    pub fn world(&self) -> Option<String> {
        let export = contract_export(self.exports.iter().map(|e| e.name.as_str()))?;
        let (base, version) = export.split_once('@')?;
        let world = if base == TARGET { "target" } else { "plugin" };
        Some(format!("rekey:provider/{world}@{version}"))
    }
}

/// The provider or target interface among export names, if it is a version
/// this host speaks (a target only in the current one: there are no older).
pub(crate) fn contract_export<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names.find(|name| is_contract_export(name))
}

/// Whether `name` is a provider or target export this host speaks.
pub(crate) fn is_contract_export(name: &str) -> bool {
    name.split_once('@').is_some_and(|(base, version)| match base {
        CONTRACT => compatible(version),
        TARGET => compatible(version) && !OLDER_CONTRACTS.iter().any(|older| version.starts_with(&format!("{older}."))),
        _ => false,
    })
}

/// Same major version, and same minor while the major is 0 (semver), or
/// one of the older contracts this host still loads.
pub(crate) fn compatible(version: &str) -> bool {
    let parts = |v: &str| v.split('.').take(2).map(str::to_string).collect::<Vec<_>>();
    let (ours, theirs) = (parts(CONTRACT_VERSION), parts(version));
    let same = if ours[0] == "0" { ours == theirs } else { ours.first() == theirs.first() };
    same || OLDER_CONTRACTS.contains(&theirs.join(".").as_str())
}

fn functions(engine: &Engine, item: &ComponentItem) -> Vec<String> {
    match item {
        ComponentItem::ComponentInstance(instance) => instance
            .exports(engine)
            .map(|(name, item)| match item.ty {
                ComponentItem::ComponentFunc(_) => name.to_string(),
                ComponentItem::Resource(_) => format!("resource {name}"),
                ComponentItem::Type(_) => format!("type {name}"),
                _ => format!("{name} (other)"),
            })
            .collect(),
        ComponentItem::ComponentFunc(_) => vec!["func".into()],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::{compatible, is_contract_export};

    #[test]
    fn contract_versions_follow_semver_for_0_x_and_0_2_and_0_3_still_load() {
        assert!(compatible("0.4.0"));
        assert!(compatible("0.4.7"));
        assert!(compatible("0.3.0"));
        assert!(compatible("0.2.9"));
        assert!(!compatible("0.1.0"));
        assert!(!compatible("0.5.0"));
        assert!(!compatible("1.1.0"));
    }

    #[test]
    fn a_target_export_is_known_from_0_4_on_and_a_provider_export_from_0_2() {
        assert!(is_contract_export("rekey:provider/destination@0.4.0"));
        assert!(!is_contract_export("rekey:provider/destination@0.3.0"));
        assert!(is_contract_export("rekey:provider/provider@0.3.0"));
        assert!(!is_contract_export("rekey:provider/log@0.4.0"));
    }
}
