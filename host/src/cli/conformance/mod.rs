//! `rekey plugin test`: the conformance kit. It runs the contract's rules
//! against a plugin and its real provider, one line per rule with the
//! reason, and exits 1 when any fails:
//!
//! - it loads: its structure, imports, exports and config schema are valid;
//! - `info` is deterministic (asked twice, of two fresh instances);
//! - `generate` makes a key the new key's `verify` accepts;
//! - a second `generate` (another rotation) makes a different key, and
//!   with `idempotent-generate`, the same rotation id makes no second key
//!   (the same key id comes back);
//! - with `lists-keys`, the new key is listed under its rotation id;
//! - `revoke` works, the revoked key no longer verifies, and revoking it
//!   again succeeds (for a provider on the network: a plugin that reaches
//!   none, like `random`, holds no key anywhere to revoke);
//! - a wrong admin secret is reported as `unauthorized`;
//! - no request went anywhere the plugin did not declare;
//! - the time of each call.
//!
//! Every key it makes is revoked before it ends. With `--record`, the HTTP
//! exchanges go to a tape, secrets masked; with `--replay`, a local server
//! answers from the tape, so an author's CI runs the rules with no account
//! (and a plugin that now asks something else fails "on the tape").

mod target;

use super::call::{PluginArgs, fresh_rotation_id};
use super::exit::UsageError;
use crate::runtime::tape::{self, Recording, Replayer, Tape};
use crate::runtime::{CallOptions, Credential, Kind, Outcome, Plugin, PluginError, ProviderError, Runtime};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `rekey plugin test`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Admin secrets come from --stdin JSON or from REKEY_ADMIN_<FIELD>, as for `plugin call`. \
The test makes real keys at the provider and revokes each before it ends.")]
pub struct Args {
    #[command(flatten)]
    pub plugin: PluginArgs,
    /// Print one JSON object per rule.
    #[arg(long)]
    json: bool,
    /// Record the run's HTTP exchanges to FILE, secrets masked, for --replay.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Answer the plugin's HTTP requests from a tape made with --record, by
    /// a local server: nothing goes to the network and no account is needed.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
}

/// One rule's result.
#[derive(Debug, serde::Serialize)]
struct Checked {
    rule: String,
    /// `pass`, `fail`, `skip` (with why the rule does not apply) or
    /// `warn` (it passes, at a risk).
    result: &'static str,
    detail: String,
}

/// The rules run so far.
struct Kit {
    checked: Vec<Checked>,
    json: bool,
    /// Every call's time, by call.
    timings: Vec<(String, Duration)>,
    /// Whether the calls' HTTP is recorded or replayed.
    tape: Option<Tape>,
    /// Rotation ids to use again, from a tape, in order.
    replayed_ids: VecDeque<String>,
    /// The rotation ids used, in order.
    used_ids: Vec<String>,
    /// The secret of every key made, masked in a recording.
    made_secrets: Vec<String>,
}

impl Kit {
    /// The options of a call for the next rotation, with `admin_secrets`.
    fn options(&mut self, args: &PluginArgs, admin_secrets: &BTreeMap<String, String>) -> CallOptions {
        let id = self.replayed_ids.pop_front().unwrap_or_else(fresh_rotation_id);
        self.used_ids.push(id.clone());
        CallOptions { tape: self.tape.clone(), ..args.options(admin_secrets, id) }
    }

    /// A timed `generate`, whose key's secret is remembered.
    async fn generate(
        &mut self,
        plugin: &Plugin,
        opts: &CallOptions,
        denied: &mut Vec<String>,
    ) -> Result<Credential, PluginError> {
        let made = self.timed("generate", plugin.generate(opts).await, denied);
        if let Ok(key) = &made {
            self.made_secrets.push(key.secret.clone());
        }
        made
    }

    fn record(&mut self, rule: &str, result: &'static str, detail: String) {
        let checked = Checked { rule: rule.into(), result, detail };
        if self.json {
            println!("{}", serde_json::to_string(&checked).expect("serializes"));
        } else {
            let mark = match result {
                "pass" => "PASS",
                "fail" => "FAIL",
                "warn" => "WARN",
                _ => "SKIP",
            };
            println!("{mark}  {:<44} {}", checked.rule, checked.detail);
        }
        self.checked.push(checked);
    }

    fn check(&mut self, rule: &str, outcome: Result<String, String>) -> bool {
        match outcome {
            Ok(detail) => self.record(rule, "pass", detail),
            Err(detail) => self.record(rule, "fail", detail),
        }
        self.checked.last().is_some_and(|c| c.result == "pass")
    }

