//! `rekey daemon`, as a service runs it: the real binary and plugins, a
//! key API on loopback, real signals. Credentials with a `max_age` of
//! seconds rotate on their own, one at a time each and `concurrency` at
//! once; SIGTERM stops at a step boundary and a restart finishes what was
//! interrupted; SIGKILL at random moments loses nothing; SIGHUP reloads a
//! valid `rekey.toml` and keeps the running one when the new one is
//! invalid; `/metrics`, `/healthz` and `/readyz` tell the truth.
//!
//! Schedules that span days (cron times and windows, reminders, freezes,
//! jitter) run `rekey daemon --once` under the injected clock
//! (`REKEY_TEST_CLOCK`, allowed by `REKEY_TEST_HOOKS=1`) instead of waiting.

use crate::support;

use rekey::store::Store;
use rekey::store::rotations::State;
use std::process::Output;
use std::time::Duration;
use support::agreement::{Disagreement, disagreement};
use support::daemon::{ADMIN_VAR, Daemon, daemon_table, get, names, sample, webhook_credentials};
use support::{KeyServer, Project, ok, text};

/// A `random` credential `name`, deployed to `NAME.env` as `KEY`, due every `max_age`.
fn random_every(name: &str, max_age: &str) -> String {
    support::random_credential(name, &format!("{name}.env"), "KEY")
        .replace(r#"max_age = "0s""#, &format!(r#"max_age = "{max_age}""#))
}

fn project(toml: &str) -> Project {
    Project::new(toml, &[(ADMIN_VAR, KeyServer::ADMIN_TOKEN), ("REKEY_TEST_HOOKS", "1")])
}

fn store(project: &Project) -> Store {
    let dir = project.dir.path();
    // By its file: a test may have left rekey.toml invalid on purpose.
    Store::open(&rekey::store::Location::File(dir.join("rekey.db")), &dir.join("rekey.key")).unwrap()
}

#[test]
fn fifty_credentials_rotate_on_their_own_one_at_a_time_each_and_the_metrics_agree_with_the_store() {
    let server = KeyServer::start().with_latency(Duration::from_millis(20));
    let names = names(50);
    let (table, addr) = daemon_table("concurrency = 8");
    let credentials = webhook_credentials(&server, &names, "4s");
    let project = project(&format!("{table}{credentials}"));
    let daemon = Daemon::start(&project, addr);
    std::thread::sleep(Duration::from_secs(24));

    // A freeze from now on, by SIGHUP: nothing new starts, what runs ends.
    let frozen = format!(
        "{}freeze = [{{ from = \"2000-01-01T00:00:00Z\", to = \"2100-01-01T00:00:00Z\" }}]\n{credentials}",
        table
    );
    std::fs::write(project.dir.path().join("rekey.toml"), frozen).unwrap();
    daemon.signal(rustix::process::Signal::HUP);
    daemon.wait_for("the reload", || daemon.log().contains("reloaded"));
    daemon.wait_for("running rotations to end", || {
        sample(&daemon.metrics(), "rekey_rotations_running", &[]) == Some(0.0)
            && store(&project).open_rotations().unwrap().is_empty()
    });
    let scrape = daemon.metrics();
    let scraped_at = rekey::clock::now();
    let store = store(&project);
    let mut rotated = 0;
    for name in &names {
        let rotations = store.rotations(name).unwrap();
        let versions = store.versions(name).unwrap();
        assert!(rotations.len() >= 3, "{name} rotated {} times in 24 s with a max_age of 4s", rotations.len());
        assert!(rotations.iter().all(|r| r.state == State::Succeeded), "{name}: {rotations:?}");
        rotated += rotations.len();
        // Never early: each rotation started once the key it replaced was 4 s old.
        for rotation in &rotations {
            if let Some(from) = rotation.from_version {
                let replaced = versions.iter().find(|v| v.version == from).unwrap();
                assert!(
                    rotation.started_at >= replaced.created_at + 4,
                    "{name}: {rotation:?} replaced {replaced:?} early"
                );
            }
        }
        let current = versions.iter().find(|v| v.label == Some(rekey::store::versions::Label::Current)).unwrap();
        let labels = [("credential", name.as_str())];
        let age = sample(&scrape, "rekey_credential_age_seconds", &labels).unwrap();
        // The gauges are set at each scheduler pass, at most 5 s apart.
        let expected = (scraped_at - current.created_at) as f64;
        assert!((expected - 6.0..=expected + 1.0).contains(&age), "{name}: age {age}, expected about {expected}");
        let last = sample(&scrape, "rekey_credential_last_rotation_timestamp_seconds", &labels).unwrap();
        assert_eq!(last as i64, rotations[0].started_at, "{name}");
        assert_eq!(sample(&scrape, "rekey_credential_last_rotation_success", &labels), Some(1.0), "{name}");
    }
    assert_eq!(sample(&scrape, "rekey_rotations_total", &[("result", "rotated")]), Some(rotated as f64));
    assert_eq!(
        sample(&scrape, "rekey_rotation_duration_seconds_count", &[("plugin", "webhook")]),
        Some(rotated as f64)
    );
    assert!(
        sample(&scrape, "rekey_plugin_call_duration_seconds_count", &[("plugin", "webhook"), ("call", "generate")])
            .is_some()
    );
    assert!(sample(&scrape, "rekey_scheduler_lag_seconds_count", &[]).is_some_and(|n| n > 0.0));

    // Frozen: nothing starts although every key is soon overdue.
    std::thread::sleep(Duration::from_secs(6));
    let during_freeze: usize = names.iter().map(|n| store.rotations(n).unwrap().len()).sum();
    assert_eq!(during_freeze, rotated, "nothing rotates during a freeze");

    let (most_at_once, overlaps) = server.creates_at_once();
    assert_eq!(overlaps, 0, "two rotations of one credential never run at once");
    assert!(most_at_once <= 8, "concurrency 8 is honoured: {most_at_once} creates at once");
    assert!(most_at_once > 1, "rotations ran concurrently");
    assert_eq!(daemon.terminate(), Some(0));
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default());
}

