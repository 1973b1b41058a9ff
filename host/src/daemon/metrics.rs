//! The daemon's metrics, in the OpenMetrics text format (prometheus-client):
//! each credential's standing, rotations by result, durations of rotations,
//! steps and plugin calls, sandbox denials, and the scheduler's lag.

use crate::rotation::Observer;
use crate::runtime::PluginError;
use crate::store::rotations::{Rotation, State};
use crate::store::versions::Version;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn durations() -> Family<Labels, Histogram> {
    // 1 ms to about 9 minutes.
    Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 20)))
}

/// Every metric the daemon exports.
pub struct Metrics {
    registry: Registry,
    age: Family<Labels, Gauge>,
    due_in: Family<Labels, Gauge>,
    last_rotation: Family<Labels, Gauge>,
    last_rotation_ok: Family<Labels, Gauge>,
    last_verify_ok: Family<Labels, Gauge>,
    last_used: Family<Labels, Gauge>,
    rotations: Family<Labels, Counter>,
    rotation_seconds: Family<Labels, Histogram>,
    step_seconds: Family<Labels, Histogram>,
    call_seconds: Family<Labels, Histogram>,
    denials: Family<Labels, Counter>,
    lag: Histogram,
    running: Gauge,
    /// Each credential's key creation and due time, from which its age and
    /// time until due are set again at every tick.
    times: std::sync::Mutex<std::collections::HashMap<String, Times>>,
}

/// When a credential's current key was made and when it is due (none: no key yet).
type Times = (Option<i64>, Option<i64>);

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rekey");
        let metrics = Self {
            age: Family::default(),
            due_in: Family::default(),
            last_rotation: Family::default(),
            last_rotation_ok: Family::default(),
            last_verify_ok: Family::default(),
            last_used: Family::default(),
            rotations: Family::default(),
            rotation_seconds: durations(),
            step_seconds: durations(),
            call_seconds: durations(),
            denials: Family::default(),
            lag: Histogram::new(exponential_buckets(0.001, 2.0, 20)),
            running: Gauge::default(),
            times: Default::default(),
            registry: Registry::default(),
        };
        let m = &metrics;
        registry.register("credential_age_seconds", "Age of the current key", m.age.clone());
        registry.register(
            "credential_due_in_seconds",
            "Seconds until the current key is due (negative: overdue)",
            m.due_in.clone(),
        );
        registry.register(
            "credential_last_rotation_timestamp_seconds",
            "When the last rotation started (Unix seconds)",
            m.last_rotation.clone(),
        );
        registry.register(
            "credential_last_rotation_success",
            "1 when the last rotation succeeded or is in its grace period, 0 when it failed or was rolled back",
            m.last_rotation_ok.clone(),
        );
        registry.register(
            "credential_last_verify_success",
            "1 when the provider last said the current key works, 0 when it said it does not",
            m.last_verify_ok.clone(),
        );
        registry.register(
            "credential_last_used_timestamp_seconds",
            "When the provider last saw the current key used (Unix seconds)",
            m.last_used.clone(),
        );
        registry.register("rotations", "Rotations the daemon ran, by result", m.rotations.clone());
        registry.register("rotation_duration_seconds", "Rotations, by plugin", m.rotation_seconds.clone());
        registry.register("step_duration_seconds", "Rotation steps, by plugin and step", m.step_seconds.clone());
        registry.register("plugin_call_duration_seconds", "Plugin calls, by plugin and call", m.call_seconds.clone());
        registry.register(
            "plugin_denials",
            "Network accesses the sandbox refused, by plugin and kind",
            m.denials.clone(),
        );
        registry.register(
            "scheduler_lag_seconds",
            "How long after a credential's work was due it started",
            m.lag.clone(),
        );
        registry.register("rotations_running", "Rotations and checks running now", m.running.clone());
        Self { registry, ..metrics }
    }
}

