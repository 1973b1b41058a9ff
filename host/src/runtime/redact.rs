//! Makes plugin text safe to show an operator: secrets replaced by `***`,
//! control and bidirectional-override characters removed (no terminal escape
//! sequences, no hidden text), and each line bounded in size.

/// Longest line shown, in bytes; the rest is cut and marked.
const MAX_LINE: usize = 2048;

/// The secrets of one call, to be masked in everything the plugin prints.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Adds a secret to mask. Empty values are ignored.
    pub(crate) fn add(&mut self, secret: &str) {
        if !secret.is_empty() && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_string());
            // Longest first, so a secret that contains another is masked whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// The text with secrets masked, unsafe characters removed and the
    /// length bounded.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut text: String = text.chars().filter(|c| !is_unsafe(*c)).collect();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        if text.len() > MAX_LINE {
            let mut end = MAX_LINE;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str("… [cut]");
        }
        text
    }
}

/// Characters that can hide or rewrite text on a terminal.
pub(crate) fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_longest_first() {
        let mut r = Redactor::default();
        r.add("abc");
        r.add("abcdef");
        assert_eq!(r.clean("key=abcdef and abc"), "key=*** and ***");
    }

    #[test]
    fn escape_sequences_and_bidi_overrides_are_removed() {
        let r = Redactor::default();
        assert_eq!(r.clean("\x1b[31mred\x1b[0m\u{202e}txt\r\n"), "[31mred[0mtxt");
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let r = Redactor::default();
        let line = "é".repeat(MAX_LINE);
        let cleaned = r.clean(&line);
        assert!(cleaned.len() <= MAX_LINE + "… [cut]".len());
        assert!(cleaned.ends_with("… [cut]"));
    }
}
