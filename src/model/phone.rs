//! Phone numbers as people write them, turned into links.

/// The `tel:` URI (RFC 3966) of a phone number as written: `+254 711 222 333` →
/// `tel:+254711222333`, `0712 345 678` → `tel:0712345678`. A leading `+` makes it global,
/// and then a trunk prefix written `(0)` (ITU-T E.123: "+44 (0)20 …" is not dialled from
/// abroad) is dropped; everything but digits goes. `None` with fewer than 3 digits.
pub fn tel_uri(written: &str) -> Option<String> {
    let written = written.trim();
    let global = written.starts_with('+');
    let without_trunk = if global {
        written.replacen("(0)", "", 1)
    } else {
        written.to_string()
    };
    let digits: String = without_trunk.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 3).then(|| format!("tel:{}{digits}", if global { "+" } else { "" }))
}

#[cfg(test)]
mod tests {
    use super::tel_uri;

    #[test]
    fn numbers_as_people_write_them_become_dialable_links() {
        for (written, uri) in [
            ("+254 711 222 333", Some("tel:+254711222333")),
            ("+254 (0)711 222 333", Some("tel:+254711222333")),
            ("+44 (0)20 7946 0958", Some("tel:+442079460958")),
            ("+1 (415) 555-0100", Some("tel:+14155550100")),
            ("(020) 7946 0958", Some("tel:02079460958")),
            ("0712 345 678", Some("tel:0712345678")),
            ("  +255-22-211-0000 ", Some("tel:+255222110000")),
            ("12", None),
            ("call me", None),
        ] {
            assert_eq!(tel_uri(written).as_deref(), uri, "{written}");
        }
    }
}
