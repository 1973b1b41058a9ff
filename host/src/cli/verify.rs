//! `rekey verify`: asks each provider whether the current keys still work
//! and when they were last used, and records the answers for `rekey status`
//! (which flags keys unused for longer than their policy's `unused_after`).

use super::context::{Context, time};
use super::exit::{InvalidKey, Reported};
use crate::rotation::Session;

/// Checks the named credentials (all declared ones by default).
pub async fn run(names: Vec<String>, json: bool, context: &Context) -> anyhow::Result<()> {
    let config = &context.config;
    let asked_all = names.is_empty();
    let names = context.named_or_checkable(&names)?;
    let store = context.store()?;
    let runtime = context.runtime()?;
    let session = Session::new(config, &store, &runtime)?;
    let (mut results, mut invalid, mut failed, mut drifted) = (Vec::new(), 0, 0, 0);
    for name in &names {
        let outcome = match session.rotator(name).await {
            Ok(rotator) => match rotator.check_current().await {
                Ok(verification) => rotator.drift().await.map(|drift| (verification, drift)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let suspects = store.suspects(Some(name))?.len();
        let line = match &outcome {
            Ok((v, drift)) => {
                invalid += usize::from(!v.valid);
                let used = v.last_used.map_or("not reported".into(), |t| time(t as i64));
                let drift = drift.as_ref().filter(|d| !d.is_empty());
                drifted += usize::from(drift.is_some() || suspects > 0);
                let drift = drift.map_or(String::new(), |d| {
                    format!(
                        "; DRIFT: {} unknown key(s) at the provider, {} stored key(s) missing there (run `rekey reconcile {name}`)",
                        d.unknown.len(),
                        d.missing.len()
                    )
                });
                let suspects = match suspects {
                    0 => String::new(),
                    n => format!("; {n} SUSPECTED ORPHAN(S) (run `rekey reconcile {name}`)"),
                };
                format!("{name}: {} (last used: {used}){drift}{suspects}", if v.valid { "valid" } else { "NOT VALID" })
            }
            Err(e) => {
                failed += 1;
                format!("{name}: {e}")
            }
        };
        if !json {
            println!("{line}");
        }
        let (verification, drift) = outcome.map_or((None, None), |(v, d)| (Some(v), d));
        results.push(serde_json::json!({
            "credential": name, "verification": verification, "drift": drift, "suspects": suspects, "message": line,
        }));
    }
    // Said, not skipped in silence: no provider can check a key a person made.
    let manual = config.credentials().iter().filter(|c| asked_all && c.is_manual());
    for spec in manual {
        let name = &spec.name;
        let line = format!("{name}: not checked: a manual credential's key is checked by a person at the vendor");
        if !json {
            println!("{line}");
        }
        results.push(serde_json::json!({ "credential": name, "skipped": true, "message": line }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    // A failure to check outranks an invalid key, which outranks drift.
    match (failed, invalid, drifted) {
        (0, 0, 0) => Ok(()),
        (0, 0, n) => Err(Reported(anyhow::anyhow!("{n} credential(s) differ from their provider")).into()),
        (0, _, _) => Err(InvalidKey.into()),
        (n, _, _) => Err(Reported(anyhow::anyhow!("{n} of {} checks could not be made", names.len())).into()),
    }
}
