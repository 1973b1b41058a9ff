//! The `/v1` API of `rekey daemon`, through the real binary: tokens made
//! with `rekey token create`, then every role against every endpoint, for a
//! credential in its scope and one outside it; expired and revoked tokens;
//! failed authentications throttled; and no secret in any answer or log.

mod support;

use support::daemon::{Daemon, daemon_table, get_as, request};
use support::{Project, text};

/// Two `random` credentials, rotated once each, and a daemon serving them.
fn served() -> (Project, Daemon) {
    served_with_grace("0s")
}

/// The same, with a grace period before a previous key is revoked.
fn served_with_grace(grace: &str) -> (Project, Daemon) {
    let (table, addr) = daemon_table("");
    let credentials = ["payments-db", "search-api"].map(|name| {
        support::random_credential(name, &format!("{name}.env"), "KEY")
            .replace("max_age = \"0s\"", "max_age = \"90d\"")
            .replace("grace_period = \"0s\"", &format!("grace_period = \"{grace}\""))
    });
    let project = Project::new(&format!("{table}{}", credentials.concat()), &[]);
    let rotated = project.run(&["rotate", "payments-db", "search-api"], "");
    assert!(rotated.status.success(), "{:?}", text(&rotated));
    let daemon = Daemon::start(&project, addr);
    (project, daemon)
}

/// `rekey token create NAME --role ROLE [--credentials GLOB] [more]`: the token it printed.
fn token(project: &Project, name: &str, role: &str, scope: Option<&str>, more: &[&str]) -> String {
    let mut args = vec!["token", "create", name, "--role", role];
    args.extend(scope.map(|glob| ["--credentials", glob]).into_iter().flatten());
    args.extend(more);
    let made = project.run(&args, "");
    let (stdout, stderr) = text(&made);
    assert!(made.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("it is shown only now"), "{stderr}");
    let token = stdout.trim().to_string();
    assert!(token.starts_with("rkt_") && token.len() == 47, "{token}");
    token
}

#[test]
fn every_role_gets_what_it_may_for_credentials_in_and_out_of_its_scope() {
    let (project, daemon) = served();
    let tokens = [
        ("viewer", token(&project, "v", "viewer", Some("payments-*"), &[])),
        ("auditor", token(&project, "au", "auditor", Some("payments-*"), &[])),
        ("rotator", token(&project, "r", "rotator", Some("payments-*"), &[])),
        ("admin", token(&project, "ad", "admin", Some("payments-*"), &[])),
    ];
    // (path, the roles that get 200; the others get 403)
    let table: [(&str, &[&str]); 7] = [
        ("/v1/credentials", &["viewer", "auditor", "rotator", "admin"]),
        ("/v1/credentials/payments-db", &["viewer", "auditor", "rotator", "admin"]),
        ("/v1/credentials/search-api", &["admin"]),
        ("/v1/audit", &["auditor", "admin"]),
        ("/v1/audit?credential=search-api", &["admin"]),
        ("/v1/audit/verify", &["auditor", "admin"]),
        ("/v1/tokens", &["admin"]),
    ];
    let mut seen = String::new();
    for (path, allowed) in table {
        for (role, token) in &tokens {
            let (status, body) = get_as(daemon.addr, path, Some(token)).expect("the API answers");
            let expected = if allowed.contains(role) { 200 } else { 403 };
            assert_eq!(status, expected, "{role} GET {path}: {body}");
            seen.push_str(&body);
        }
    }
    // What each role sees of the list is its scope.
    let listed = |token: &str| -> Vec<String> {
        let (_, body) = get_as(daemon.addr, "/v1/credentials", Some(token)).unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
        rows.iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(listed(&tokens[0].1), ["payments-db"]);
    assert_eq!(listed(&tokens[3].1), ["payments-db", "search-api"], "an admin sees everything");
    let (_, audit) = get_as(daemon.addr, "/v1/audit?limit=500", Some(&tokens[1].1)).unwrap();
    assert!(!audit.contains("search-api"), "an auditor's log leaves out what its scope does not cover");
    // No secret anywhere: not the keys, not the tokens.
    for name in ["payments-db", "search-api"] {
        let key = project.env_value(&format!("{name}.env"), "KEY");
        assert!(!seen.contains(&key) && !daemon.log().contains(&key), "the key of {name} leaked");
    }
    for (_, token) in &tokens {
        assert!(!seen.contains(token.as_str()) && !daemon.log().contains(token.as_str()), "a token leaked");
    }
}

/// The current version of `name`, as the API says.
fn version(daemon: &Daemon, token: &str, name: &str) -> i64 {
    let (_, body) = get_as(daemon.addr, &format!("/v1/credentials/{name}"), Some(token)).unwrap();
    let shown: serde_json::Value = serde_json::from_str(&body).unwrap();
    shown["credential"]["version"].as_i64().unwrap_or(0)
}

#[test]
fn a_rotator_rotates_what_its_scope_covers_through_the_daemon_and_the_audit_log_names_it() {
    let (project, daemon) = served();
    let rotator = token(&project, "payments-oncall", "rotator", Some("payments-*"), &[]);
    let viewer = token(&project, "dash", "viewer", None, &[]);
    let post = |path: &str, token: &str| request(daemon.addr, "POST", path, Some(token)).unwrap();
    assert_eq!(post("/v1/credentials/search-api/rotate", &rotator).0, 403, "outside its scope");
    assert_eq!(post("/v1/credentials/payments-db/rotate", &viewer).0, 403, "a viewer may not");
    assert_eq!(post("/v1/credentials/nothing/rotate", &rotator).0, 403, "nor anything undeclared outside its scope");

    let (status, body) = post("/v1/credentials/payments-db/rotate", &rotator);
    assert_eq!(status, 202, "{body}");
    daemon.wait_for("the requested rotation", || version(&daemon, &viewer, "payments-db") == 2);
    let (status, body) = post("/v1/credentials/payments-db/rotate?emergency=true", &rotator);
    assert_eq!(status, 202, "{body}");
    daemon.wait_for("the emergency rotation", || version(&daemon, &viewer, "payments-db") == 3);
    assert_eq!(version(&daemon, &viewer, "search-api"), 1, "nothing else rotated");

    let (_, shown) = get_as(daemon.addr, "/v1/credentials/payments-db", Some(&viewer)).unwrap();
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["history"][0]["rotation"]["emergency"], true, "the newest rotation was the emergency");
    let log = text(&project.run(&["audit", "log"], "")).0;
    assert_eq!(log.matches("api.rotate").count(), 2, "{log}");
    assert!(log.contains("payments-oncall"), "each names its token: {log}");
}