    /// Each call's count and slowest time.
    fn timings(&self) -> String {
        let mut by_call = std::collections::BTreeMap::<&str, Vec<Duration>>::new();
        for (call, took) in &self.timings {
            by_call.entry(call).or_default().push(*took);
        }
        let each = by_call.iter().map(|(call, times)| {
            let slowest = times.iter().max().copied().unwrap_or_default();
            format!("{call} ×{} ≤ {:.1} ms", times.len(), slowest.as_secs_f64() * 1e3)
        });
        each.collect::<Vec<_>>().join(", ")
    }

    /// The result of a call, its time kept; a denied request fails the
    /// hosts rule later.
    fn timed<T>(&mut self, call: &str, outcome: Outcome<T>, denied: &mut Vec<String>) -> Result<T, PluginError> {
        self.timings.push((call.into(), outcome.elapsed));
        for exchange in &outcome.transcript {
            if let Some(error) = exchange.error.as_deref().filter(|e| e.starts_with("denied")) {
                denied.push(format!("{call}: {} {}:{}: {error}", exchange.method, exchange.host, exchange.port));
            }
        }
        if let Err(PluginError::Denied { denial, .. }) = &outcome.result {
            denied.push(format!("{call}: {denial}"));
        }
        outcome.result
    }
}

/// Runs the rules and reports them.
pub async fn run(args: Args, runtime: &Runtime) -> anyhow::Result<()> {
    let mut kit = Kit {
        checked: vec![],
        json: args.json,
        timings: vec![],
        tape: None,
        replayed_ids: VecDeque::new(),
        used_ids: vec![],
        made_secrets: vec![],
    };
    let mut replayer = None;
    if let Some(file) = &args.replay {
        let tape = tape::load(file).map_err(|e| UsageError(e.to_string()))?;
        let server = Replayer::start(tape.exchanges).await?;
        kit.tape = Some(Tape::Replay(server.addr()));
        kit.replayed_ids = tape.rotation_ids.into();
        replayer = Some(server);
    }
    let recording = args.record.as_ref().map(|_| Recording::default());
    if let Some(recording) = &recording {
        kit.tape = Some(Tape::Record(recording.clone()));
    }
    let (plugin, mut secrets) = match args.plugin.load(runtime, None).await {
        Ok(loaded) => loaded,
        Err(error) => {
            kit.record("loads", "fail", format!("{error:#}"));
            return finish(kit);
        }
    };
    let info = plugin.info();
    kit.record("loads", "pass", format!("{} {}, sha256 {}", info.name, info.version, &plugin.digest()[..16]));
    let provider = plugin.kind() == Kind::Provider;
    if provider
        && !info.capabilities.lists_keys
        && !info.capabilities.idempotent_generate
        && !reaches_no_provider(&plugin)
    {
        let risk = "it neither lists keys nor generates idempotently: a generate whose answer is lost (a crash, a \
                    dropped connection) leaves a live key rekey cannot find, only suspect; implement list-keys";
        kit.record("a lost generate can be found again", "warn", risk.into());
    }
    deterministic(&mut kit, &plugin).await;
    if replayer.is_some() {
        // The tape holds what the provider answered; no secret is needed to replay it.
        for field in info.config.iter().filter(|f| f.secret) {
            secrets.admin_secrets.entry(field.name.clone()).or_insert_with(|| "replayed".into());
        }
    }
    let mut denied = Vec::new();
    match plugin.kind() {
        Kind::Target { stages_keys } => {
            target::rules(&mut kit, &plugin, &args.plugin, &secrets.admin_secrets, stages_keys, &mut denied).await
        }
        Kind::Provider => provider_rules(&mut kit, &plugin, &args, &secrets.admin_secrets, &mut denied).await,
    }
    let hosts = if denied.is_empty() {
        Ok(format!("the sandbox refused no request in {} call(s)", kit.timings.len()))
    } else {
        Err(denied.join("; "))
    };
    kit.check("requests go only to declared hosts", hosts);
    if let (Some(replayer), Some(file)) = (&replayer, &args.replay) {
        let unmatched = replayer.unmatched();
        let replayed = if unmatched.is_empty() {
            let unused = match replayer.unused() {
                0 => String::new(),
                n => format!("; {n} recorded exchange(s) were not asked for"),
            };
            Ok(format!("every request was answered from {}{unused}", file.display()))
        } else {
            Err(format!("not on the tape (the plugin's requests changed; record it again): {}", unmatched.join(", ")))
        };
        kit.check("every request is on the tape", replayed);
    }
    if let (Some(recording), Some(file)) = (&recording, &args.record) {
        let mut masked: Vec<String> = secrets.admin_secrets.values().cloned().collect();
        masked.extend(kit.made_secrets.iter().cloned());
        let name = format!("{} {}", info.name, info.version);
        recording.save(file, name, kit.used_ids.clone(), &masked).map_err(|e| UsageError(e.to_string()))?;
        eprintln!("recorded the HTTP exchanges to {}, secrets masked: replay them with --replay", file.display());
    }
    let timings = kit.timings();
    kit.record("timings", "pass", timings);
    finish(kit)
}

