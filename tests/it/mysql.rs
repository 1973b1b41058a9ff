//! The `mysql-user` provider against a real MariaDB server (one per test
//! process, each test with accounts of its own), through the real `rekey`
//! binary: alternating accounts over TLS under a client that never stops
//! logging in, a single account in clear with no plaintext password in the
//! server's log, a SIGKILL at every step boundary, and the conformance kit.

use crate::support;

use rekey_test_artifacts::plugins;
use support::client::Client;
use support::mariadb::{ADMIN, ADMIN_PASSWORD, Mariadb, ca, shared};
use support::{Project, text};

/// Accounts `{prefix}_blue` (with `password`, SELECT on `mysql.db`) and
/// `{prefix}_green` (the same grant, locked: the standby).
fn accounts(server: &Mariadb, prefix: &str, password: &str) -> (String, String) {
    let (blue, green) = (format!("{prefix}_blue"), format!("{prefix}_green"));
    server.sql(&format!(
        "CREATE USER '{blue}'@'%' IDENTIFIED BY '{password}'; GRANT SELECT ON mysql.db TO '{blue}'@'%';
         CREATE USER '{green}'@'%' IDENTIFIED BY 'unused-{password}' ACCOUNT LOCK; GRANT SELECT ON mysql.db TO '{green}'@'%';"
    ));
    (blue, green)
}

/// rekey.toml for `db` with `config`, deployed to `app.env` (DATABASE_URL),
/// the CA of the server's certificate as `tls_ca`; `first` imported.
fn project(server: &Mariadb, config: &str, first: &str) -> Project {
    let toml = format!(
        r#"
[[credential]]
name = "db"
plugin = "{plugin}"
config = {{ host = "127.0.0.1", port = {port}, admin-user = "{ADMIN}", secret-format = "uri", {config} }}
admin_secrets = {{ admin-password = "env:TEST_MYSQL_ADMIN" }}
grants = ["127.0.0.1:{port}"]
tls_ca = "ca.pem"
policy = {{ grace_period = "0s" }}

[[credential.stages]]
name = "prod"
targets = [{{ type = "env-file", path = "app.env", variable = "DATABASE_URL" }}]
"#,
        plugin = plugins::MYSQL_USER,
        port = server.port,
    );
    let project = Project::with_ca(&toml, &[("TEST_MYSQL_ADMIN", ADMIN_PASSWORD)], ca());
    std::fs::write(project.dir.path().join("app.env"), format!("DATABASE_URL={first}\n")).unwrap();
    let imported = project.run(&["credential", "import", "db", "--key-id", "first"], first);
    assert!(imported.status.success(), "{:?}", text(&imported));
    project
}

/// A URI's user and password.
fn parts(uri: &str) -> (String, String) {
    let (user_password, _) = uri.strip_prefix("mysql://").unwrap().split_once('@').unwrap();
    let (user, password) = user_password.split_once(':').unwrap();
    (user.into(), password.into())
}

