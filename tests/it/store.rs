//! The store in PostgreSQL, beyond what the rotation suite covers on it:
//! `rekey store migrate` moves a store from SQLite to PostgreSQL (a
//! database in a cluster the test starts) and back, and it reads the same —
//! status, history, audit log — with its audit chain verified at each step,
//! while a target that holds a store is refused and left as it was; and a
//! store reached over TLS verifies the server against `store_ca`.

use crate::support;

use support::{Project, text};

fn ok(project: &Project, args: &[&str]) -> String {
    let out = project.run(args, "");
    assert!(out.status.success(), "`rekey {}` failed: {:?}", args.join(" "), text(&out));
    text(&out).0
}

/// What an operator reads about the store; ages (which move with the
/// clock) left out.
fn reading(project: &Project) -> (serde_json::Value, String, String, String) {
    let mut status: serde_json::Value = serde_json::from_str(&ok(project, &["status", "--json"])).unwrap();
    for credential in status.as_array_mut().unwrap() {
        credential.as_object_mut().unwrap().remove("age_seconds");
    }
    (status, ok(project, &["history", "a"]), ok(project, &["history", "b"]), ok(project, &["audit", "log", "--json"]))
}

/// Points `rekey.toml` at another store.
fn use_store(project: &Project, store: &str) {
    let path = project.dir.path().join("rekey.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    let (_, credentials) = toml.split_once("[[credential]]").unwrap();
    std::fs::write(&path, format!("{store}[[credential]]{credentials}")).unwrap();
}

#[test]
fn a_store_moved_to_postgresql_and_back_reads_the_same_and_its_audit_chain_verifies() {
    let credentials: String =
        ["a", "b"].iter().map(|n| support::random_credential(n, &format!("{n}.env"), "KEY")).collect();
    let project = Project::new(&format!("store = \"rekey.db\"\n{credentials}"), &[]);
    ok(&project, &["rotate", "a"]);
    ok(&project, &["rotate", "a", "b"]);
    ok(&project, &["token", "create", "ci", "--role", "viewer"]);

    let postgres = support::postgres::store_database();
    let url = postgres.lines().next().unwrap().split('"').nth(1).unwrap().to_string();
    let password = postgres.lines().nth(1).unwrap().split('"').nth(1).unwrap().to_string();
    let moved = ok(&project, &["store", "migrate", "--to", &url, "--password", &password]);
    assert!(moved.contains("the copy's audit chain verifies"), "{moved}");
    assert!(moved.contains("1 tokens"), "{moved}");
    let before = reading(&project);

    let again = project.run(&["store", "migrate", "--to", &url, "--password", &password], "");
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again).1.contains(&format!("a store already exists at {url}; nothing was changed")),
        "{:?}",
        text(&again)
    );

    use_store(&project, &postgres);
    assert_eq!(reading(&project), before, "the PostgreSQL copy reads as the SQLite store did");
    ok(&project, &["audit", "verify"]);
    assert!(ok(&project, &["token", "list"]).contains("ci"));

    let moved_back = ok(&project, &["store", "migrate", "--to", "back.db"]);
    assert!(moved_back.contains("the copy's audit chain verifies"), "{moved_back}");
    let on_postgres = reading(&project);
    assert!(moved_back.contains("key_file = \"./rekey.key\""), "the master key's file is named: {moved_back}");
    use_store(&project, "store = \"back.db\"\nkey_file = \"rekey.key\"\n");
    assert_eq!(reading(&project), on_postgres, "the SQLite copy reads as the PostgreSQL store did");
    ok(&project, &["audit", "verify"]);
    ok(&project, &["rotate", "b"]);
    ok(&project, &["audit", "verify"]);

    let refused = project.run(&["store", "migrate", "--to", "rekey.db"], "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).1.contains("rekey.db; nothing was changed"), "{:?}", text(&refused));
}

#[test]
fn a_store_over_tls_verifies_the_server_against_store_ca() {
    let (server, certificate) = support::postgres::Postgres::start_tls();
    server.sql("CREATE ROLE rekey LOGIN PASSWORD 'tls-store-pw-3c1d';");
    server.sql("CREATE DATABASE tls OWNER rekey;");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db-ca.pem"), certificate).unwrap();
    std::fs::write(dir.path().join("db-password"), "tls-store-pw-3c1d\n").unwrap();
    let store = format!(
        "store = \"postgres://rekey@localhost:{}/tls?sslmode=require\"\nstore_password = \"file:db-password\"\n",
        server.port
    );
    let credential = support::random_credential("a", "a.env", "KEY");
    let project = Project::in_dir(dir, &format!("{store}store_ca = \"db-ca.pem\"\n{credential}"), &[]);
    ok(&project, &["rotate", "a"]);
    ok(&project, &["audit", "verify"]);

    // Without the CA, the server's certificate is not trusted and nothing is read.
    std::fs::write(project.dir.path().join("rekey.toml"), format!("{store}{credential}")).unwrap();
    let untrusted = project.run(&["status"], "");
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(text(&untrusted).1.contains("invalid peer certificate"), "{:?}", text(&untrusted));
}