/// The rules of a provider: keys made, verified, listed and revoked, and
/// none left behind.
async fn provider_rules(
    kit: &mut Kit,
    plugin: &Plugin,
    args: &Args,
    admin_secrets: &BTreeMap<String, String>,
    denied: &mut Vec<String>,
) {
    let info = plugin.info();
    let mut made: Vec<(CallOptions, Credential)> = Vec::new();

    let first_options = kit.options(&args.plugin, admin_secrets);
    let first = kit.generate(plugin, &first_options, denied).await;
    let first_ok =
        kit.check("generate makes a key", first.as_ref().map(|k| format!("key id {}", k.key_id)).map_err(describe));
    if let Ok(key) = first {
        made.push((first_options.clone(), key));
    }
    if first_ok {
        let (opts, mut key) = made[0].clone();
        let verified = kit.timed("verify", plugin.verify(&opts, &key).await, denied);
        kit.check(
            "verify accepts the new key",
            verified.map_err(|e| describe(&e)).and_then(|v| valid(v.valid, v.detail)),
        );
        const SAME: &str = "the same rotation id makes no second key";
        if !info.capabilities.idempotent_generate {
            kit.record(SAME, "skip", "the plugin does not declare idempotent-generate".into());
        } else if reaches_no_provider(plugin) {
            kit.record(SAME, "skip", "the plugin reaches no provider, so no key is held anywhere".into());
        } else {
            let again = kit.generate(plugin, &opts, denied).await;
            let outcome = match again {
                Err(e) => Err(describe(&e)),
                Ok(k) if k.key_id == key.key_id => Ok("the same key came back".to_string()),
                // A provider that cannot hand a lost secret back replaces it
                // (a new password on the same role): the first must be dead.
                Ok(k) => match kit.timed("verify", plugin.verify(&opts, &key).await, denied) {
                    Ok(v) if !v.valid => {
                        made[0].1 = k.clone();
                        key = k;
                        Ok(format!("the key was replaced ({}), and the first no longer verifies", key.key_id))
                    }
                    first => {
                        made.push((opts.clone(), k.clone()));
                        Err(match first {
                            Ok(_) => format!(
                                "another key ({}) for the same rotation id, and the first still works",
                                k.key_id
                            ),
                            Err(e) => format!(
                                "another key ({}) for the same rotation id, and the first cannot be checked: {}",
                                k.key_id,
                                describe(&e)
                            ),
                        })
                    }
                },
            };
            kit.check(SAME, outcome);
        }
        let second_options = kit.options(&args.plugin, admin_secrets);
        let second = kit.generate(plugin, &second_options, denied).await;
        let different = match &second {
            Ok(k) if k.key_id != key.key_id && k.secret != key.secret => Ok(format!("key id {}", k.key_id)),
            Ok(_) => Err("the same key id or secret came back for another rotation".into()),
            Err(e) => Err(describe(e)),
        };
        kit.check("another rotation gets a different key", different);
        if let Ok(second) = second {
            made.push((second_options, second));
        }
        if info.capabilities.lists_keys {
            listed(kit, plugin, &opts, &key, denied).await;
        } else {
            kit.record("list-keys shows the new key", "skip", "the plugin does not declare lists-keys".into());
        }
        revocation(kit, plugin, &opts, &key, denied).await;
        wrong_secret(kit, plugin, args, denied).await;
    }
    // Nothing is left behind at the provider.
    for (opts, key) in made.iter().skip(1) {
        let revoked = kit.timed("revoke", plugin.revoke(opts, key).await, denied);
        if let Err(e) = revoked {
            kit.record(
                "cleanup",
                "fail",
                format!("revoking {} failed: {e}; revoke it at the provider by hand", key.key_id),
            );
        }
    }
}

/// `info` asked again, of a fresh instance, says the same (the compiled
/// code is reused: a JavaScript or Python component takes half a minute
/// to compile).
async fn deterministic(kit: &mut Kit, plugin: &Plugin) {
    let outcome = plugin.ask_info().await.map_err(|e| e.to_string()).and_then(|again| {
        let (a, b) = (serde_json::to_value((plugin.info(), plugin.kind())), serde_json::to_value(&again));
        if a.is_ok() && a.ok() == b.ok() {
            Ok("the same answer from two loads; it ran with no network and frozen clocks".into())
        } else {
            Err("two loads gave different answers: info must not depend on time, randomness or anything else".into())
        }
    });
    kit.check("info is deterministic and does no I/O", outcome);
}