#[test]
fn sigterm_stops_rotations_at_a_step_boundary_and_a_restart_finishes_them() {
    let server = KeyServer::start().with_latency(Duration::from_millis(400));
    let names = names(6);
    let (table, addr) = daemon_table("concurrency = 6");
    let project = project(&format!("{table}{}", webhook_credentials(&server, &names, "1d")));
    let daemon = Daemon::start(&project, addr);
    // A rotation here takes four round trips of 400 ms: once the first
    // create is under way, every rotation has started and none has ended.
    daemon.wait_for("the first create", || server.creates_at_once().0 >= 1);
    assert_eq!(daemon.terminate(), Some(0), "a stop at a step boundary exits 0");
    let left = disagreement(&project, &server, &names);
    assert!(!left.open.is_empty(), "the rotations were stopped before they ended: {left:?}");
    assert!(left.orphans.is_empty() && left.lost.is_empty() && left.audit.is_none(), "{left:?}");
    let log = std::fs::read_to_string(project.dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("SIGTERM: starting nothing new"), "{log}");
    assert!(log.contains("stopped before"), "{log}");

    // The next start finishes them.
    let out = ok(project.run(&["daemon", "--once"], ""));
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default(), "{out}");
    let status = ok(project.run(&["status", "--json"], ""));
    let rows: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert!(rows.as_array().unwrap().iter().all(|r| r["version"] == 1), "{status}");
}

/// SIGKILLs per run: 50 in the test suite; `scripts/kill-campaign` runs more
/// through `REKEY_DAEMON_KILLS`.
fn daemon_kills() -> usize {
    std::env::var("REKEY_DAEMON_KILLS").ok().and_then(|n| n.parse().ok()).unwrap_or(50)
}

