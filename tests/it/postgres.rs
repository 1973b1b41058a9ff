//! The `postgres-role` provider against a real PostgreSQL server that each
//! test initialises and starts on a free loopback port (as the `postgres`
//! user: the server refuses to run as root), through the real `rekey` binary.

use crate::support;

use rekey_test_artifacts::plugins;
use std::sync::Arc;
use support::client::Client;
use support::pki::Ca;
use support::postgres::{Postgres, wait_until};
use support::{Project, env_value, text};

const ADMIN_PASSWORD: &str = "pg-admin-pw-8e21";
const BLUE_PASSWORD: &str = "bluePasswordFirst0123456789";

/// A server with the roles the tests rotate: an admin that may change
/// them, and `app_blue`/`app_green` members of `app`.
fn server() -> Postgres {
    with_roles(Postgres::start())
}

/// The same roles on a server that takes TCP clients over TLS only, its
/// certificate (for 127.0.0.1, `localhost` and `db.test`) issued by `ca`.
fn tls_server(ca: &Ca) -> Postgres {
    with_roles(Postgres::start_tls(ca))
}

fn with_roles(server: Postgres) -> Postgres {
    server.sql(&format!(
        "CREATE ROLE rekey_admin LOGIN CREATEROLE PASSWORD '{ADMIN_PASSWORD}';
         CREATE ROLE app NOLOGIN;
         CREATE ROLE app_blue LOGIN PASSWORD '{BLUE_PASSWORD}' IN ROLE app;
         CREATE ROLE app_green NOLOGIN IN ROLE app;"
    ));
    server
}

/// A URI's role and password.
fn parts(uri: &str) -> (String, String) {
    let rest = uri.strip_prefix("postgresql://").unwrap();
    let (user_password, _) = rest.split_once('@').unwrap();
    let (user, password) = user_password.split_once(':').unwrap();
    (user.into(), password.into())
}

/// A project of `app-db` (see [`credential`]).
fn project(pg: &Postgres, config: &str, grant_port: u16) -> Project {
    Project::new(&credential(pg, config, grant_port), &[("TEST_PG_ADMIN", ADMIN_PASSWORD)])
}

/// rekey.toml for `app-db` with `config`, deployed to `app.env` (DATABASE_URL).
fn credential(pg: &Postgres, config: &str, grant_port: u16) -> String {
    format!(
        r#"
[[credential]]
name = "app-db"
plugin = "{plugin}"
config = {{ host = "127.0.0.1", admin-user = "rekey_admin", secret-format = "uri", {config} }}
admin_secrets = {{ admin-password = "env:TEST_PG_ADMIN" }}
grants = ["127.0.0.1:{grant_port}"]
policy = {{ grace_period = "0s" }}

[[credential.stages]]
name = "prod"
targets = [{{ type = "env-file", path = "app.env", variable = "DATABASE_URL" }}]
"#,
        plugin = plugins::POSTGRES_ROLE,
        config = if config.contains("port =") { config.to_string() } else { format!("port = {}, {config}", pg.port) },
    )
}

fn import_blue(project: &Project, pg: &Postgres) {
    let uri = format!("postgresql://app_blue:{BLUE_PASSWORD}@127.0.0.1:{}/postgres", pg.port);
    std::fs::write(project.dir.path().join("app.env"), format!("DATABASE_URL={uri}\n")).unwrap();
    let out = project.run(&["credential", "import", "app-db", "--key-id", "app_blue#first"], &uri);
    assert!(out.status.success(), "{:?}", text(&out));
}

