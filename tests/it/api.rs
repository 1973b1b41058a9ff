//! The `/v1` API of `rekey daemon`, through the real binary: tokens made
//! with `rekey token create`, then every role against every endpoint, for a
//! credential in its scope and one outside it; expired and revoked tokens;
//! failed authentications throttled, per client and together; slow
//! clients and unknown `Host` names refused; and no secret in any answer
//! or log.

use crate::support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};
use support::daemon::{Daemon, connect_from, daemon_table, exchange, get, get_as, head, request};
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
    let table: [(&str, &[&str]); 8] = [
        ("/v1/credentials", &["viewer", "auditor", "rotator", "admin"]),
        ("/v1/credentials/payments-db", &["viewer", "auditor", "rotator", "admin"]),
        ("/v1/credentials/search-api", &["admin"]),
        ("/v1/audit", &["auditor", "admin"]),
        ("/v1/audit?credential=search-api", &["admin"]),
        ("/v1/audit/verify", &["auditor", "admin"]),
        ("/v1/plugins", &["auditor", "admin"]),
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
    // The actions: a role that may gets past access to the credential's
    // state (nothing in grace to roll back, nothing interrupted: 409), the others 403.
    let actions: [(&str, &[&str]); 4] = [
        ("/v1/credentials/payments-db/rollback", &["rotator", "admin"]),
        ("/v1/credentials/payments-db/resume", &["rotator", "admin"]),
        ("/v1/credentials/search-api/rollback", &["admin"]),
        ("/v1/credentials/search-api/resume", &["admin"]),
    ];
    for (path, allowed) in actions {
        for (role, token) in &tokens {
            let (status, body) = request(daemon.addr, "POST", path, Some(token)).expect("the API answers");
            let expected = if allowed.contains(role) { 409 } else { 403 };
            assert_eq!(status, expected, "{role} POST {path}: {body}");
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
    // The first rotations (from no key) are over at once: no old key to keep in a grace period, nothing to go back to.
    let (status, body) = post("/v1/credentials/search-api/rollback", &rotator);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("nothing to roll back"), "{body}");
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
    std::thread::sleep(Duration::from_millis(2100));
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

    // An admin revokes a leaked token from anywhere, at once; nobody else may.
    let admin = token(&project, "root", "admin", None, &[]);
    let leaked = token(&project, "leaked", "viewer", None, &[]);
    let viewer = token(&project, "dash", "viewer", None, &[]);
    assert_eq!(request(daemon.addr, "DELETE", "/v1/tokens/leaked", Some(&viewer)).unwrap().0, 403);
    let (status, body) = request(daemon.addr, "DELETE", "/v1/tokens/leaked", Some(&admin)).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(get_as(daemon.addr, "/v1/credentials", Some(&leaked)).unwrap().0, 401, "refused at once");
    assert_eq!(request(daemon.addr, "DELETE", "/v1/tokens/leaked", Some(&admin)).unwrap().0, 404, "revoked already");

    let listed = text(&project.run(&["token", "list"], "")).0;
    assert!(listed.contains("ci") && listed.contains("revoked"), "{listed}");
    assert!(listed.contains("old") && listed.contains("expired"), "{listed}");
    let log = text(&project.run(&["audit", "log"], "")).0;
    assert!(log.contains("token.created") && log.contains("token.revoked"), "{log}");
    assert!(log.contains(r#""by":"token root""#), "the API's revocation names the admin's token: {log}");
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

/// One attacker with many addresses is many clients: past the global
/// ceiling every address that failed is refused, while a client that has
/// not failed still gets in with its good token.
#[test]
fn guessing_tokens_from_many_addresses_meets_a_global_ceiling() {
    let (project, daemon) = served();
    let live = token(&project, "ci", "viewer", None, &[]);
    let wrong = format!("rkt_{}", "B".repeat(43));
    let from = |last: u8| connect_from(Ipv4Addr::new(127, 0, 0, last), daemon.addr).unwrap();
    let guess = head(daemon.addr, "GET", "/v1/credentials", Some(&wrong));
    let mut statuses = Vec::new();
    for _round in 0..10 {
        statuses.extend((2..32).map(|last| exchange(from(last), &guess).unwrap().0));
    }
    // 300 guesses from 30 addresses: 10 each, under one client's limit of 20.
    assert!(statuses[..200].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[200..].iter().all(|s| *s == 429), "past 200 failures a minute together: {statuses:?}");
    let good = head(daemon.addr, "GET", "/v1/credentials", Some(&live));
    assert_eq!(exchange(from(40), &good).unwrap().0, 200, "a client that did not fail gets in");
}

/// Half-sent requests from many addresses, against a daemon with the
/// default service file limit (1,024): each address's share of
/// connections is capped (the rest are closed at once), a connection that
/// sends no whole header in time is closed, and meanwhile the API answers
/// and rotations go on without failing.
#[test]
fn slow_clients_neither_exhaust_the_daemon_nor_fail_a_rotation() {
    let (table, addr) = daemon_table("");
    let credential = support::random_credential("a", "a.env", "KEY").replace("max_age = \"0s\"", "max_age = \"1s\"");
    let project = Project::new(&format!("{table}{credential}"), &[]);
    let daemon = Daemon::start_with_file_limit(&project, addr, 1024);
    let half = "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let slow: Vec<TcpStream> = (0..1100)
        .map(|i| {
            let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, 2 + (i % 30) as u8), addr).unwrap();
            stream.write_all(half.as_bytes()).unwrap();
            stream
        })
        .collect();
    let key = project.env_value("a.env", "KEY");
    daemon.wait_for("a rotation during the attack", || project.env_value("a.env", "KEY") != key);
    assert_eq!(get(addr, "/healthz").map(|(s, _)| s), Some(200), "the API answers another client");
    // 30 addresses × 8 connections each (a 32nd of 256, a quarter of 1,024).
    let open = daemon.open_files();
    assert!(open < 240 + 64, "{open} files open: the connections past each share were closed");
    let mut first = slow.into_iter().next().unwrap();
    first.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut rest = Vec::new();
    let closed = first.read_to_end(&mut rest);
    assert!(closed.is_ok_and(|_| !String::from_utf8_lossy(&rest).contains(" 200 ")), "closed, not served: {rest:?}");
    let log = daemon.log();
    assert!(!log.contains("Too many open files") && !log.contains("ERROR"), "{log}");
    let audit = text(&project.run(&["audit", "log"], "")).0;
    assert!(!audit.contains("rotation.failed"), "{audit}");
}

/// A web page can point a name of its own at 127.0.0.1 (DNS rebinding):
/// the daemon answers only to IP addresses, `localhost` and `[daemon] hosts`.
#[test]
fn a_request_for_a_name_the_daemon_does_not_know_is_refused() {
    let (table, addr) = daemon_table("hosts = [\"rekey.test\"]");
    let project = Project::new(&table, &[]);
    let daemon = Daemon::start(&project, addr);
    let as_host = |host: &str, path: &str| {
        let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        exchange(TcpStream::connect(daemon.addr).unwrap(), &head).unwrap()
    };
    for path in ["/metrics", "/v1/openapi.json", "/signin"] {
        let (status, body) = as_host(&format!("attacker.example:{}", addr.port()), path);
        assert_eq!(status, 421, "{path}: {body}");
        assert!(body.contains("add it to `hosts` under [daemon]"), "{body}");
    }
    for host in [addr.to_string(), format!("localhost:{}", addr.port()), "rekey.test".into()] {
        assert_eq!(as_host(&host, "/metrics").0, 200, "{host}");
    }
}

#[test]
fn the_daemon_refuses_a_public_address_without_tls_unless_told() {
    let project = Project::new("[daemon]\nlisten = \"0.0.0.0:0\"\n", &[]);
    let refused = project.run(&["daemon"], "");
    assert_eq!(refused.status.code(), Some(1), "{:?}", text(&refused));
    assert!(text(&refused).1.contains("pass --insecure-http"), "{:?}", text(&refused));
}

#[test]
fn a_rotator_resumes_an_interrupted_rotation_without_waiting_for_the_daemons_retry() {
    // A copy of the plugin, to spoil and mend; a check that kills the first rotation once.
    let plugins = tempfile::tempdir().unwrap();
    let plugin = plugins.path().join("random.wasm");
    std::fs::copy(rekey_test_artifacts::plugins::RANDOM, &plugin).unwrap();
    let once = plugins.path().join("kill-once");
    std::fs::write(&once, "").unwrap();
    let (table, addr) = daemon_table("");
    let credential = support::random_credential("payments-db", "payments-db.env", "KEY")
        .replace(rekey_test_artifacts::plugins::RANDOM, plugin.to_str().unwrap())
        .replace("max_age = \"0s\"", "max_age = \"90d\"");
    let check = format!(
        r#"checks = [{{ type = "exec", command = ["sh", "-c", "if [ -e {0} ]; then rm {0}; kill -9 $PPID; fi"] }}]"#,
        once.display()
    );
    let project = Project::new(&format!("{table}{credential}{check}\n"), &[]);
    let killed = project.run(&["rotate", "payments-db"], "");
    assert!(!killed.status.success() && !once.exists(), "the check killed the rotation: {:?}", text(&killed));

    // The daemon's own resume fails (the plugin changed) and backs off for a minute.
    let approved = std::fs::read(&plugin).unwrap();
    std::fs::write(&plugin, [approved.as_slice(), b"spoiled"].concat()).unwrap();
    let daemon = Daemon::start(&project, addr);
    daemon.wait_for("the daemon's resume to fail", || daemon.log().contains("changed since it was approved"));
    let rotator = token(&project, "oncall", "rotator", None, &[]);
    let viewer = token(&project, "dash", "viewer", None, &[]);
    let post = |path: &str, token: &str| request(daemon.addr, "POST", path, Some(token)).unwrap();
    assert_eq!(post("/v1/credentials/payments-db/resume", &viewer).0, 403);

    std::fs::write(&plugin, &approved).unwrap();
    // A plugin that failed to load is not read again for 2 s (a bulk run reads a broken one once).
    std::thread::sleep(Duration::from_millis(2100));
    // `rekey --server … resume` asks the daemon (POST …/resume) and waits for the end.
    let asked = Instant::now();
    let resumed = remote(&daemon, Some(&rotator), &["resume"]);
    let (stdout, stderr) = text(&resumed);
    assert!(resumed.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("payments-db: rotated"), "as a local resume says: {stdout}");
    // Well before the daemon's own retry, a minute after its failure.
    assert!(asked.elapsed() < Duration::from_secs(30), "not resumed on request; log:\n{}", daemon.log());
    assert_eq!(version(&daemon, &viewer, "payments-db"), 1);
    assert_eq!(text(&remote(&daemon, Some(&rotator), &["resume"])).0, "nothing to resume\n");
    let (status, body) = post("/v1/credentials/payments-db/resume", &rotator);
    assert_eq!(status, 409, "nothing is interrupted now: {body}");
    assert!(body.contains("no interrupted rotation"), "{body}");
    let log = text(&project.run(&["audit", "log"], "")).0;
    assert!(log.contains("api.resume") && log.contains("oncall"), "{log}");
    assert!(project.run(&["audit", "verify"], "").status.success());
}

/// The repository's root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().into()
}

#[test]
fn the_openapi_document_describes_every_endpoint_and_is_the_checked_in_one() {
    let (_project, daemon) = served();
    let (status, served) = get(daemon.addr, "/v1/openapi.json").expect("the document is served");
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["components"]["securitySchemes"]["token"]["scheme"], "bearer");
    let paths = document["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 10, "{:?}", paths.keys());
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} documents its success");
            let (status, _) =
                request(daemon.addr, &method.to_uppercase(), &path.replace("{name}", "payments-db"), None)
                    .expect("the API answers");
            assert_eq!(status, 401, "{method} {path} is served, and not without a token");
        }
    }
    // The copy in docs/ is what a client author reads; it must not drift.
    let file = root().join("docs/openapi.json");
    if std::env::var_os("REKEY_UPDATE_OPENAPI").is_some() {
        std::fs::write(&file, &served).unwrap();
    }
    let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        checked_in == served,
        "docs/openapi.json differs from what the daemon serves; after changing the API, run \
         `REKEY_UPDATE_OPENAPI=1 cargo test --release -p rekey --test it api::the_openapi` and review the diff"
    );
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as
/// `cert.pem` and `key.pem` into `dir`; its DER, for the client to trust.
fn certificate(dir: &std::path::Path) -> Vec<u8> {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    made.cert.der().to_vec()
}