impl Metrics {
    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }

    /// Sets a credential's standing from the store.
    pub fn credential(
        &self,
        name: &str,
        current: Option<&Version>,
        due_at: Option<i64>,
        last: Option<&Rotation>,
        now: i64,
    ) {
        let key = labels(&[("credential", name)]);
        self.times
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.into(), (current.map(|c| c.created_at), due_at));
        self.set_times(name, current.map(|c| c.created_at), due_at, now);
        if let Some(current) = current {
            if let Some(valid) = current.valid {
                self.last_verify_ok.get_or_create(&key).set(valid.into());
            }
            if let Some(used) = current.last_used_at {
                self.last_used.get_or_create(&key).set(used);
            }
        }
        if let Some(last) = last {
            self.last_rotation.get_or_create(&key).set(last.started_at);
            let ok = matches!(last.state, State::Succeeded | State::Grace | State::Running);
            self.last_rotation_ok.get_or_create(&key).set(ok.into());
        }
    }

    /// Sets every credential's age and time until due for `now`.
    pub fn tick(&self, now: i64) {
        let times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        for (name, (created, due)) in times.iter() {
            self.set_times(name, *created, *due, now);
        }
    }

    fn set_times(&self, name: &str, created: Option<i64>, due: Option<i64>, now: i64) {
        let key = labels(&[("credential", name)]);
        if let Some(created) = created {
            self.age.get_or_create(&key).set(now - created);
        } else {
            self.age.remove(&key);
        }
        // No key yet: due now.
        self.due_in.get_or_create(&key).set(due.map_or(0, |at| at.saturating_sub(now)));
    }

    /// Forgets every credential's standing, before it is set again for a
    /// new configuration (a credential removed by a reload disappears).
    pub fn forget_credentials(&self) {
        self.times.lock().unwrap_or_else(|e| e.into_inner()).clear();
        for family in [
            &self.age,
            &self.due_in,
            &self.last_rotation,
            &self.last_rotation_ok,
            &self.last_verify_ok,
            &self.last_used,
        ] {
            family.clear();
        }
    }

    /// A rotation by `plugin` ended with `result` after `took`.
    pub fn rotation(&self, plugin: &str, result: &str, took: Duration) {
        self.rotations.get_or_create(&labels(&[("result", result)])).inc();
        self.rotation_seconds.get_or_create(&labels(&[("plugin", plugin)])).observe(took.as_secs_f64());
    }

    /// Work due at some time started `lag` seconds after it.
    pub fn lag(&self, lag: f64) {
        self.lag.observe(lag.max(0.0));
    }

    /// One more (or one less) rotation or check running.
    pub fn running(&self, delta: i64) {
        self.running.inc_by(delta);
    }
}

impl Observer for Metrics {
    fn plugin_call(&self, plugin: &str, call: &str, took: Duration, error: Option<&PluginError>) {
        self.call_seconds.get_or_create(&labels(&[("plugin", plugin), ("call", call)])).observe(took.as_secs_f64());
        if let Some(PluginError::Denied { denial, .. }) = error {
            let kind = serde_json::to_value(denial).ok().and_then(|v| v["kind"].as_str().map(String::from));
            self.denials
                .get_or_create(&labels(&[("plugin", plugin), ("kind", kind.as_deref().unwrap_or("other"))]))
                .inc();
        }
    }

    fn step(&self, plugin: &str, step: &str, took: Duration) {
        self.step_seconds.get_or_create(&labels(&[("plugin", plugin), ("step", step)])).observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Denial;

    /// Metrics with one sample in every family.
    fn exercised() -> Metrics {
        let metrics = Metrics::default();
        let key = labels(&[("credential", "api")]);
        for family in [
            &metrics.age,
            &metrics.due_in,
            &metrics.last_rotation,
            &metrics.last_rotation_ok,
            &metrics.last_verify_ok,
            &metrics.last_used,
        ] {
            family.get_or_create(&key).set(1);
        }
        let took = Duration::from_millis(5);
        metrics.rotation("webhook", "rotated", took);
        metrics.step("webhook", "generate", took);
        let denial = Denial::Undeclared { target: "evil.example:443".into(), declared: "api.example.com:443".into() };
        metrics.plugin_call(
            "webhook",
            "generate",
            took,
            Some(&PluginError::Denied { plugin: "webhook".into(), denial }),
        );
        metrics.lag(0.25);
        metrics.running(1);
        metrics
    }

    #[test]
    fn a_denial_is_counted_by_its_kind() {
        let text = exercised().encode();
        assert!(text.contains(r#"rekey_plugin_denials_total{plugin="webhook",kind="undeclared"} 1"#), "{text}");
        assert!(text.contains(r#"rekey_rotations_total{result="rotated"} 1"#), "{text}");
    }

    #[test]
    fn every_metric_the_grafana_dashboard_graphs_is_exported() {
        let text = exercised().encode();
        let dashboard = include_str!("../../../contrib/grafana-dashboard.json");
        let mut graphed = 0;
        for (at, _) in dashboard.match_indices("rekey_") {
            let name: String = dashboard[at..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            assert!(text.lines().any(|l| l.starts_with(&name)), "the dashboard graphs {name}, which is not exported");
            graphed += 1;
        }
        assert!(graphed >= 12, "{graphed}");
    }
}