#[test]
fn sigkills_of_the_daemon_at_random_moments_lose_nothing() {
    // Round trips of 30 ms keep rotations running for a good part of each second.
    let server = KeyServer::start().not_idempotent().with_latency(Duration::from_millis(30));
    let names = names(6);
    let (table, _) = daemon_table("concurrency = 3");
    let project = project(&format!("{table}{}", webhook_credentials(&server, &names, "1s")));
    let mut interrupted = 0;
    let kills = daemon_kills();
    for i in 0..kills {
        let mut child = project
            .command(&["daemon"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50 + (support::rand_u128() % 700) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        interrupted += usize::from(!disagreement(&project, &server, &names).open.is_empty());
        // Restarted: it resumes what the kill interrupted.
        ok(project.run(&["daemon", "--once"], ""));
        assert_eq!(disagreement(&project, &server, &names), Disagreement::default(), "after kill {i}");
    }
    eprintln!(
        "daemon kill campaign: {kills} kills, {interrupted} interrupted a rotation; 0 orphans, 0 lost, 0 stale, 0 open, audit intact"
    );
    assert!(interrupted > 0, "no kill landed inside a rotation: the campaign tested nothing");
}

#[test]
fn sighup_reloads_a_valid_config_and_keeps_the_running_one_when_the_new_one_is_invalid() {
    let (table, addr) = daemon_table("");
    let first = random_every("a", "1d");
    let project = project(&format!("{table}{first}"));
    let daemon = Daemon::start(&project, addr);
    daemon.wait_for("`a` to get its first key", || !project.env_value("a.env", "KEY").is_empty());
    let file = project.dir.path().join("rekey.toml");

    std::fs::write(&file, format!("{table}{first}[[credential]]\nname = \"b\"\nplugin = \n")).unwrap();
    daemon.signal(rustix::process::Signal::HUP);
    daemon.wait_for("the refusal", || daemon.log().contains("not reloading"));
    assert!(daemon.log().contains("rekey.toml:"), "the log says where the mistake is: {}", daemon.log());
    assert_eq!(get(addr, "/healthz").map(|(s, _)| s), Some(200), "still running");
    let audited = |event: &str| store(&project).audit_log(None).unwrap().iter().any(|e| e.event == event);
    assert!(audited("daemon.reload_failed"));

    let second = random_every("b", "1d");
    std::fs::write(&file, format!("{table}{first}{second}")).unwrap();
    daemon.signal(rustix::process::Signal::HUP);
    daemon.wait_for("`b`, declared by the reload, to get its first key", || {
        !project.env_value("b.env", "KEY").is_empty()
    });
    assert!(audited("daemon.reloaded"));
    assert_eq!(daemon.terminate(), Some(0));
}

/// A reload is checked as fully as a start: an emptied file and a plugin
/// that is not there are refused, and the running configuration kept; a
/// reload that drops a credential whose keys are live is applied, and
/// names it in the log and the audit log.
#[test]
fn sighup_refuses_what_would_fail_and_names_the_credentials_a_reload_drops() {
    let (table, addr) = daemon_table("");
    let (a, b) = (random_every("a", "1d"), random_every("b", "1d"));
    let project = project(&format!("{table}{a}{b}"));
    let daemon = Daemon::start(&project, addr);
    daemon.wait_for("both first keys", || {
        !project.env_value("a.env", "KEY").is_empty() && !project.env_value("b.env", "KEY").is_empty()
    });
    let file = project.dir.path().join("rekey.toml");
    let refused = |toml: &str, why: &str| {
        let before = daemon.log().matches("not reloading").count();
        std::fs::write(&file, toml).unwrap();
        daemon.signal(rustix::process::Signal::HUP);
        daemon.wait_for("the refusal", || daemon.log().matches("not reloading").count() > before);
        assert!(daemon.log().contains(why), "{why:?} in:\n{}", daemon.log());
        assert_eq!(get(addr, "/readyz").map(|(s, _)| s), Some(200), "still running the old configuration");
    };
    refused("", "it declares no credentials, and 2 with live keys would no longer be managed (a, b)");
    let missing = b.replace(rekey_test_artifacts::plugins::RANDOM, "/nonexistent/random.wasm");
    refused(&format!("{table}{a}{missing}"), "credential `b`:");

    std::fs::write(&file, format!("{table}{a}")).unwrap();
    daemon.signal(rustix::process::Signal::HUP);
    daemon.wait_for("the reload", || daemon.log().contains("reloaded"));
    assert!(
        daemon.log().contains(
            "the reload drops 1 credential(s) whose keys are live and will no longer be rotated or revoked: b"
        ),
        "{}",
        daemon.log()
    );
    let reloaded =
        store(&project).audit_log(None).unwrap().into_iter().rfind(|e| e.event == "daemon.reloaded").unwrap();
    assert_eq!(reloaded.detail["dropped_with_live_keys"], serde_json::json!(["b"]));
    assert_eq!(daemon.terminate(), Some(0));
}

/// A grace period that another process opened (a `rekey rotate` at a
/// shell) ends on time under a running daemon: the daemon sees the change
/// within its scheduling tick, not at its next full refresh a minute later.
#[test]
fn a_grace_period_opened_by_another_process_ends_on_time() {
    let (table, addr) = daemon_table("");
    let credential = random_every("a", "30d").replace(r#"grace_period = "0s""#, r#"grace_period = "2s""#);
    let project = project(&format!("{table}{credential}"));
    let first = ok(project.run(&["rotate", "a"], ""));
    assert!(
        first.starts_with("a: rotated; this is its first key, so there was no old key to revoke ("),
        "no grace period without an old key: {first}"
    );
    let daemon = Daemon::start(&project, addr);
    let opened = ok(project.run(&["rotate", "a"], ""));
    assert!(store(&project).open_rotation("a").unwrap().is_some(), "in its grace period: {opened}");
    let started = std::time::Instant::now();
    while store(&project).open_rotation("a").unwrap().is_some() {
        // Due 2 s from now; seen within a 5 s tick; the full refresh is at 60 s.
        assert!(started.elapsed() < Duration::from_secs(20), "the grace period was not ended; log:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let versions = store(&project).versions("a").unwrap();
    assert!(versions.iter().filter(|v| v.revoked_at.is_none()).count() == 1, "the old key is revoked: {versions:?}");
    let log = daemon.log();
    assert!(log.contains("the grace period of `a` ended: its old key is revoked"), "not said to rotate: {log}");
    assert_eq!(daemon.terminate(), Some(0));
}

/// Schedules that never come and durations past any calendar are refused
/// when the file is read, with what is wrong, instead of panicking or
/// rotating nonstop later.
#[test]
fn impossible_schedules_and_durations_are_refused_when_the_file_is_read() {
    let (table, _) = daemon_table("");
    let project = project(&format!("{table}{}", random_every("a", "1d")));
    let file = project.dir.path().join("rekey.toml");
    let valid = std::fs::read_to_string(&file).unwrap();
    for (from, to, why) in [
        (r#"max_age = "1d""#, r#"schedule = "0 0 30 2 *""#, "`0 0 30 2 *` never comes"),
        (r#"max_age = "1d""#, r#"max_age = "9223372036854775808s""#, "longer than 100 years"),
        (r#"max_age = "1d""#, r#"max_age = "213503982334602d""#, "longer than 100 years"),
        ("[daemon]\n", "[daemon]\nshutdown_timeout = \"18446744073709551615s\"\n", "longer than 100 years"),
    ] {
        std::fs::write(&file, valid.replacen(from, to, 1)).unwrap();
        for args in [&["status"][..], &["daemon", "--once"]] {
            let refused = project.run(args, "");
            let (stdout, stderr) = text(&refused);
            assert_eq!(refused.status.code(), Some(2), "{args:?} with {to}: {stdout}{stderr}");
            assert!(stderr.contains(why) && stderr.contains("rekey.toml:"), "{stderr}");
        }
    }
}

/// `daemon --once` is one pass whatever the policy: a key due again at
/// once (`max_age = "0s"`) is rotated once per pass, not forever.
#[test]
fn daemon_once_is_one_pass_even_for_a_key_due_at_once() {
    let (table, _) = daemon_table("");
    let project = project(&format!("{table}{}", random_every("a", "0s")));
    for pass in 1..=2 {
        let mut child = project.command(&["daemon", "--once"]).spawn().unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("`daemon --once` did not return");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success());
        assert_eq!(store(&project).rotations("a").unwrap().len(), pass, "one rotation per pass");
    }
}

/// A store file damaged under a running daemon (truncated, or 16 KiB of it
/// overwritten) makes `/readyz` fail, and the log says so.
#[test]
fn a_damaged_store_fails_readiness_and_is_logged() {
    use std::io::{Seek, Write};
    let names = names(40);
    let (table, addr) = daemon_table("");
    let credentials: String = names.iter().map(|name| random_every(name, "30d")).collect();
    for damage in ["truncated", "overwritten"] {
        let project = project(&format!("{table}{credentials}"));
        let rotate: Vec<&str> = std::iter::once("rotate").chain(names.iter().map(String::as_str)).collect();
        for _ in 0..3 {
            ok(project.run(&rotate, ""));
        }
        let daemon = Daemon::start(&project, addr);
        assert_eq!(get(addr, "/readyz").map(|(s, _)| s), Some(200));
        let db = project.dir.path().join("rekey.db");
        let length = std::fs::metadata(&db).unwrap().len();
        assert!(length > 64 << 10, "a store of some size: {length} bytes");
        let mut file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        match damage {
            "truncated" => file.set_len(length / 2).unwrap(),
            _ => {
                file.seek(std::io::SeekFrom::Start(length / 2)).unwrap();
                let noise: Vec<u8> = (0..16 << 10).map(|_| support::rand_u128() as u8).collect();
                file.write_all(&noise).unwrap();
            }
        }
        drop(file);
        daemon.wait_for("readiness to fail", || get(addr, "/readyz").is_some_and(|(status, _)| status == 503));
        let (_, body) = get(addr, "/readyz").unwrap();
        assert!(body.contains("the store cannot be read consistently"), "{damage}: {body}");
        assert!(daemon.log().contains("the store cannot be read consistently"), "{damage}: {}", daemon.log());
    }
}

#[test]
fn the_endpoints_serve_parseable_metrics_and_readiness_follows_the_store() {
    let (table, addr) = daemon_table("");
    let credential = random_every("a", "1d");
    let project = project(&format!("{table}{credential}"));
    let daemon = Daemon::start(&project, addr);
    daemon.wait_for("the first rotation", || {
        sample(&daemon.metrics(), "rekey_rotations_total", &[("result", "rotated")]) == Some(1.0)
    });
    let scrape = daemon.metrics();
    for family in [
        "rekey_credential_age_seconds",
        "rekey_credential_due_in_seconds",
        "rekey_scheduler_lag_seconds",
        "rekey_step_duration_seconds",
    ] {
        assert!(scrape.docs.contains_key(family), "{family} is described: {:?}", scrape.docs.keys());
    }
    let due_in = sample(&scrape, "rekey_credential_due_in_seconds", &[("credential", "a")]).unwrap();
    assert!((86_390.0..=86_400.0).contains(&due_in), "due in a day: {due_in}");
    assert_eq!(get(addr, "/readyz"), Some((200, "ready\n".into())));

    let db = project.dir.path().join("rekey.db");
    let moved = project.dir.path().join("elsewhere.db");
    std::fs::rename(&db, &moved).unwrap();
    let (status, body) = get(addr, "/readyz").unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("the store cannot be read"), "{body}");
    assert_eq!(get(addr, "/healthz").map(|(s, _)| s), Some(200), "alive, though not ready");
    std::fs::rename(&moved, &db).unwrap();
    assert_eq!(get(addr, "/readyz").map(|(s, _)| s), Some(200));
    assert_eq!(daemon.terminate(), Some(0));
}

/// 2026-12-03 00:00:00 UTC, a Thursday: the injected clock's day 0.
const DAY0: i64 = 1_796_256_000;
const DAY: i64 = 86_400;

/// `rekey ARGS` at the injected time `at`.
fn at(project: &Project, at: i64, args: &[&str], stdin: &str) -> Output {
    support::run(project.command(args).env(rekey::clock::VAR, at.to_string()), stdin)
}

/// The versions of `name` so far.
fn version(project: &Project, name: &str) -> usize {
    store(project).versions(name).unwrap().len()
}

#[test]
fn a_cron_schedule_rotates_within_its_window_and_a_missed_window_waits_for_the_next_time() {
    let credential = support::random_credential("nightly", "n.env", "KEY").replace(
        r#"policy = { max_age = "0s", grace_period = "0s" }"#,
        r#"policy = { schedule = "0 3 * * *", timezone = "Europe/Berlin", window = "30m", grace_period = "0s" }"#,
    );
    let project = project(&credential);
    ok(at(&project, DAY0, &["rotate", "nightly"], ""));
    // 03:00 in Berlin is 02:00 UTC in December.
    ok(at(&project, DAY0 + 3_600, &["daemon", "--once"], ""));
    assert_eq!(version(&project, "nightly"), 1, "not due before 03:00 Berlin time");
    ok(at(&project, DAY0 + 2 * 3_600 + 600, &["daemon", "--once"], ""));
    assert_eq!(version(&project, "nightly"), 2, "rotated inside the window");
    ok(at(&project, DAY0 + 2 * 3_600 + 900, &["daemon", "--once"], ""));
    assert_eq!(version(&project, "nightly"), 2, "once per scheduled time");
    // The next night the daemon is down during the window: it waits for the night after.
    ok(at(&project, DAY0 + DAY + 3 * 3_600, &["daemon", "--once"], ""));
    assert_eq!(version(&project, "nightly"), 2, "a missed window is not made up");
    let status = ok(at(&project, DAY0 + DAY + 3 * 3_600, &["status", "--json"], ""));
    let rows: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(rows[0]["due"], true, "status still shows it due: {status}");
    ok(at(&project, DAY0 + 2 * DAY + 2 * 3_600 + 60, &["daemon", "--once"], ""));
    assert_eq!(version(&project, "nightly"), 3);
}

/// A notifier that appends every event to `events.jsonl`.
const EVENTS: &str =
    "[[notify]]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", \"cat >> events.jsonl; echo >> events.jsonl\"]\n";

fn events(project: &Project, event: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(project.dir.path().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == event)
        .collect()
}

#[test]
fn reminders_go_out_once_at_each_threshold_and_are_audited() {
    let credential = support::random_credential("api", "api.env", "KEY").replace(
        r#"policy = { max_age = "0s", grace_period = "0s" }"#,
        r#"policy = { max_age = "10d", grace_period = "0s", remind_before = ["3d", "1d"], owners = ["team@example.com"] }"#,
    );
    let project = project(&format!("{EVENTS}{credential}"));
    ok(at(&project, DAY0, &["rotate", "api"], ""));
    let pass = |day: i64, hour: i64| ok(at(&project, DAY0 + day * DAY + hour * 3_600, &["daemon", "--once"], ""));
    pass(6, 0);
    assert!(events(&project, "key.due_soon").is_empty(), "4 days before due: no reminder yet");
    pass(7, 1);
    pass(7, 2);
    pass(8, 0);
    let sent = events(&project, "key.due_soon");
    assert_eq!(sent.len(), 1, "the 3d reminder, once: {sent:?}");
    assert_eq!(sent[0]["detail"]["reminder"], "3d");
    assert_eq!(sent[0]["owners"], serde_json::json!(["team@example.com"]));
    pass(9, 1);
    pass(9, 5);
    let sent = events(&project, "key.due_soon");
    assert_eq!(sent.iter().map(|e| e["detail"]["reminder"].as_str().unwrap()).collect::<Vec<_>>(), ["3d", "1d"]);
    let audit = ok(project.run(&["audit", "log", "--json"], ""));
    assert_eq!(audit.matches("key.due_soon").count(), 2, "each reminder is an audit entry: {audit}");
    // Due: the daemon rotates it, and the new key's reminders start over.
    pass(10, 1);
    assert_eq!(version(&project, "api"), 2);
    pass(17, 2);
    assert_eq!(events(&project, "key.due_soon").len(), 3);
}

#[test]
fn nothing_rotates_during_a_freeze_and_due_keys_rotate_when_it_ends() {
    let weekly = "[daemon]\nfreeze = [{ schedule = \"0 18 * * FRI\", duration = \"62h\" }, { from = \"2026-12-24T00:00:00Z\", to = \"2026-12-27T00:00:00Z\" }]\n";
    let credential = random_every("api", "1d");
    let project = project(&format!("{weekly}{credential}"));
    ok(at(&project, DAY0, &["rotate", "api"], ""));
    // Friday 2026-12-04 20:00 UTC is inside the weekend freeze, Monday 09:00 is not.
    ok(at(&project, DAY0 + DAY + 20 * 3_600, &["daemon", "--once"], ""));
    assert_eq!(version(&project, "api"), 1, "frozen on Friday evening");
    ok(at(&project, DAY0 + 4 * DAY + 9 * 3_600, &["daemon", "--once"], ""));
    assert_eq!(version(&project, "api"), 2, "rotated on Monday");
    // Christmas, a Friday: a one-off freeze.
    ok(at(&project, DAY0 + 22 * DAY, &["daemon", "--once"], ""));
    assert_eq!(version(&project, "api"), 2, "frozen at Christmas");
    ok(at(&project, DAY0 + 25 * DAY + 9 * 3_600, &["daemon", "--once"], ""));
    assert_eq!(version(&project, "api"), 3, "rotated on the Monday after");
}

#[test]
fn jitter_spreads_keys_due_together_over_its_range() {
    let credentials: String = names(20)
        .iter()
        .map(|n| {
            support::random_credential(n, &format!("{n}.env"), "KEY")
                .replace(r#"max_age = "0s""#, r#"max_age = "1h", jitter = "50m""#)
        })
        .collect();
    let project = project(&credentials);
    ok(at(&project, DAY0, &["rotate", "--all-due"], ""));
    let rotated = || names(20).iter().filter(|n| version(&project, n) == 2).count();
    ok(at(&project, DAY0 + 3_600 - 1, &["daemon", "--once"], ""));
    assert_eq!(rotated(), 0, "none before max_age");
    ok(at(&project, DAY0 + 3_600 + 25 * 60, &["daemon", "--once"], ""));
    let halfway = rotated();
    assert!((1..20).contains(&halfway), "some, not all, halfway through the jitter range: {halfway}");
    ok(at(&project, DAY0 + 3_600 + 50 * 60, &["daemon", "--once"], ""));
    assert_eq!(rotated(), 20, "all by the end of the range");
}

#[test]
fn the_injected_clock_is_refused_without_the_test_switch() {
    let project = project(&support::random_credential("a", "a.env", "KEY"));
    let out =
        support::run(project.command(&["status"]).env(rekey::clock::VAR, "1").env_remove(rekey::clock::SWITCH), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("only works in tests"), "{:?}", text(&out));
}

/// `status` gives a due date days away as a date, and a close one (or one
/// just missed) in hours and minutes.
#[test]
fn status_says_how_soon_a_key_is_due_when_it_is_close() {
    let project = project(&random_every("a", "10d"));
    ok(at(&project, DAY0, &["rotate", "a"], ""));
    let due_column = |now: i64| {
        let status = ok(at(&project, now, &["status"], ""));
        let row = status.lines().nth(1).unwrap_or_default().to_string();
        row.split("  ").map(str::trim).filter(|c| !c.is_empty()).nth(3).unwrap_or_default().to_string()
    };
    assert_eq!(due_column(DAY0 + DAY), "2026-12-13");
    assert_eq!(due_column(DAY0 + 10 * DAY - 120), "in 2m");
    assert_eq!(due_column(DAY0 + 9 * DAY - 3 * 3_600), "in 1d 3h");
    assert_eq!(due_column(DAY0 + 10 * DAY + 300), "OVERDUE by 5m");
    assert_eq!(due_column(DAY0 + 20 * DAY), "OVERDUE 2026-12-13");
}

/// A manual credential's old key waits for a person, not for `rekey
/// resume`: its grace period only says how long apps may still use it.
/// A first rotation has no old key, so nothing waits.
#[test]
fn a_manual_credential_in_its_grace_period_is_told_to_revoke_at_the_vendor() {
    let manual = r#"
[[credential]]
name = "console"
plugin = "manual"
policy = { max_age = "10d", grace_period = "1d" }
[[credential.stages]]
name = "prod"
targets = [{ type = "env-file", path = "console.env", variable = "KEY" }]
"#;
    let project = project(manual);
    let first = ok(at(&project, DAY0, &["rotate", "console"], "first-typed-key-1c0d\n"));
    assert!(
        first.starts_with("console: rotated; this is its first key, so there was no old key to revoke ("),
        "{first}"
    );
    assert!(store(&project).open_rotations().unwrap().is_empty(), "nothing waits after a first key");

    let second = ok(at(&project, DAY0 + 3_600, &["rotate", "console"], "second-typed-key-2e9a\n"));
    assert!(
        second.starts_with(
            "console: rotated; the old key stays valid until 2026-12-04 01:00:00 UTC: then revoke it at the vendor, and run `rekey confirm-revoked console` ("
        ),
        "{second}"
    );
    let during = ok(at(&project, DAY0 + 7_200, &["status"], ""));
    assert!(during.contains(" grace rot-") && !during.contains("next:"), "{during}");
    let again = at(&project, DAY0 + 7_200, &["rotate", "console"], "third-typed-key-44aa\n");
    let refused = format!("{}{}", text(&again).0, text(&again).1);
    assert_eq!(again.status.code(), Some(2), "{refused}");
    assert!(refused.contains("its previous key still waits to be revoked at the vendor: revoke it there, then run `rekey confirm-revoked console`"), "{refused}");
    assert!(!refused.contains("revoke-previous") && !refused.contains("rekey resume"), "{refused}");
    let after = ok(at(&project, DAY0 + 2 * DAY, &["status"], ""));
    assert!(
        after.contains("awaiting-revocation rot-")
            && after.contains("(next: revoke the old key at the vendor, then rekey confirm-revoked console)"),
        "{after}"
    );
}

#[test]
fn a_manual_credential_is_reminded_typed_in_deployed_checked_and_confirmed_revoked() {
    let manual = r#"
[[credential]]
name = "console"
plugin = "manual"
policy = { max_age = "10d", grace_period = "0s", remind_before = ["2d"] }
[[credential.stages]]
name = "prod"
targets = [{ type = "env-file", path = "console.env", variable = "KEY" }]
checks = [{ type = "exec", command = ["sh", "-c", "test \"$REKEY_SECRET\" != bad"], retries = 0 }]
"#;
    let project = project(&format!("{EVENTS}{manual}"));
    let first = "first-typed-key-5b1e";
    ok(at(&project, DAY0, &["rotate", "console"], &format!("{first}\n")));
    assert_eq!(project.env_value("console.env", "KEY"), first);

    // The daemon never rotates it: it reminds, before and when due.
    ok(at(&project, DAY0 + 8 * DAY + 3_600, &["daemon", "--once"], ""));
    ok(at(&project, DAY0 + 10 * DAY + 3_600, &["daemon", "--once"], ""));
    ok(at(&project, DAY0 + 10 * DAY + 7_200, &["daemon", "--once"], ""));
    assert_eq!(events(&project, "key.due_soon").len(), 1);
    assert_eq!(events(&project, "key.due").len(), 1, "due, once");
    assert_eq!(version(&project, "console"), 1, "the daemon does not rotate a manual key");
    let verified = ok(project.run(&["verify"], ""));
    assert_eq!(
        verified.trim(),
        "console: not checked: a manual credential's key is checked by a person at the vendor",
        "verify passes over a key no provider can check, and says so"
    );

    // A key that fails its check rolls back; the typed key is left for a person to delete.
    let out = at(&project, DAY0 + 10 * DAY + 8_000, &["rotate", "console"], "bad\n");
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert_eq!(project.env_value("console.env", "KEY"), first, "the old key is back");

    let second = "second-typed-key-77c2";
    let out = ok(at(&project, DAY0 + 10 * DAY + 9_000, &["rotate", "console"], &format!("{second}\n")));
    assert!(out.contains("revoke the old key at the vendor, then run `rekey confirm-revoked console`"), "{out}");
    assert_eq!(project.env_value("console.env", "KEY"), second);
    let status = ok(at(&project, DAY0 + 11 * DAY, &["status"], ""));
    assert!(status.contains("revoke the old key at the vendor, then rekey confirm-revoked console"), "{status}");
    ok(at(&project, DAY0 + 11 * DAY + 9_100, &["daemon", "--once"], ""));
    ok(at(&project, DAY0 + 11 * DAY + 9_200, &["daemon", "--once"], ""));
    ok(at(&project, DAY0 + 12 * DAY + 9_100, &["daemon", "--once"], ""));
    assert_eq!(events(&project, "key.revoke_pending").len(), 2, "a reminder a day until confirmed");

    let out = ok(at(&project, DAY0 + 12 * DAY + 9_500, &["confirm-revoked", "console", "--yes"], ""));
    assert!(out.contains("console: rotated; the old key is revoked"), "{out}");
    let store = store(&project);
    assert!(store.open_rotations().unwrap().is_empty());
    let versions = store.versions("console").unwrap();
    assert!(versions.iter().filter(|v| v.version != 3).all(|v| v.revoked_at.is_some()), "{versions:?}");
    let audit = ok(project.run(&["audit", "log", "--json"], ""));
    assert!(audit.contains("key.revoke_confirmed"), "{audit}");
    let status = ok(project.run(&["status"], ""));
    assert!(
        status.contains("SUSPECT") || status.contains("orphan"),
        "the rolled-back typed key waits to be deleted: {status}"
    );
    let everything =
        format!("{audit}{status}{}", std::fs::read_to_string(project.dir.path().join("events.jsonl")).unwrap());
    assert!(!everything.contains(first) && !everything.contains(second), "typed keys appear nowhere");
    ok(project.run(&["audit", "verify"], ""));
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_where_it_is_installed() {
    let unit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/rekey.service");
    let Ok(out) = std::process::Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the unit is not checked");
        return;
    };
    assert!(out.status.success());
    // The unit names /usr/bin/rekey; point a copy at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("rekey.service");
    let unit_text = std::fs::read_to_string(&unit).unwrap().replace("/usr/bin/rekey", env!("CARGO_BIN_EXE_rekey"));
    std::fs::write(&copy, unit_text).unwrap();
    let out = std::process::Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&copy).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{:?}", text(&out));
}

#[test]
fn scheduled_checks_report_an_unused_and_then_an_invalid_key_once_each() {
    let server = KeyServer::start();
    let names = names(1);
    let credential = webhook_credentials(&server, &names, "90d")
        .replace(r#"grace_period = "0s" }"#, r#"grace_period = "0s", verify_every = "1h", unused_after = "30m" }"#);
    let project = project(&format!("{EVENTS}{credential}"));
    ok(at(&project, DAY0, &["rotate", "c00"], ""));
    // The key API does not report use here, so the key counts as unused
    // since it was made: longer ago than unused_after at the first check.
    ok(at(&project, DAY0 + 3_600 + 60, &["daemon", "--once"], ""));
    ok(at(&project, DAY0 + 2 * 3_600 + 120, &["daemon", "--once"], ""));
    assert_eq!(events(&project, "key.unused").len(), 1, "once, not at every check");
    assert!(events(&project, "key.invalid").is_empty());
    // Revoked behind rekey's back: the next check finds it invalid.
    server.keys.lock().unwrap().clear();
    ok(at(&project, DAY0 + 3 * 3_600 + 180, &["daemon", "--once"], ""));
    ok(at(&project, DAY0 + 4 * 3_600 + 240, &["daemon", "--once"], ""));
    let invalid = events(&project, "key.invalid");
    assert_eq!(invalid.len(), 1, "once per change: {invalid:?}");
    let audit: Vec<String> = store(&project).audit_log(Some("c00")).unwrap().into_iter().map(|e| e.event).collect();
    assert_eq!(audit.iter().filter(|e| *e == "key.invalid").count(), 1, "{audit:?}");
    assert_eq!(audit.iter().filter(|e| *e == "key.unused").count(), 1, "{audit:?}");
    assert_eq!(version(&project, "c00"), 1, "a check never rotates");
}

/// Memory holds secrets (here the admin secret in the environment): a
/// SIGABRT writes no core dump, even started from a shell that allows one.
#[test]
fn a_crash_writes_no_core_dump() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let (table, addr) = daemon_table("");
    let project = project(&table);
    let mut command = project.command(&["daemon"]);
    // As `ulimit -c unlimited` in the shell would start it.
    let unlimited = || {
        let limit = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
        // SAFETY: setrlimit is async-signal-safe and touches only this process.
        match unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    };
    // SAFETY: the closure calls only setrlimit.
    let mut child = unsafe { command.pre_exec(unlimited) }
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while get(addr, "/healthz").is_none() {
        assert!(std::time::Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let core = limits.lines().find(|line| line.starts_with("Max core file size")).unwrap();
    assert_eq!(core.split_whitespace().collect::<Vec<_>>()[4..6], ["0", "0"], "{core}");
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::ABORT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGABRT));
    assert!(!status.core_dumped(), "a core was dumped");
    let cores: Vec<_> = std::fs::read_dir(project.dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("core"))
        .collect();
    assert!(cores.is_empty(), "{cores:?}");
}