/// An HTTPS client that trusts `der` only.
fn trusting(der: &[u8]) -> ureq::Agent {
    let roots = ureq::tls::RootCerts::new_with_certs(&[ureq::tls::Certificate::from_der(der).to_owned()]);
    let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
    ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into()
}

#[test]
fn over_tls_the_daemon_listens_on_a_public_address_and_its_cookies_are_secure() {
    let port = support::free_port();
    let table = format!("[daemon]\nlisten = \"0.0.0.0:{port}\"\ntls = {{ cert = \"cert.pem\", key = \"key.pem\" }}\n");
    let credential = support::random_credential("payments-db", "payments-db.env", "KEY");
    let project = Project::new(&format!("{table}{credential}"), &[]);
    let der = certificate(project.dir.path());
    let rotated = project.run(&["rotate", "payments-db"], "");
    assert!(rotated.status.success(), "{:?}", text(&rotated));
    let viewer = token(&project, "dash", "viewer", None, &[]);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let daemon = Daemon::start_with(&project, addr, |addr| {
        trusting(&der).get(format!("https://{addr}/healthz")).call().is_ok_and(|r| r.status() == 200)
    });
    let client = trusting(&der);
    let base = format!("https://127.0.0.1:{port}");
    let mut answer = client
        .get(format!("{base}/v1/credentials"))
        .header("Authorization", format!("Bearer {viewer}"))
        .call()
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.body_mut().read_to_string().unwrap().contains("payments-db"));
    let signin = client.get(format!("{base}/signin")).call().unwrap();
    let cookie = signin.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // On a public address /metrics names every credential only to a token that may see them all.
    let metrics = |token: Option<&str>| {
        let request = client.get(format!("{base}/metrics"));
        let request = match token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        };
        request.call().unwrap().status().as_u16()
    };
    let scoped = token(&project, "pay", "viewer", Some("payments-*"), &[]);
    assert_eq!(metrics(None), 401);
    assert_eq!(metrics(Some(&scoped)), 403);
    assert_eq!(metrics(Some(&viewer)), 200);

    // Plain HTTP to the same port gets no answer, and a client that does not trust the certificate none either.
    assert!(get(daemon.addr, "/healthz").is_none_or(|(status, _)| status != 200));
    let (status, _) = request(daemon.addr, "GET", "/v1/credentials", Some(&viewer)).unwrap_or((0, String::new()));
    assert_ne!(status, 200);
    let stranger: ureq::Agent = ureq::Agent::config_builder().build().into();
    assert!(
        stranger.get(format!("{base}/healthz")).call().is_err(),
        "a self-signed certificate is not trusted by default"
    );
    assert!(daemon.log().contains(&format!("https://0.0.0.0:{port}")), "{}", daemon.log());
}

