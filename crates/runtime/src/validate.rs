//! Checks on what crosses the sandbox boundary: the operator's config
//! against the plugin's schema before a call, and everything a plugin
//! returns against the bounds the host stores and shows.

use super::bindings::target::Placed;
use super::bindings::{ConfigField, Credential, FieldType, KeySummary, Pair, PluginInfo, Verification};
use super::plugin::Response;
use super::redact::Redactor;
use std::collections::BTreeMap;

/// Longest key id, attribute key or value, in bytes.
const MAX_FIELD: usize = 1024;
/// Longest secret, in bytes.
const MAX_SECRET: usize = 64 << 10;
/// Most attributes on one credential.
const MAX_ATTRIBUTES: usize = 64;
/// Longest free text (descriptions, help, verification details).
const MAX_TEXT: usize = 4096;
/// Latest expiry a key may have: the end of year 9999, as every date
/// library can show it.
const MAX_EXPIRY: u64 = 253_402_300_799;
/// Most config fields or permissions a plugin declares.
const MAX_ITEMS: usize = 128;
/// Most keys `list-keys` may report: far more than any provider keeps for one
/// credential, few enough to hold.
const MAX_KEYS: usize = 1000;

/// The config a call receives: the operator's values checked against the
/// schema, with declared defaults filled in. Secret fields must come in
/// `secrets`, never in `config`.
pub(crate) fn config(
    schema: &[ConfigField],
    config: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let names = || schema.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
    for key in config.keys() {
        match schema.iter().find(|f| &f.name == key) {
            None => return Err(format!("unknown config field `{key}`; the plugin accepts: {}", names())),
            Some(field) if field.secret => {
                return Err(format!(
                    "`{key}` is a secret: pass it as an admin secret (stdin or environment), never as config"
                ));
            }
            Some(_) => {}
        }
    }
    for key in secrets.keys() {
        if !schema.iter().any(|f| &f.name == key && f.secret) {
            return Err(format!(
                "`{key}` is not a secret field of this plugin, so it is not passed to it; its secret fields: {}",
                schema.iter().filter(|f| f.secret).map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let mut filled = BTreeMap::new();
    for field in schema {
        if field.secret {
            if field.required && !secrets.contains_key(&field.name) {
                return Err(format!("the admin secret `{}` is required ({})", field.name, field.help));
            }
            continue;
        }
        let value = config.get(&field.name).cloned().or_else(|| field.default_value.clone());
        match value {
            Some(value) => {
                check_type(field, &value)?;
                filled.insert(field.name.clone(), value);
            }
            None if field.required => {
                return Err(format!("config field `{}` is required ({})", field.name, field.help));
            }
            None => {}
        }
    }
    Ok(filled)
}

fn check_type(field: &ConfigField, value: &str) -> Result<(), String> {
    let ok = match field.field_type {
        FieldType::Text => true,
        FieldType::Integer => value.trim().parse::<i64>().is_ok(),
        FieldType::Boolean => matches!(value, "true" | "false"),
        FieldType::Url => {
            (value.starts_with("https://") || value.starts_with("http://"))
                && super::grants::Endpoint::parse(value).is_ok()
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "config field `{}` must be {} {}, got `{value}`",
            field.name,
            article(field.field_type),
            field.field_type.name()
        ))
    }
}

fn article(field_type: FieldType) -> &'static str {
    if matches!(field_type, FieldType::Integer) { "an" } else { "a" }
}

/// What `info` returned is usable: bounded, named, with unique fields.
pub fn info(info: &PluginInfo) -> Result<(), String> {
    let name_ok = !info.name.is_empty()
        && info.name.len() <= 64
        && info.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err(format!("name `{}` must be 1-64 characters of a-z, 0-9 and `-`", info.name));
    }
    bounded("version", &info.version, MAX_FIELD)?;
    bounded("description", &info.description, MAX_TEXT)?;
    let items = info.config.len() + info.permissions.http_hosts.len() + info.permissions.tcp.len();
    if items > MAX_ITEMS {
        return Err(format!("declares {items} config fields and permissions; at most {MAX_ITEMS}"));
    }
    for permission in info.permissions.http_hosts.iter().chain(&info.permissions.tcp) {
        bounded("permission", permission, MAX_FIELD)?;
    }
    for (i, field) in info.config.iter().enumerate() {
        bounded("config field name", &field.name, MAX_FIELD)?;
        bounded("config field help", &field.help, MAX_TEXT)?;
        bounded("default value", field.default_value.as_deref().unwrap_or_default(), MAX_FIELD)?;
        if info.config[..i].iter().any(|f| f.name == field.name) {
            return Err(format!("declares the config field `{}` twice", field.name));
        }
    }
    Ok(())
}

/// What `generate` returned can be stored and shown.
pub fn credential(credential: &Credential) -> Result<(), String> {
    if credential.key_id.is_empty() {
        return Err("the key id is empty".into());
    }
    if credential.secret.is_empty() {
        return Err("the secret is empty".into());
    }
    bounded("key id", &credential.key_id, MAX_FIELD)?;
    if credential.secret.len() > MAX_SECRET {
        return Err(format!("the secret has {} bytes; at most {MAX_SECRET}", credential.secret.len()));
    }
    if credential.expires_at.is_some_and(|t| t > MAX_EXPIRY) {
        return Err("the expiry is after the year 9999".into());
    }
    attributes(&credential.attributes)
}

fn attributes(attributes: &[Pair]) -> Result<(), String> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(format!("{} attributes; at most {MAX_ATTRIBUTES}", attributes.len()));
    }
    for pair in attributes {
        bounded("attribute key", &pair.key, MAX_FIELD)?;
        bounded("attribute value", &pair.value, MAX_FIELD)?;
    }
    Ok(())
}

