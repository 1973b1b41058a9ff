//! One variable in a dotenv file, every other line and comment kept.

use super::{DeployError, atomic};
use std::path::Path;

/// Sets each variable to its value in the dotenv file at `path` (created if
/// missing), in one atomic write.
pub fn set(path: &Path, values: &[(String, String)]) -> Result<(), DeployError> {
    atomic::update(path, |text| {
        let text = values
            .iter()
            .fold(text.unwrap_or_default(), |text, (variable, value)| with_variable(&text, variable, value));
        Ok(text.into_bytes())
    })
}

/// `text` with the assignment of `variable` replaced, or appended.
fn with_variable(text: &str, variable: &str, value: &str) -> String {
    let assignment = format!("{variable}={}", quote(value));
    let mut found = false;
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let body = line.trim_start();
            let body = body.strip_prefix("export ").map_or(body, str::trim_start);
            let is_it = body.strip_prefix(variable).is_some_and(|rest| rest.trim_start().starts_with('='));
            if is_it && !found {
                found = true;
                let export = if line.trim_start().starts_with("export ") { "export " } else { "" };
                format!("{export}{assignment}")
            } else {
                line.to_string()
            }
        })
        .collect();
    if !found {
        lines.push(assignment);
    }
    lines.join("\n") + "\n"
}

/// The value as dotenv readers expect it: bare when safe, else in double
/// quotes with `\`, `"`, `$` and backquote escaped.
fn quote(value: &str) -> String {
    let safe = value.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:+=@,".contains(c));
    if safe && !value.is_empty() {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_changes_and_everything_else_stays() {
        let before = "# database\nDB_HOST=db\nexport API_KEY=old # inline\n\nOTHER=1";
        let after = with_variable(before, "API_KEY", "new");
        assert_eq!(after, "# database\nDB_HOST=db\nexport API_KEY=new\n\nOTHER=1\n");
    }

    #[test]
    fn a_missing_variable_is_appended_and_odd_values_quoted() {
        assert_eq!(with_variable("A=1\n", "B", "x y$z"), "A=1\nB=\"x y\\$z\"\n");
        assert_eq!(with_variable("", "B", "v"), "B=v\n");
    }

    #[test]
    fn several_variables_are_written_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.env");
        std::fs::write(&path, "# keep me\nAWS_ACCESS_KEY_ID=old\n").unwrap();
        set(&path, &[("AWS_ACCESS_KEY_ID".into(), "AKIA2".into()), ("AWS_SECRET_ACCESS_KEY".into(), "s/2".into())])
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# keep me\nAWS_ACCESS_KEY_ID=AKIA2\nAWS_SECRET_ACCESS_KEY=s/2\n"
        );
    }

    #[test]
    fn a_longer_name_with_the_same_prefix_is_left_alone() {
        assert_eq!(with_variable("API_KEY_OLD=1\n", "API_KEY", "v"), "API_KEY_OLD=1\nAPI_KEY=v\n");
    }
}