#[test]
fn a_certificate_that_cannot_be_used_stops_the_daemon_with_the_file_named() {
    let (table, _) = daemon_table("tls = { cert = \"cert.pem\", key = \"missing.pem\" }");
    let project = Project::new(&table, &[]);
    certificate(project.dir.path());
    let refused = project.run(&["daemon"], "");
    let (_, stderr) = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("[daemon.tls]: cannot use") && stderr.contains("missing.pem"), "{stderr}");
    std::fs::write(project.dir.path().join("missing.pem"), "not a key").unwrap();
    let refused = project.run(&["daemon"], "");
    assert!(text(&refused).1.contains("missing.pem"), "{:?}", text(&refused));
}

/// The README once named the master key file as the TLS key, and `openssl
/// req -keyout` then destroyed the key that opens the store: such a
/// `rekey.toml` is refused, and a key file holding a PEM key says so.
#[test]
fn a_tls_file_that_is_the_master_key_file_is_refused_and_a_pem_key_file_is_named() {
    let (table, _) = daemon_table("");
    let project = Project::new(&table, &[]);
    let dir = project.dir.path();
    let key = std::fs::read(dir.join("rekey.key")).unwrap();
    for tls in
        ["tls = { cert = \"tls.crt\", key = \"rekey.key\" }", "tls = { cert = \"./rekey.key\", key = \"tls.key\" }"]
    {
        std::fs::write(dir.join("rekey.toml"), daemon_table(tls).0).unwrap();
        let refused = project.run(&["daemon"], "");
        let (_, stderr) = text(&refused);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("the store's master key file") && stderr.contains("name another file"), "{stderr}");
    }
    assert_eq!(std::fs::read(dir.join("rekey.key")).unwrap(), key, "the master key is untouched");
    // What `openssl req -keyout rekey.key` leaves behind:
    std::fs::write(dir.join("rekey.toml"), &table).unwrap();
    let pem =
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";
    std::fs::write(dir.join("rekey.key"), pem).unwrap();
    let (_, stderr) = text(&project.run(&["status"], ""));
    assert!(stderr.contains("holds a PEM private key, not a rekey master key"), "{stderr}");
}