/// What `list-keys` returned can be compared with the store and shown.
pub(crate) fn keys(keys: &[KeySummary]) -> Result<(), String> {
    if keys.len() > MAX_KEYS {
        return Err(format!("{} keys; at most {MAX_KEYS}", keys.len()));
    }
    for key in keys {
        if key.key_id.is_empty() {
            return Err("a listed key has an empty key id".into());
        }
        bounded("key id", &key.key_id, MAX_FIELD)?;
        bounded("tag", key.tag.as_deref().unwrap_or_default(), MAX_FIELD)?;
        if key.created_at.into_iter().chain(key.last_used).any(|t| t > MAX_EXPIRY) {
            return Err(format!("the dates of key `{}` are after the year 9999", key.key_id));
        }
        attributes(&key.attributes)?;
    }
    Ok(())
}

/// What `verify` returned can be shown.
pub fn verification(verification: &Verification) -> Result<(), String> {
    if verification.last_used.is_some_and(|t| t > MAX_EXPIRY) {
        return Err("the last use is after the year 9999".into());
    }
    bounded("detail", verification.detail.as_deref().unwrap_or_default(), MAX_TEXT)
}

/// What a target's `write` returned can be stored and shown.
pub(crate) fn placed(placed: &Placed) -> Result<(), String> {
    if placed.location.is_empty() {
        return Err("the location is empty".into());
    }
    bounded("location", &placed.location, MAX_FIELD)?;
    bounded("revision", placed.revision.as_deref().unwrap_or_default(), MAX_FIELD)
}

/// What a call returned carries no secret the host knows, in any form: a
/// key id, attribute, tag or detail is stored and shown in clear, where only
/// the secret itself is sealed, and a new key is deployed to applications.
/// Names the field, never the value. For `generate`, call it before the new
/// key is among the secrets, then [`new_key_kept_out`].
pub(super) fn secrets(response: &Response, redactor: &Redactor) -> Result<(), String> {
    let fields: Vec<(Field<'_>, &str)> = match response {
        Response::Generated(c) => {
            let mut fields = credential_fields(&c.key_id, &c.attributes);
            fields.push((Field::NewKey, c.secret.as_str()));
            fields
        }
        Response::Verified(v) => v.detail.iter().map(|d| (Field::Detail, d.as_str())).collect(),
        Response::Listed(keys) => keys
            .iter()
            .flat_map(|k| {
                let mut fields = credential_fields(&k.key_id, &k.attributes);
                fields.extend(k.tag.iter().map(|t| (Field::Tag(&k.key_id), t.as_str())));
                fields
            })
            .collect(),
        Response::Placed(placed) => std::iter::once((Field::Location, placed.location.as_str()))
            .chain(placed.revision.iter().map(|r| (Field::Revision, r.as_str())))
            .collect(),
        Response::Info(_) | Response::TargetInfo(_) | Response::Done => vec![],
    };
    refuse_secrets(fields, redactor)
}

/// The new key is not in its own key id or attributes either.
pub(super) fn new_key_kept_out(credential: &Credential, redactor: &Redactor) -> Result<(), String> {
    refuse_secrets(credential_fields(&credential.key_id, &credential.attributes), redactor)
}

/// A part of a result, named only when it is refused.
enum Field<'a> {
    KeyId,
    AttributeName(&'a str),
    Attribute(&'a str),
    NewKey,
    Detail,
    Tag(&'a str),
    Location,
    Revision,
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::KeyId => f.write_str("the key id"),
            Self::AttributeName(name) => write!(f, "the name of attribute `{name}`"),
            Self::Attribute(name) => write!(f, "attribute `{name}`"),
            Self::NewKey => f.write_str("the new key"),
            Self::Detail => f.write_str("the detail"),
            Self::Tag(key) => write!(f, "the tag of key `{key}`"),
            Self::Location => f.write_str("the location"),
            Self::Revision => f.write_str("the revision"),
        }
    }
}

