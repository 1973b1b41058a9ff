//! `{name}` templates, with the escaping each place needs: the request
//! templates of the `webhook` provider and the `http-target` ([`Call`]), and
//! what a deploy target writes for a key ([`value`]).

use crate::http::Request;
use crate::{CallContext, Config, Credential, ProviderError};

/// How substituted values are escaped.
#[derive(Clone, Copy)]
pub enum Escape {
    /// Inside a JSON string: quotes, backslashes and control characters.
    Json,
    /// A URL path segment: everything but unreserved characters.
    Path,
    /// As is (headers).
    None,
}

/// Replaces each `{name}` with `var(name)`, escaped; `{{` and `}}` stand for
/// literal braces, so JSON bodies can be written.
pub fn render(template: &str, escape: Escape, var: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let rest = &template[i + 1..];
                let end = rest.find('}').ok_or_else(|| format!("unclosed `{{` in `{template}`"))?;
                let name = &rest[..end];
                let is_name =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !is_name {
                    // Not a placeholder (e.g. a JSON object): keep the brace.
                    out.push('{');
                    continue;
                }
                let value = var(name).ok_or_else(|| format!("`{{{name}}}` has no value here"))?;
                out.push_str(&escaped(&value, escape));
                for _ in 0..=end {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn escaped(value: &str, escape: Escape) -> String {
    match escape {
        Escape::None => value.to_string(),
        Escape::Json => {
            let quoted = serde_json::to_string(value).expect("a string serializes");
            quoted[1..quoted.len() - 1].to_string()
        }
        Escape::Path => value
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect(),
    }
}

/// What a deploy target writes for `key`: `template` with `{secret}` and
/// `{key-id}` (or `{key_id}`) put in. In a JSON template (one that starts
/// with `{` and is more than a placeholder) the values are JSON-escaped, so
/// `{"password":"{secret}"}` stays valid JSON whatever the secret holds.
pub fn value(template: &str, key: &Credential) -> Result<String, String> {
    let trimmed = template.trim_start();
    let json = trimmed.starts_with('{') && !matches!(trimmed, "{secret}" | "{key-id}" | "{key_id}");
    let var = |name: &str| match name {
        "secret" => Some(key.secret.clone()),
        "key-id" | "key_id" => Some(key.key_id.clone()),
        _ => None,
    };
    render(template, if json { Escape::Json } else { Escape::None }, &var)
}

/// One call of a plugin configured by request templates. Its templates
/// take `{rotation-id}`, the key's `{key-id}` and `{secret}`,
/// `{admin-token}`, and the plugin's config fields as `{field}`; requests go
/// to `base-url` and carry the `admin-header`.
pub struct Call<'a> {
    /// The call's config.
    pub config: Config<'a>,
    ctx: &'a CallContext,
    key: Option<&'a Credential>,
}

impl<'a> Call<'a> {
    /// The call `ctx`, about `key` if it is about one.
    pub fn new(ctx: &'a CallContext, key: Option<&'a Credential>) -> Self {
        Self { config: Config::new(ctx), ctx, key }
    }

    /// The value of a template variable.
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "rotation-id" => Some(self.ctx.rotation_id.clone()),
            "key-id" => self.key.map(|k| k.key_id.clone()),
            "secret" => self.key.map(|k| k.secret.clone()),
            "admin-token" => self.config.secret("admin-token").ok().map(str::to_string),
            other => self.config.get(other).map(str::to_string),
        }
    }

    /// The config field `field`, rendered as a template.
    pub fn render(&self, field: &str, escape: Escape) -> Result<String, ProviderError> {
        render(self.config.required(field)?, escape, &|name| self.var(name))
            .map_err(|e| ProviderError::InvalidConfig(format!("config field `{field}`: {e}")))
    }

    /// The URL of the path template in the config field `path`.
    pub fn url(&self, path: &str) -> Result<String, ProviderError> {
        let base = self.config.required("base-url")?.trim_end_matches('/');
        Ok(format!("{base}{}", self.render(path, Escape::Path)?))
    }

    /// A request with the method and path of two config fields.
    pub fn request(&self, method: &str, path: &str) -> Result<Request, ProviderError> {
        Ok(Request::new(self.config.required(method)?, &self.url(path)?))
    }

    /// A header template split into name and value.
    pub fn header(&self, field: &str) -> Result<(String, String), ProviderError> {
        let header = self.render(field, Escape::None)?;
        let (name, value) = header.split_once(':').ok_or_else(|| {
            ProviderError::InvalidConfig(format!("config field `{field}` must look like `Name: value`"))
        })?;
        Ok((name.trim().to_string(), value.trim().to_string()))
    }

    /// Adds the admin header.
    pub fn admin(&self, request: Request) -> Result<Request, ProviderError> {
        let (name, value) = self.header("admin-header")?;
        Ok(request.header(&name, &value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "id" => Some("a b/c".into()),
            "quote" => Some("say \"hi\"".into()),
            _ => None,
        }
    }

    #[test]
    fn paths_percent_encode_values() {
        assert_eq!(render("/keys/{id}", Escape::Path, &vars).unwrap(), "/keys/a%20b%2Fc");
    }

    #[test]
    fn json_bodies_keep_their_braces_and_escape_values() {
        assert_eq!(render(r#"{"name": "{quote}"}"#, Escape::Json, &vars).unwrap(), r#"{"name": "say \"hi\""}"#);
    }

    fn key(secret: &str) -> Credential {
        Credential { key_id: "k1".into(), secret: secret.into(), attributes: vec![], expires_at: None }
    }

    #[test]
    fn a_plain_value_takes_the_key_as_it_is() {
        assert_eq!(value("{secret}", &key("a\"b")).unwrap(), "a\"b");
        assert_eq!(value("id={key_id} key={secret}", &key("s")).unwrap(), "id=k1 key=s");
    }

    #[test]
    fn a_json_value_stays_json_whatever_the_secret_holds() {
        let rendered = value(r#"{"id":"{key-id}","password":"{secret}"}"#, &key("p\"w\\d\n")).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(parsed["password"], "p\"w\\d\n");
    }

    #[test]
    fn unknown_placeholders_are_errors() {
        assert!(render("{nope}", Escape::None, &vars).unwrap_err().contains("{nope}"));
    }
}