/// The README's `openssl` recipe makes a certificate `--server-ca` takes;
/// `openssl req -x509` without its `basicConstraints` makes a CA
/// certificate, which TLS clients refuse as a server's own: the error says
/// so in words, and how to make one that works.
#[test]
fn the_readmes_certificate_recipe_works_with_server_ca_and_a_ca_certificate_is_explained() {
    let readme = include_str!("../../README.md");
    let recipe = readme.split("openssl req -x509").nth(1).unwrap().split("```").next().unwrap();
    let recipe = format!("openssl req -x509{}", recipe.replace("\\\n", " "));
    for (variant, works) in
        [(recipe.clone(), true), (recipe.replace(" -addext basicConstraints=critical,CA:FALSE", ""), false)]
    {
        let port = support::free_port();
        let table =
            format!("[daemon]\nlisten = \"127.0.0.1:{port}\"\ntls = {{ cert = \"tls.crt\", key = \"tls.key\" }}\n");
        let project = Project::new(&table, &[]);
        let made =
            support::run(std::process::Command::new("sh").arg("-c").arg(&variant).current_dir(project.dir.path()), "");
        assert!(made.status.success(), "{variant}: {:?}", text(&made));
        let viewer = token(&project, "dash", "viewer", None, &[]);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let _daemon = Daemon::start_with(&project, addr, |addr| std::net::TcpStream::connect(addr).is_ok());
        let laptop = tempfile::tempdir().unwrap();
        let mut status = support::rekey(&laptop);
        status.current_dir(laptop.path()).env("REKEY_TOKEN", &viewer).env_remove("REKEY_SERVER");
        status
            .arg("--server")
            .arg(format!("https://127.0.0.1:{port}"))
            .arg("--server-ca")
            .arg(project.dir.path().join("tls.crt"));
        let answered = support::run(status.arg("status"), "");
        let (stdout, stderr) = text(&answered);
        match works {
            true => assert!(answered.status.success(), "{variant}: {stdout}{stderr}"),
            false => assert!(
                stderr.contains("the daemon's certificate is a CA certificate")
                    && stderr.contains("basicConstraints=critical,CA:FALSE"),
                "{stderr}"
            ),
        }
    }
}

