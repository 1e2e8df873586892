//! An accepted upload: its recognised document type and its bytes.

use serde::{Deserialize, Serialize};

/// A document type a `file` field may accept (`accept = ["pdf", "docx", …]` in a form's config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    Pdf,
    /// Word 97–2003 binary document (OLE2 compound file).
    Doc,
    /// Office Open XML WordprocessingML package.
    Docx,
    /// OpenDocument text.
    Odt,
}

impl FileType {
    pub fn extension(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Doc => "doc",
            FileType::Docx => "docx",
            FileType::Odt => "odt",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Doc => "application/msword",
            FileType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileType::Odt => "application/vnd.oasis.opendocument.text",
        }
    }

    /// The name people know the type by: `PDF`, `DOCX`, …
    pub fn label(self) -> String {
        self.extension().to_uppercase()
    }
}

/// A file that passed its field's checks (type recognised by parsing, size within limits).
#[derive(Debug, Clone)]
pub struct Upload {
    pub field: String,
    /// A safe name: the visitor's base name, cleaned, with the extension of the detected type.
    pub filename: String,
    pub file_type: FileType,
    pub bytes: Vec<u8>,
}
