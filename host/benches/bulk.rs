//! Bulk rotation through the real `rekey` binary, side by side in one run:
//! `rekey rotate --all-due` one at a time (`--jobs 1`) and concurrently,
//!
//! - with the `random` plugin and one env-file target per credential, at
//!   N = 100 and 1,000 (10,000 is `scripts/bulk-rotations`, which also
//!   counts fsyncs and compares with an older rekey);
//! - against a loopback key API that answers every request after 50 ms,
//!   as a remote provider would (the `webhook` plugin: create, verify, an
//!   HTTP check and revoke make four round trips per rotation).
//!
//! Each measurement is the second pass over fresh credentials (every one
//! is due again: new key, deploy, check, revoke of the old key), wall clock
//! as the operator sees it. Numbers go in BENCHMARKS.md.

#[path = "../../tests/it/support/mod.rs"]
#[allow(dead_code)] // the tests' support, of which a benchmark uses a part
mod support;

use rekey_test_artifacts::plugins;
use std::time::{Duration, Instant};
use support::{KeyServer, Project, text};

fn main() {
    // `cargo bench -- --list` and filters: this bench has no parts to pick.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("{:<58} {:>6} {:>5} {:>9} {:>12}", "bulk rotation", "N", "jobs", "wall", "per rotation");
    for n in [100, 1_000] {
        for jobs in [1, 16] {
            report("random plugin, env-file targets", n, jobs, &random_project(n));
        }
    }
    let server = KeyServer::start().with_latency(Duration::from_millis(50));
    for (n, jobs) in [(50, 1), (1_000, 32)] {
        report("webhook plugin, key API answering after 50 ms", n, jobs, &webhook_project(&server, n));
    }
}

/// Rotates every credential of `project` twice and reports the second pass.
fn report(what: &str, n: usize, jobs: usize, project: &Project) {
    let jobs_arg = jobs.to_string();
    let rotate = || {
        let started = Instant::now();
        let output = project.run(&["rotate", "--all-due", "--jobs", &jobs_arg], "");
        assert!(output.status.success(), "{:?}", text(&output));
        started.elapsed()
    };
    rotate();
    let wall = rotate();
    let each = wall / n as u32;
    println!("{what:<58} {n:>6} {jobs:>5} {:>8.2}s {:>10.2}ms", wall.as_secs_f64(), each.as_secs_f64() * 1e3);
}

fn random_project(n: usize) -> Project {
    let toml: String =
        (0..n).map(|i| support::random_credential(&format!("c{i:05}"), &format!("c{i:05}.env"), "KEY")).collect();
    Project::new(&toml, &[])
}

fn webhook_project(server: &KeyServer, n: usize) -> Project {
    let toml: String = (0..n)
        .map(|i| {
            support::webhook_credential(&format!("w{i:05}"), plugins::WEBHOOK, server, "ADMIN", &format!("w{i:05}.env"))
                .replace("grace_period = \"0s\"", "max_age = \"0s\", grace_period = \"0s\"")
        })
        .collect();
    Project::new(&toml, &[("ADMIN", KeyServer::ADMIN_TOKEN)])
}