/// `rekey --server http://ADDR ARGS` with `token` in `$REKEY_TOKEN`, from a
/// folder with no rekey.toml, store or key: a team member's laptop.
fn remote(daemon: &Daemon, token: Option<&str>, args: &[&str]) -> std::process::Output {
    let laptop = tempfile::tempdir().unwrap();
    let mut command = support::rekey(&laptop);
    command.current_dir(laptop.path()).arg("--server").arg(format!("http://{}", daemon.addr)).args(args);
    command.env_remove("REKEY_TOKEN").env_remove("REKEY_SERVER");
    if let Some(token) = token {
        command.env("REKEY_TOKEN", token);
    }
    support::run(&mut command, "")
}

/// `rekey status` with its AGE column blanked (a second may pass between two runs).
fn without_ages(status: &str) -> String {
    status.lines().map(|line| format!("{}{}", &line[..31.min(line.len())], line.get(42..).unwrap_or(""))).collect()
}

#[test]
fn the_cli_with_server_prints_what_it_prints_locally_and_rotates_through_the_daemon() {
    let (project, daemon) = served_with_grace("1h");
    let admin = token(&project, "laptop-admin", "admin", None, &[]);
    let rotator = token(&project, "payments-oncall", "rotator", Some("payments-*"), &[]);
    let same = |args: &[&str]| {
        let (local, far) = (project.run(args, ""), remote(&daemon, Some(&admin), args));
        assert!(far.status.success(), "{args:?}: {:?}", text(&far));
        (text(&local).0, text(&far).0)
    };
    let (local, far) = same(&["status"]);
    assert_eq!(without_ages(&far), without_ages(&local));
    for args in [
        &["history", "payments-db"][..],
        &["audit", "log"],
        &["audit", "log", "--credential", "search-api"],
        &["audit", "verify"],
    ] {
        let (local, far) = same(args);
        assert_eq!(far, local, "{args:?}");
    }

    // The first rotations are over at once: nothing to roll back to.
    let refused = remote(&daemon, Some(&rotator), &["rollback", "payments-db", "--yes"]);
    assert_eq!(refused.status.code(), Some(1));
    let why = text(&refused).1;
    assert!(why.contains("refused: `payments-db` has nothing to roll back") && why.contains("(HTTP 409)"), "{why}");
    let rotated = remote(&daemon, Some(&rotator), &["rotate", "payments-db"]);
    let (stdout, stderr) = text(&rotated);
    assert!(rotated.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("payments-db: rotated; the old key stays valid until"), "as locally: {stdout}");
    let rolled_back = remote(&daemon, Some(&rotator), &["rollback", "payments-db", "--yes"]);
    let (stdout, stderr) = text(&rolled_back);
    assert!(rolled_back.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "payments-db: rolled back; the previous key is current again\n");
    assert_eq!(version(&daemon, &admin, "payments-db"), 1);

    // Refusals say why, with the server's reason.
    let outside = remote(&daemon, Some(&rotator), &["rotate", "search-api"]);
    assert_eq!(outside.status.code(), Some(1));
    assert!(
        text(&outside).1.contains("may not see `search-api`: it is outside its scope (HTTP 403)"),
        "{:?}",
        text(&outside)
    );
    let no_token = remote(&daemon, None, &["status"]);
    assert!(text(&no_token).1.contains("--server needs a token in $REKEY_TOKEN"), "{:?}", text(&no_token));
    let tokens = remote(&daemon, Some(&admin), &["token", "list"]);
    let listed = text(&tokens).0;
    assert!(listed.contains("laptop-admin") && listed.contains("payments-oncall"), "{listed}");
    assert_eq!(listed.lines().count(), text(&project.run(&["token", "list"], "")).0.lines().count(), "{listed}");
    let local_only = remote(&daemon, Some(&admin), &["credential", "list"]);
    assert_eq!(local_only.status.code(), Some(2));
    assert!(
        text(&local_only).1.contains("only status, history, rotate, rollback, resume, audit and token list"),
        "{:?}",
        text(&local_only)
    );
}

