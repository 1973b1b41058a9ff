//! `rekey verify`: asks each provider whether the current keys still work
//! and when they were last used, and records the answers for `rekey status`
//! (which flags keys unused for longer than their policy's `unused_after`).

use super::context::{Context, time};
use super::exit::InvalidKey;
use crate::rotation::Rotator;

/// Checks the named credentials (all declared ones by default).
pub async fn run(names: Vec<String>, json: bool, context: &Context) -> anyhow::Result<()> {
    let config = &context.config;
    let names: Vec<String> = if names.is_empty() {
        config.manifest.credentials.iter().map(|c| c.name.get_ref().clone()).collect()
    } else {
        names
    };
    for name in &names {
        context.declared(name)?;
    }
    let store = context.store()?;
    let runtime = context.runtime()?;
    let (mut results, mut invalid, mut failed) = (Vec::new(), 0, 0);
    for name in &names {
        let outcome = match Rotator::new(config, &store, &runtime, name).await {
            Ok(rotator) => rotator.check_current().await,
            Err(e) => Err(e),
        };
        let line = match &outcome {
            Ok(v) => {
                invalid += usize::from(!v.valid);
                let used = v.last_used.map_or("not reported".into(), |t| time(t as i64));
                format!("{name}: {} (last used: {used})", if v.valid { "valid" } else { "NOT VALID" })
            }
            Err(e) => {
                failed += 1;
                format!("{name}: {e}")
            }
        };
        if !json {
            println!("{line}");
        }
        let verification = outcome.ok();
        results.push(serde_json::json!({ "credential": name, "verification": verification, "message": line }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    match (failed, invalid) {
        (0, 0) => Ok(()),
        (0, _) => Err(InvalidKey.into()),
        (n, _) => anyhow::bail!("{n} of {} checks could not be made", names.len()),
    }
}
