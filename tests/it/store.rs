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
    let ca = support::pki::Ca::new("db-ca");
    let server = support::postgres::Postgres::start_tls(&ca);
    server.sql("CREATE ROLE rekey LOGIN PASSWORD 'tls-store-pw-3c1d';");
    server.sql("CREATE DATABASE tls OWNER rekey;");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db-ca.pem"), ca.pem()).unwrap();
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

/// What a store made by the first rekey lacks: the columns, tables and
/// indexes of every later schema (the same SQL on both engines).
const BACK_TO_SCHEMA_1: &str = "ALTER TABLE versions DROP COLUMN last_used_at;
    ALTER TABLE versions DROP COLUMN checked_at; ALTER TABLE versions DROP COLUMN valid;
    DROP TABLE suspects; DROP TABLE notices; DROP TABLE tokens;
    DROP INDEX versions_by_label; DROP INDEX open_rotations; DROP INDEX audit_by_credential;
    UPDATE meta SET value = '1' WHERE key = 'schema_version';";

/// A store's tables, columns, constraints and indexes, one per line, in
/// the engine's own words.
fn schema_of(project: &Project) -> Vec<String> {
    let lines = |text: String| text.lines().map(str::to_string).collect::<Vec<_>>();
    match support::store_database(project.dir.path()) {
        Some(database) => lines(support::postgres::store_sql(
            &database,
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
                 || ' ' || coalesce(column_default, '') \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE connamespace = current_schema()::regnamespace ORDER BY 1",
        )),
        None => {
            let db = rusqlite::Connection::open(project.dir.path().join("rekey.db")).unwrap();
            let mut query = db
                .prepare(
                    "SELECT type || ' ' || name || ' ' || sql FROM sqlite_master WHERE sql IS NOT NULL \
                     UNION ALL SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\" \
                     FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY 1",
                )
                .unwrap();
            let rows = query.query_map([], |row| row.get::<_, String>(0)).unwrap();
            // SQLite keeps each table's CREATE text as edited by ALTER TABLE; its spacing is not schema.
            rows.map(|row| row.unwrap().split_whitespace().collect::<Vec<_>>().join(" ")).collect()
        }
    }
}

/// The tables, with their columns, and the indexes of a schema, by name
/// only: what both engines must agree on.
fn names_in(schema: &[String]) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for line in schema {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["column" | "index", name, ..] = words.as_slice() {
            names.insert(format!("{} {name}", words[0]));
        }
    }
    names
}

/// The schema is written once: a store an older rekey made is upgraded
/// to the very tables, columns, constraints and indexes of a new one, on
/// SQLite and on PostgreSQL, and the two engines have the same tables,
/// columns and indexes (PostgreSQL adds the leases several daemons share).
#[test]
fn a_migrated_store_and_a_new_one_have_one_schema_on_both_engines() {
    let mut by_engine = Vec::new();
    for store in ["store = \"rekey.db\"\n".to_string(), support::postgres::store_database()] {
        let new = Project::new(&store, &[]);
        let store = if store.contains("postgres") { support::postgres::store_database() } else { store };
        let old = Project::new(&store, &[]);
        support::store_sql(old.dir.path(), BACK_TO_SCHEMA_1);
        assert_ne!(schema_of(&old), schema_of(&new), "the old store lacks something");
        ok(&old, &["status"]);
        assert_eq!(schema_of(&old), schema_of(&new), "upgraded in place to the schema of a new store");
        by_engine.push(names_in(&schema_of(&new)));
    }
    let (sqlite, postgres) = (&by_engine[0], &by_engine[1]);
    // PostgreSQL names the indexes of its keys; SQLite keeps them unnamed.
    let keys = |name: &&String| !(name.ends_with("_pkey") || name.ends_with("_key"));
    let only_postgres: Vec<&String> = postgres.difference(sqlite).filter(keys).collect();
    assert_eq!(
        only_postgres,
        [
            "column leases.credential",
            "column leases.expires_at",
            "column leases.fence",
            "column leases.owner",
            "column rotations.rowid"
        ],
        "only the leases, and the rowid SQLite gives every table"
    );
    assert_eq!(sqlite.difference(postgres).collect::<Vec<_>>(), Vec::<&String>::new());
    assert!(sqlite.contains("index audit_by_credential") && sqlite.contains("column rotations.state"), "{sqlite:?}");
}
