//! What a rotation reports as it runs, for whoever measures it (the
//! daemon's metrics): the rotation engine knows nothing of Prometheus.

use crate::runtime::PluginError;
use std::time::Duration;

/// Told of every plugin call and every finished step.
pub trait Observer: Sync {
    /// A plugin call (`generate`, `verify`, `revoke`, `list-keys`) of
    /// `plugin` ended after `took`, failed with `error` if any.
    fn plugin_call(&self, plugin: &str, call: &str, took: Duration, error: Option<&PluginError>);

    /// A step of a rotation by `plugin` finished after `took`.
    fn step(&self, plugin: &str, step: &str, took: Duration);
}