#[test]
fn alternating_roles_rotate_with_no_downtime_and_never_log_a_password() {
    let pg = Arc::new(server());
    let project = project(&pg, r#"strategy = "alternating", roles = "app_blue,app_green""#, pg.port);
    import_blue(&project, &pg);
    let env = project.dir.path().join("app.env");

    let client = {
        let pg = pg.clone();
        Client::start(env.clone(), "DATABASE_URL", move |uri| {
            let (role, password) = parts(uri);
            pg.login(&role, &password)
        })
    };
    let mut roles = Vec::new();
    for _ in 0..2 {
        let out = project.run(&["rotate", "app-db"], "");
        assert!(out.status.success(), "{:?}", text(&out));
        roles.push(parts(&env_value(&env, "DATABASE_URL")).0);
    }
    let (successes, failures) = client.stop();

    assert_eq!(roles, ["app_green", "app_blue"], "the roles take turns");
    assert_eq!(failures, 0, "the client never failed to log in");
    assert!(successes > 3, "the client kept working throughout");
    let (role, password) = parts(&env_value(&env, "DATABASE_URL"));
    assert!(pg.login(&role, &password));
    assert!(!pg.login("app_blue", BLUE_PASSWORD), "the first password is retired");
    let log = pg.log();
    assert!(log.contains("SCRAM-SHA-256$4096:"), "the server saw verifiers");
    assert!(!log.contains(&password), "the server never saw a plaintext password");
}

#[test]
fn a_single_role_gets_a_new_password_and_the_old_one_stops_working() {
    let pg = server();
    let project = project(&pg, r#"role = "app_blue""#, pg.port);
    import_blue(&project, &pg);
    let out = project.run(&["rotate", "app-db"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    let (role, password) = parts(&project.env_value("app.env", "DATABASE_URL"));
    assert_eq!(role, "app_blue");
    assert!(pg.login("app_blue", &password));
    assert!(!pg.login("app_blue", BLUE_PASSWORD));
}

#[test]
fn wrong_admin_credentials_fail_cleanly_and_the_password_keeps_working() {
    let pg = server();
    let project = project(&pg, r#"strategy = "alternating", roles = "app_blue,app_green""#, pg.port);
    import_blue(&project, &pg);
    let out = project.run_with("TEST_PG_ADMIN", "not-the-admin-password", &["rotate", "app-db"]);
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = text(&out);
    assert!(
        stdout.contains("failed at generate") && stdout.contains("PostgreSQL refused the admin role `rekey_admin`"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("rolled back"), "{stdout}");
    assert!(pg.login("app_blue", BLUE_PASSWORD));
    assert!(!stdout.contains("not-the-admin-password") && !stderr.contains("not-the-admin-password"));
}

#[test]
fn a_server_killed_mid_rotation_is_rolled_back_once_it_is_back() {
    let pg = server();
    let project = project(&pg, r#"strategy = "alternating", roles = "app_blue,app_green""#, pg.port);
    import_blue(&project, &pg);
    // prod's check kills the server: the check fails, the old URI goes back to
    // the target, but the role that took the new password cannot be retired yet.
    let check = format!(
        r#"checks = [{{ type = "exec", command = ["sh", "-c", "kill -9 {}; exit 1"], retries = 0 }}]"#,
        pg.pid()
    );
    let toml = std::fs::read_to_string(project.dir.path().join("rekey.toml")).unwrap();
    std::fs::write(project.dir.path().join("rekey.toml"), format!("{toml}{check}\n")).unwrap();
    let out = project.run(&["rotate", "app-db"], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains("failed at check:prod") && stdout.contains("the rollback failed too"), "{stdout}");
    assert_eq!(parts(&project.env_value("app.env", "DATABASE_URL")).0, "app_blue", "the old credential is back");

    std::thread::sleep(std::time::Duration::from_millis(500));
    pg.run();
    let resumed = project.run(&["resume"], "");
    assert!(resumed.status.success(), "{:?}", text(&resumed));
    assert!(text(&resumed).0.contains("app-db: rolled back"), "{:?}", text(&resumed));
    assert!(pg.login("app_blue", BLUE_PASSWORD), "the credential still works");
    // The role that took the new password was retired: it is the standby again.
    std::fs::write(project.dir.path().join("rekey.toml"), toml).unwrap();
    let rotate = project.run(&["rotate", "app-db"], "");
    assert!(rotate.status.success(), "{:?}", text(&rotate));
    assert_eq!(parts(&project.env_value("app.env", "DATABASE_URL")).0, "app_green");
}

#[test]
fn a_generate_whose_answer_was_lost_is_made_again_on_the_same_role() {
    let pg = server();
    let project = project(&pg, r#"strategy = "alternating", roles = "app_blue,app_green""#, pg.port);
    import_blue(&project, &pg);
    // Killed once app_green can log in with a password nobody holds.
    let out = project.run_with(rekey::rotation::CRASH_VAR, "generate:returned", &["rotate", "app-db"]);
    assert_eq!(out.status.code(), None, "killed");
    let resumed = project.run(&["resume"], "");
    assert!(resumed.status.success(), "{:?}", text(&resumed));
    let (role, password) = parts(&project.env_value("app.env", "DATABASE_URL"));
    assert_eq!(role, "app_green", "the role enabled for this rotation, not a refusal that both can log in");
    assert!(pg.login(&role, &password));
    assert!(!pg.login("app_blue", BLUE_PASSWORD), "the old role is retired");
}

#[test]
fn a_process_that_lost_its_lease_leaves_the_role_it_enabled_to_the_one_that_took_over() {
    // Two rekey processes on one PostgreSQL store with leases of 2 s.
    let pg = server();
    let store = support::postgres::store_database();
    let toml = format!(
        "{store}store_lease = \"2s\"\n{}",
        credential(&pg, r#"strategy = "alternating", roles = "app_blue,app_green""#, pg.port)
    );
    let project = Project::new(&toml, &[("TEST_PG_ADMIN", ADMIN_PASSWORD)]);
    import_blue(&project, &pg);
    let database = support::store_database(project.dir.path()).unwrap();
    let count = |sql: &str| pg.sql_in("postgres", sql).trim().parse::<usize>().unwrap();

    // The first process enables app_green for its rotation (its `generate`
    // held up by a lock on the role table until its store is locked too),
    // and is stopped at its next write, past its lease.
    let mut roles = pg.session("postgres");
    roles.send("BEGIN; LOCK TABLE pg_authid IN SHARE MODE;");
    wait_until("the role table to be locked", || {
        count("SELECT count(*) FROM pg_locks WHERE relation = 'pg_authid'::regclass AND granted") == 1
    });
    let log = project.dir.path().join("first.log");
    let output = std::fs::File::create(&log).unwrap();
    let mut first =
        project.command(&["rotate", "app-db"]).stdout(output.try_clone().unwrap()).stderr(output).spawn().unwrap();
    wait_until("the first process's generate to wait for the role table", || {
        count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == 1
    });
    support::postgres::stop_at_its_next_write(&database, first.id(), || roles.send("COMMIT;"));
    wait_until("the server to end its transaction", || support::postgres::idle_in_a_transaction(&database) == 0);
    let config = rekey::config::Config::load(&project.dir.path().join("rekey.toml")).unwrap();
    let opened = rekey::state::open(&config).unwrap();
    wait_until("its lease to expire", || !opened.is_held("app-db").unwrap());

    // Another process takes the rotation over: the same role, a new password.
    let resumed = project.run(&["resume"], "");
    assert!(resumed.status.success(), "{:?}", text(&resumed));
    let (role, password) = parts(&project.env_value("app.env", "DATABASE_URL"));
    assert_eq!(role, "app_green");
    assert!(pg.login(&role, &password));

    // Continued, the first process finds its lease lost and leaves app_green
    // alone: revoking "its" key would lock out the role now in use.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(first.id() as i32).unwrap(),
        rustix::process::Signal::CONT,
    )
    .unwrap();
    assert!(!first.wait().unwrap().success());
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("lost the lease on `app-db`"), "{said}");
    assert!(pg.login(&role, &password), "the role in use was revoked by the process that lost its lease");
}

#[test]
fn an_emergency_rotation_retires_the_old_role_at_once() {
    let pg = server();
    let project = project(&pg, r#"strategy = "alternating", roles = "app_blue,app_green""#, pg.port);
    import_blue(&project, &pg);
    let out = project.run(&["rotate", "app-db", "--emergency", "--yes"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(!pg.login("app_blue", BLUE_PASSWORD));
    let (role, password) = parts(&project.env_value("app.env", "DATABASE_URL"));
    assert!(pg.login(&role, &password));
}

#[test]
fn an_unreachable_server_fails_cleanly() {
    let pg = server();
    let closed = support::free_port();
    let project = project(&pg, &format!(r#"role = "app_blue", port = {closed}"#), closed);
    import_blue(&project, &pg);
    let out = project.run(&["rotate", "app-db"], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains("failed at generate") && stdout.contains("cannot talk to PostgreSQL"), "{stdout}");
    assert!(pg.login("app_blue", BLUE_PASSWORD));
}

#[test]
fn the_plugin_cannot_reach_an_address_it_was_not_granted() {
    let pg = server();
    let project = project(&pg, r#"role = "app_blue""#, 1);
    import_blue(&project, &pg);
    let out = project.run(&["rotate", "app-db"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).0.contains(&format!("TCP connection to 127.0.0.1:{} is not granted", pg.port)),
        "{:?}",
        text(&out)
    );
    assert!(pg.login("app_blue", BLUE_PASSWORD), "the server was not touched");
}

#[test]
fn the_plugin_passes_the_conformance_kit_against_a_real_server() {
    let pg = server();
    // A pair of its own, both standby: the kit makes two keys, as two rotations would.
    pg.sql(
        "CREATE ROLE kit NOLOGIN; CREATE ROLE kit_blue NOLOGIN IN ROLE kit; CREATE ROLE kit_green NOLOGIN IN ROLE kit;",
    );
    let (port, grant) = (format!("port={}", pg.port), format!("127.0.0.1:{}", pg.port));
    let args = ["-c", "host=127.0.0.1", "-c", &port, "-c", "admin-user=rekey_admin", "--grant", &grant];
    let alternating = ["-c", "strategy=alternating", "-c", "roles=kit_blue,kit_green"];
    let args = [&args[..], &alternating].concat();
    let report = support::passes_the_conformance_kit(plugins::POSTGRES_ROLE, &args, "admin-password", ADMIN_PASSWORD);
    assert!(report.contains("PASS  the same rotation id makes no second key"), "{report}");
    assert!(pg.login("app_blue", BLUE_PASSWORD), "the application's own role is untouched");
}

/// rekey.toml for `app-db` with `config` over TLS: the CA in `ca.pem`,
/// and `grants` besides the server's address.
fn over_tls(pg: &Postgres, config: &str, grants: &[&str]) -> String {
    let grants: String = grants.iter().map(|g| format!("\"{g}\", ")).collect();
    credential(pg, config, pg.port).replace("grants = [", &format!("tls_ca = \"ca.pem\"\ngrants = [{grants}"))
}

#[test]
fn over_tls_a_role_rotates_with_the_server_verified_against_the_operators_ca() {
    let ca = Ca::new("operators-ca");
    let pg = tls_server(&ca);
    let project = Project::with_ca(
        &over_tls(&pg, r#"role = "app_blue", sslmode = "verify-full""#, &[]),
        &[("TEST_PG_ADMIN", ADMIN_PASSWORD)],
        &ca,
    );
    import_blue(&project, &pg);

    let out = project.run(&["rotate", "app-db"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    let uri = project.env_value("app.env", "DATABASE_URL");
    assert!(uri.ends_with("/postgres?sslmode=verify-full"), "applications are told to verify too: {uri}");
    let (role, password) = parts(&uri);
    assert!(pg.login(&role, &password));
    assert!(!pg.login("app_blue", BLUE_PASSWORD), "the old password is refused");
    // The server takes TCP clients over TLS only; the audit log says which name was verified.
    let log = text(&project.run(&["audit", "log", "--plugin", "postgres-role"], "")).0;
    let verified = format!("tcp 127.0.0.1:{}  TLS, verified as `127.0.0.1`", pg.port);
    assert!(log.contains(&verified), "{log}");
    assert!(!log.contains("in clear"), "{log}");
}

#[test]
fn over_tls_a_wrong_ca_a_wrong_name_and_an_ungranted_name_each_fail_clearly_and_change_nothing() {
    let ca = Ca::new("operators-ca");
    let pg = tls_server(&ca);
    let single = r#"role = "app_blue", sslmode = "verify-full""#;
    let project = Project::with_ca(&over_tls(&pg, single, &[]), &[("TEST_PG_ADMIN", ADMIN_PASSWORD)], &ca);
    import_blue(&project, &pg);
    let rotate_with = |toml: String, ca_pem: String| {
        std::fs::write(project.dir.path().join("rekey.toml"), toml).unwrap();
        std::fs::write(project.dir.path().join("ca.pem"), ca_pem).unwrap();
        project.run(&["rotate", "app-db"], "")
    };
    let fails_with = |out: std::process::Output, expected: &str| {
        assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
        let (stdout, stderr) = text(&out);
        assert!(stdout.contains(expected), "expected {expected:?} in {stdout}{stderr}");
        assert!(pg.login("app_blue", BLUE_PASSWORD), "nothing changed");
    };

    let another_ca = Ca::new("someone-elses-ca");
    fails_with(rotate_with(over_tls(&pg, single, &[]), another_ca.pem()), "not issued by a trusted CA");
    let other_name = r#"role = "app_blue", sslmode = "verify-full", tls-server-name = "other.test""#;
    let grant = format!("other.test:{}", pg.port);
    fails_with(rotate_with(over_tls(&pg, other_name, &[&grant]), ca.pem()), "not valid for that name");
    let db_test = r#"role = "app_blue", sslmode = "require", tls-server-name = "db.test""#;
    fails_with(
        rotate_with(over_tls(&pg, db_test, &[]), ca.pem()),
        &format!("TLS to 127.0.0.1:{} as `db.test` is refused", pg.port),
    );

    // Granted, the name the certificate carries is verified.
    let grant = format!("db.test:{}", pg.port);
    let out = rotate_with(over_tls(&pg, db_test, &[&grant]), ca.pem());
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(!pg.login("app_blue", BLUE_PASSWORD));
    assert!(
        text(&project.run(&["audit", "log", "--plugin", "postgres-role"], "")).0.contains("TLS, verified as `db.test`")
    );
}

#[test]
fn a_server_without_tls_is_sent_no_password_when_tls_is_asked_for() {
    let pg = server();
    let project = project(&pg, r#"role = "app_blue", sslmode = "verify-full""#, pg.port);
    import_blue(&project, &pg);
    let out = project.run(&["rotate", "app-db"], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains("the server does not accept TLS connections"), "{stdout}");
    assert!(pg.login("app_blue", BLUE_PASSWORD));
    assert!(!pg.log().contains("ALTER ROLE"), "no statement ran: {}", pg.log());
}
