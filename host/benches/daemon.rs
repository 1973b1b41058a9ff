//! `rekey daemon` through the real binary, side by side in one run:
//!
//! - the scheduler's lag when 50 credentials fall due in the same second
//!   (a cron schedule every 15 seconds), at `concurrency` 1, 4 and 16: how
//!   long after its due time each rotation started, from the daemon's own
//!   `rekey_scheduler_lag_seconds` histogram; with the `random` plugin, and
//!   with `webhook` against a loopback key API answering after 50 ms (four
//!   round trips per rotation);
//! - its idle cost with 50 and with 1,000 credentials, none due: CPU time
//!   over a minute (from /proc) and resident memory.
//!
//! Numbers go in BENCHMARKS.md.

#[path = "../../tests/it/support/mod.rs"]
#[allow(dead_code)] // the tests' support, of which a benchmark uses a part
mod support;

use rekey_test_artifacts::plugins;
use std::time::Duration;
use support::daemon::{Daemon, daemon_table, sample};
use support::{KeyServer, Project};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "{:<52} {:>11} {:>9} {:>9} {:>9}",
        "scheduler lag, 50 credentials due at once", "concurrency", "mean", "p95 <=", "max <="
    );
    let policy = r#"policy = { schedule = "*/15 * * * * *", window = "1m", grace_period = "0s" }"#;
    for concurrency in [1, 4, 16] {
        lag("random plugin, env-file targets", concurrency, &random_credentials(50, policy), &[]);
    }
    let server = KeyServer::start().with_latency(Duration::from_millis(50));
    let webhook: String = (0..50)
        .map(|i| {
            support::webhook_credential(
                &format!("w{i:02}"),
                plugins::WEBHOOK,
                &server,
                "ADMIN",
                &format!("w{i:02}.env"),
            )
            .replace(r#"policy = { grace_period = "0s" }"#, policy)
        })
        .collect();
    for concurrency in [4, 16] {
        lag(
            "webhook plugin, key API answering after 50 ms",
            concurrency,
            &webhook,
            &[("ADMIN", KeyServer::ADMIN_TOKEN)],
        );
    }
    println!("{:<52} {:>11} {:>9} {:>9}", "idle daemon, nothing due (60 s)", "credentials", "CPU", "RSS");
    for n in [50, 1_000] {
        idle(n);
    }
}

fn random_credentials(n: usize, policy: &str) -> String {
    (0..n)
        .map(|i| {
            support::random_credential(&format!("c{i:04}"), &format!("c{i:04}.env"), "KEY")
                .replace(r#"policy = { max_age = "0s", grace_period = "0s" }"#, policy)
        })
        .collect()
}

fn rotated(daemon: &Daemon) -> f64 {
    sample(&daemon.metrics(), "rekey_rotations_total", &[("result", "rotated")]).unwrap_or(0.0)
}

fn lag(what: &str, concurrency: usize, credentials: &str, env: &[(&str, &str)]) {
    let (table, addr) = daemon_table(&format!("concurrency = {concurrency}"));
    let project = Project::new(&format!("{table}{credentials}"), env);
    let daemon = Daemon::start(&project, addr);
    daemon.wait_for("the first keys", || rotated(&daemon) >= 50.0);
    daemon.wait_for("the scheduled rotations", || rotated(&daemon) >= 100.0);
    let scrape = daemon.metrics();
    let count = sample(&scrape, "rekey_scheduler_lag_seconds_count", &[]).unwrap();
    let sum = sample(&scrape, "rekey_scheduler_lag_seconds_sum", &[]).unwrap();
    let buckets = scrape
        .samples
        .iter()
        .find_map(|s| match (&s.value, s.metric.as_str()) {
            (prometheus_parse::Value::Histogram(b), "rekey_scheduler_lag_seconds") => Some(b.clone()),
            _ => None,
        })
        .unwrap();
    let quantile = |q: f64| buckets.iter().find(|b| b.count >= q * count).map_or(f64::INFINITY, |b| b.less_than);
    println!(
        "{what:<52} {concurrency:>11} {:>7.1}ms {:>7.1}ms {:>7.1}ms",
        sum / count * 1e3,
        quantile(0.95) * 1e3,
        quantile(1.0) * 1e3
    );
    daemon.terminate();
}

fn idle(n: usize) {
    let (table, addr) = daemon_table("");
    let policy = r#"policy = { max_age = "90d", grace_period = "0s" }"#;
    let project = Project::new(&format!("{table}{}", random_credentials(n, policy)), &[]);
    let daemon = Daemon::start(&project, addr);
    daemon.wait_for("the first keys", || rotated(&daemon) >= n as f64);
    std::thread::sleep(Duration::from_secs(5));
    let before = cpu_seconds(&daemon);
    std::thread::sleep(Duration::from_secs(60));
    let used = cpu_seconds(&daemon) - before;
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.child.id())).unwrap();
    let rss = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().to_string();
    println!("{:<52} {n:>11} {:>8.3}% {rss:>9}", "random plugin, max_age 90d", used / 60.0 * 100.0);
    daemon.terminate();
}

/// User and system CPU time of the daemon so far, in seconds.
fn cpu_seconds(daemon: &Daemon) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", daemon.child.id())).unwrap();
    // Fields after the command name in parentheses: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf only reads a constant of the system.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}
