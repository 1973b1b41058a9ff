//! No key left behind, no audit entry dropped: the real `rekey` binary, the
//! real `webhook` plugin and a key API on loopback that makes a key on
//! every create (or, in the idempotent mode, once per name) and knows
//! exactly which keys are live, so orphans can be counted.
//!
//! After every scenario the store and the provider must agree: every live
//! key at the provider is a live version in the store (no orphan), every
//! live version is live at the provider (nothing lost), the target holds
//! the current key (nothing stale), no rotation is left open, and the
//! audit chain verifies.

use crate::support;

use rekey_test_artifacts::plugins;
use std::time::Duration;
use support::agreement::{Disagreement, disagreement};
use support::daemon::names;
use support::{Fault, KeyServer, Project, ok, text};

const ADMIN_VAR: &str = "TEST_API_ADMIN_TOKEN";

/// `rekey.toml` for the credentials `names`, each rotated by `webhook`
/// against `server` and deployed to `NAME.env`, with `extra` at the top (a
/// plugin timeout).
fn toml(server: &KeyServer, names: &[String], extra: &str) -> String {
    let credentials = names
        .iter()
        .map(|name| support::webhook_credential(name, plugins::WEBHOOK, server, ADMIN_VAR, &format!("{name}.env")));
    std::iter::once(extra.to_string()).chain(credentials).collect()
}

fn project(server: &KeyServer, names: &[String], extra: &str) -> Project {
    Project::new(&toml(server, names, extra), &[(ADMIN_VAR, KeyServer::ADMIN_TOKEN)])
}

/// The kill campaign: `iterations` runs of `rekey rotate` over `credentials`
/// credentials at once (`--jobs`), each killed at a random time (not only
/// at step boundaries), every third resume killed too, then resumed to the
/// end; the store and the provider must agree after each. Half the kills
/// fall within 0-50 ms of the start; the other half within the time a whole
/// run takes here, so that more land inside it.
fn kill_campaign(server: KeyServer, iterations: usize, credentials: usize) {
    let names = names(credentials);
    let project = project(&server, &names, "");
    let jobs = credentials.to_string();
    let mut rotate: Vec<&str> = vec!["rotate", "--jobs", &jobs];
    rotate.extend(names.iter().map(String::as_str));
    let started = std::time::Instant::now();
    ok(project.run(&rotate, ""));
    let whole = started.elapsed();
    let (mut interrupted, mut in_limbo) = (0, 0);
    for i in 0..iterations {
        let within = if i % 2 == 0 { Duration::from_millis(50) } else { whole };
        project.killed_within(&rotate, within);
        if i % 3 == 0 {
            project.killed_within(&["resume"], within);
        }
        let left = disagreement(&project, &server, &names);
        interrupted += usize::from(!left.open.is_empty());
        in_limbo += usize::from(!left.orphans.is_empty());
        ok(project.run(&["resume"], ""));
        let found = disagreement(&project, &server, &names);
        assert_eq!(found, Disagreement::default(), "after kill {i}");
    }
    let live = server.keys.lock().unwrap().len();
    eprintln!(
        "kill campaign ({credentials} credential(s) at once): {iterations} kills; {interrupted} left a rotation open, {in_limbo} a key the store did not \
         hold yet; after resume: 0 orphans, 0 lost, 0 stale, 0 open, audit intact; {live} live key(s)"
    );
    assert!(interrupted > 0, "no kill landed inside a rotation: the campaign tested nothing");
    // The credentials share one provider account: the command rekey
    // suggests for drift finds none, and revokes nobody's key.
    let reconciled = ok(project.run(&["reconcile", "--yes"], ""));
    assert!(!reconciled.contains("revoked now"), "{reconciled}");
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default(), "after reconcile --yes");
    ok(project.run(&["audit", "verify"], ""));
}

/// Kills per API mode: 200 in the test suite (about 10 s); `scripts/kill-campaign`
/// runs a longer campaign through `REKEY_KILLS`.
fn kills() -> usize {
    std::env::var("REKEY_KILLS").ok().and_then(|n| n.parse().ok()).unwrap_or(200)
}

#[test]
fn random_kills_leave_no_orphan_with_an_api_that_makes_a_key_per_create() {
    kill_campaign(KeyServer::start().not_idempotent(), kills(), 1);
}

#[test]
fn random_kills_leave_no_orphan_with_an_idempotent_api() {
    kill_campaign(KeyServer::start(), kills(), 1);
}

