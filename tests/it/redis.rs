//! The `redis-acl` provider against a real `redis-server` that each test
//! starts on a free loopback port, through the real `rekey` binary: a
//! rotation under a client that never stops authenticating, an emergency,
//! wrong admin credentials, an unreachable server, and an address the plugin
//! was not granted.

use crate::support;

use rekey_test_artifacts::plugins;
use sha2::Digest;
use std::sync::Arc;
use std::time::Duration;
use support::client::Client;
use support::redis::{ADMIN_PASSWORD, FIRST_PASSWORD, Redis};
use support::{Project, text};

/// rekey.toml for the credential `app-redis` on `port`, granted `grant`,
/// deployed to `dev.env` then `prod.env`; the first password imported.
fn project(port: u16, grant: &str) -> Project {
    project_with(&format!("port = {port}"), grant, None)
}

/// The same with the config fields `config` (the port among them), and
/// `ca` as its `tls_ca` when given.
fn project_with(config: &str, grant: &str, ca: Option<&support::pki::Ca>) -> Project {
    let toml = format!(
        r#"
[[credential]]
name = "app-redis"
plugin = "{plugin}"
config = {{ host = "127.0.0.1", user = "app", {config} }}
admin_secrets = {{ admin-password = "env:TEST_REDIS_ADMIN" }}
grants = ["{grant}"]
policy = {{ grace_period = "0s" }}

[[credential.stages]]
name = "dev"
targets = [{{ type = "env-file", path = "dev.env", variable = "REDIS_PASSWORD" }}]

[[credential.stages]]
name = "prod"
targets = [{{ type = "env-file", path = "prod.env", variable = "REDIS_PASSWORD" }}]
"#,
        plugin = plugins::REDIS_ACL,
    );
    let env = [("TEST_REDIS_ADMIN", ADMIN_PASSWORD)];
    let project = match ca {
        Some(ca) => Project::with_ca(&toml.replace("grants = [", "tls_ca = \"ca.pem\"\ngrants = ["), &env, ca),
        None => Project::new(&toml, &env),
    };
    for file in ["dev.env", "prod.env"] {
        std::fs::write(project.dir.path().join(file), format!("REDIS_PASSWORD={FIRST_PASSWORD}\n")).unwrap();
    }
    let imported = project.run(&["credential", "import", "app-redis", "--key-id", "app#first"], FIRST_PASSWORD);
    assert!(imported.status.success(), "{:?}", text(&imported));
    project
}