#[test]
fn a_rotator_rolls_back_a_rotation_in_its_grace_period_and_nothing_else() {
    let (project, daemon) = served_with_grace("1h");
    let rotator = token(&project, "oncall", "rotator", None, &[]);
    let viewer = token(&project, "dash", "viewer", None, &[]);
    let post = |path: &str, token: &str| request(daemon.addr, "POST", path, Some(token)).unwrap();
    // The first rotations (from no key) are in their grace periods: nothing to go back to.
    let (status, body) = post("/v1/credentials/search-api/rollback", &rotator);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("nothing to roll back"), "{body}");
    assert_eq!(post("/v1/credentials/payments-db/rotate", &rotator).0, 409, "a rotation is under way (in grace)");
    let finished = project.run(&["revoke-previous", "payments-db", "--yes"], "");
    assert!(finished.status.success(), "{:?}", text(&finished));
    assert_eq!(post("/v1/credentials/payments-db/rotate", &rotator).0, 202);
    daemon.wait_for("the second rotation", || version(&daemon, &viewer, "payments-db") == 2);
    assert_eq!(post("/v1/credentials/payments-db/rollback", &viewer).0, 403);

    let before = project.env_value("payments-db.env", "KEY");
    let (status, body) = post("/v1/credentials/payments-db/rollback", &rotator);
    assert_eq!(status, 202, "{body}");
    daemon.wait_for("the rollback", || {
        let (_, shown) = get_as(daemon.addr, "/v1/credentials/payments-db", Some(&viewer)).unwrap();
        let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
        shown["history"][0]["rotation"]["state"] == "rolled-back"
    });
    assert_ne!(project.env_value("payments-db.env", "KEY"), before, "the target has the previous key again");
    assert_eq!(version(&daemon, &viewer, "payments-db"), 1);
    let log = text(&project.run(&["audit", "log"], "")).0;
    assert!(log.contains("api.rollback") && log.contains("oncall"), "{log}");
}

#[test]
fn missing_unknown_expired_and_revoked_tokens_are_refused_alike_and_at_once() {
    let (project, daemon) = served();
    let live = token(&project, "ci", "viewer", None, &[]);
    let expired = token(&project, "old", "viewer", None, &["--expires", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let unknown = format!("rkt_{}", "A".repeat(43));
    for token in [None, Some("not-a-token"), Some(unknown.as_str()), Some(expired.as_str())] {
        let (status, body) = get_as(daemon.addr, "/v1/credentials", token).unwrap();
        assert_eq!(status, 401, "{token:?}: {body}");
        assert!(body.contains("a valid token is needed"), "{body}");
    }
    assert_eq!(get_as(daemon.addr, "/v1/credentials", Some(&live)).unwrap().0, 200);
    let revoked = project.run(&["token", "revoke", "ci"], "");
    assert!(revoked.status.success(), "{:?}", text(&revoked));
    assert_eq!(get_as(daemon.addr, "/v1/credentials", Some(&live)).unwrap().0, 401, "revoked takes effect at once");

    let listed = text(&project.run(&["token", "list"], "")).0;
    assert!(listed.contains("ci") && listed.contains("revoked"), "{listed}");
    assert!(listed.contains("old") && listed.contains("expired"), "{listed}");
    let log = text(&project.run(&["audit", "log"], "")).0;
    assert!(log.contains("token.created") && log.contains("token.revoked"), "{log}");
}

#[test]
fn a_client_that_keeps_failing_to_authenticate_is_throttled() {
    let (project, daemon) = served();
    let live = token(&project, "ci", "viewer", None, &[]);
    let wrong = format!("rkt_{}", "B".repeat(43));
    let statuses: Vec<u16> = (0..25).map(|_| get_as(daemon.addr, "/v1/credentials", Some(&wrong)).unwrap().0).collect();
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[21..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(
        get_as(daemon.addr, "/v1/credentials", Some(&live)).unwrap().0,
        429,
        "even with a good token, for a minute"
    );
}

#[test]
fn the_daemon_refuses_a_public_address_without_tls_unless_told() {
    let project = Project::new("[daemon]\nlisten = \"0.0.0.0:0\"\n", &[]);
    let refused = project.run(&["daemon"], "");
    assert_eq!(refused.status.code(), Some(1), "{:?}", text(&refused));
    assert!(text(&refused).1.contains("pass --insecure-http"), "{:?}", text(&refused));
}
