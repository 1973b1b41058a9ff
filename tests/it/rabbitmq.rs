//! The `rabbitmq-user` provider against a real RabbitMQ node with its
//! management plugin (one per test process, each test with users of its
//! own), through the real `rekey` binary: alternating users under a client
//! that never stops logging in, a single user, a SIGKILL at every step
//! boundary, and the conformance kit.

use crate::support;

use rekey_test_artifacts::plugins;
use support::client::Client;
use support::rabbitmq::{ADMIN, ADMIN_PASSWORD, Rabbitmq, shared};
use support::{Project, text};

/// Users `{prefix}_blue` (with `password`, the tag `monitoring` and
/// permissions in `/`) and `{prefix}_green` (none yet).
fn users(node: &Rabbitmq, prefix: &str, password: &str) -> (String, String) {
    let (blue, green) = (format!("{prefix}_blue"), format!("{prefix}_green"));
    let created = node.admin(
        "PUT",
        &format!("users/{blue}"),
        Some(serde_json::json!({ "password": password, "tags": "monitoring" })),
    );
    assert_eq!(created.0, 201, "{created:?}");
    let permissions = serde_json::json!({ "configure": format!("^{prefix}\\."), "write": ".*", "read": ".*" });
    assert_eq!(node.admin("PUT", &format!("permissions/%2F/{blue}"), Some(permissions)).0, 201);
    (blue, green)
}

/// rekey.toml for `mq` with `config`, deployed to `app.env` (AMQP_URL).
fn project(node: &Rabbitmq, config: &str, first: &str) -> Project {
    let toml = format!(
        r#"
[[credential]]
name = "mq"
plugin = "{plugin}"
config = {{ url = "{url}", admin-user = "{ADMIN}", secret-format = "uri", amqp-uri = "amqp://127.0.0.1:5672/%2F", {config} }}
admin_secrets = {{ admin-password = "env:TEST_RMQ_ADMIN" }}
grants = ["127.0.0.1:{port}"]
policy = {{ grace_period = "0s" }}

[[credential.stages]]
name = "prod"
targets = [{{ type = "env-file", path = "app.env", variable = "AMQP_URL" }}]
"#,
        plugin = plugins::RABBITMQ_USER,
        url = node.url(),
        port = node.port,
    );
    let project = Project::new(&toml, &[("TEST_RMQ_ADMIN", ADMIN_PASSWORD)]);
    std::fs::write(project.dir.path().join("app.env"), format!("AMQP_URL={first}\n")).unwrap();
    let imported = project.run(&["credential", "import", "mq", "--key-id", "first"], first);
    assert!(imported.status.success(), "{:?}", text(&imported));
    project
}

/// An AMQP URI's user and password.
fn parts(uri: &str) -> (String, String) {
    let (user_password, _) = uri.strip_prefix("amqp://").unwrap().split_once('@').unwrap();
    let (user, password) = user_password.split_once(':').unwrap();
    (user.into(), password.into())
}