#[test]
fn a_rotation_keeps_every_client_authenticated_and_retires_the_old_password() {
    let redis = Arc::new(Redis::start());
    let project = project(redis.port, &format!("127.0.0.1:{}", redis.port));
    let prod = project.dir.path().join("prod.env");

    // A client that authenticates, again and again, with whatever prod.env holds.
    let client = {
        let redis = redis.clone();
        Client::start(prod, "REDIS_PASSWORD", move |password| redis.auth("app", password).is_ok())
    };
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..3 {
        let out = project.run(&["rotate", "app-redis"], "");
        assert!(out.status.success(), "{:?}", text(&out));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (successes, failures) = client.stop();

    assert_eq!(failures, 0, "the client never failed to authenticate");
    assert!(successes > 20, "the client kept working throughout");
    let current = project.env_value("prod.env", "REDIS_PASSWORD");
    assert_eq!(project.env_value("dev.env", "REDIS_PASSWORD"), current);
    assert_eq!(redis.auth("app", &current), Ok(()));
    assert!(redis.auth("app", FIRST_PASSWORD).unwrap_err().starts_with("-WRONGPASS"), "the first password is revoked");
    assert_eq!(redis.app_passwords(), 1, "the user holds exactly one password again: nothing left behind");
}

#[test]
fn reconcile_finds_a_password_nobody_holds_and_removes_it_when_told() {
    let redis = Redis::start();
    let project = project(redis.port, &format!("127.0.0.1:{}", redis.port));
    assert!(project.run(&["rotate", "app-redis"], "").status.success());
    let current = project.env_value("prod.env", "REDIS_PASSWORD");
    // What a generate whose answer was lost leaves: a password nobody holds.
    redis.admin("ACL SETUSER app >left-behind-by-a-lost-generate");
    assert_eq!(redis.app_passwords(), 2);
    let hash = hex::encode(sha2::Sha256::digest(b"left-behind-by-a-lost-generate"));
    let out = project.run(&["reconcile", "app-redis"], "");
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(
        text(&out).0.contains(&format!("unknown key app#{} at the provider (no rotation id", &hash[..16])),
        "{:?}",
        text(&out)
    );
    let out = project.run(&["reconcile", "app-redis", "--yes"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(redis.app_passwords(), 1, "removed by its hash, without its secret");
    assert_eq!(redis.auth("app", &current), Ok(()), "the current password still works");
}

#[test]
fn an_emergency_rotation_kills_the_old_password_at_once() {
    let redis = Redis::start();
    let project = project(redis.port, &format!("127.0.0.1:{}", redis.port));
    let out = project.run(&["rotate", "app-redis", "--emergency", "--yes"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(redis.auth("app", FIRST_PASSWORD).is_err());
    assert_eq!(redis.auth("app", &project.env_value("prod.env", "REDIS_PASSWORD")), Ok(()));
}

#[test]
fn wrong_admin_credentials_fail_cleanly_and_the_password_keeps_working() {
    let redis = Redis::start();
    let project = project(redis.port, &format!("127.0.0.1:{}", redis.port));
    let out = project.run_with("TEST_REDIS_ADMIN", "not-the-admin-password", &["rotate", "app-redis"]);
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = text(&out);
    assert!(
        stdout.contains("failed at generate") && stdout.contains("Redis refused the admin user `default`"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("rolled back"), "{stdout}");
    assert_eq!(project.env_value("prod.env", "REDIS_PASSWORD"), FIRST_PASSWORD);
    assert_eq!(redis.auth("app", FIRST_PASSWORD), Ok(()));
    assert!(!stdout.contains("not-the-admin-password") && !stderr.contains("not-the-admin-password"));
}

#[test]
fn an_unreachable_server_fails_cleanly() {
    let redis = Redis::start();
    let closed = support::free_port();
    let project = project(closed, &format!("127.0.0.1:{closed}"));
    let out = project.run(&["rotate", "app-redis"], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains("failed at generate") && stdout.contains("cannot reach Redis at 127.0.0.1"), "{stdout}");
    assert_eq!(project.env_value("prod.env", "REDIS_PASSWORD"), FIRST_PASSWORD);
    assert_eq!(redis.auth("app", FIRST_PASSWORD), Ok(()));
}

#[test]
fn a_server_killed_mid_rotation_is_rolled_back_once_it_is_back() {
    let mut redis = Redis::start();
    let project = project(redis.port, &format!("127.0.0.1:{}", redis.port));
    // dev's check kills the server: the check fails, the old password goes
    // back to the targets, but the new one cannot be revoked yet.
    let kill = format!("kill -9 {}; exit 1", redis.pid());
    let toml = std::fs::read_to_string(project.dir.path().join("rekey.toml")).unwrap();
    let toml = toml.replacen(
        r#"variable = "REDIS_PASSWORD" }]"#,
        &format!(
            r#"variable = "REDIS_PASSWORD" }}]
checks = [{{ type = "exec", command = ["sh", "-c", "{kill}"] }}]"#
        ),
        1,
    );
    std::fs::write(project.dir.path().join("rekey.toml"), toml).unwrap();
    let out = project.run(&["rotate", "app-redis"], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains("failed at check:dev") && stdout.contains("the rollback failed too"), "{stdout}");
    assert!(stdout.contains("run `rekey resume` once the cause is fixed"), "{stdout}");
    assert_eq!(
        project.env_value("dev.env", "REDIS_PASSWORD"),
        FIRST_PASSWORD,
        "the old password is back in the target"
    );

    redis.restart();
    let resumed = project.run(&["resume"], "");
    assert!(resumed.status.success(), "{:?}", text(&resumed));
    assert!(text(&resumed).0.contains("app-redis: rolled back"), "{:?}", text(&resumed));
    assert_eq!(redis.auth("app", FIRST_PASSWORD), Ok(()), "the credential still works");
    assert_eq!(redis.app_passwords(), 1);
    assert!(project.run(&["audit", "verify"], "").status.success());
}

#[test]
fn the_plugin_cannot_reach_an_address_it_was_not_granted() {
    let redis = Redis::start();
    // Configured for the real server, granted only another address.
    let project = project(redis.port, "127.0.0.1:1");
    let out = project.run(&["rotate", "app-redis"], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains(&format!("TCP connection to 127.0.0.1:{} is not granted", redis.port)), "{stdout}");
    assert_eq!(redis.app_passwords(), 1, "Redis was not touched");
}

#[test]
fn the_plugin_passes_the_conformance_kit_against_a_real_server() {
    let redis = Redis::start();
    let (port, grant) = (format!("port={}", redis.port), format!("127.0.0.1:{}", redis.port));
    let args = ["-c", "host=127.0.0.1", "-c", &port, "-c", "user=app", "--grant", &grant];
    let report = support::passes_the_conformance_kit(plugins::REDIS_ACL, &args, "admin-password", ADMIN_PASSWORD);
    assert!(report.contains(" 0 failed, 1 skipped"), "every rule applies to Redis but one: {report}");
    assert!(
        report.contains("SKIP  the same rotation id makes no second key")
            && report.contains("does not declare idempotent-generate"),
        "a skipped rule says why: {report}"
    );
    assert_eq!(redis.app_passwords(), 1, "the kit revoked the passwords it made, and only those");
    assert!(redis.auth("app", FIRST_PASSWORD).is_ok());
}

#[test]
fn over_tls_a_password_rotates_with_the_server_verified_against_the_operators_ca() {
    let ca = support::pki::Ca::new("operators-ca");
    let redis = Redis::start_tls(&ca);
    let tls_port = redis.tls_port.unwrap();
    let project = project_with(&format!("port = {tls_port}, tls = true"), &format!("127.0.0.1:{tls_port}"), Some(&ca));
    let out = project.run(&["rotate", "app-redis"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    let password = project.env_value("prod.env", "REDIS_PASSWORD");
    assert_eq!(redis.auth("app", &password), Ok(()));
    assert!(redis.auth("app", FIRST_PASSWORD).is_err(), "the old password is refused");
    let log = text(&project.run(&["audit", "log", "--plugin", "redis-acl"], "")).0;
    assert!(log.contains(&format!("tcp 127.0.0.1:{tls_port}  TLS, verified as `127.0.0.1`")), "{log}");

    // A CA the operator did not name is not trusted: nothing changes.
    std::fs::write(project.dir.path().join("ca.pem"), support::pki::Ca::new("someone-elses-ca").pem()).unwrap();
    let out = project.run(&["rotate", "app-redis"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).0.contains("not issued by a trusted CA"), "{:?}", text(&out));
    assert_eq!(redis.auth("app", &password), Ok(()));
}

#[test]
fn a_server_without_tls_is_sent_no_password_when_tls_is_asked_for() {
    let redis = Redis::start();
    let ca = support::pki::Ca::new("operators-ca");
    let project =
        project_with(&format!("port = {}, tls = true", redis.port), &format!("127.0.0.1:{}", redis.port), Some(&ca));
    let out = project.run(&["rotate", "app-redis"], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains("no verified TLS connection to Redis"), "{stdout}");
    assert_eq!(redis.auth("app", FIRST_PASSWORD), Ok(()));
    assert_eq!(redis.app_passwords(), 1);
}
