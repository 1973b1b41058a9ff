//! What a reviewer reads about a component without running it: the WIT of
//! everything it imports and exports, and who built it (the `producers`
//! custom sections that compilers and component tools write).

use wit_component::{DecodedWasm, WitPrinter};

/// The static facts of a component.
#[derive(Debug, serde::Serialize)]
pub struct Anatomy {
    /// The component's world with every interface it uses, as WIT text.
    pub wit: String,
    /// What it imports, as `namespace:package/interface@version` (or a bare name).
    pub imports: Vec<String>,
    /// What it exports, likewise.
    pub exports: Vec<String>,
    /// Toolchains that built or processed it, as `field: name version`
    /// (e.g. `language: Rust`, `processed-by: rustc 1.95.0`), each once.
    pub producers: Vec<String>,
}

/// Decodes `bytes` as a component.
pub fn anatomy(bytes: &[u8]) -> Result<Anatomy, String> {
    let decoded = wit_component::decode(bytes).map_err(|e| format!("cannot decode the component: {e:#}"))?;
    let DecodedWasm::Component(resolve, world) = decoded else {
        return Err("this is a WIT package, not a component".into());
    };
    let root = resolve.worlds[world].package.ok_or("the component's world has no package")?;
    let others: Vec<_> = resolve.packages.iter().map(|(id, _)| id).filter(|id| *id != root).collect();
    let mut printer = WitPrinter::default();
    printer.emit_docs(false);
    printer.print(&resolve, root, &others).map_err(|e| format!("cannot print the component's WIT: {e:#}"))?;
    let the_world = &resolve.worlds[world];
    let imports = the_world.imports.keys().map(|k| resolve.name_world_key(k)).collect();
    let exports = the_world.exports.keys().map(|k| resolve.name_world_key(k)).collect();
    Ok(Anatomy { wit: printer.output.to_string(), imports, exports, producers: producers(bytes) })
}

/// Every producers section, the nested modules' included (the outer one
/// only names the component tools; the language is in the modules).
fn producers(bytes: &[u8]) -> Vec<String> {
    let mut found = vec![];
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let Ok(wasmparser::Payload::CustomSection(section)) = payload else { continue };
        let wasmparser::KnownCustom::Producers(reader) = section.as_known() else { continue };
        for field in reader.into_iter().flatten() {
            for value in field.values.into_iter().flatten() {
                let line = format!("{}: {} {}", field.name, value.name, value.version).trim_end().to_string();
                if !found.contains(&line) {
                    found.push(line);
                }
            }
        }
    }
    found.sort();
    found
}
