//! The `aws-iam` provider against `moto_server` (IAM and STS), started by
//! each test on a free loopback port with request authentication on, so keys
//! and SigV4 signatures are checked as AWS checks them; through the real
//! `rekey` binary. The moto virtualenv is made by `scripts/test`.

use crate::support;

use rekey_test_artifacts::plugins;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use support::moto::{Moto, script, venv};
use support::{Project, env_value, text};

/// rekey.toml for `app-aws`, deployed as a key pair to `app.env`, the
/// first key imported.
fn project(moto: &Moto, grant: &str) -> Project {
    let toml = format!(
        r#"
[[credential]]
name = "app-aws"
plugin = "{plugin}"
config = {{ user-name = "app", endpoint = "{endpoint}", sts-endpoint = "{endpoint}", admin-access-key-id = "{admin}", delete-inactive = true }}
admin_secrets = {{ admin-secret-access-key = "env:TEST_AWS_ADMIN_SECRET" }}
grants = ["{grant}"]
policy = {{ grace_period = "0s" }}

[[credential.stages]]
name = "prod"
targets = [{{ type = "env-file", path = "app.env", variables = {{ AWS_ACCESS_KEY_ID = "{{key_id}}", AWS_SECRET_ACCESS_KEY = "{{secret}}" }} }}]
"#,
        plugin = plugins::AWS_IAM,
        endpoint = moto.endpoint,
        admin = moto.admin.0,
    );
    let project = Project::new(&toml, &[("TEST_AWS_ADMIN_SECRET", &moto.admin.1)]);
    let (id, secret) = &moto.app;
    std::fs::write(
        project.dir.path().join("app.env"),
        format!("AWS_ACCESS_KEY_ID={id}\nAWS_SECRET_ACCESS_KEY={secret}\n"),
    )
    .unwrap();
    let imported = project.run(&["credential", "import", "app-aws", "--key-id", id], secret);
    assert!(imported.status.success(), "{:?}", text(&imported));
    project
}

/// Whether STS accepts an access key (a real boto3 call).
fn works(moto: &Moto, id: &str, secret: &str) -> bool {
    let code = format!(
        "import boto3; boto3.client('sts', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='{id}', aws_secret_access_key='{secret}').get_caller_identity()",
        moto.endpoint
    );
    Command::new(venv("python")).args(["-c", &code]).stderr(Stdio::null()).status().unwrap().success()
}

