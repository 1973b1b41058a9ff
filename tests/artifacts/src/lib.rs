//! Paths of the WebAssembly components the tests and benchmarks use, built
//! from source by this crate's build script:
//!
//! - [`plugins`]: the bundled provider plugins (`plugins/*`);
//! - [`guests`]: the hostile test guests (`tests/guests/*`), one attack each;
//! - [`foreach_guest!`]: calls a macro with each guest's name, so a test
//!   suite can refuse to compile when a guest has no test.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
