//! One value in a JSON file, at a JSON pointer; the rest of the document kept.

use super::{DeployError, atomic};
use serde_json::Value;
use std::path::Path;

/// Sets the string at `pointer` in the JSON file at `path` (created if
/// missing, with objects made along the pointer as needed).
pub fn set(path: &Path, pointer: &str, value: &str) -> Result<(), DeployError> {
    atomic::update(path, |text| {
        let mut document = match text {
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                DeployError(format!("{} is not valid JSON ({e}); fix it before deploying", path.display()))
            })?,
            None => Value::Object(Default::default()),
        };
        put(&mut document, pointer, value).map_err(|e| DeployError(format!("{}: {e}", path.display())))?;
        let mut text = serde_json::to_string_pretty(&document).expect("a JSON value serializes");
        text.push('\n');
        Ok(text.into_bytes())
    })
}

fn put(document: &mut Value, pointer: &str, value: &str) -> Result<(), String> {
    if !pointer.starts_with('/') {
        return Err(format!("`{pointer}` is not a JSON pointer (it must start with `/`)"));
    }
    let mut node = document;
    let tokens: Vec<String> = pointer[1..].split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        let object =
            node.as_object_mut().ok_or_else(|| format!("`{pointer}` goes through something that is not an object"))?;
        if last {
            object.insert(token.clone(), Value::String(value.to_string()));
            return Ok(());
        }
        node = object.entry(token.clone()).or_insert_with(|| Value::Object(Default::default()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_keeps_its_key_order() {
        let mut doc: Value = serde_json::from_str(r#"{"zeta": 1, "alpha": {"b": 2, "a": 3}}"#).unwrap();
        put(&mut doc, "/alpha/a", "new").unwrap();
        assert_eq!(doc.to_string(), r#"{"zeta":1,"alpha":{"b":2,"a":"new"}}"#);
    }

    #[test]
    fn the_value_is_set_and_siblings_kept() {
        let mut doc: Value = serde_json::json!({ "db": { "host": "x", "password": "old" }, "n": 1 });
        put(&mut doc, "/db/password", "new").unwrap();
        assert_eq!(doc, serde_json::json!({ "db": { "host": "x", "password": "new" }, "n": 1 }));
        put(&mut doc, "/api/key", "k").unwrap();
        assert_eq!(doc["api"]["key"], "k");
        assert!(put(&mut doc, "/n/x", "v").is_err());
        assert!(put(&mut doc, "db", "v").is_err());
    }
}