/// With `lists-keys`, the new key is listed, labelled with its rotation id
/// when the provider keeps labels (a Redis password has none: its tag is
/// `none`, and the host matches it by key id alone).
async fn listed(kit: &mut Kit, plugin: &Plugin, opts: &CallOptions, key: &Credential, denied: &mut Vec<String>) {
    let keys = kit.timed("list-keys", plugin.list_keys(opts).await, denied);
    kit.check(
        "list-keys shows the new key",
        keys.map_err(|e| describe(&e)).and_then(|keys| match keys.iter().find(|k| k.key_id == key.key_id) {
            Some(k) if k.tag.as_deref().is_some_and(|t| t.contains(&opts.rotation_id)) => {
                Ok(format!("{} key(s) listed, tagged with the rotation id", keys.len()))
            }
            Some(k) if k.tag.is_none() => {
                Ok(format!("{} key(s) listed, with no tag (the provider keeps none)", keys.len()))
            }
            Some(k) => {
                Err(format!("listed with tag {:?}, which does not hold the rotation id {}", k.tag, opts.rotation_id))
            }
            None => Err(format!("{} is not among the {} key(s) listed", key.key_id, keys.len())),
        }),
    );
}

/// `revoke` works, the key stops verifying, and a second `revoke` succeeds.
async fn revocation(kit: &mut Kit, plugin: &Plugin, opts: &CallOptions, key: &Credential, denied: &mut Vec<String>) {
    let revoked = kit.timed("revoke", plugin.revoke(opts, key).await, denied);
    if !kit.check("revoke succeeds", revoked.map(|()| "revoked".into()).map_err(|e| describe(&e))) {
        return;
    }
    if reaches_no_provider(plugin) {
        let why = "the plugin reaches no provider, so no key is held anywhere to revoke";
        kit.record("a revoked key no longer verifies", "skip", why.into());
    } else {
        let verified = kit.timed("verify", plugin.verify(opts, key).await, denied);
        kit.check(
            "a revoked key no longer verifies",
            match verified {
                Ok(v) if !v.valid => Ok(v.detail.unwrap_or_else(|| "valid: false".into())),
                Ok(_) => Err("verify still says valid: true after revoke".into()),
                Err(e) => Err(format!("verify failed instead of answering valid: false ({})", describe(&e))),
            },
        );
    }
    let again = kit.timed("revoke", plugin.revoke(opts, key).await, denied);
    kit.check(
        "revoking twice succeeds",
        again.map(|()| "a key already gone is not an error".into()).map_err(|e| describe(&e)),
    );
}

/// A wrong admin secret is reported as `unauthorized`, not as anything else.
async fn wrong_secret(kit: &mut Kit, plugin: &Plugin, args: &Args, denied: &mut Vec<String>) {
    let fields: Vec<&str> = plugin.info().config.iter().filter(|f| f.secret).map(|f| f.name.as_str()).collect();
    if fields.is_empty() {
        kit.record("a wrong admin secret is unauthorized", "skip", "the plugin takes no admin secret".into());
        return;
    }
    let wrong = fields.iter().map(|f| (f.to_string(), "rekey-conformance-wrong-secret".to_string())).collect();
    let opts = kit.options(&args.plugin, &wrong);
    let outcome = kit.generate(plugin, &opts, denied).await;
    kit.check(
        "a wrong admin secret is unauthorized",
        match outcome {
            Err(PluginError::Provider { error: ProviderError::Unauthorized(_), .. }) => {
                Ok(format!("{} refused", fields.join(", ")))
            }
            Err(e) => Err(format!("expected unauthorized, got [{}] {e}", e.kind())),
            Ok(key) => Err(format!("a key ({}) was made with a wrong admin secret; revoke it by hand", key.key_id)),
        },
    );
}

/// A plugin that declares no network access (like `random`) holds its
/// keys nowhere: the rules about keys at the provider do not apply.
fn reaches_no_provider(plugin: &Plugin) -> bool {
    let permissions = &plugin.info().permissions;
    permissions.http_hosts.is_empty() && permissions.tcp.is_empty()
}

fn valid(valid: bool, detail: Option<String>) -> Result<String, String> {
    let detail = detail.unwrap_or_default();
    if valid { Ok(detail) } else { Err(format!("valid: false ({detail})")) }
}

fn describe(error: &PluginError) -> String {
    format!("[{}] {error}", error.kind())
}

/// Prints the count and sets the exit code.
fn finish(kit: Kit) -> anyhow::Result<()> {
    let failed = kit.checked.iter().filter(|c| c.result == "fail").count();
    if !kit.json {
        let count = |result: &str| kit.checked.iter().filter(|c| c.result == result).count();
        let (passed, skipped) = (count("pass") + count("warn"), count("skip"));
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    }
    if failed > 0 {
        return Err(super::exit::Reported(anyhow::anyhow!("{failed} rule(s) failed")).into());
    }
    Ok(())
}
