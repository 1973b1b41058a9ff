//! One credential deployed to all five shipped target plugins at once, each
//! against its server: `http-target` (nginx WebDAV) and
//! `github-actions-secret` (the fake GitHub behind Prism) in a staging
//! stage, then `aws-secrets-manager` and `aws-ssm-parameter` (moto) and
//! `kubernetes-secret` (the fake API server behind Prism and TLS) in prod.
//! A rollback puts the old key back everywhere, and kills at every step
//! boundary and at random times leave every destination consistent with
//! the journal: the old key or the one new key, never a third.

use crate::support;
use crate::{github, http_target, kubernetes, targets};

use kubernetes::Cluster;
use rekey_test_artifacts::plugins;
use support::moto::Moto;
use support::nginx::Nginx;
use support::vendor::Vendor;
use support::{Project, text};

/// The five servers.
struct Destinations {
    webdav: Nginx,
    github: Vendor,
    moto: Moto,
    cluster: Cluster,
}

impl Destinations {
    fn start() -> Self {
        let cluster = Cluster::start();
        cluster.deploy_app();
        Self { webdav: http_target::webdav(), github: github::github(), moto: Moto::start(), cluster }
    }

    /// `app`, with random keys, in two stages across the five targets.
    fn project(&self) -> Project {
        let toml = format!(
            r#"
[[credential]]
name = "app"
plugin = "{random}"
policy = {{ grace_period = "0s" }}

[[credential.stages]]
name = "staging"
targets = [
  {webdav},
  {github}
]

[[credential.stages]]
name = "prod"
targets = [
  {aws},
  {kubernetes},
]
"#,
            random = plugins::RANDOM,
            webdav = http_target::target(&self.webdav),
            github = github::target(&self.github, r#"owner = "acme", repository = "app""#),
            aws = targets::aws_targets(&self.moto),
            kubernetes = self.cluster.target("TEST_K8S_TOKEN"),
        );
        let env = [
            ("TEST_DAV_TOKEN", http_target::TOKEN),
            ("TEST_GITHUB_TOKEN", github::TOKEN),
            ("TEST_AWS_ADMIN_SECRET", self.moto.admin.1.as_str()),
            ("TEST_K8S_TOKEN", kubernetes::TOKEN),
        ];
        Project::with_ca(&toml, &env, &self.cluster.ca)
    }

    /// What each destination holds, by name.
    fn held(&self) -> [(&'static str, String); 5] {
        let github = github::secrets(&self.github);
        [
            ("http-target", http_target::held(&self.webdav, "shop/api-key").unwrap_or_default()),
            ("github-actions-secret", github.get("/repos/acme/app/actions/CI_KEY").cloned().unwrap_or_default()),
            ("aws-secrets-manager", self.moto.secret_labelled(targets::SECRET_ID, "AWSCURRENT").unwrap_or_default()),
            ("aws-ssm-parameter", self.moto.parameter_values(targets::PARAMETER).pop().unwrap_or_default()),
            ("kubernetes-secret", self.cluster.secret("payments", "API_KEY")),
        ]
    }

    /// Every destination holds `key`.
    fn all_hold(&self, key: &str, when: &str) {
        for (destination, held) in self.held() {
            assert_eq!(held, key, "{destination} {when}");
        }
    }
}

fn rotated(project: &Project, args: &[&str]) {
    let out = project.run(args, "");
    assert!(out.status.success(), "{args:?}: {:?}", text(&out));
}

#[test]
fn five_targets_take_each_key_give_the_old_one_back_and_survive_kills_at_every_step() {
    let servers = Destinations::start();
    let project = servers.project();
    rotated(&project, &["rotate", "app"]);
    rotated(&project, &["rotate", "app"]);
    let current = project.current_secret("app");
    servers.all_hold(&current, "after two rotations");

    // The plan names each target and what it will do.
    let plan = project.run(&["rotate", "app", "--dry-run"], "");
    let (plan, _) = text(&plan);
    for target in
        ["http-target", "github-actions-secret", "aws-secrets-manager", "aws-ssm-parameter", "kubernetes-secret"]
    {
        assert!(plan.contains(target), "{target} is not in the plan: {plan}");
    }

    // A failing check in prod, after both stages deployed: every
    // destination holds the old key again.
    let path = project.dir.path().join("rekey.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{toml}checks = [{{ type = \"exec\", command = [\"false\"], retries = 0 }}]\n"))
        .unwrap();
    let failed = project.run(&["rotate", "app"], "");
    assert!(!failed.status.success() && text(&failed).0.contains("rolled back"), "{:?}", text(&failed));
    assert_eq!(project.current_secret("app"), current);
    servers.all_hold(&current, "after the rollback");
    std::fs::write(&path, toml).unwrap();

    for boundary in support::step_boundaries(&project.plan("app")) {
        let old = project.current_secret("app");
        project.killed_at("app", &boundary);
        one_new_key_at_most(&servers, &old, &boundary);
        let resumed = project.run(&["resume"], "");
        assert!(resumed.status.success(), "resume after {boundary}: {:?}", text(&resumed));
        servers.all_hold(&project.current_secret("app"), &format!("after a kill at {boundary} and resume"));
    }
    github::all_valid(&servers.github);
    servers.cluster.all_valid();
}

/// Killed anywhere: each destination holds `old` or the one new key of the
/// open rotation, never a third. Whether any holds a new key.
fn one_new_key_at_most(servers: &Destinations, old: &str, when: &str) -> bool {
    let held = servers.held();
    let new: std::collections::BTreeSet<&String> = held.iter().map(|(_, v)| v).filter(|v| *v != old).collect();
    assert!(new.len() <= 1, "killed at {when}: {held:?}, old {old}");
    !new.is_empty()
}

/// Kills of the campaign below: 20 in the test suite; `scripts/kill-campaign`
/// runs more through `REKEY_TARGET_KILLS`.
fn target_kills() -> usize {
    std::env::var("REKEY_TARGET_KILLS").ok().and_then(|n| n.parse().ok()).unwrap_or(20)
}

#[test]
fn random_time_kills_leave_every_destination_with_the_old_key_or_the_new_one() {
    let servers = Destinations::start();
    let project = servers.project();
    rotated(&project, &["rotate", "app"]);
    let started = std::time::Instant::now();
    rotated(&project, &["rotate", "app"]);
    let whole = started.elapsed();
    let (kills, mut interrupted) = (target_kills(), 0);
    for i in 0..kills {
        let old = project.current_secret("app");
        project.killed_within(&["rotate", "app"], whole);
        if i % 3 == 0 {
            project.killed_within(&["resume"], whole);
        }
        let changed = one_new_key_at_most(&servers, &old, &format!("kill {i}"));
        interrupted += usize::from(changed || project.current_secret("app") != old);
        let resumed = project.run(&["resume"], "");
        assert!(resumed.status.success(), "resume after kill {i}: {:?}", text(&resumed));
        servers.all_hold(&project.current_secret("app"), &format!("after kill {i} and resume"));
    }
    eprintln!(
        "target kill campaign: {kills} kills, {interrupted} with a destination changed; after resume every destination holds the current key"
    );
    assert!(interrupted > 0, "no kill landed inside a rotation: the campaign tested nothing");
}
