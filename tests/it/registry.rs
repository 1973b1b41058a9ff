//! Plugins shared through a real OCI registry (Debian's `docker-registry`):
//! `plugin publish`, `plugin install oci://…` and `plugin update`, the same
//! bytes as wasm-pkg-tools' `wkg oci push`/`pull`, every digest and
//! signature checked, and nothing that changes what a plugin may do
//! approved without consent.

use crate::support;

use rekey_test_artifacts::plugins;
use support::registry::{Registry, digest_of, shared, wkg};
use support::{Project, failed, ok, text};

/// A project with `trust` lines in its rekey.toml.
fn project(trust: &str) -> Project {
    Project::new(trust, &[])
}

/// `rekey plugin ARGS…` in `project`.
fn plugin(project: &Project, args: &[&str]) -> std::process::Output {
    let mut all = vec!["plugin"];
    all.extend_from_slice(args);
    project.run(&all, "")
}

/// Publishes `file` to `path` of the registry with rekey; the pinned reference.
fn publish(project: &Project, file: &str, path: &str) -> String {
    let said = ok(plugin(project, &["publish", file, &shared().oci(path)]));
    let line = said.lines().find(|l| l.starts_with("published")).unwrap();
    line.split_whitespace().nth(1).unwrap().to_string()
}

fn wkg_command(args: &[&str]) -> std::process::Output {
    let registry = &shared().address;
    let mut command = std::process::Command::new(wkg());
    command.args(["oci"]).args(args).args(["--insecure", registry]);
    support::run(&mut command, "")
}

/// The approval of `name` in the project's rekey.lock.
fn lock(project: &Project) -> String {
    std::fs::read_to_string(project.dir.path().join("rekey.lock")).unwrap_or_default()
}

fn installed(project: &Project, name: &str) -> Vec<u8> {
    std::fs::read(project.dir.path().join(format!("plugins/{name}.wasm"))).unwrap()
}

#[test]
fn what_rekey_publishes_wkg_pulls_and_what_wkg_pushes_rekey_installs_byte_for_byte() {
    let registry: &Registry = shared();
    let project = project("");
    let pinned = publish(&project, plugins::RANDOM, "interop/random:0.1.0");
    assert!(pinned.contains("@sha256:"), "{pinned}");
    let pulled = project.dir.path().join("pulled.wasm");
    let at = format!("{}/interop/random:0.1.0", registry.address);
    ok(wkg_command(&["pull", &at, "-o", pulled.to_str().unwrap()]));
    assert_eq!(std::fs::read(&pulled).unwrap(), std::fs::read(plugins::RANDOM).unwrap(), "wkg pulls rekey's bytes");

    let at = format!("{}/interop/webhook:1.0.0", registry.address);
    ok(wkg_command(&["push", &at, plugins::WEBHOOK]));
    let said = ok(plugin(&project, &["install", &registry.oci("interop/webhook:1.0.0"), "--yes"]));
    assert!(said.contains("from         oci://"), "{said}");
    assert_eq!(installed(&project, "webhook"), std::fs::read(plugins::WEBHOOK).unwrap(), "rekey installs wkg's bytes");
    let lock = lock(&project);
    let origin = format!("repository = \"{}\"\ntag = \"1.0.0\"\ndigest = \"sha256:", registry.oci("interop/webhook"));
    assert!(lock.contains("[plugin.webhook.origin]") && lock.contains(&origin), "{lock}");
    // Installed again from the same place, nothing changes.
    let again = ok(plugin(&project, &["install", &registry.oci("interop/webhook:1.0.0"), "--yes"]));
    assert!(again.contains("nothing to do"), "{again}");
}

#[test]
fn a_tampered_component_or_manifest_is_refused_naming_the_digest() {
    let registry = shared();
    let project = project("");
    // A plugin no other test publishes: blobs are shared across repositories.
    let pinned = publish(&project, plugins::KUBERNETES_SECRET, "tamper/secret:1.0.0");
    let component = registry.blob(&digest_of(plugins::KUBERNETES_SECRET));
    let original = std::fs::read(&component).unwrap();
    let mut bytes = original.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&component, &bytes).unwrap();
    let said = failed(plugin(&project, &["install", &pinned, "--yes"]), 1, "the component has digest");
    assert!(said.contains("refusing it"), "{said}");
    std::fs::write(&component, &original).unwrap();
    // The manifest the operator pinned, changed in the registry's storage.
    let manifest = registry.blob(pinned.split('@').nth(1).unwrap());
    let mut text = std::fs::read(&manifest).unwrap();
    text.extend_from_slice(b"\n");
    std::fs::write(&manifest, &text).unwrap();
    failed(plugin(&project, &["install", &pinned, "--yes"]), 1, "the manifest has digest");
    assert!(!project.dir.path().join("rekey.lock").exists(), "nothing approved");
}

