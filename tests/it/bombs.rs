//! Components built to hurt the compiler or the host before they ever run,
//! made here with `wasm-encoder`: each is refused with a clear error, the
//! structural ones before anything is compiled (the compiled-code cache
//! stays empty), and one that passes those checks but is costly to compile
//! within the compile bound, in time and in memory.

use crate::support;

use std::path::PathBuf;
use std::process::Output;
use support::components::component;
use wasm_encoder::{
    CodeSection, CustomSection, Function, FunctionSection, Instruction, MemorySection, MemoryType, Module, TypeSection,
    ValType,
};

/// A module of `count` functions, each with `locals` locals and `body`.
fn functions(count: u32, locals: u32, body: &[Instruction<'_>]) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut declared = FunctionSection::new();
    let mut code = CodeSection::new();
    for _ in 0..count {
        declared.function(0);
        let mut function = Function::new([(locals, ValType::I64)]);
        body.iter().for_each(|instruction| {
            function.instruction(instruction);
        });
        function.instruction(&Instruction::End);
        code.function(&function);
    }
    let mut module = Module::new();
    module.section(&types).section(&declared).section(&code);
    module
}

/// A module with one memory of `pages` 64 KiB pages.
fn memory(pages: u64) -> Module {
    let mut memories = MemorySection::new();
    memories.memory(MemoryType { minimum: pages, maximum: None, memory64: false, shared: false, page_size_log2: None });
    let mut module = Module::new();
    module.section(&memories);
    module
}

/// `rekey plugin inspect` of `bytes`, with a private cache and `env`.
fn inspect(bytes: &[u8], env: &[(&str, &str)]) -> (Output, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join("bomb.wasm");
    std::fs::write(&file, bytes).unwrap();
    let mut command = support::rekey(&cache);
    command.args(["plugin", "inspect"]).arg(&file).envs(env.iter().copied());
    (support::run(&mut command, ""), cache)
}

/// Refused with exit 2 and `message`, with nothing compiled.
fn refused_before_compiling(bytes: &[u8], message: &str) {
    let started = std::time::Instant::now();
    let (output, cache) = inspect(bytes, &[]);
    eprintln!("{message}: refused in {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    let (_, stderr) = support::text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(message), "expected {message:?} in {stderr}");
    let compiled: Vec<PathBuf> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert!(compiled.is_empty(), "compiled before it was refused: {compiled:?}");
}

#[test]
fn three_hundred_thousand_functions_are_refused_before_compiling() {
    refused_before_compiling(
        &component(&[functions(300_000, 0, &[])], &[], &[]),
        "it has 300000 functions; at most 100000",
    );
}

#[test]
fn a_function_of_thirty_thousand_locals_is_refused_before_compiling() {
    refused_before_compiling(
        &component(&[functions(1, 30_000, &[])], &[], &[]),
        "a function has 30000 locals; at most 20000",
    );
}

#[test]
fn twenty_four_memories_are_refused_before_compiling() {
    let modules: Vec<Module> = (0..24).map(|_| memory(1)).collect();
    refused_before_compiling(&component(&modules, &[], &[]), "it has 24 memories; at most 8");
}

#[test]
fn a_memory_larger_than_the_budget_is_refused_with_its_size() {
    refused_before_compiling(
        &component(&[memory(4096)], &[], &[]),
        "its memories start at 256 MiB, more than the call's memory budget of 64 MiB",
    );
}

#[test]
fn a_plugin_for_another_contract_version_is_told_so() {
    for version in ["0.5.0", "1.0.0", "0.1.0"] {
        refused_before_compiling(
            &component(&[], &[&format!("rekey:provider/log@{version}")], &[]),
            &format!("was built for contract rekey:provider@{version}; this host speaks 0.4.x (and 0.2.x, 0.3.x)"),
        );
    }
}

#[test]
fn an_import_the_host_does_not_provide_is_refused_before_compiling() {
    refused_before_compiling(
        &component(&[], &["wasi:keyvalue/store@0.2.0", "wasi:sockets/udp@0.3.0"], &[]),
        "imports wasi:keyvalue/store@0.2.0, wasi:sockets/udp@0.3.0",
    );
}

/// A size bound the costly component fits in.
const LARGE: (&str, &str) = ("REKEY_PLUGIN_MAX_MIB", "64");

/// Within every structural limit, but a lot of work for the compiler:
/// 60,000 functions of arithmetic on 80 locals (34 MB, so past the default
/// size bound: the tests raise it).
fn costly() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..80 {
        body.extend([
            Instruction::LocalGet(i),
            Instruction::LocalGet((i + 1) % 80),
            Instruction::I64Mul,
            Instruction::LocalSet(i),
        ]);
    }
    component(&[functions(60_000, 80, &body)], &[], &["rekey:provider/provider@0.3.0"])
}

/// What the costly component takes to compile without a bound (run with
/// `--ignored` to measure it).
#[test]
#[ignore]
fn the_costly_component_compiled_unbounded() {
    let started = std::time::Instant::now();
    let (output, _cache) = inspect(&costly(), &[("REKEY_COMPILE_TIMEOUT", "600"), LARGE]);
    eprintln!("{:?} in {:.1} s", output.status, started.elapsed().as_secs_f64());
}

#[test]
fn a_costly_compilation_is_stopped_at_the_time_bound() {
    let started = std::time::Instant::now();
    let (output, _cache) = inspect(&costly(), &[("REKEY_COMPILE_TIMEOUT", "1"), LARGE]);
    let (_, stderr) = support::text(&output);
    eprintln!("refused after {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("compiling it took longer than 1s, and was stopped"), "{stderr}");
}

#[test]
fn a_costly_compilation_is_stopped_at_the_memory_bound() {
    let (output, _cache) = inspect(&costly(), &[("REKEY_COMPILE_MEMORY_MIB", "64"), LARGE]);
    let (_, stderr) = support::text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("compiling it needed more than 64 MiB of memory, and was stopped"), "{stderr}");
}

/// An empty component padded with a custom section to `size` bytes or so.
fn padded(size: usize) -> Vec<u8> {
    let mut bytes = component(&[], &[], &[]);
    let padding = CustomSection { name: "padding".into(), data: vec![0; size].into() };
    wasm_encoder::Section::append_to(&padding, &mut bytes);
    bytes
}

#[test]
fn a_plugin_file_past_the_size_bound_is_refused_unread() {
    let bytes = padded(40 << 20);
    refused_before_compiling(&bytes, "it is 40.0 MiB; at most 32.0 MiB (raise `plugin_max_size` in rekey.toml");
    let (output, _cache) = inspect(&bytes, &[("REKEY_PLUGIN_MAX_MIB", "64")]);
    let (_, stderr) = support::text(&output);
    assert!(!stderr.contains("at most 32.0 MiB") && stderr.contains("export"), "read once allowed: {stderr}");
}

#[test]
fn the_size_bound_comes_from_rekey_toml() {
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(cache.path().join("rekey.toml"), "plugin_max_size = \"64 KiB\"\n").unwrap();
    let mut command = support::rekey(&cache);
    command.current_dir(cache.path()).args(["plugin", "audit", rekey_test_artifacts::plugins::RANDOM]);
    let output = support::run(&mut command, "");
    let (_, stderr) = support::text(&output);
    assert!(stderr.contains("at most 64.0 KiB (raise `plugin_max_size`"), "{stderr}");
}

/// 100,000 functions of arithmetic on 4 locals: 3.4 MB that compile to
/// about 21 MB of code.
fn dense() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..4 {
        body.extend([
            Instruction::LocalGet(i),
            Instruction::LocalGet((i + 1) % 4),
            Instruction::I64Mul,
            Instruction::LocalSet(i),
        ]);
    }
    component(&[functions(100_000, 4, &body)], &[], &["rekey:provider/provider@0.3.0"])
}

#[test]
fn compiled_code_past_its_bound_is_dropped_and_never_cached() {
    // A 4 MiB bound on the file bounds its code, and a cache entry, to 16 MiB.
    let (output, cache) = inspect(&dense(), &[("REKEY_PLUGIN_MAX_MIB", "4")]);
    let (_, stderr) = support::text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("its compiled code is larger than 16 MiB, and was dropped"), "{stderr}");
    let entries = std::fs::read_dir(cache.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "cwasm"));
    assert_eq!(entries.count(), 0);
}
