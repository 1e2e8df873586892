//! Upload types recognised by their content, never by the name the visitor's browser sent.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    Pdf,
    Doc,
    Docx,
}

impl FileType {
    pub fn extension(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Doc => "doc",
            FileType::Docx => "docx",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Doc => "application/msword",
            FileType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
        }
    }
}

/// The type of `bytes` as far as its magic numbers and container structure tell.
pub fn sniff(bytes: &[u8]) -> Option<FileType> {
    let kind = infer::get(bytes)?;
    [FileType::Pdf, FileType::Doc, FileType::Docx]
        .into_iter()
        .find(|t| t.mime() == kind.mime_type())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_is_recognised_and_renamed_text_is_not() {
        assert_eq!(
            sniff(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
            Some(FileType::Pdf)
        );
        assert_eq!(sniff(b"MZ\x90\x00 this is an exe named cv.pdf"), None);
        assert_eq!(sniff(b"hello"), None);
    }
}