fn refuse_secrets(fields: Vec<(Field<'_>, &str)>, redactor: &Redactor) -> Result<(), String> {
    for (field, text) in fields {
        if let Some(what) = redactor.found_in(text) {
            return Err(format!(
                "{field} holds {what}; results are stored and shown in clear, so they may carry no secret"
            ));
        }
    }
    Ok(())
}

fn credential_fields<'a>(key_id: &'a str, attributes: &'a [Pair]) -> Vec<(Field<'a>, &'a str)> {
    let mut fields = Vec::with_capacity(1 + 2 * attributes.len());
    fields.push((Field::KeyId, key_id));
    for pair in attributes {
        fields.push((Field::AttributeName(&pair.key), pair.key.as_str()));
        fields.push((Field::Attribute(&pair.key), pair.value.as_str()));
    }
    fields
}

/// Text the host stores and shows an operator: bounded in size and free of
/// characters that could rewrite a terminal (`rekey status` prints key ids
/// and attributes as the plugin returned them).
fn bounded(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.len() > max {
        return Err(format!("the {what} has {} bytes; at most {max}", text.len()));
    }
    if let Some(c) = text.chars().find(|c| super::redact::is_unsafe(*c)) {
        return Err(format!("the {what} contains the control character U+{:04X}", c as u32));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, field_type: FieldType) -> ConfigField {
        ConfigField {
            name: name.into(),
            field_type,
            required: false,
            secret: false,
            placeholder: false,
            default_value: None,
            help: "help".into(),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn unknown_fields_are_named_with_the_accepted_ones() {
        let schema = [field("length", FieldType::Integer)];
        let error = config(&schema, &map(&[("lenght", "3")]), &map(&[])).unwrap_err();
        assert!(error.contains("`lenght`") && error.contains("length"), "{error}");
    }

    #[test]
    fn defaults_fill_in_and_types_are_checked() {
        let schema = [ConfigField { default_value: Some("32".into()), ..field("length", FieldType::Integer) }];
        assert_eq!(config(&schema, &map(&[]), &map(&[])).unwrap(), map(&[("length", "32")]));
        let error = config(&schema, &map(&[("length", "many")]), &map(&[])).unwrap_err();
        assert!(error.contains("must be an integer"), "{error}");
    }

    #[test]
    fn secrets_are_refused_as_config_and_required_as_secrets() {
        let schema = [ConfigField { secret: true, required: true, ..field("token", FieldType::Text) }];
        assert!(config(&schema, &map(&[("token", "x")]), &map(&[])).unwrap_err().contains("is a secret"));
        assert!(config(&schema, &map(&[]), &map(&[])).unwrap_err().contains("admin secret `token` is required"));
        assert!(config(&schema, &map(&[]), &map(&[("token", "x")])).is_ok());
    }

    #[test]
    fn a_plugin_never_receives_secrets_it_did_not_declare() {
        let schema = [ConfigField { secret: true, required: true, ..field("token", FieldType::Text) }];
        let error = config(&schema, &map(&[]), &map(&[("token", "x"), ("aws-root-key", "y")])).unwrap_err();
        assert!(error.contains("`aws-root-key` is not a secret field"), "{error}");
    }

    #[test]
    fn text_that_could_rewrite_a_terminal_is_refused() {
        let escape = Credential { key_id: "k\x1b[2J".into(), secret: "s".into(), attributes: vec![], expires_at: None };
        assert_eq!(credential(&escape).unwrap_err(), "the key id contains the control character U+001B");
        for hidden in ['\u{200e}', '\u{200f}', '\u{061c}', '\u{2028}', '\u{2029}', '\u{200b}', '\u{feff}', '\u{00ad}'] {
            let key = Credential { key_id: format!("k{hidden}1"), ..escape.clone() };
            assert!(credential(&key).unwrap_err().starts_with("the key id contains"), "{hidden:?}");
        }
        let newline_in_secret =
            Credential { key_id: "k".into(), secret: "line\nline".into(), attributes: vec![], expires_at: None };
        assert!(credential(&newline_in_secret).is_ok(), "secrets are opaque bytes for applications");
    }

    #[test]
    fn oversized_results_are_refused() {
        let huge =
            Credential { key_id: "k".into(), secret: "s".repeat(MAX_SECRET + 1), attributes: vec![], expires_at: None };
        assert!(credential(&huge).unwrap_err().contains("secret"));
        let empty = Credential { key_id: String::new(), secret: "s".into(), attributes: vec![], expires_at: None };
        assert!(credential(&empty).is_err());
    }
}
