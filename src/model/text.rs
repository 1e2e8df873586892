//! Cleaning visitor-typed text before it sits in a header or a one-line field.

/// Invisible characters that reorder or hide text (Unicode bidi controls, zero-width and
/// format characters): `U+202E` makes `gpj.exe` read as `exe.jpg`. The zero-width joiners
/// (`U+200C`, `U+200D`) are left out: Persian, Indic scripts and emoji need them in names.
pub fn is_bidi_or_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{200E}' | '\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Collapses whitespace (including CR/LF) and drops control, bidi and format characters,
/// then caps the length: what a value must look like before it sits in a subject.
pub fn single_line(s: &str, max_chars: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !is_bidi_or_format(*c))
        .collect();
    cleaned
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max_chars)
        .collect()
}

/// A visitor-typed name made safe as the display name of a Reply-To: `single_line`, without
/// the address specials `"`, `<`, `>`, `,`, `@` (a name such as `Jo, <x@evil.test>` would
/// otherwise read as a second address) and without zero-width joiners.
pub fn display_name(s: &str, max_chars: usize) -> String {
    let spaced: String = s
        .chars()
        .map(|c| if "\"<>,@".contains(c) { ' ' } else { c })
        .filter(|c| !matches!(c, '\u{200C}' | '\u{200D}'))
        .collect();
    single_line(&spaced, max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_removes_header_injection() {
        assert_eq!(
            single_line("Jane\r\nBcc: x@y.com", 100),
            "Jane Bcc: x@y.com"
        );
        assert_eq!(single_line("  a\u{0}b\tc  ", 100), "ab c");
        assert_eq!(single_line("abcdef", 3), "abc");
        assert_eq!(single_line("Eve\u{202E}gpj.exe\u{FEFF}", 100), "Evegpj.exe");
        assert_eq!(
            display_name("Müller, \"Jo\" <x@evil.test>\u{2066}\u{200B}", 100),
            "Müller Jo x evil.test"
        );
    }
}
