//! The `kubernetes-secret` target against a stateful fake API server
//! (`tests/kubernetes/fake.py`) whose every request and response Prism
//! validates against Kubernetes' own API description
//! (`tests/kubernetes/kubernetes.json`: the swagger.json of v1.13.4 as npm's
//! kubernetes-client 9.0.0 ships it), behind nginx for TLS with a test CA,
//! as the cluster's CA. The real kubectl drives the same fake: it creates
//! the Deployment, restarts it, changes the Secret beside rekey, and reads
//! back what rekey wrote.

use crate::support;

use rekey_test_artifacts::plugins;
use std::path::PathBuf;
use std::process::Command;
use support::nginx::Nginx;
use support::pki::Ca;
use support::vendor::Vendor;
use support::{Project, text};

pub const TOKEN: &str = "k8s-sa-token-0123456789abcdef";

/// Kubernetes' description declares no error status (only 200, 201, 202
/// and 401), while the API server answers NotFound (404) and Conflict or
/// AlreadyExists (409) as its API conventions document: the one violation
/// allowed.
const UNDECLARED_STATUS: &str = "Unable to match the returned status code with those defined in the document";

/// A Deployment of two replicas whose container reads the Secret.
const DEPLOYMENT: &str = r#"{"apiVersion": "apps/v1", "kind": "Deployment",
 "metadata": {"name": "app", "labels": {"app": "app"}},
 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "app"}},
  "template": {"metadata": {"labels": {"app": "app"}},
   "spec": {"containers": [{"name": "app", "image": "registry.example/app:1",
    "envFrom": [{"secretRef": {"name": "payments"}}]}]}}}}"#;

/// The fake API server behind Prism, behind nginx's TLS, and a kubeconfig
/// for kubectl.
pub struct Cluster {
    api: Vendor,
    tls: Nginx,
    pub ca: Ca,
    kubeconfig: PathBuf,
}

impl Cluster {
    pub fn start() -> Self {
        let api = Vendor::start("kubernetes", "kubernetes.json", &[TOKEN]);
        let ca = Ca::new("rekey test cluster CA");
        let issued = ca.issue(&["127.0.0.1"]);
        let prism = api.port;
        let tls = Nginx::start(|dir, port| {
            std::fs::write(dir.join("server.pem"), &issued.cert).unwrap();
            std::fs::write(dir.join("server.key"), &issued.key).unwrap();
            std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
            format!(
                "    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {d}/server.pem;\n    ssl_certificate_key {d}/server.key;\n    location / {{ proxy_pass http://127.0.0.1:{prism}; proxy_http_version 1.1; }}",
                d = dir.display()
            )
        });
        let kubeconfig = tls.dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"https://127.0.0.1:{port}\", certificate-authority: \"{d}/ca.pem\"}}\nusers:\n- name: rekey\n  user: {{token: {TOKEN}}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: rekey, namespace: shop}}\ncurrent-context: fake\n",
                port = tls.port,
                d = tls.dir.display()
            ),
        )
        .unwrap();
        Self { api, tls, ca, kubeconfig }
    }

    /// The API server's address, as rekey and kubectl reach it.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.tls.port)
    }

    /// What a target's `grants` name.
    pub fn grant(&self) -> String {
        format!("127.0.0.1:{}", self.tls.port)
    }

    /// `kubectl ARGS` against the cluster; its output. `create` and `apply`
    /// skip kubectl's own validation, which downloads `/openapi/v2`, a path
    /// outside the description.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let cache = self.tls.dir.join("kubectl-cache");
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(cache)
            .args(args)
            .output()
            .expect("kubectl is missing: scripts/test installs kubernetes-client");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "kubectl {args:?}: {stdout}{stderr}");
        stdout
    }

    /// `kubectl create` of a JSON manifest.
    pub fn create(&self, manifest: &str) {
        let file = self.tls.dir.join("manifest.json");
        std::fs::write(&file, manifest).unwrap();
        self.kubectl(&["create", "--validate=false", "-f", file.to_str().unwrap()]);
    }

    /// The value of `key` in Secret `name`, read with kubectl.
    pub fn secret(&self, name: &str, key: &str) -> String {
        use base64::Engine;
        let data = self.kubectl(&["get", "secret", name, "-o", &format!("jsonpath={{.data.{key}}}")]);
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data.trim()).unwrap()).unwrap()
    }

    /// How many times Deployment `name`'s pods were rolled.
    pub fn rollouts(&self, name: &str) -> u64 {
        let state: serde_json::Value = self.api.state("state");
        state["rollouts"][format!("shop/{name}")].as_u64().unwrap_or(0)
    }

    /// Prism found nothing that breaks Kubernetes' description but the
    /// undeclared error statuses, and a Secret was created through it.
    pub fn all_valid(&self) {
        self.api.all_valid(201, &[UNDECLARED_STATUS]);
    }

    /// The target, as a stage's `targets` names it (`tls_ca = "ca.pem"`:
    /// the project holds this cluster's CA there).
    pub fn target(&self, token_variable: &str) -> String {
        format!(
            r#"{{ plugin = "{plugin}", config = {{ api-url = "{url}", namespace = "shop", secret-name = "payments", key = "API_KEY", restart = "app" }}, admin_secrets = {{ token = "env:{token_variable}" }}, grants = ["{grant}"], tls_ca = "ca.pem" }}"#,
            plugin = plugins::KUBERNETES_SECRET,
            url = self.url(),
            grant = self.grant(),
        )
    }

    /// The Deployment the target restarts, created with kubectl.
    pub fn deploy_app(&self) {
        self.create(DEPLOYMENT);
    }
}

