//! Splits `rekey.toml` at its `[[credential]]` tables, so each credential
//! is parsed on its own. A TOML parser holds the whole document in memory
//! in an intermediate form about 40 times the size of the text (86 MiB for
//! 10,000 credentials); parsed one credential at a time, what is held is
//! the result and one credential's text.
//!
//! The split is done on the lexer's tokens, so brackets inside strings,
//! comments and array values are never mistaken for a table header. A file
//! laid out otherwise than one `[[credential]]` table followed by its own
//! `[credential.…]` sub-tables (a sub-table after another top-level table,
//! a quoted `"credential"` key) is not split: it is parsed whole.

use std::ops::Range;
use toml_parser::Source;
use toml_parser::lexer::TokenKind;

/// A file split into its credential tables and the rest.
#[derive(Debug, PartialEq)]
pub struct Split {
    /// The file with every credential table blanked out, its newlines kept
    /// so that a line number in it is a line number in the file.
    pub rest: String,
    /// Where each credential table is in the file, in order.
    pub credentials: Vec<Range<usize>>,
}

/// One table header: where it starts, the first segment of its key,
/// whether it is `[[…]]`, and whether its key has more segments.
struct Header<'a> {
    start: usize,
    first_key: &'a str,
    array: bool,
    dotted: bool,
}

/// Splits `text`, or `None` when it must be parsed whole.
pub fn split(text: &str) -> Option<Split> {
    let headers = headers(text)?;
    let mut credentials: Vec<Range<usize>> = Vec::new();
    let mut in_credential = false;
    for (i, header) in headers.iter().enumerate() {
        let end = headers.get(i + 1).map_or(text.len(), |h| h.start);
        let is_credential = header.first_key == "credential";
        let opens = is_credential && header.array && !header.dotted;
        match (is_credential, opens) {
            (true, true) => credentials.push(header.start..end),
            // A sub-table of the credential just opened: part of its text.
            (true, false) if in_credential => credentials.last_mut().expect("a credential is open").end = end,
            // `[credential]`, or a sub-table away from its credential.
            (true, false) => return None,
            (false, _) => {}
        }
        in_credential = is_credential;
    }
    let mut rest = String::with_capacity(text.len());
    let mut at = 0;
    for range in &credentials {
        rest.push_str(&text[at..range.start]);
        rest.extend(text[range.clone()].matches('\n').map(|_| '\n'));
        at = range.end;
    }
    rest.push_str(&text[at..]);
    Some(Split { rest, credentials })
}

/// The table headers of `text`, or `None` when one cannot be read simply.
fn headers(text: &str) -> Option<Vec<Header<'_>>> {
    let source = Source::new(text);
    let mut tokens = source.lex().peekable();
    let mut headers = Vec::new();
    // Brackets and braces open in a value (arrays, inline tables).
    let mut depth = 0usize;
    let mut line_start = true;
    while let Some(token) = tokens.next() {
        let kind = token.kind();
        match kind {
            TokenKind::LeftSquareBracket if depth == 0 && line_start => {
                let start = token.span().start();
                let array = tokens.next_if(|t| t.kind() == TokenKind::LeftSquareBracket).is_some();
                while tokens.next_if(|t| t.kind() == TokenKind::Whitespace).is_some() {}
                let key = tokens.next()?;
                if key.kind() != TokenKind::Atom {
                    return None;
                }
                let span = key.span();
                while tokens.next_if(|t| t.kind() == TokenKind::Whitespace).is_some() {}
                let dotted = tokens.peek().is_some_and(|t| t.kind() == TokenKind::Dot);
                headers.push(Header { start, first_key: &text[span.start()..span.end()], array, dotted });
                // The rest of the header line is not a value.
                while tokens.next_if(|t| t.kind() != TokenKind::Newline && t.kind() != TokenKind::Eof).is_some() {}
            }
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => depth += 1,
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => depth = depth.saturating_sub(1),
            _ => {}
        }
        line_start = match kind {
            TokenKind::Newline => true,
            TokenKind::Whitespace => line_start,
            _ => false,
        };
    }
    Some(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(text: &str) -> Vec<&str> {
        split(text).unwrap().credentials.into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn each_credential_takes_its_sub_tables_and_the_rest_keeps_its_lines() {
        let text = "store = \"x.db\"\n[[credential]]\nname = \"a\"\n[[credential.stages]]\nname = \"dev\"\n[trust]\nkeys = []\n[[credential]]\nname = \"b\"\n";
        let split = split(text).unwrap();
        assert_eq!(
            tables(text),
            ["[[credential]]\nname = \"a\"\n[[credential.stages]]\nname = \"dev\"\n", "[[credential]]\nname = \"b\"\n"]
        );
        assert_eq!(split.rest, "store = \"x.db\"\n\n\n\n\n[trust]\nkeys = []\n\n\n");
    }

    #[test]
    fn brackets_in_strings_comments_and_arrays_are_not_headers() {
        let text = "[[credential]]\nname = \"a\"\nconfig = { x = \"\"\"\n[[credential]]\n\"\"\" }\n# [[credential]]\ngrants = [\n  [1, 2],\n]\n[[credential]]\nname = \"b\"\n";
        assert_eq!(tables(text).len(), 2);
        assert_eq!(tables("[[ credential ]]\nname = \"a\"\n[[ credential . stages ]]\n").len(), 1);
    }

    #[test]
    fn layouts_that_cannot_be_split_are_parsed_whole() {
        assert_eq!(split("[[credential]]\nname = \"a\"\n[trust]\n[[credential.stages]]\nname = \"s\"\n"), None);
        assert_eq!(split("[\"credential\"]\nname = 1\n"), None);
        assert_eq!(split("[credential]\nname = \"a\"\n"), None);
    }
}
