//! Components made with `wasm-encoder`, for tests that need a component
//! no toolchain would build: one importing what the host does not provide,
//! one too big or too complex to compile.

use wasm_encoder::{
    Component, ComponentExportKind, ComponentExportSection, ComponentImportSection, ComponentInstanceSection,
    ComponentTypeRef, ComponentTypeSection, InstanceSection, InstanceType, Module, ModuleArg, ModuleSection,
};

/// A component of `modules`, each instantiated once, with `imports`
/// (instance imports of no exports, by name) and `exports` (empty
/// instances: the names pass the checks made before compiling, the types
/// fail when the plugin is linked).
pub fn component(modules: &[Module], imports: &[&str], exports: &[&str]) -> Vec<u8> {
    let mut component = Component::new();
    if !imports.is_empty() {
        let mut types = ComponentTypeSection::new();
        for _ in imports {
            types.instance(&InstanceType::new());
        }
        component.section(&types);
        let mut section = ComponentImportSection::new();
        for (i, name) in imports.iter().enumerate() {
            section.import(*name, ComponentTypeRef::Instance(i as u32));
        }
        component.section(&section);
    }
    for module in modules {
        component.section(&ModuleSection(module));
    }
    let mut instances = InstanceSection::new();
    for i in 0..modules.len() {
        instances.instantiate(i as u32, Vec::<(&str, ModuleArg)>::new());
    }
    component.section(&instances);
    if !exports.is_empty() {
        let mut instances = ComponentInstanceSection::new();
        let mut section = ComponentExportSection::new();
        for (i, name) in exports.iter().enumerate() {
            instances.export_items(Vec::<(&str, ComponentExportKind, u32)>::new());
            section.export(*name, ComponentExportKind::Instance, (imports.len() + i) as u32, None);
        }
        component.section(&instances).section(&section);
    }
    component.finish()
}