#[test]
fn over_tls_alternating_accounts_rotate_with_no_downtime() {
    let server = shared();
    let (blue, green) = accounts(server, "alt", "bluePasswordFirst0123456789");
    let first = format!("mysql://{blue}:bluePasswordFirst0123456789@127.0.0.1:{}/", server.port);
    let config = format!(r#"ssl-mode = "verify-identity", strategy = "alternating", users = "{blue},{green}""#);
    let project = project(server, &config, &first);

    let client = Client::start(project.dir.path().join("app.env"), "DATABASE_URL", |uri| {
        let (user, password) = parts(uri);
        shared().login(&user, &password)
    });
    let mut rotated_to = Vec::new();
    for _ in 0..2 {
        let out = project.run(&["rotate", "db"], "");
        assert!(out.status.success(), "{:?}", text(&out));
        rotated_to.push(parts(&project.env_value("app.env", "DATABASE_URL")).0);
    }
    let (successes, failures) = client.stop();

    assert_eq!(rotated_to, [green.clone(), blue.clone()], "the accounts take turns");
    assert_eq!(failures, 0, "the client never failed to log in");
    assert!(successes >= 2, "the client kept working throughout");
    assert!(server.locked(&green), "the retired account is the standby again");
    assert!(!server.login(&blue, "bluePasswordFirst0123456789"), "the first password is retired");
    let log = text(&project.run(&["audit", "log", "--plugin", "mysql-user"], "")).0;
    assert!(log.contains(&format!("tcp 127.0.0.1:{}  TLS, verified as `127.0.0.1`", server.port)), "{log}");
}

#[test]
fn a_single_account_gets_a_new_password_that_the_server_never_sees_in_clear() {
    let server = shared();
    let (blue, _) = accounts(server, "single", "singleFirstPassword0123456789");
    let first = format!("mysql://{blue}:singleFirstPassword0123456789@127.0.0.1:{}/", server.port);
    let project = project(server, &format!(r#"user = "{blue}""#), &first);
    let out = project.run(&["rotate", "db"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    let (user, password) = parts(&project.env_value("app.env", "DATABASE_URL"));
    assert_eq!(user, blue);
    assert!(server.login(&blue, &password));
    assert!(!server.login(&blue, "singleFirstPassword0123456789"));
    let log = server.general_log();
    assert!(log.contains(&format!("ALTER USER '{blue}'@'%' IDENTIFIED BY PASSWORD '*")), "the server saw the hash");
    assert!(!log.contains(&password), "the server never saw the plaintext password");
}

#[test]
fn a_kill_at_every_step_boundary_leaves_the_server_and_the_store_agreeing() {
    let server = shared();
    let (blue, green) = accounts(server, "kill", "killFirstPassword0123456789");
    let first = format!("mysql://{blue}:killFirstPassword0123456789@127.0.0.1:{}/", server.port);
    let project = project(server, &format!(r#"strategy = "alternating", users = "{blue},{green}""#), &first);
    let boundaries = support::step_boundaries(&project.plan("db"));
    for boundary in &boundaries {
        project.killed_at("db", boundary);
        // A key whose answer was lost (killed at generate:returned) is
        // listed, not guessed at: resume records it and rolls back, and
        // reconcile locks it.
        let resumed = project.run(&["resume"], "");
        let lost = boundary == "generate:returned";
        assert_eq!(resumed.status.success(), !lost, "resume after {boundary}: {:?}", text(&resumed));
        let reconciled = project.run(&["reconcile", "db", "--yes"], "");
        assert!(reconciled.status.success(), "reconcile after {boundary}: {:?}", text(&reconciled));
        let held = project.env_value("app.env", "DATABASE_URL");
        assert_eq!(project.current_secret("db"), held, "store and target after {boundary}");
        let (user, password) = parts(&held);
        assert!(server.login(&user, &password), "the server takes the current key after a kill at {boundary}");
        let other = if user == blue { &green } else { &blue };
        assert!(server.locked(other), "`{other}` is the standby after {boundary}: {:?}", text(&reconciled));
    }
}

#[test]
fn the_plugin_passes_the_conformance_kit_against_a_real_server() {
    let server = shared();
    // A pair of its own, both standby: the kit makes two keys, as two rotations would.
    let (blue, green) = accounts(server, "kit", "kitFirstPassword0123456789");
    server.sql(&format!("ALTER USER '{blue}'@'%' ACCOUNT LOCK"));
    let (port, grant) = (format!("port={}", server.port), format!("127.0.0.1:{}", server.port));
    let pair = format!("users={blue},{green}");
    let args = ["-c", "host=127.0.0.1", "-c", &port, "-c", "admin-user=rekey_admin", "-c", "strategy=alternating"];
    let args = [&args[..], &["-c", &pair, "--grant", &grant]].concat();
    let report = support::passes_the_conformance_kit(plugins::MYSQL_USER, &args, "admin-password", ADMIN_PASSWORD);
    assert!(report.contains(" 0 failed"), "{report}");
    assert!(server.locked(&blue) && server.locked(&green), "the kit revoked every key it made");
}
