//! The JSON body of a Mailtrap request, produced while it is sent: the JSON around the
//! attachments is serialized up front (it is small: texts and addresses), each attachment's
//! content is read from its file and base64-encoded a chunk at a time as the HTTP client
//! takes the body. The length is known exactly before the first byte goes (a fixed
//! `Content-Length`), and is what Mailtrap's 10 MB limit counts ([`message_size`]).
//!
//! While serializing, each attachment's `content` is a marker (a random nonce and the
//! attachment's number), later cut out of the JSON: a nonce drawn per body cannot be typed
//! by a visitor, and base64 needs no JSON escaping, so the JSON is exactly what serializing
//! the encoded content would have given.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{Attachment, Email};
use crate::model::Mailbox;

/// Bytes of a file encoded at a time: a multiple of 3, so no padding before the end.
const CHUNK: usize = 48 * 1024;

/// The length of `size` bytes base64-encoded with padding.
pub fn base64_len(size: u64) -> u64 {
    size.div_ceil(3) * 4
}

/// Room for everything of an owner notification but its file, in bytes: addresses, subject,
/// custom variables and the text and HTML parts with every field at its longest (a job
/// application with 200-character lines and a 5,000-character letter, escaped, is far below).
pub const MESSAGE_RESERVE: u64 = 64 * 1024;

/// The largest message a file of `upload_bytes` can make: the file base64-encoded plus
/// [`MESSAGE_RESERVE`]. Compared with Mailtrap's limit by `kipekee check`.
pub fn largest_message(upload_bytes: u64) -> u64 {
    base64_len(upload_bytes) + MESSAGE_RESERVE
}

/// Marks the attachments of the messages being serialized, in order.
pub(super) struct Marks {
    nonce: String,
    files: RefCell<Vec<(PathBuf, u64)>>,
}

impl Marks {
    pub fn new() -> Marks {
        Marks {
            nonce: crate::model::random_token(24),
            files: RefCell::default(),
        }
    }

    fn mark(&self, a: &Attachment) -> String {
        let mut files = self.files.borrow_mut();
        files.push((a.path.clone(), a.size));
        format!("{}-{}-", self.nonce, files.len() - 1)
    }

    fn marker(&self, i: usize) -> String {
        format!("{}-{i}-", self.nonce)
    }
}

/// A request body: JSON parts and attachment files, read in turn.
pub(super) struct Body {
    parts: std::vec::IntoIter<Part>,
    current: Option<Part>,
    len: usize,
}

enum Part {
    Json(Cursor<Vec<u8>>),
    File(Encoded),
}

impl Body {
    /// Serializes `value` (whose attachments were marked by `marks`) and opens every file it
    /// carries, so a missing or changed file fails here, before anything is sent.
    ///
    /// # Errors
    /// A file cannot be opened or its size is not the one recorded.
    pub fn new(value: &impl Serialize, marks: Marks) -> io::Result<Body> {
        let json = serde_json::to_vec(value).map_err(io::Error::other)?;
        let files = marks.files.take();
        let mut parts = Vec::with_capacity(files.len() * 2 + 1);
        let mut len = 0u64;
        let mut at = 0;
        for (i, (path, size)) in files.into_iter().enumerate() {
            let marker = marks.marker(i);
            let found = memchr::memmem::find(&json[at..], marker.as_bytes())
                .ok_or_else(|| io::Error::other("attachment marker not found"))?;
            let file = File::open(&path)?;
            if file.metadata()?.len() != size {
                return Err(io::Error::other(format!(
                    "{} is not the size recorded",
                    path.display()
                )));
            }
            parts.push(Part::Json(Cursor::new(json[at..at + found].to_vec())));
            parts.push(Part::File(Encoded::new(file, size)));
            len += found as u64 + base64_len(size);
            at += found + marker.len();
        }
        len += (json.len() - at) as u64;
        parts.push(Part::Json(Cursor::new(json[at..].to_vec())));
        Ok(Body {
            parts: parts.into_iter(),
            current: None,
            len: usize::try_from(len).map_err(io::Error::other)?,
        })
    }

    /// Bytes the body will give, exactly.
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(part) = &mut self.current else {
                match self.parts.next() {
                    Some(next) => self.current = Some(next),
                    None => return Ok(0),
                }
                continue;
            };
            let n = match part {
                Part::Json(c) => c.read(buf)?,
                Part::File(f) => f.read(buf)?,
            };
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            self.current = None;
        }
    }
}

/// A file read as base64, `CHUNK` bytes of it at a time.
struct Encoded {
    file: File,
    size: u64,
    read: u64,
    out: Vec<u8>,
    at: usize,
    chunk: Vec<u8>,
}

impl Encoded {
    fn new(file: File, size: u64) -> Encoded {
        Encoded {
            file,
            size,
            read: 0,
            out: Vec::new(),
            at: 0,
            chunk: Vec::new(),
        }
    }

    /// Encodes the next chunk into `out`; false at the end of the file.
    fn refill(&mut self) -> io::Result<bool> {
        self.chunk.resize(CHUNK, 0);
        let mut filled = 0;
        while filled < CHUNK {
            match self.file.read(&mut self.chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.read += filled as u64;
        if self.read > self.size || (filled < CHUNK && self.read != self.size) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "an attachment changed size while it was sent",
            ));
        }
        self.at = 0;
        self.out.resize(base64_len(filled as u64) as usize, 0);
        BASE64
            .encode_slice(&self.chunk[..filled], &mut self.out)
            .map_err(io::Error::other)?;
        Ok(filled > 0)
    }
}