#[test]
fn alternating_users_rotate_with_no_downtime_and_the_new_one_gets_the_permissions() {
    let node = shared();
    let (blue, green) = users(node, "alt", "bluePasswordFirst0123456789");
    let first = format!("amqp://{blue}:bluePasswordFirst0123456789@127.0.0.1:5672/%2F");
    let project = project(node, &format!(r#"strategy = "alternating", users = "{blue},{green}""#), &first);

    let client = Client::start(project.dir.path().join("app.env"), "AMQP_URL", |uri| {
        let (user, password) = parts(uri);
        shared().logs_in(&user, &password)
    });
    let mut rotated_to = Vec::new();
    for _ in 0..2 {
        let out = project.run(&["rotate", "mq"], "");
        assert!(out.status.success(), "{:?}", text(&out));
        rotated_to.push(parts(&project.env_value("app.env", "AMQP_URL")).0);
    }
    let (successes, failures) = client.stop();

    assert_eq!(rotated_to, [green.clone(), blue.clone()], "the users take turns");
    assert_eq!(failures, 0, "the client never failed to log in");
    assert!(successes >= 2, "the client kept working throughout");
    assert!(!node.logs_in(&blue, "bluePasswordFirst0123456789"), "the first password is removed");
    let permissions = node.admin("GET", &format!("users/{green}/permissions"), None).1;
    assert!(permissions.contains(r#""configure":"^alt\\.""#), "green got blue's permissions: {permissions}");
    let user = node.admin("GET", &format!("users/{green}"), None).1;
    assert!(user.contains(r#""password_hash":"""#) && user.contains("monitoring"), "green is the standby: {user}");
}

#[test]
fn a_single_user_gets_a_new_password_and_the_old_one_stops_working() {
    let node = shared();
    let (blue, _) = users(node, "single", "singleFirstPassword0123456789");
    let first = format!("amqp://{blue}:singleFirstPassword0123456789@127.0.0.1:5672/%2F");
    let project = project(node, &format!(r#"user = "{blue}""#), &first);
    let out = project.run(&["rotate", "mq"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    let (user, password) = parts(&project.env_value("app.env", "AMQP_URL"));
    assert_eq!(user, blue);
    assert!(node.logs_in(&blue, &password));
    assert!(!node.logs_in(&blue, "singleFirstPassword0123456789"));
    let log = text(&project.run(&["audit", "log", "--plugin", "rabbitmq-user"], "")).0;
    assert!(!log.contains(&password) && !log.contains(ADMIN_PASSWORD), "{log}");
}

#[test]
fn a_kill_at_every_step_boundary_leaves_the_broker_and_the_store_agreeing() {
    let node = shared();
    let (blue, green) = users(node, "kill", "killFirstPassword0123456789");
    let first = format!("amqp://{blue}:killFirstPassword0123456789@127.0.0.1:5672/%2F");
    let project = project(node, &format!(r#"strategy = "alternating", users = "{blue},{green}""#), &first);
    let boundaries = support::step_boundaries(&project.plan("mq"));
    for boundary in &boundaries {
        project.killed_and_resumed("mq", boundary);
        // The store's current key is what the target holds, it logs in, and
        // the other user is the standby again (no password rekey does not hold).
        let held = project.env_value("app.env", "AMQP_URL");
        assert_eq!(project.current_secret("mq"), held, "store and target after {boundary}");
        let (user, password) = parts(&held);
        assert!(node.logs_in(&user, &password), "the broker takes the current key after a kill at {boundary}");
        let other = if user == blue { &green } else { &blue };
        let standby = node.admin("GET", &format!("users/{other}"), None).1;
        assert!(standby.contains(r#""password_hash":"""#), "`{other}` is the standby after {boundary}: {standby}");
    }
}

#[test]
fn the_plugin_passes_the_conformance_kit_against_a_real_server() {
    let node = shared();
    // A pair of its own, both standby: the kit makes two keys, as two rotations would.
    let (blue, green) = ("kit_blue", "kit_green");
    for user in [blue, green] {
        let standby = serde_json::json!({ "password_hash": "", "tags": "" });
        assert_eq!(node.admin("PUT", &format!("users/{user}"), Some(standby)).0, 201);
    }
    let (url, grant) = (format!("url={}", node.url()), format!("127.0.0.1:{}", node.port));
    let pair = format!("users={blue},{green}");
    let args =
        ["-c", &url, "-c", "admin-user=rekey-admin", "-c", "strategy=alternating", "-c", &pair, "--grant", &grant];
    let report = support::passes_the_conformance_kit(plugins::RABBITMQ_USER, &args, "admin-password", ADMIN_PASSWORD);
    assert!(report.contains(" 0 failed"), "{report}");
    for user in [blue, green] {
        let left = node.admin("GET", &format!("users/{user}"), None).1;
        assert!(left.contains(r#""password_hash":"""#), "the kit revoked every key it made: {left}");
    }
}
