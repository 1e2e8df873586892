//! Upload types recognised by parsing the file, never by the name or type the visitor's
//! browser sent (`sniff`), and the temporary files a post's uploads are streamed into
//! (`temp`).

pub mod kept;
mod sniff;
pub mod temp;

use std::io;
use std::path::Path;

use crate::model::FileType;

pub use sniff::sniff;

/// At start: creates `<data_dir>/tmp`, removes the uploads a crash left in it (`temp`) and
/// the kept files whose time is up (`kept`), both of which wait in that directory.
///
/// # Errors
/// The directory cannot be created or listed.
pub fn prepare(data_dir: &Path) -> io::Result<()> {
    temp::prepare(data_dir)?;
    kept::sweep(data_dir, time::OffsetDateTime::now_utc());
    Ok(())
}

/// `PDF, DOC or DOCX`: the accepted types in plain words, for hints and messages.
pub fn list_in_words(types: &[FileType]) -> String {
    let labels: Vec<String> = types.iter().map(|t| t.label()).collect();
    match labels.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// `5 MiB`, `512 KiB`: a byte count as people read it on a form.
pub fn size_in_words(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes < MIB {
        return format!("{} KiB", bytes.div_ceil(1024));
    }
    let tenths = (bytes.saturating_mul(10) + MIB / 2) / MIB;
    match tenths % 10 {
        0 => format!("{} MiB", tenths / 10),
        t => format!("{}.{t} MiB", tenths / 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_sizes_read_as_words() {
        use FileType::*;
        assert_eq!(list_in_words(&[Pdf]), "PDF");
        assert_eq!(
            list_in_words(&[Pdf, Doc, Docx, Odt]),
            "PDF, DOC, DOCX or ODT"
        );
        assert_eq!(size_in_words(5 * 1024 * 1024), "5 MiB");
        assert_eq!(size_in_words(1536 * 1024), "1.5 MiB");
        assert_eq!(size_in_words(1000), "1 KiB");
    }
}