#[test]
fn an_api_token_is_a_credential_rekey_rotates_deploys_and_revokes() {
    let (table, addr) = daemon_table("");
    let payments = support::random_credential("payments-db", "payments-db.env", "KEY");
    let ci = "[[credential]]\nname = \"ci-token\"\nplugin = \"rekey-token\"\n\
              config = { role = \"viewer\", credentials = \"payments-*\" }\npolicy = { max_age = \"30d\", grace_period = \"0s\" }\n\
              [[credential.stages]]\nname = \"ci\"\ntargets = [{ type = \"env-file\", path = \"ci.env\", variable = \"REKEY_TOKEN\" }]\n";
    let project = Project::new(&format!("{table}{payments}{ci}"), &[]);
    let rotated = project.run(&["rotate", "payments-db", "ci-token"], "");
    assert!(rotated.status.success(), "{:?}", text(&rotated));
    let daemon = Daemon::start(&project, addr);
    let first = project.env_value("ci.env", "REKEY_TOKEN");
    let (status, body) = get_as(daemon.addr, "/v1/credentials", Some(&first)).unwrap();
    assert_eq!(status, 200, "the deployed token works: {body}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(listed.len(), 1, "with the role and scope its config gives: {body}");
    assert_eq!(get_as(daemon.addr, "/v1/audit", Some(&first)).unwrap().0, 403, "a viewer's");
    let verified = project.run(&["verify", "ci-token"], "");
    assert!(verified.status.success(), "{:?}", text(&verified));

    let rotated = project.run(&["rotate", "ci-token"], "");
    assert!(rotated.status.success(), "{:?}", text(&rotated));
    let second = project.env_value("ci.env", "REKEY_TOKEN");
    assert_ne!(second, first);
    assert_eq!(get_as(daemon.addr, "/v1/credentials", Some(&first)).unwrap().0, 401, "the old token is revoked");
    assert_eq!(get_as(daemon.addr, "/v1/credentials", Some(&second)).unwrap().0, 200);
    let tokens = text(&project.run(&["token", "list"], "")).0;
    assert_eq!(tokens.matches("ci-token.rot-").count(), 2, "{tokens}");
    assert!(tokens.contains("revoked"), "{tokens}");
    let reconciled = project.run(&["reconcile", "ci-token"], "");
    assert!(reconciled.status.success(), "nothing orphaned: {:?}", text(&reconciled));
    assert!(!daemon.log().contains(&second) && !text(&project.run(&["audit", "log"], "")).0.contains(&second));

    // A token credential's config is checked before anything runs.
    std::fs::write(project.dir.path().join("rekey.toml"), ci.replace("role = \"viewer\"", "role = \"root\"")).unwrap();
    let refused = project.run(&["status"], "");
    assert_eq!(refused.status.code(), Some(2), "{:?}", text(&refused));
    assert!(
        text(&refused).1.contains("config.role `root`: use viewer, auditor, rotator or admin"),
        "{:?}",
        text(&refused)
    );
}

/// `GET path` as `token`: the status, the `Link` header if any, and the body.
fn get_page(addr: std::net::SocketAddr, path: &str, token: &str) -> (u16, Option<String>, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("the daemon listens");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(head(addr, "GET", path, Some(token)).as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (headers, body) = response.split_once("\r\n\r\n").expect("a whole response");
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let link = headers
        .lines()
        .find_map(|line| line.split_once(": ").filter(|(name, _)| name.eq_ignore_ascii_case("link")))
        .map(|(_, value)| value.to_string());
    (status, link, body.to_string())
}

#[test]
fn credentials_come_in_pages_of_the_callers_scope_each_linking_to_the_next() {
    let (table, addr) = daemon_table("");
    let names = ["app-1", "other-2", "app-3", "app-4", "app-5"];
    let credentials: String =
        names.iter().map(|name| support::random_credential(name, &format!("{name}.env"), "KEY")).collect();
    let project = Project::new(&format!("{table}{credentials}"), &[]);
    let daemon = Daemon::start(&project, addr);
    let viewer = token(&project, "v", "viewer", Some("app-*"), &[]);

    let mut pages = Vec::new();
    let mut next = Some("/v1/credentials?limit=2".to_string());
    while let Some(path) = next.take() {
        let (status, link, body) = get_page(daemon.addr, &path, &viewer);
        assert_eq!(status, 200, "GET {path}: {body}");
        let page: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
        pages.push(page.iter().map(|s| s["name"].as_str().unwrap().to_string()).collect::<Vec<_>>());
        next = link.map(|link| {
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            link.trim_start_matches('<').split_once('>').unwrap().0.to_string()
        });
        assert!(pages.len() <= 3, "the links end: {pages:?}");
    }
    assert_eq!(pages, [["app-1", "app-3"], ["app-4", "app-5"]], "declaration order, in scope only");

    let (_, _, all) = get_page(daemon.addr, "/v1/credentials", &viewer);
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&all).unwrap().len(), 4, "no limit: every one in scope");
    for after in ["other-2", "nowhere"] {
        let (status, _, body) = get_page(daemon.addr, &format!("/v1/credentials?limit=2&after={after}"), &viewer);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(&format!("no credential `{after}` is declared in this token's scope")), "{body}");
    }
}
