//! What a component imports and exports, read from its type without running
//! it: the basis of `rekey plugin inspect` and of the load-time checks.

use super::bindings::{CONTRACT, CONTRACT_VERSION, OLDER_CONTRACTS};
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

    /// The exported provider interface, if it is a compatible version.
    pub(crate) fn provider_export(&self) -> Option<&str> {
        provider_export(self.exports.iter().map(|e| e.name.as_str()))
    }

    /// The world this component targets, as far as its exports tell.
    pub fn world(&self) -> Option<String> {
        self.provider_export().map(|export| {
            let version = export.split_once('@').map_or("", |(_, v)| v);
            format!("rekey:provider/plugin@{version}")
        })
    }
}

/// The provider interface among export names, if it is a compatible version.
pub(crate) fn provider_export<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names.find(|name| name.split_once('@').is_some_and(|(base, version)| base == CONTRACT && compatible(version)))
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
    use super::compatible;

    #[test]
    fn contract_versions_follow_semver_for_0_x_and_0_2_still_loads() {
        assert!(compatible("0.3.0"));
        assert!(compatible("0.3.7"));
        assert!(compatible("0.2.0"));
        assert!(compatible("0.2.9"));
        assert!(!compatible("0.1.0"));
        assert!(!compatible("0.4.0"));
        assert!(!compatible("1.1.0"));
    }
}