#[test]
fn a_rotation_keeps_the_application_working_and_deletes_the_old_key() {
    let moto = Moto::start();
    let project = project(&moto, &format!("127.0.0.1:{}", moto.port));
    let env = project.dir.path().join("app.env");
    let stop = project.dir.path().join("stop");
    let client = Command::new(venv("python"))
        .arg(script("client.py"))
        .arg(&env)
        .arg(&moto.endpoint)
        .arg(&stop)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    for _ in 0..2 {
        let out = project.run(&["rotate", "app-aws"], "");
        assert!(out.status.success(), "{:?}", text(&out));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::fs::write(&stop, "").unwrap();
    let report = String::from_utf8(client.wait_with_output().unwrap().stdout).unwrap();
    let counts: Vec<u32> = report.split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert_eq!(counts[1], 0, "the application never failed");
    assert!(counts[0] > 3, "the application kept working: {report}");

    let (id, secret) = (env_value(&env, "AWS_ACCESS_KEY_ID"), env_value(&env, "AWS_SECRET_ACCESS_KEY"));
    assert_ne!(id, moto.app.0);
    assert!(works(&moto, &id, &secret));
    assert!(!works(&moto, &moto.app.0, &moto.app.1), "the first key is deleted");
    // `rekey verify` reports the key's last use from GetAccessKeyLastUsed,
    // and ListAccessKeys shows exactly the keys the store holds.
    let verify = text(&project.run(&["verify", "app-aws"], "")).0;
    assert!(verify.contains("app-aws: valid (last used: ") && !verify.contains("DRIFT"), "{verify}");
    assert_eq!(text(&project.run(&["reconcile", "app-aws"], "")).0.trim(), "app-aws: in step with the provider");
}

#[test]
fn an_emergency_rotation_deletes_the_old_key_at_once() {
    let moto = Moto::start();
    let project = project(&moto, &format!("127.0.0.1:{}", moto.port));
    let out = project.run(&["rotate", "app-aws", "--emergency", "--yes"], "");
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(!works(&moto, &moto.app.0, &moto.app.1));
    let env = project.dir.path().join("app.env");
    assert!(works(&moto, &env_value(&env, "AWS_ACCESS_KEY_ID"), &env_value(&env, "AWS_SECRET_ACCESS_KEY")));
}

#[test]
fn a_wrong_admin_secret_fails_cleanly_and_the_key_keeps_working() {
    let moto = Moto::start();
    let project = project(&moto, &format!("127.0.0.1:{}", moto.port));
    let out = project.run_with("TEST_AWS_ADMIN_SECRET", "wrong-secret-access-key", &["rotate", "app-aws"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains("failed at generate") && stdout.contains("SignatureDoesNotMatch"), "{stdout}");
    assert!(works(&moto, &moto.app.0, &moto.app.1));
    assert!(!stdout.contains("wrong-secret-access-key"));
}

#[test]
fn an_unreachable_endpoint_fails_cleanly() {
    let moto = Moto::start();
    let closed = support::free_port();
    let project = project(&moto, &format!("127.0.0.1:{closed}"));
    let toml = std::fs::read_to_string(project.dir.path().join("rekey.toml"))
        .unwrap()
        .replace(&moto.endpoint, &format!("http://127.0.0.1:{closed}"));
    std::fs::write(project.dir.path().join("rekey.toml"), toml).unwrap();
    let out = project.run(&["rotate", "app-aws"], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains("failed at generate") && stdout.contains("ConnectionRefused"), "{stdout}");
    assert!(works(&moto, &moto.app.0, &moto.app.1));
}

#[test]
fn an_endpoint_killed_mid_rotation_gets_a_clear_error_and_the_old_key_back_in_place() {
    let mut moto = Moto::start();
    let project = project(&moto, &format!("127.0.0.1:{}", moto.port));
    let check =
        format!(r#"checks = [{{ type = "exec", command = ["sh", "-c", "kill -9 {}; exit 1"] }}]"#, moto.child.id());
    let toml = std::fs::read_to_string(project.dir.path().join("rekey.toml")).unwrap();
    std::fs::write(project.dir.path().join("rekey.toml"), format!("{toml}{check}\n")).unwrap();
    let out = project.run(&["rotate", "app-aws"], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out).0;
    assert!(stdout.contains("failed at check:prod") && stdout.contains("the rollback failed too"), "{stdout}");
    let env = project.dir.path().join("app.env");
    assert_eq!(env_value(&env, "AWS_ACCESS_KEY_ID"), moto.app.0, "the old key is back in the target");
    assert_eq!(env_value(&env, "AWS_SECRET_ACCESS_KEY"), moto.app.1);

    // moto keeps its state in memory: the restarted endpoint knows no key, so
    // revoking the new one finds it gone, and the rollback completes.
    let _ = moto.child.wait();
    moto.child = Moto::spawn(moto.port, 8);
    let resumed = project.run(&["resume"], "");
    assert!(resumed.status.success(), "{:?}", text(&resumed));
    assert!(text(&resumed).0.contains("app-aws: rolled back"), "{:?}", text(&resumed));
    assert!(project.run(&["audit", "verify"], "").status.success());
}

#[test]
fn the_plugin_cannot_reach_an_endpoint_it_was_not_granted() {
    let moto = Moto::start();
    let project = project(&moto, "127.0.0.1:1");
    let out = project.run(&["rotate", "app-aws"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).0.contains(&format!("127.0.0.1:{} is declared by the plugin but not granted", moto.port)),
        "{:?}",
        text(&out)
    );
    assert!(works(&moto, &moto.app.0, &moto.app.1));
}

#[test]
fn the_plugin_passes_the_conformance_kit_against_moto_and_leaves_no_key_behind() {
    let moto = Moto::start();
    let (admin, endpoint) = (format!("admin-access-key-id={}", moto.admin.0), format!("endpoint={}", moto.endpoint));
    let (sts, grant) = (format!("sts-endpoint={}", moto.endpoint), format!("127.0.0.1:{}", moto.port));
    let args = ["-c", "user-name=kit", "-c", &admin, "-c", &endpoint, "-c", &sts, "--grant", &grant];
    support::passes_the_conformance_kit(plugins::AWS_IAM, &args, "admin-secret-access-key", &moto.admin.1);
    assert!(works(&moto, &moto.app.0, &moto.app.1), "the application's own key is untouched");
    let listed = Command::new(venv("python"))
        .arg("-c")
        .arg(format!(
            "import boto3; print(len(boto3.client('iam', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='{}', aws_secret_access_key='{}').list_access_keys(UserName='kit')['AccessKeyMetadata']))",
            moto.endpoint, moto.admin.0, moto.admin.1
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "0", "the kit revoked both keys it made");
}

/// A moto server whose KMS holds two keys, and a user allowed to use them
/// (every request after the setup signed and checked).
struct Kms {
    moto: Child,
    endpoint: String,
    user: (String, String),
    keys: [String; 2],
}

impl Kms {
    fn start() -> Self {
        let port = support::free_port();
        let moto = Moto::spawn(port, 3);
        let endpoint = format!("http://127.0.0.1:{port}");
        let setup = Command::new(venv("python")).arg(script("kms_setup.py")).arg(&endpoint).output().unwrap();
        assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));
        let made: Value = serde_json::from_slice(&setup.stdout).unwrap();
        let text = |v: &Value| v.as_str().unwrap().to_string();
        Self {
            moto,
            endpoint,
            user: (text(&made["user"][0]), text(&made["user"][1])),
            keys: [text(&made["keys"][0]), text(&made["keys"][1])],
        }
    }

    /// The environment a `rekey` using KMS runs in.
    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.user.0.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.user.1.as_str()),
            ("AWS_ENDPOINT_URL_KMS", self.endpoint.as_str()),
        ]
    }

    /// Runs a boto3 KMS call, e.g. `schedule_key_deletion(KeyId=…)`.
    fn boto(&self, call: &str) {
        let code = format!(
            "import boto3; boto3.client('kms', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='{}', aws_secret_access_key='{}').{call}",
            self.endpoint, self.user.0, self.user.1
        );
        let out = Command::new(venv("python")).args(["-c", &code]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Kms {
    fn drop(&mut self) {
        let _ = self.moto.kill();
        let _ = self.moto.wait();
    }
}

#[test]
fn a_master_key_held_by_kms_opens_the_store_and_a_wrong_or_deleted_key_fails_clearly_changing_nothing() {
    let kms = Kms::start();
    let toml = |arn: &str| format!("key = \"aws-kms:{arn}\"\n{}", support::random_credential("s", "s.env", "KEY"));
    let project = Project::new(&toml(&kms.keys[0]), &kms.env());
    assert!(!project.dir.path().join("rekey.key").exists(), "no key file: KMS holds the key");
    let rotated = project.run(&["rotate", "s"], "");
    assert!(rotated.status.success(), "{:?}", text(&rotated));
    let audit = |project: &Project| text(&project.run(&["audit", "log", "--json"], "")).0;
    let before = audit(&project);
    let refused = |why: &str| {
        let key = env_value(&project.dir.path().join("s.env"), "KEY");
        let out = project.run(&["rotate", "s"], "");
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(format!("{stdout}{stderr}").contains(why), "expected {why:?} in:\n{stdout}{stderr}");
        assert_eq!(env_value(&project.dir.path().join("s.env"), "KEY"), key, "the target is unchanged");
    };

    // Another KMS key cannot unwrap the store's master key.
    std::fs::write(project.dir.path().join("rekey.toml"), toml(&kms.keys[1])).unwrap();
    refused(&format!("AWS KMS key {}: Decrypt refused (400 Bad Request): AccessDeniedException", kms.keys[1]));
    // Nor can the right one once it is scheduled for deletion (moto wants the bare id here).
    std::fs::write(project.dir.path().join("rekey.toml"), toml(&kms.keys[0])).unwrap();
    let id = kms.keys[0].rsplit('/').next().unwrap();
    kms.boto(&format!("schedule_key_deletion(KeyId='{id}', PendingWindowInDays=7)"));
    refused("the key is PendingDeletion, so it cannot unwrap the store's master key");
    // Without credentials, rekey says which ones to set.
    let mut bare = project.command(&["status"]);
    let out = support::run(bare.env_remove("AWS_ACCESS_KEY_ID"), "");
    assert!(text(&out).1.contains("no AWS credentials: set AWS_ACCESS_KEY_ID"), "{:?}", text(&out));

    kms.boto(&format!("cancel_key_deletion(KeyId='{id}')"));
    kms.boto(&format!("enable_key(KeyId='{id}')"));
    assert_eq!(audit(&project), before, "the refused attempts changed nothing");
    let verified = project.run(&["audit", "verify"], "");
    assert!(verified.status.success(), "{:?}", text(&verified));
    assert!(project.run(&["rotate", "s"], "").status.success());

    // Re-keyed under the other KMS key: the first one no longer opens it.
    let run = |args: &[&str]| {
        let out = project.run(args, "");
        assert!(out.status.success(), "`rekey {}`: {:?}", args.join(" "), text(&out));
        text(&out).0
    };
    let rewrapped = run(&["store", "rewrap", "--to", &format!("aws-kms:{}", kms.keys[1])]);
    assert!(rewrapped.contains("secrets sealed anew"), "{rewrapped}");
    refused(&format!("AWS KMS key {}: Decrypt refused", kms.keys[0]));
    std::fs::write(project.dir.path().join("rekey.toml"), toml(&kms.keys[1])).unwrap();
    run(&["audit", "verify"]);
    let history = run(&["history", "s"]);
    // And back to a key file of its own: KMS is no longer needed.
    run(&["store", "rewrap", "--to", "file:new.key"]);
    let credential = support::random_credential("s", "s.env", "KEY");
    std::fs::write(project.dir.path().join("rekey.toml"), format!("key_file = \"new.key\"\n{credential}")).unwrap();
    // A key file that exists is never overwritten.
    let key = std::fs::read(project.dir.path().join("new.key")).unwrap();
    let again = project.run(&["store", "rewrap", "--to", "file:new.key"], "");
    assert!(!again.status.success() && text(&again).1.contains("new.key exists already"), "{:?}", text(&again));
    assert_eq!(std::fs::read(project.dir.path().join("new.key")).unwrap(), key);
    let mut without_kms = project.command(&["history", "s"]);
    let out = support::run(without_kms.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_ENDPOINT_URL_KMS"), "");
    assert_eq!(text(&out).0, history, "the same store, under a key file now");
    let events: Vec<String> = serde_json::from_str::<Vec<Value>>(&run(&["audit", "log", "--json"]))
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .filter(|e| e.starts_with("store."))
        .collect();
    assert_eq!(events, ["store.initialized", "store.rewrapped", "store.rewrapped"]);
    run(&["audit", "verify"]);
    run(&["rotate", "s"]);
}