#[test]
fn with_require_signature_an_unsigned_or_wrongly_signed_plugin_is_refused_and_a_signed_one_installs() {
    let project = project("");
    let keys = |name: &str| ok(plugin(&project, &["keygen", name, "--unencrypted"]));
    keys("author");
    keys("stranger");
    let public = std::fs::read_to_string(project.dir.path().join("author.pub")).unwrap();
    let key_line = public.lines().nth(1).unwrap().to_string();
    let trusting = Project::new(&format!("[trust]\nkeys = [\"{key_line}\"]\nrequire_signature = true\n"), &[]);

    let file = project.dir.path().join("random.wasm");
    std::fs::copy(plugins::RANDOM, &file).unwrap();
    let file = file.to_str().unwrap();
    publish(&project, file, "signed/random:unsigned");
    failed(plugin(&trusting, &["install", &shared().oci("signed/random:unsigned"), "--yes"]), 2, "no signature");

    ok(plugin(&project, &["sign", file, "--key", "stranger.key"]));
    publish(&project, file, "signed/random:stranger");
    failed(plugin(&trusting, &["install", &shared().oci("signed/random:stranger"), "--yes"]), 2, "does not verify");

    ok(plugin(&project, &["sign", file, "--key", "author.key"]));
    publish(&project, file, "signed/random:author");
    let said = ok(plugin(&trusting, &["install", &shared().oci("signed/random:author"), "--yes"]));
    assert!(said.contains("approved `random`"), "{said}");
    assert!(lock(&trusting).contains("signer = "), "{}", lock(&trusting));
    assert!(trusting.dir.path().join("plugins/random.wasm.minisig").exists());
}

#[test]
fn a_moved_tag_or_a_newer_version_that_adds_a_host_is_shown_and_waits_for_approval() {
    let project = project("");
    publish(&project, plugins::RANDOM, "updates/keys:1.0.0");
    ok(plugin(&project, &["install", &shared().oci("updates/keys:1.0.0"), "--name", "keys", "--yes"]));
    let before = lock(&project);
    assert!(ok(plugin(&project, &["update", "--check"])).contains("keys: up to date"));

    // The same tag now names another manifest.
    publish(&project, plugins::LDAP_PASSWORD, "updates/keys:1.0.0");
    let said = failed(plugin(&project, &["update", "--check"]), 1, "1 of 1 plugins have an update");
    assert!(said.contains("keys: oci://") && said.contains("sha256 "), "{said}");
    // A newer version that reaches a new host.
    publish(&project, plugins::WEBHOOK, "updates/keys:1.1.0");
    let said = failed(plugin(&project, &["update"]), 2, "confirm with --yes");
    assert!(said.contains(":1.1.0"), "the newest version is offered: {said}");
    assert!(said.contains("+ permission     http {base-url}"), "{said}");
    assert!(said.contains("+ admin secret   admin-token (placeholder)"), "{said}");
    assert!(said.contains("+ import         wasi:http/outgoing-handler"), "{said}");
    assert_eq!(lock(&project), before, "nothing approved without consent");
    assert_eq!(installed(&project, "keys"), std::fs::read(plugins::RANDOM).unwrap(), "the approved version stays");

    ok(plugin(&project, &["update", "keys", "--yes"]));
    assert_eq!(installed(&project, "keys"), std::fs::read(plugins::WEBHOOK).unwrap());
    assert!(lock(&project).contains("tag = \"1.1.0\""), "{}", lock(&project));
    assert!(ok(plugin(&project, &["update", "--check"])).contains("keys: up to date"));
    let (_, stderr) = text(&plugin(&project, &["update", "nothing-installed"]));
    assert!(stderr.contains("no plugin `nothing-installed` is installed"), "{stderr}");
}

#[test]
fn the_catalogue_script_publishes_every_bundled_plugin_signed_and_installable_by_name() {
    let project = project("");
    ok(plugin(&project, &["keygen", "publisher", "--unencrypted"]));
    let registry = format!("{}/catalogue", shared().address);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/publish-plugins");
    let mut command = std::process::Command::new(script);
    command.arg(&registry).arg(project.dir.path().join("publisher.key"));
    let said = ok(support::run(&mut command, ""));
    let bundled = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("Cargo.toml").exists())
        .count();
    assert!(said.contains(&format!("{bundled} plugins published")), "{said}");

    let public = std::fs::read_to_string(project.dir.path().join("publisher.pub")).unwrap();
    let key_line = public.lines().nth(1).unwrap().to_string();
    let operator = Project::new(&format!("[trust]\nkeys = [\"{key_line}\"]\nrequire_signature = true\n"), &[]);
    let said = ok(plugin(&operator, &["install", &format!("oci://{registry}/rekey/redis-acl:0.1.0"), "--yes"]));
    assert!(said.contains("approved `redis-acl`"), "{said}");
    assert_eq!(installed(&operator, "redis-acl"), std::fs::read(plugins::REDIS_ACL).unwrap());
}
