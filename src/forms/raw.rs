//! A post as it arrived, whatever its encoding: its values and its file parts, each on disk
//! under `<data_dir>/tmp` or over the upload limit. The web layer makes it, `kept` puts a
//! kept file back into it, `validate` checks it.

use crate::model::TempUpload;

/// A file part as it arrived: on disk under `<data_dir>/tmp`, or over the upload limit.
#[derive(Debug)]
pub struct RawFile {
    pub field: String,
    pub filename: Option<String>,
    pub content: Received,
}

impl RawFile {
    /// Something was sent: a non-empty file, or one too large to keep. A browser sends an
    /// empty part for a file field left alone.
    pub(crate) fn is_present(&self) -> bool {
        match &self.content {
            Received::Whole(t) => t.size > 0,
            Received::TooLarge => true,
        }
    }
}

/// A post as it arrived, whatever its encoding.
#[derive(Debug, Default)]
pub struct RawInput {
    pub values: Vec<(String, String)>,
    pub files: Vec<RawFile>,
    pub too_many_fields: bool,
}

impl RawInput {
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One file part, as far as it was read.
#[derive(Debug)]
pub enum Received {
    /// The whole part, at most the limit, on disk.
    Whole(TempUpload),
    /// The part is longer than the limit; nothing of it was kept.
    TooLarge,
}
