//! Secrets must never reach a log: one assertion for every test that reads one.

/// Panics, naming the secret and the line, when any of `secrets` appears in `log` as is,
/// percent-encoded (as a cookie or form value travels) or percent-decoded.
/// Secrets shorter than 8 characters are refused: a search for them proves nothing.
pub fn assert_no_secrets(log: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            secret.len() >= 8,
            "{secret:?} is too short to search a log for"
        );
        let encoded = percent_encode(secret);
        let decoded = percent_decode(secret);
        for form in [secret.to_string(), encoded, decoded] {
            if let Some(line) = log.lines().find(|l| l.contains(form.as_str())) {
                panic!("secret {secret:?} is in the log (as {form:?}):\n{line}");
            }
        }
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
