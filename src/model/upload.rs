//! An accepted upload: its recognised document type and its file, still in the data dir's
//! `tmp` until the store moves it in (`forms::temp` receives it, `store` keeps it).

use std::io;
use std::path::{Path, PathBuf};

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
#[derive(Debug)]
pub struct Upload {
    pub field: String,
    /// A safe name: the visitor's base name, cleaned, with the extension of the detected type.
    pub filename: String,
    pub file_type: FileType,
    pub file: TempUpload,
}

/// An uploaded file in `<data_dir>/tmp`: its size, SHA-256 and the type its content shows.
/// The file is removed when this is dropped, unless handed over with [`TempUpload::into_path`].
#[derive(Debug)]
pub struct TempUpload {
    path: PathBuf,
    /// Bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// What the upload's content was recognised as, `None` for anything else.
    pub sniffed: Option<FileType>,
}

impl TempUpload {
    /// The file at `path`, now this value's (removed on drop).
    pub fn at(path: PathBuf, size: u64, sha256: String, sniffed: Option<FileType>) -> TempUpload {
        TempUpload {
            path,
            size,
            sha256,
            sniffed,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole content, read back (tests, small files).
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn read(&self) -> io::Result<Vec<u8>> {
        std::fs::read(&self.path)
    }

    /// Hands the file over: it is no longer removed on drop. Returns where it is now.
    pub fn into_path(mut self) -> PathBuf {
        std::mem::take(&mut self.path)
    }

    /// Renames the file to `to` (same file system) and returns the upload there, still
    /// removed on drop.
    ///
    /// # Errors
    /// The rename failed; the file is removed.
    pub fn rename(mut self, to: PathBuf) -> io::Result<TempUpload> {
        std::fs::rename(&self.path, &to)?;
        self.path = to;
        Ok(self)
    }
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        if self.path.as_os_str().is_empty() {
            return;
        }
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %self.path.display(), "temp upload not removed: {e}");
            }
        }
    }
}
