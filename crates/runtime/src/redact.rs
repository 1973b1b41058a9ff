//! Makes plugin text safe to show an operator: secrets replaced by `***`
//! in every form they may take (see [`encodings`](super::encodings)),
//! control, bidirectional-override and invisible format characters removed
//! (no terminal escape sequences, no hidden text), and each line bounded in
//! size. Secrets are masked before the text is cleaned (a multi-line key
//! keeps its line breaks until then) and again after (a secret with
//! zero-width characters woven into it is whole once they are gone). A
//! call's lines are also read as one text, so a secret printed in parts
//! across lines is masked in each ([`Redactor::mask_across`]).

use super::encodings;

/// Longest line shown, in bytes; the rest is cut and marked.
const MAX_LINE: usize = 2048;

/// The secrets of one call, to be masked in everything the plugin prints
/// and refused in everything it returns. Their forms are made only when
/// some text is long enough to hold one: most calls print nothing and
/// return ids shorter than any secret.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    /// `(secret, what it is)`, in the order added.
    secrets: Vec<(String, &'static str)>,
    /// `(form, what it is a form of)`, longest form first, so a secret that
    /// contains another is masked whole; made on first need.
    forms: std::sync::OnceLock<Vec<(String, &'static str)>>,
}

impl Redactor {
    /// Adds a secret to mask, described as `what` (e.g. `an admin secret`)
    /// when a result is refused for holding it. Empty values are ignored.
    pub(crate) fn add(&mut self, secret: &str, what: &'static str) {
        if secret.is_empty() || self.secrets.iter().any(|(known, _)| known == secret) {
            return;
        }
        self.secrets.push((secret.to_string(), what));
        self.forms = Default::default();
    }

    /// Every form of every secret, longest first.
    fn forms(&self) -> &[(String, &'static str)] {
        self.forms.get_or_init(|| {
            let mut forms: Vec<(String, &'static str)> = self
                .secrets
                .iter()
                .flat_map(|(secret, what)| encodings::forms(secret).into_iter().map(|form| (form, *what)))
                .collect();
            forms.sort_by_key(|(form, _)| std::cmp::Reverse(form.len()));
            forms
        })
    }

    /// Whether `text` is too short to hold any form of any secret (see
    /// [`encodings::shortest`]).
    fn too_short(&self, text: &str) -> bool {
        self.secrets.iter().all(|(secret, _)| text.len() < encodings::shortest(secret))
    }

    /// What secret `text` holds in some form, if any.
    pub(crate) fn found_in(&self, text: &str) -> Option<&'static str> {
        // Stripping only shortens a text, so a short one holds nothing.
        if self.too_short(text) {
            return None;
        }
        let stripped = (!is_plain(text)).then(|| strip(text));
        let visible = stripped.as_deref().unwrap_or(text);
        let holds = |haystack: &str, form: &str| form.len() <= haystack.len() && haystack.contains(form);
        self.forms().iter().find(|(form, _)| holds(text, form) || holds(visible, form)).map(|(_, what)| *what)
    }

    /// The text with secrets masked, unsafe characters removed and the
    /// length bounded.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut text = strip(&self.mask(text));
        text = self.mask(&text);
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

    /// Masks the secrets that span lines: a plugin that prints a secret
    /// in parts, one per line (two halves, a character a line), gets each
    /// part replaced by `***`. The lines are read as one text, their line
    /// breaks left out, and every part of every occurrence that crosses a
    /// line's end is masked in its own line; what lies within one line is
    /// left to [`Self::clean`].
    pub(crate) fn mask_across(&self, lines: &mut [String]) {
        if lines.len() < 2 || self.secrets.is_empty() {
            return;
        }
        let bodies: Vec<&str> = lines.iter().map(|l| l.trim_end_matches(['\n', '\r'])).collect();
        let joined: String = bodies.concat();
        if self.too_short(&joined) {
            return;
        }
        let mut starts = Vec::with_capacity(bodies.len());
        bodies.iter().fold(0, |at, body| {
            starts.push(at);
            at + body.len()
        });
        let line_of = |offset: usize| starts.partition_point(|&start| start <= offset) - 1;
        let mut cuts: Vec<Vec<(usize, usize)>> = vec![Vec::new(); lines.len()];
        for (form, _) in self.forms() {
            for (at, _) in joined.match_indices(form.as_str()) {
                let end = at + form.len();
                let (first, last) = (line_of(at), line_of(end - 1));
                for line in (first..=last).filter(|_| first != last) {
                    let (start, stop) = (at.max(starts[line]), end.min(starts[line] + bodies[line].len()));
                    cuts[line].push((start - starts[line], stop - starts[line]));
                }
            }
        }
        for (line, mut cuts) in lines.iter_mut().zip(cuts) {
            cuts.sort_unstable();
            let mut merged: Vec<(usize, usize)> = Vec::new();
            for (start, stop) in cuts {
                match merged.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(stop),
                    _ => merged.push((start, stop)),
                }
            }
            for (start, stop) in merged.into_iter().rev() {
                line.replace_range(start..stop, "***");
            }
        }
    }

    fn mask(&self, text: &str) -> String {
        let mut text = text.to_string();
        if self.too_short(&text) {
            return text;
        }
        for (form, _) in self.forms() {
            if form.len() <= text.len() && text.contains(form.as_str()) {
                text = text.replace(form.as_str(), "***");
            }
        }
        text
    }
}

/// Whether `text` is printable ASCII (and tabs), so [`strip`] would keep
/// it as it is.
fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' '..=b'~' | b'\t'))
}

