//! What the sandbox costs: loading a compiled plugin from the cache, a fresh
//! instance plus one `generate` of the `random` plugin, and the same work
//! done by native Rust, whose ratio to the sandboxed call is the price of
//! isolation. Results and the machine go in BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use rekey::runtime::{CallOptions, Limits, Runtime};
use rekey_test_artifacts::plugins;
use std::hint::black_box;
use std::path::Path;

fn sandbox(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(Limits::default(), Some(cache.path().to_path_buf())).unwrap();
    let path = Path::new(plugins::RANDOM);
    // Warm the cache: every load below reads compiled code from disk.
    let plugin = rt.block_on(runtime.load(path)).unwrap();
    let options = CallOptions::default();
    let pooling = if runtime.pooling() { "pooling" } else { "on-demand" };

    c.bench_function("load random.wasm from the .cwasm cache (incl. info call)", |b| {
        b.iter(|| black_box(rt.block_on(runtime.load(path)).unwrap()))
    });
    c.bench_function(&format!("fresh instance + generate, random plugin ({pooling})"), |b| {
        b.iter(|| black_box(rt.block_on(plugin.generate(&options)).result.unwrap()))
    });
    c.bench_function("generate, native Rust equivalent", |b| b.iter(|| black_box(native::generate(32))));
}

/// The `random` plugin's `generate`, written natively: the same alphabet,
/// the same rejection sampling, the OS's secure random source.
mod native {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn generate(length: usize) -> (String, String) {
        (format!("rnd-{}", secret(12, b"0123456789abcdef")), secret(length, ALPHABET))
    }

    fn secret(length: usize, alphabet: &[u8]) -> String {
        let limit = 256 - (256 % alphabet.len());
        let mut out = String::with_capacity(length);
        while out.len() < length {
            let mut bytes = vec![0u8; (length - out.len()) * 2];
            getrandom::fill(&mut bytes).expect("the OS has a random source");
            for byte in bytes {
                if (byte as usize) < limit && out.len() < length {
                    out.push(alphabet[byte as usize % alphabet.len()] as char);
                }
            }
        }
        out
    }
}

criterion_group!(benches, sandbox);
criterion_main!(benches);
