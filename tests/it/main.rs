//! Every end-to-end test of the host, in one binary: one link of wasmtime
//! instead of one per file, and one of each shared server (PostgreSQL,
//! Redis) for the whole run. Each module is one area, read as a
//! specification of its behaviour; `support` is what they share.

mod support;

mod api;
mod authors;
mod aws;
mod azure;
mod bombs;
mod bulk;
mod cache;
mod daemon;
mod dashboard;
mod datadog;
mod destinations;
mod disk;
mod fleet;
mod gcp;
mod github;
mod hostile;
mod http_target;
mod kubernetes;
mod ldap;
mod mysql;
mod orphans;
mod plugins;
mod postgres;
mod rabbitmq;
mod redis;
mod registry;
mod rotation;
mod sendgrid;
mod store;
mod targets;
mod trust;
mod twilio;
