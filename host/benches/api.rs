//! The API and the dashboard over 1,000 credentials, through the real
//! `rekey daemon`, side by side in one run with `rekey status --json` (the
//! same standings, read locally by a new process): the latency of
//! `GET /v1/credentials` for an admin (every credential) and for a viewer
//! scoped to ten, of one credential, of a page of 100, and of the
//! dashboard's overview; then requests per second and p50/p99 latency of
//! one client and of four at once.
//!
//! Numbers go in BENCHMARKS.md.

#[path = "../../tests/it/support/mod.rs"]
#[allow(dead_code)] // the tests' support, of which a benchmark uses a part
mod support;

use std::time::{Duration, Instant};
use support::Project;
use support::daemon::{Daemon, daemon_table, sample};

const CREDENTIALS: usize = 1_000;
const REQUESTS: usize = 100;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (table, addr) = daemon_table("concurrency = 16");
    let credentials: String = (0..CREDENTIALS)
        .map(|i| {
            support::random_credential(&format!("c{i:04}"), &format!("c{i:04}.env"), "KEY")
                .replace(r#"max_age = "0s""#, r#"max_age = "90d""#)
        })
        .collect();
    let project = Project::new(&format!("{table}{credentials}"), &[]);
    let daemon = Daemon::start(&project, addr);
    daemon.wait_for("the first keys", || {
        sample(&daemon.metrics(), "rekey_rotations_total", &[("result", "rotated")]).unwrap_or(0.0)
            >= CREDENTIALS as f64
    });
    let token = |name: &str, role: &str, scope: &[&str]| {
        let mut args = vec!["token", "create", name, "--role", role];
        for glob in scope {
            args.extend(["--credentials", glob]);
        }
        support::text(&project.run(&args, "")).0.trim().to_string()
    };
    let admin = token("bench-admin", "admin", &[]);
    let scoped = token("bench-viewer", "viewer", &["c000*"]);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let base = format!("http://{addr}");
    let get = |path: &str, header: (&str, String)| {
        let mut answer = agent.get(format!("{base}{path}")).header(header.0, header.1).call().unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        answer.body_mut().with_config().limit(64 << 20).read_to_string().unwrap().len()
    };
    println!("{:<58} {:>9} {:>9} {:>9} {:>9} {:>10}", "1,000 credentials", "mean", "p50", "p95", "max", "body");
    let bearer = |t: &str| ("Authorization", format!("Bearer {t}"));
    measure("GET /v1/credentials, admin (1,000 rows)", || get("/v1/credentials", bearer(&admin)));
    measure("GET /v1/credentials, viewer scoped to c000* (10 rows)", || get("/v1/credentials", bearer(&scoped)));
    measure("GET /v1/credentials/c0500 (its standing and history)", || get("/v1/credentials/c0500", bearer(&admin)));
    let page = |i: usize| match i % 10 {
        0 => "/v1/credentials?limit=100".to_string(),
        p => format!("/v1/credentials?limit=100&after=c{:04}", p * 100 - 1),
    };
    let turn = std::cell::Cell::new(0);
    measure("GET /v1/credentials?limit=100 (a page of 100, admin)", || {
        turn.set(turn.get() + 1);
        get(&page(turn.get()), bearer(&admin))
    });
    println!();
    println!("{:<58} {:>9} {:>9} {:>9} {:>10}", "pages of 100, clients at once", "req/s", "p50", "p99", "requests");
    for clients in [1, 4] {
        concurrently(&format!("GET /v1/credentials?limit=100, {clients} client(s)"), clients, 500, |i| {
            get(&page(i), bearer(&admin))
        });
    }
    for clients in [1, 4] {
        concurrently(&format!("GET /v1/credentials (all 1,000), {clients} client(s)"), clients, 100, |_| {
            get("/v1/credentials", bearer(&admin))
        });
    }
    println!();
    let session = sign_in(&agent, &base, &admin);
    measure("dashboard overview, admin (1,000 rows and the chart)", || {
        get("/", ("Cookie", format!("rekey_session={session}")))
    });
    measure_n("rekey status --json (a new process, the same standings)", 10, || {
        let out = project.run(&["status", "--json"], "");
        assert!(out.status.success());
        out.stdout.len()
    });
    daemon.terminate();
}

/// Signs in to the dashboard with `token`: the session cookie's value.
fn sign_in(agent: &ureq::Agent, base: &str, token: &str) -> String {
    let form = agent.get(format!("{base}/signin")).call().unwrap();
    let cookie = form.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    let check = cookie.split(';').next().unwrap().trim_start_matches("rekey_signin=").to_string();
    let signed = agent
        .post(format!("{base}/signin"))
        .header("Cookie", format!("rekey_signin={check}"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("check={check}&token={token}"))
        .unwrap();
    let session = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("rekey_session="));
    session.unwrap().split(';').next().unwrap().trim_start_matches("rekey_session=").to_string()
}

/// `clients` threads each making `n` calls at once: requests per second
/// over them all, and the latency of each.
fn concurrently(what: &str, clients: usize, n: usize, call: impl Fn(usize) -> usize + Sync) {
    let started = Instant::now();
    let mut times: Vec<Duration> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..clients)
            .map(|client| {
                let call = &call;
                scope.spawn(move || {
                    (0..n)
                        .map(|i| {
                            let began = Instant::now();
                            call(client * n + i);
                            began.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let total = times.len();
    println!(
        "{what:<58} {:>9.0} {:>7.2}ms {:>7.2}ms {total:>10}",
        total as f64 / elapsed.as_secs_f64(),
        ms(times[total / 2]),
        ms(times[total * 99 / 100]),
    );
}

fn measure(what: &str, call: impl FnMut() -> usize) {
    measure_n(what, REQUESTS, call)
}

/// Runs `call` once to warm up, then `n` times, and prints its latency.
fn measure_n(what: &str, n: usize, mut call: impl FnMut() -> usize) {
    let size = call();
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            call();
            started.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = times.iter().sum::<Duration>() / n as u32;
    println!(
        "{what:<58} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>8.1}KB",
        ms(mean),
        ms(times[n / 2]),
        ms(times[n * 95 / 100]),
        ms(times[n - 1]),
        size as f64 / 1e3
    );
}
