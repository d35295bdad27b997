//! Header text from outside (a shopper's name, a subject with shopper text)
//! made safe for one header line. lettre panics on CR/LF in a display name
//! and other controls can end or hide a header, so none reaches it.

/// Display names are cut to this many characters.
pub const NAME_CHARS: usize = 100;
/// Subjects are cut to this many characters.
pub const SUBJECT_CHARS: usize = 200;

/// `raw` as one line of at most `max_chars` characters: control characters
/// (C0, DEL, C1) and bidirectional overrides and isolates are dropped, line
/// and paragraph separators count as whitespace, every run of whitespace
/// becomes one space, the ends are trimmed, and a longer text is cut on a
/// character boundary and ends in "…".
pub fn header_text(raw: &str, max_chars: usize) -> String {
    let mut line = String::with_capacity(raw.len().min(4 * max_chars));
    let mut pending_space = false;
    for c in raw.chars() {
        if c.is_whitespace() {
            pending_space = !line.is_empty();
        } else if !is_hidden(c) {
            if pending_space {
                line.push(' ');
                pending_space = false;
            }
            line.push(c);
        }
    }
    cut(line, max_chars)
}

/// Characters that have no place in a header: controls that end or garble
/// a line, and the ones that reverse how the rest of it reads. Whitespace
/// controls (tab, CR, LF) never get here: they become a space.
fn is_hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn cut(line: String, max_chars: usize) -> String {
    if line.chars().count() <= max_chars {
        return line;
    }
    let kept: String = line.chars().take(max_chars.saturating_sub(1)).collect();
    let mut kept = kept.trim_end().to_owned();
    kept.push('…');
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn line_breaks_and_controls_never_survive() {
        assert_eq!(header_text("Eve\r\nBcc: x@y", NAME_CHARS), "Eve Bcc: x@y");
        assert_eq!(header_text("a\0b\u{7f}c\u{9b}d", NAME_CHARS), "abcd");
        assert_eq!(header_text("a\u{85}b", NAME_CHARS), "a b");
        assert_eq!(header_text("a\u{2028}b\u{2029}c", NAME_CHARS), "a b c");
        assert_eq!(header_text("\u{202E}Anna\u{2066}", NAME_CHARS), "Anna");
        assert_eq!(
            header_text("  Jörg \t  Müller  ", NAME_CHARS),
            "Jörg Müller"
        );
        assert_eq!(header_text("\r\n\t ", NAME_CHARS), "");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let subject = header_text(&"ü".repeat(500), SUBJECT_CHARS);
        assert_eq!(subject.chars().count(), SUBJECT_CHARS);
        assert!(subject.ends_with("üü…"));
        let exact = "x".repeat(SUBJECT_CHARS);
        assert_eq!(header_text(&exact, SUBJECT_CHARS), exact);
        assert_eq!(
            header_text(&format!("{exact}y"), SUBJECT_CHARS)
                .chars()
                .count(),
            SUBJECT_CHARS
        );
    }

    /// Text made mostly of the troublemakers, so that they meet often.
    fn nasty_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("\r".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just("\0".to_owned()),
            Just("\t".to_owned()),
            Just(" ".to_owned()),
            Just("\u{85}".to_owned()),
            Just("\u{2028}".to_owned()),
            Just("\u{202E}".to_owned()),
            Just("Bcc: x@y".to_owned()),
            Just("…".to_owned()),
            "\\PC{0,8}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..80).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn the_line_is_clean_short_and_stable(raw in nasty_text(), max in 1usize..250) {
            let line = header_text(&raw, max);
            prop_assert!(line.chars().count() <= max, "{line:?}");
            prop_assert!(!line.chars().any(|c| is_hidden(c) || (c.is_whitespace() && c != ' ')), "{line:?}");
            prop_assert!(!line.contains("  "), "{line:?}");
            prop_assert_eq!(line.trim(), line.as_str());
            prop_assert_eq!(header_text(&line, max), line.clone());
        }

        #[test]
        fn clean_short_text_is_kept(words in prop::collection::vec("[a-zA-Zäöü0-9.'-]{1,8}", 0..10)) {
            let text = words.join(" ");
            prop_assert_eq!(header_text(&text, 200), text);
        }
    }
}
