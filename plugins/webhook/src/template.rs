//! `{name}` templates, with the escaping each place needs.

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

    #[test]
    fn unknown_placeholders_are_errors() {
        assert!(render("{nope}", Escape::None, &vars).unwrap_err().contains("{nope}"));
    }
}