/// `text` without the characters [`is_unsafe`] names.
fn strip(text: &str) -> String {
    text.chars().filter(|c| !is_unsafe(*c)).collect()
}

/// Characters that can hide or rewrite text on a terminal: controls (but
/// tab), and every Unicode format character (category Cf: bidirectional
/// marks and overrides, zero-width spaces and joiners, the soft hyphen,
/// the byte-order mark…), plus the line and paragraph separators.
pub(crate) fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}') || is_format(c)
}

/// Unicode's general category Cf (format characters), as of Unicode 16.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061c}'
            | '\u{06dd}'
            | '\u{070f}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_longest_first() {
        let mut r = Redactor::default();
        r.add("abc", "a secret");
        r.add("abcdef", "a secret");
        assert_eq!(r.clean("key=abcdef and abc"), "key=*** and ***");
    }

    #[test]
    fn a_secret_is_masked_in_any_form_and_across_hidden_characters() {
        let mut r = Redactor::default();
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
        r.add(pem, "an admin secret");
        r.add("tok3n-value-42", "an admin secret");
        assert!(!r.clean(pem).contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), "{}", r.clean(pem));
        assert_eq!(r.clean("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), "***", "one line of it, as logged line by line");
        assert_eq!(r.clean("t\u{200b}ok3n-\u{200d}value-42"), "***");
        assert_eq!(r.clean(&hex::encode("tok3n-value-42")), "***");
        assert_eq!(r.found_in("id-24-eulav-n3kot"), Some("an admin secret"), "reversed");
        assert_eq!(r.found_in("an ordinary key id"), None);
    }

    #[test]
    fn a_secret_printed_across_lines_is_masked_in_every_line() {
        let mut r = Redactor::default();
        r.add("sk-live-0123456789abcdef", "an admin secret");
        let mut halves = vec!["first: sk-live-012345".to_string(), "6789abcdef is the rest\n".into(), "done".into()];
        r.mask_across(&mut halves);
        assert_eq!(halves, ["first: ***", "*** is the rest\n", "done"]);
        let mut one_a_line: Vec<String> = "sk-live-0123456789abcdef".chars().map(|c| format!("{c}\n")).collect();
        r.mask_across(&mut one_a_line);
        assert!(one_a_line.iter().all(|line| line == "***\n"), "{one_a_line:?}");
        let mut unrelated = vec!["sk-live".to_string(), "-later".into()];
        r.mask_across(&mut unrelated);
        assert_eq!(unrelated, ["sk-live", "-later"], "no secret here");
    }

    #[test]
    fn escape_sequences_and_bidi_overrides_are_removed() {
        let r = Redactor::default();
        assert_eq!(r.clean("\x1b[31mred\x1b[0m\u{202e}txt\r\n"), "[31mred[0mtxt");
        assert_eq!(r.clean("a\u{200e}b\u{061c}c\u{2028}d\u{feff}e\u{00ad}f"), "abcdef");
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
