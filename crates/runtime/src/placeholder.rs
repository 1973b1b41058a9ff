//! Admin secrets a plugin never sees. A config field marked `placeholder`
//! reaches the plugin as `{{secret:NAME}}`; the request hook puts the real
//! value in place of it (in headers and the body; never in the URL, which
//! servers log and echo) only once the request has passed the policy, so
//! only on its way to a host the plugin declared and the operator granted,
//! and never over plain HTTP except to loopback. On the way back, the value
//! is masked to the placeholder again in every form a server may echo it in
//! (decoded from a query string, JSON-escaped, in base64…), so a server
//! that echoes it does not hand it to the plugin.

use super::bindings::ConfigField;
use memchr::memmem;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// The placeholders of one call and the values they stand for.
#[derive(Clone, Default)]
pub(crate) struct Placeholders {
    /// `(placeholder, value)`, longest value first, so that masking a value
    /// that contains another masks it whole.
    pairs: Vec<(String, Zeroizing<String>)>,
    /// `(form of a value, placeholder)`, longest form first.
    forms: Vec<(Zeroizing<String>, String)>,
}

impl Placeholders {
    /// Splits the admin secrets into what the plugin receives (placeholders
    /// instead of the values of `placeholder` fields) and the placeholders.
    pub(crate) fn seal(schema: &[ConfigField], secrets: &BTreeMap<String, String>) -> (BTreeMap<String, String>, Self) {
        let mut given = BTreeMap::new();
        let mut pairs = vec![];
        for (name, value) in secrets {
            if schema.iter().any(|f| &f.name == name && f.secret && f.placeholder) && !value.is_empty() {
                let token = format!("{{{{secret:{name}}}}}");
                given.insert(name.clone(), token.clone());
                pairs.push((token, Zeroizing::new(value.clone())));
            } else {
                given.insert(name.clone(), value.clone());
            }
        }
        pairs.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        let mut forms: Vec<(Zeroizing<String>, String)> = pairs
            .iter()
            .flat_map(|(token, value)| {
                super::encodings::forms(value).into_iter().map(|form| (Zeroizing::new(form), token.clone()))
            })
            .collect();
        forms.sort_by_key(|(form, _)| std::cmp::Reverse(form.len()));
        (given, Self { pairs, forms })
    }

    /// Whether `bytes` hold a placeholder.
    pub(crate) fn in_text(&self, bytes: &[u8]) -> bool {
        self.pairs.iter().any(|(token, _)| memmem::find(bytes, token.as_bytes()).is_some())
    }

    /// Whether the call has any.
    pub(crate) fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// `bytes` with every placeholder replaced by its value, or `None` when
    /// there is none in it.
    pub(crate) fn fill(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        replace(bytes, self.pairs.iter().map(|(token, value)| (token.as_bytes(), value.as_bytes())))
    }

    /// `bytes` with every value, in every form, replaced by its
    /// placeholder, or `None` when there is none in it.
    pub(crate) fn mask(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        replace(bytes, self.forms.iter().map(|(form, token)| (form.as_bytes(), token.as_bytes())))
    }
}

fn replace<'a>(bytes: &[u8], swaps: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Option<Vec<u8>> {
    let mut current: Option<Vec<u8>> = None;
    for (from, to) in swaps {
        let text = current.as_deref().unwrap_or(bytes);
        let mut found = memmem::find_iter(text, from).peekable();
        if found.peek().is_none() {
            continue;
        }
        let mut out = Vec::with_capacity(text.len());
        let mut start = 0;
        for at in found {
            out.extend_from_slice(&text[start..at]);
            out.extend_from_slice(to);
            start = at + from.len();
        }
        out.extend_from_slice(&text[start..]);
        current = Some(out);
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldType;

    fn field(name: &str, placeholder: bool) -> ConfigField {
        ConfigField {
            name: name.into(),
            field_type: FieldType::Text,
            required: true,
            secret: true,
            placeholder,
            default_value: None,
            help: String::new(),
        }
    }

    #[test]
    fn only_placeholder_fields_are_sealed() {
        let schema = [field("token", true), field("password", false)];
        let secrets = BTreeMap::from([("token".to_string(), "t0k".to_string()), ("password".into(), "pw".into())]);
        let (given, placeholders) = Placeholders::seal(&schema, &secrets);
        assert_eq!(given["token"], "{{secret:token}}");
        assert_eq!(given["password"], "pw", "a secret the plugin computes with is passed in clear");
        assert_eq!(placeholders.fill(b"Bearer {{secret:token}}").unwrap(), b"Bearer t0k");
        assert_eq!(
            placeholders.mask(b"{\"echo\":\"t0k t0k\"}").unwrap(),
            b"{\"echo\":\"{{secret:token}} {{secret:token}}\"}"
        );
        assert!(placeholders.fill(b"nothing here").is_none());
    }
}