impl Read for Encoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.out.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The size in bytes of `e` as one JSON message, attachments base64-encoded: what
/// Mailtrap's 10 MB limit counts. Only the JSON around the attachments is made.
pub(super) fn message_size(e: &Email) -> usize {
    let marks = Marks::new();
    // The message's keys are strings: serializing it cannot fail.
    let json_len = serde_json::to_vec(&message(e, &marks)).map_or(0, |j| j.len());
    let files = marks.files.take();
    let markers: usize = (0..files.len()).map(|i| marks.marker(i).len()).sum();
    let content: u64 = files.iter().map(|(_, size)| base64_len(*size)).sum();
    (json_len - markers).saturating_add(usize::try_from(content).unwrap_or(usize::MAX))
}

/// One `requests[]` item. Absent fields are omitted, never sent as `null`.
#[derive(Serialize)]
pub(super) struct Message {
    #[serde(flatten)]
    pub fields: Map<String, Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    attachments: Vec<AttachmentBody>,
}

#[derive(Serialize)]
struct AttachmentBody {
    filename: String,
    #[serde(rename = "type")]
    content_type: String,
    disposition: &'static str,
    /// The marker that the file's base64 replaces.
    content: String,
}

/// Mailtrap's address object; the domain in punycode (Mailtrap accepts ASCII addresses only).
pub(super) fn address(m: &Mailbox) -> Value {
    let email = m.email.to_ascii();
    let mut v = json!({ "email": email.as_deref().unwrap_or(m.email.as_str()) });
    if let Some(name) = &m.name {
        v["name"] = json!(name);
    }
    v
}

/// `e` as a message of Mailtrap's API, its attachments marked by `marks`.
pub(super) fn message(e: &Email, marks: &Marks) -> Message {
    let mut m = Map::new();
    if let Some(to) = &e.to {
        m.insert("to".into(), json!([address(to)]));
    }
    if let Some(reply_to) = &e.reply_to {
        m.insert("reply_to".into(), address(reply_to));
    }
    m.insert("subject".into(), json!(e.subject));
    m.insert("text".into(), json!(e.text));
    m.insert("html".into(), json!(e.html));
    m.insert("category".into(), json!(e.category));
    if !e.headers.is_empty() {
        m.insert("headers".into(), json!(e.headers));
    }
    if !e.custom_variables.is_empty() {
        m.insert("custom_variables".into(), json!(e.custom_variables));
    }
    Message {
        fields: m,
        attachments: e
            .attachments
            .iter()
            .map(|a| AttachmentBody {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                disposition: "attachment",
                content: marks.mark(a),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::tests::email_with_attachment;

    fn read_all(body: Body) -> (usize, Vec<u8>) {
        let len = body.len();
        let mut out = Vec::new();
        let mut body = body;
        body.read_to_end(&mut out).unwrap();
        (len, out)
    }

    #[test]
    fn the_body_is_the_json_of_the_encoded_files_and_its_length_is_exact() {
        for size in [0, 1, 2, 3, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 2] {
            let (email, _dir) = email_with_attachment(size);
            let marks = Marks::new();
            let value = json!({ "requests": [message(&email, &marks), message(&email, &marks)] });
            let (len, bytes) = read_all(Body::new(&value, marks).unwrap());
            assert_eq!(len, bytes.len(), "{size}");
            let parsed: Value = serde_json::from_slice(&bytes).unwrap();
            let content = std::fs::read(&email.attachments[0].path).unwrap();
            for m in parsed["requests"].as_array().unwrap() {
                let sent = BASE64
                    .decode(m["attachments"][0]["content"].as_str().unwrap())
                    .unwrap();
                assert_eq!(sent, content, "{size}");
                assert_eq!(m["attachments"][0]["filename"], "cv \"final\".pdf");
            }
            assert_eq!(message_size(&email) * 2 + r#"{"requests":[,]}"#.len(), len);
        }
    }

    #[test]
    fn a_file_that_is_gone_or_changed_fails_before_sending() {
        let (email, _dir) = email_with_attachment(10);
        let marks = Marks::new();
        let value = message(&email, &marks);
        std::fs::write(&email.attachments[0].path, b"longer than before").unwrap();
        assert!(Body::new(&value, marks).is_err());
        let marks = Marks::new();
        let value = message(&email, &marks);
        std::fs::remove_file(&email.attachments[0].path).unwrap();
        assert!(Body::new(&value, marks).is_err());
    }

    #[test]
    fn messages_omit_absent_fields() {
        let (mut email, _dir) = email_with_attachment(100);
        email.reply_to = None;
        let marks = Marks::new();
        let (_, bytes) = read_all(Body::new(&message(&email, &marks), marks).unwrap());
        let m: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(m.get("reply_to").is_none() && m.get("headers").is_none());
        assert!(
            m.get("custom_variables").is_none(),
            "absent, never empty: {m}"
        );
        let content = m["attachments"][0]["content"].as_str().unwrap();
        assert!(!content.contains('\n'));
        assert_eq!(BASE64.decode(content).unwrap().len(), 100);
    }
}
