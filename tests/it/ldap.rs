//! The `ldap-password` provider against a real OpenLDAP `slapd` that each
//! test starts on free loopback ports, through the real `rekey` binary:
//! over LDAPS and over StartTLS, a SIGKILL at every step boundary, and the
//! conformance kit.

use crate::support;

use rekey_test_artifacts::plugins;
use support::ldap::{ACCOUNT_DN, FIRST_PASSWORD, ROTATOR_DN, ROTATOR_PASSWORD, Slapd};
use support::pki::Ca;
use support::{Project, text};

/// rekey.toml for `svc-ldap` on `port` with `security`, the CA in
/// `ca.pem`, deployed to `app.env` (LDAP_PASSWORD); the first password
/// imported.
fn project(ca: &Ca, port: u16, security: &str) -> Project {
    let toml = format!(
        r#"
[[credential]]
name = "svc-ldap"
plugin = "{plugin}"
config = {{ host = "127.0.0.1", port = {port}, security = "{security}", account-dn = "{ACCOUNT_DN}", admin-dn = "{ROTATOR_DN}" }}
admin_secrets = {{ admin-password = "env:TEST_LDAP_ADMIN" }}
grants = ["127.0.0.1:{port}"]
tls_ca = "ca.pem"
policy = {{ grace_period = "0s" }}

[[credential.stages]]
name = "prod"
targets = [{{ type = "env-file", path = "app.env", variable = "LDAP_PASSWORD" }}]
"#,
        plugin = plugins::LDAP_PASSWORD,
    );
    let project = Project::with_ca(&toml, &[("TEST_LDAP_ADMIN", ROTATOR_PASSWORD)], ca);
    std::fs::write(project.dir.path().join("app.env"), format!("LDAP_PASSWORD={FIRST_PASSWORD}\n")).unwrap();
    let imported = project.run(&["credential", "import", "svc-ldap", "--key-id", "app#first"], FIRST_PASSWORD);
    assert!(imported.status.success(), "{:?}", text(&imported));
    project
}

#[test]
fn over_ldaps_the_account_gets_a_new_password_and_the_old_one_is_refused() {
    let ca = Ca::new("directory-ca");
    let slapd = Slapd::start(&ca);
    let project = project(&ca, slapd.ldaps_port, "ldaps");
    let out = project.run(&["rotate", "svc-ldap"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    let password = project.env_value("app.env", "LDAP_PASSWORD");
    assert!(slapd.bind(ACCOUNT_DN, &password), "the new password binds");
    assert!(!slapd.bind(ACCOUNT_DN, FIRST_PASSWORD), "the old one is refused");
    let log = text(&project.run(&["audit", "log", "--plugin", "ldap-password"], "")).0;
    assert!(log.contains(&format!("tcp 127.0.0.1:{}  TLS, verified as `127.0.0.1`", slapd.ldaps_port)), "{log}");
    assert!(!log.contains(&password) && !log.contains(ROTATOR_PASSWORD), "{log}");
}

#[test]
fn over_starttls_the_plain_port_is_upgraded_before_any_password_is_sent() {
    let ca = Ca::new("directory-ca");
    let slapd = Slapd::start(&ca);
    let project = project(&ca, slapd.port, "starttls");
    let out = project.run(&["rotate", "svc-ldap"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    let password = project.env_value("app.env", "LDAP_PASSWORD");
    assert!(slapd.bind(ACCOUNT_DN, &password));
    assert!(!slapd.bind(ACCOUNT_DN, FIRST_PASSWORD));
    let log = text(&project.run(&["audit", "log", "--plugin", "ldap-password"], "")).0;
    assert!(log.contains(&format!("tcp 127.0.0.1:{}  TLS, verified as `127.0.0.1`", slapd.port)), "{log}");

    // A CA the operator did not name: refused before the admin binds, nothing changes.
    std::fs::write(project.dir.path().join("ca.pem"), Ca::new("someone-elses-ca").pem()).unwrap();
    let out = project.run(&["rotate", "svc-ldap"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).0.contains("not issued by a trusted CA"), "{:?}", text(&out));
    assert!(slapd.bind(ACCOUNT_DN, &password));
}

#[test]
fn a_kill_at_every_step_boundary_leaves_the_directory_and_the_store_agreeing() {
    let ca = Ca::new("directory-ca");
    let slapd = Slapd::start(&ca);
    let project = project(&ca, slapd.ldaps_port, "ldaps");
    let boundaries = support::step_boundaries(&project.plan("svc-ldap"));
    assert!(boundaries.len() >= 8, "{boundaries:?}");
    for boundary in &boundaries {
        project.killed_and_resumed("svc-ldap", boundary);
        // The store's current key is what the target holds, and the directory takes it.
        let held = project.env_value("app.env", "LDAP_PASSWORD");
        assert_eq!(project.current_secret("svc-ldap"), held, "store and target after {boundary}");
        assert!(slapd.bind(ACCOUNT_DN, &held), "the directory takes the current key after a kill at {boundary}");
    }
}

#[test]
fn the_plugin_passes_the_conformance_kit_against_a_real_server() {
    let ca = Ca::new("directory-ca");
    let slapd = Slapd::start(&ca);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let (port, grant) = (format!("port={}", slapd.ldaps_port), format!("127.0.0.1:{}", slapd.ldaps_port));
    let (account, admin) = (format!("account-dn={ACCOUNT_DN}"), format!("admin-dn={ROTATOR_DN}"));
    let args = ["-c", "host=127.0.0.1", "-c", &port, "-c", &account, "-c", &admin, "--grant", &grant, "--tls-ca"];
    let args = [&args[..], &[ca_file.to_str().unwrap()]].concat();
    let report = support::passes_the_conformance_kit(plugins::LDAP_PASSWORD, &args, "admin-password", ROTATOR_PASSWORD);
    assert!(report.contains(" 0 failed"), "{report}");
}
