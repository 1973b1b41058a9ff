//! What a component is made of, read from its bytes before anything is
//! compiled: compiling is the costly, attackable step (a component of
//! 300,000 tiny functions, or one function of 30,000 locals, takes a
//! compiler minutes and gigabytes), and a plugin that would be refused for
//! its imports, its exports or its memories should be refused before it.

use super::bindings::{CONTRACT, CONTRACT_VERSION, OLDER_CONTRACTS, TARGET};
use super::error::PluginError;
use super::inspect::compatible;
use super::limits::{MAX_CORE_INSTANCES, MAX_MEMORIES, MAX_TABLES};
use super::sandbox::{Treatment, treatment};
use std::path::Path;
use wasmparser::{Parser, Payload};

/// The version of these rules, part of the compiled-code cache's key (an
/// entry means "checked by these rules"): raise it whenever a rule changes.
pub(crate) const RULES: u32 = 2;

/// Functions in all of a component's modules.
pub(crate) const MAX_FUNCTIONS: usize = 100_000;
/// Locals of one function.
pub(crate) const MAX_LOCALS: u64 = 20_000;

/// The counts and names the checks need.
#[derive(Debug, Default)]
struct Structure {
    imports: Vec<String>,
    exports: Vec<String>,
    memories: usize,
    initial_memory: u64,
    tables: usize,
    core_instances: usize,
    functions: usize,
    most_locals: u64,
}

/// Refuses a plugin whose bytes show it cannot or must not run here, with
/// the reason; `memory_budget` is the call's memory budget in bytes.
pub(crate) fn check(path: &Path, bytes: &[u8], memory_budget: usize) -> Result<(), PluginError> {
    let plugin = path.display().to_string();
    let not_a_component = |reason: String| PluginError::NotAComponent { path: path.into(), reason };
    let too_big = |reason: String| PluginError::TooComplex { plugin: plugin.clone(), reason };
    if !Parser::is_component(bytes) {
        let what = if Parser::is_core_wasm(bytes) {
            "a core WebAssembly module"
        } else if bytes.starts_with(b"!<arch>\n") {
            // What cargo makes of a library without `crate-type = ["cdylib"]`.
            "a Rust library archive (an .rlib); add `[lib] crate-type = [\"cdylib\"]` to the plugin's Cargo.toml so that cargo builds a .wasm"
        } else {
            "not WebAssembly"
        };
        return Err(not_a_component(format!("it is {what}, not a component")));
    }
    let s = read(bytes).map_err(|e| not_a_component(format!("it cannot be read: {e}")))?;
    let counts = [
        ("functions", s.functions, MAX_FUNCTIONS),
        ("memories", s.memories, MAX_MEMORIES),
        ("tables", s.tables, MAX_TABLES),
        ("core instances", s.core_instances, MAX_CORE_INSTANCES),
    ];
    if let Some((what, found, most)) = counts.iter().find(|(_, found, most)| found > most) {
        return Err(too_big(format!("it has {found} {what}; at most {most}")));
    }
    if s.most_locals > MAX_LOCALS {
        return Err(too_big(format!("a function has {} locals; at most {MAX_LOCALS}", s.most_locals)));
    }
    if s.initial_memory > memory_budget as u64 {
        return Err(too_big(format!(
            "its memories start at {} MiB, more than the call's memory budget of {} MiB",
            s.initial_memory >> 20,
            memory_budget >> 20
        )));
    }
    if let Some(found) = foreign_contract(&s.imports, &s.exports) {
        let older = OLDER_CONTRACTS.iter().map(|v| format!("{v}.x")).collect::<Vec<_>>().join(", ");
        let speaks = CONTRACT_VERSION.rsplit_once('.').map_or(CONTRACT_VERSION, |(minor, _)| minor);
        return Err(PluginError::ContractVersion { plugin, found, speaks: format!("{speaks}.x (and {older})") });
    }
    let refused: Vec<&str> =
        s.imports.iter().map(String::as_str).filter(|name| treatment(name).0 == Treatment::Refused).collect();
    if !refused.is_empty() {
        return Err(PluginError::ForbiddenImports { plugin, imports: refused.join(", ") });
    }
    if !s.exports.iter().any(|name| super::inspect::is_contract_export(name)) {
        return Err(PluginError::WrongWorld {
            plugin,
            wanted: format!("{CONTRACT}@{CONTRACT_VERSION} (a provider) or {TARGET}@{CONTRACT_VERSION} (a target)"),
            exports: if s.exports.is_empty() { "nothing".into() } else { s.exports.join(", ") },
        });
    }
    Ok(())
}

/// The version of `rekey:provider` a component was built for, when this
/// host does not speak it.
fn foreign_contract(imports: &[String], exports: &[String]) -> Option<String> {
    imports.iter().chain(exports).find_map(|name| {
        let (base, version) = name.split_once('@')?;
        (base.starts_with("rekey:provider/") && !compatible(version)).then(|| version.to_string())
    })
}

/// Counts what every module of the component holds, and lists the
/// top-level imports and exports.
fn read(bytes: &[u8]) -> wasmparser::Result<Structure> {
    let mut s = Structure::default();
    let mut depth = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    s.imports.push(import?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    s.exports.push(export?.name.name.to_string());
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory?;
                    s.memories += 1;
                    s.initial_memory =
                        s.initial_memory.saturating_add(memory.initial.saturating_mul(u64::from(memory.page_size())));
                }
            }
            Payload::TableSection(reader) => s.tables += reader.count() as usize,
            Payload::InstanceSection(reader) => s.core_instances += reader.count() as usize,
            Payload::CodeSectionStart { count, .. } => s.functions += count as usize,
            Payload::CodeSectionEntry(body) => {
                let mut locals = 0u64;
                for group in body.get_locals_reader()? {
                    locals += u64::from(group?.0);
                }
                s.most_locals = s.most_locals.max(locals);
            }
            _ => {}
        }
    }
    Ok(s)
}