/// Eight credentials rotating at once share the journal's flushes: a kill
/// mid-run must still leave each of them recoverable.
#[test]
fn random_kills_of_concurrent_rotations_leave_no_orphan() {
    kill_campaign(KeyServer::start().not_idempotent(), kills() / 4, 8);
}

/// A create that makes the key and then fails, in both API modes: the
/// rotation succeeds or rolls back, and after `resume` nothing is left.
fn create_fails_after_making_the_key(fault: Fault) {
    for server in [KeyServer::start(), KeyServer::start().not_idempotent()] {
        let names = names(1);
        let project = project(&server, &names, r#"plugin_timeout = "2s""#);
        ok(project.run(&["rotate", "c00"], ""));
        server.fail_creates(&[fault]);
        let out = project.run(&["rotate", "c00"], "");
        let said = format!("{}{}", text(&out).0, text(&out).1);
        assert!(!said.contains("SUSPECT"), "a provider that lists its keys leaves nothing to suspect: {said}");
        ok(project.run(&["resume"], ""));
        assert_eq!(disagreement(&project, &server, &names), Disagreement::default(), "{said}");
        let audit = ok(project.run(&["audit", "log", "--json"], ""));
        assert!(audit.contains("key.orphan_revoked"), "the lost key was found and revoked: {audit}");
        ok(project.run(&["rotate", "c00"], ""));
    }
}

#[test]
fn a_create_that_answers_500_after_making_the_key_leaves_no_orphan() {
    create_fails_after_making_the_key(Fault::Status(500));
}

#[test]
fn a_create_whose_connection_drops_after_making_the_key_leaves_no_orphan() {
    create_fails_after_making_the_key(Fault::Drop);
}

#[test]
fn a_create_that_hangs_past_the_deadline_after_making_the_key_leaves_no_orphan() {
    create_fails_after_making_the_key(Fault::Hang(Duration::from_secs(4)));
}

/// `rekey rotate c00`, killed right after the provider made the key and
/// before the store has it.
fn lose_a_generate(project: &Project) {
    let out = project.run_with(rekey::rotation::CRASH_VAR, "generate:returned", &["rotate", "c00"]);
    assert_eq!(out.status.code(), None, "killed");
}

#[test]
fn a_killed_generate_is_found_and_revoked_on_resume() {
    let server = KeyServer::start().not_idempotent();
    let names = names(1);
    let project = project(&server, &names, "");
    ok(project.run(&["rotate", "c00"], ""));
    lose_a_generate(&project);
    assert_eq!(disagreement(&project, &server, &names).orphans.len(), 1, "one key in limbo");
    let status = ok(project.run(&["status"], ""));
    assert!(status.contains("interrupted rot-") && status.contains("(next: rekey resume c00)"), "{status}");
    ok(project.run(&["resume"], ""));
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default());
}

/// A create the provider refuses outright made no key: the rotation rolls
/// back at once and looks for none, so a provider with no list endpoint
/// does not turn a plain refusal into a failed rollback.
#[test]
fn a_generate_the_provider_refuses_rolls_back_without_looking_for_a_key() {
    let server = KeyServer::start().not_idempotent();
    let names = names(1);
    let project = project(&server, &names, "");
    ok(project.run(&["rotate", "c00"], ""));
    server.fail_lists(Some(404));
    server.fail_creates(&[Fault::Refuse(400)]);
    let listed_before = server.requests.lock().unwrap().iter().filter(|r| *r == "GET /api/keys").count();
    let out = project.run(&["rotate", "c00"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("rejected (permanent): POST ")
            && stdout.contains("answered 400: {\"error\": \"key quota reached\"}"),
        "{stdout}"
    );
    assert!(stdout.contains("; rolled back: the old key is current again"), "{stdout}");
    assert!(!stdout.contains("the rollback failed too"), "{stdout}");
    let listed = server.requests.lock().unwrap().iter().filter(|r| *r == "GET /api/keys").count();
    assert_eq!(listed, listed_before, "no key was looked for");
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default());
}

