//! What a deploy target writes for a key: an operator's template with
//! `{secret}` and `{key_id}` put in. In a JSON template (one that starts
//! with `{` and is more than a placeholder) the values are JSON-escaped, so
//! `{"password":"{secret}"}` stays valid JSON whatever the secret holds.

use crate::Credential;

/// `template` with the key's secret and id put in.
pub fn render(template: &str, key: &Credential) -> String {
    let trimmed = template.trim_start();
    let json = trimmed.starts_with('{') && trimmed != "{secret}" && trimmed != "{key_id}";
    let escape = |text: &str| {
        if json {
            let quoted = serde_json::to_string(text).expect("a string serializes");
            quoted[1..quoted.len() - 1].to_string()
        } else {
            text.to_string()
        }
    };
    template.replace("{key_id}", &escape(&key.key_id)).replace("{secret}", &escape(&key.secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> Credential {
        Credential { key_id: "k1".into(), secret: secret.into(), attributes: vec![], expires_at: None }
    }

    #[test]
    fn a_plain_template_takes_the_values_as_they_are() {
        assert_eq!(render("{secret}", &key("a\"b")), "a\"b");
        assert_eq!(render("id={key_id} key={secret}", &key("s")), "id=k1 key=s");
    }

    #[test]
    fn a_json_template_stays_json_whatever_the_secret_holds() {
        let rendered = render(r#"{"id":"{key_id}","password":"{secret}"}"#, &key("p\"w\\d\n"));
        let parsed: serde_json::Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(parsed["password"], "p\"w\\d\n");
    }
}