#[test]
fn the_secret_is_written_the_deployment_restarted_rolled_back_and_kills_survived() {
    let cluster = Cluster::start();
    cluster.deploy_app();
    cluster.kubectl(&["rollout", "restart", "deployment/app"]);
    let toml = format!(
        "[[credential]]\nname = \"payments\"\nplugin = \"{random}\"\npolicy = {{ grace_period = \"0s\" }}\n\n[[credential.stages]]\nname = \"prod\"\ntargets = [{target}]\n",
        random = plugins::RANDOM,
        target = cluster.target("TEST_K8S_TOKEN"),
    );
    let project = Project::with_ca(&toml, &[("TEST_K8S_TOKEN", TOKEN)], &cluster.ca);
    let rotate = |args: &[&str]| {
        let out = project.run(args, "");
        assert!(out.status.success(), "{args:?}: {:?}", text(&out));
    };
    rotate(&["rotate", "payments"]);
    assert_eq!(cluster.secret("payments", "API_KEY"), project.current_secret("payments"));
    assert_eq!(cluster.rollouts("app"), 2, "kubectl restarted the Deployment, then rekey's first write");

    // A key someone else keeps in the same Secret survives a rotation: the
    // write replaces the Secret it read, at the version it read.
    cluster.kubectl(&["patch", "secret", "payments", "--type", "merge", "-p", r#"{"stringData":{"OTHER":"kept"}}"#]);
    rotate(&["rotate", "payments"]);
    let current = project.current_secret("payments");
    assert_eq!(cluster.secret("payments", "API_KEY"), current);
    assert_eq!(cluster.secret("payments", "OTHER"), "kept");
    assert_eq!(cluster.rollouts("app"), 3);
    let annotations =
        cluster.kubectl(&["get", "deployment", "app", "-o", "jsonpath={.spec.template.metadata.annotations}"]);
    assert!(annotations.contains("kubectl.kubernetes.io/restartedAt"), "{annotations}");
    cluster.kubectl(&["rollout", "status", "deployment/app", "--timeout=10s"]);

    // A failing check: the Secret holds the previous key again, and the
    // pods are rolled once more to read it.
    let path = project.dir.path().join("rekey.toml");
    std::fs::write(&path, format!("{toml}checks = [{{ type = \"exec\", command = [\"false\"], retries = 0 }}]\n"))
        .unwrap();
    let failed = project.run(&["rotate", "payments"], "");
    assert!(!failed.status.success() && text(&failed).0.contains("rolled back"), "{:?}", text(&failed));
    assert_eq!(cluster.secret("payments", "API_KEY"), current);
    assert_eq!(cluster.rollouts("app"), 5, "restarted for the new key, then for the old one");
    std::fs::write(&path, &toml).unwrap();

    for boundary in support::step_boundaries(&project.plan("payments")) {
        project.killed_and_resumed("payments", &boundary);
        assert_eq!(cluster.secret("payments", "API_KEY"), project.current_secret("payments"), "after {boundary}");
    }
    let audit = String::from_utf8(project.run(&["audit", "log", "--json"], "").stdout).unwrap();
    assert!(!audit.contains(TOKEN) && !audit.contains(&current), "a secret is in the audit log");
    cluster.all_valid();
}

#[test]
fn the_target_passes_the_conformance_kit_and_a_wrong_token_is_unauthorized() {
    let cluster = Cluster::start();
    cluster.deploy_app();
    let cache = tempfile::tempdir().unwrap();
    let ca = cache.path().join("ca.pem");
    std::fs::write(&ca, cluster.ca.pem()).unwrap();
    let kit = |token: &str| {
        let mut command = support::rekey(&cache);
        command.args(["plugin", "test", plugins::KUBERNETES_SECRET, "--grant", &cluster.grant(), "--tls-ca"]).arg(&ca);
        for value in
            [format!("api-url={}", cluster.url()), "namespace=shop".into(), "secret-name=kit".into(), "key=K".into()]
        {
            command.args(["-c", &value]);
        }
        support::run(command.args(["-c", "restart=app"]).env("REKEY_ADMIN_TOKEN", token), "")
    };
    let out = kit(TOKEN);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  restore puts the previous key back"), "{stdout}");
    assert!(stdout.contains("Deployment `app` restarted"), "{stdout}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "the token is in the report");
    let refused = kit("wrong-token");
    assert!(
        text(&refused).0.contains("unauthorized: Kubernetes: read the Secret answered 401"),
        "{:?}",
        text(&refused)
    );
    cluster.all_valid();
}

#[test]
fn a_write_that_meets_a_concurrent_change_reads_again_and_gives_up_after_five() {
    let cluster = Cluster::start();
    cluster.create(
        r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "payments"}, "stringData": {"OTHER": "kept"}}"#,
    );
    let cache = tempfile::tempdir().unwrap();
    let ca = cache.path().join("ca.pem");
    std::fs::write(&ca, cluster.ca.pem()).unwrap();
    let write = |rotation: &str| {
        let mut call = support::rekey(&cache);
        call.args(["plugin", "call", plugins::KUBERNETES_SECRET, "write", "--rotation-id", rotation, "--key-id", "k1"])
            .args(["--grant", &cluster.grant(), "--tls-ca"])
            .arg(&ca)
            .args(["-c", &format!("api-url={}", cluster.url()), "-c", "namespace=shop", "-c", "secret-name=payments"])
            .args(["-c", "key=API_KEY"]);
        let secret = format!("new-key-of-{rotation}");
        support::run(call.env("REKEY_ADMIN_TOKEN", TOKEN).env("REKEY_CREDENTIAL_SECRET", secret), "")
    };
    // Two writers get in between: the third write lands, the other key kept.
    cluster.api.control("interfere/2");
    let out = write("r-conflict-1");
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(cluster.secret("payments", "OTHER"), "kept");
    assert_eq!(cluster.secret("payments", "API_KEY"), "new-key-of-r-conflict-1");
    assert_eq!(text(&out).0.matches("-> 409").count(), 2, "{:?}", text(&out));
    // One in between every time: it gives up, and says why.
    cluster.api.control("interfere/5");
    let out = write("r-conflict-2");
    assert!(!out.status.success(), "{:?}", text(&out));
    assert!(text(&out).1.contains("changed under every one of 5 writes (409 Conflict)"), "{:?}", text(&out));
    cluster.all_valid();
}