/// When a create may have made a key and the provider cannot list its
/// keys just then, the rotation still rolls back: the key it may have left
/// is a suspect (status says so), which `reconcile` settles once the
/// provider lists again.
#[test]
fn a_lost_generate_the_provider_cannot_list_is_suspected_and_the_rotation_rolls_back() {
    let server = KeyServer::start().not_idempotent();
    let names = names(1);
    let project = project(&server, &names, "");
    ok(project.run(&["rotate", "c00"], ""));
    server.fail_lists(Some(503));
    server.fail_creates(&[Fault::Status(503)]);
    let out = project.run(&["rotate", "c00"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("not generating again blindly") && stdout.contains("; rolled back"), "{stdout}");
    assert!(!stdout.contains("the rollback failed too"), "{stdout}");
    let status = ok(project.run(&["status"], ""));
    assert!(
        status.contains("rolled-back") && status.contains("1 SUSPECTED ORPHAN(S): rekey reconcile c00"),
        "{status}"
    );
    let left = disagreement(&project, &server, &names);
    assert_eq!((left.orphans.len(), left.suspects.len(), left.open.len()), (1, 1, 0), "{left:?}");

    server.fail_lists(None);
    let reconciled = ok(project.run(&["reconcile", "c00", "--yes"], ""));
    assert!(reconciled.contains("revoked"), "{reconciled}");
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default());
}

/// Credentials often share one provider account, whose listing shows every
/// credential's keys: none of them is drift, a suspect, or revoked by
/// another credential's `verify`, `reconcile --yes` or sweep.
#[test]
fn credentials_sharing_a_provider_account_never_revoke_each_others_keys() {
    let server = KeyServer::start().not_idempotent();
    let names = names(3);
    let project = project(&server, &names, "");
    ok(project.run(&["rotate", "c00", "c01", "c02"], ""));
    let verified = ok(project.run(&["verify"], ""));
    assert!(!verified.contains("DRIFT"), "{verified}");
    let reconciled = ok(project.run(&["reconcile", "--yes"], ""));
    assert!(!reconciled.contains("revoked now"), "{reconciled}");
    assert!(
        reconciled.contains("c00: 2 key(s) at the provider belong to other credentials (c01, c02): left alone"),
        "{reconciled}"
    );
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default());
    // A lost generate of c00: its sweep revokes its own key and suspects no other.
    lose_a_generate(&project);
    ok(project.run(&["resume"], ""));
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default());
    let audit = ok(project.run(&["audit", "log", "--json"], ""));
    assert_eq!(audit.matches("key.orphan_revoked").count(), 1, "only c00's lost key: {audit}");
}

/// A kill right after a lost generate's key was revoked, before that was
/// recorded, still leaves the key in the audit log: it was written, on
/// disk, before the revoke.
#[test]
fn a_kill_after_revoking_a_lost_key_leaves_the_key_in_the_audit_log() {
    let server = KeyServer::start().not_idempotent();
    let names = names(1);
    let project = project(&server, &names, "");
    ok(project.run(&["rotate", "c00"], ""));
    lose_a_generate(&project);
    let lost = disagreement(&project, &server, &names).orphans;
    assert_eq!(lost.len(), 1, "one key in limbo");
    let crash_at = format!("{}:returned", rekey::rotation::reconcile::REVOKE_ORPHAN);
    let out = project.run_with(rekey::rotation::CRASH_VAR, &crash_at, &["resume"]);
    assert_eq!(out.status.code(), None, "killed after the revoke");
    assert!(!server.keys.lock().unwrap().contains_key(&lost[0]), "revoked at the provider");
    let audit = ok(project.run(&["audit", "log", "--json"], ""));
    assert!(audit.contains("key.orphan_revoking") && audit.contains(&lost[0]), "{audit}");
    ok(project.run(&["resume"], ""));
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default());
}

#[test]
fn twenty_concurrent_rotations_all_succeed_and_every_event_is_audited() {
    let server = KeyServer::start();
    let names = names(21);
    let project = project(&server, &names, "");
    let audit_count =
        || ok(project.run(&["audit", "verify"], "")).split_whitespace().find_map(|w| w.parse::<usize>().ok()).unwrap();
    // One rotation alone, to count the audit entries a rotation makes.
    let before = audit_count();
    ok(project.run(&["rotate", "c20"], ""));
    let per_rotation = audit_count() - before;
    let started = std::time::Instant::now();
    let children: Vec<_> = names[..20]
        .iter()
        .map(|name| {
            project
                .command(&["rotate", name])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let failures: Vec<String> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .filter(|out| !out.status.success())
        .map(|out| format!("{:?}", text(&out)))
        .collect();
    eprintln!("20 concurrent rotations: {:.2} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} of 20 failed: {failures:#?}", failures.len());
    assert_eq!(audit_count(), before + 21 * per_rotation, "no audit entry dropped");
    assert_eq!(disagreement(&project, &server, &names), Disagreement::default());
}
