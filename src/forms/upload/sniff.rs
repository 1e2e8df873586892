//! Recognising a document by parsing it: the PDF header and trailer, the OPC package of a
//! DOCX (ECMA-376 Part 2), the ODF package of an ODT (OASIS ODF 1.2, Part 3 §3.3), the
//! OLE2 compound file of a DOC ([MS-CFB], [MS-DOC] §2.5.1). Entry order, compression and
//! extra fields do not matter: packages are read through their central directory.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use zip::ZipArchive;

use crate::model::FileType;

/// Most bytes read from one small package part (`.rels`, `[Content_Types].xml`, `mimetype`):
/// a zip bomb stops here.
const PART_LIMIT: u64 = 1024 * 1024;
/// The PDF trailer's `%%EOF` may be followed by this much (ISO 32000-1 §7.5.5; readers allow
/// line ends and a little trailing junk).
const PDF_TAIL: usize = 1024;

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE2_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// The relationship type of an OPC package's main part, transitional and strict.
const OFFICE_DOCUMENT_RELS: [&str; 2] = [
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument",
    "http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument",
];
/// The content type of a WordprocessingML main document (not a template, not macro-enabled).
const WORD_MAIN: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";
const ODT_MIMETYPE: &str = "application/vnd.oasis.opendocument.text";
/// `wIdent` of a Word binary file's FIB: Word 97 and later, Word 6/95.
const WORD_IDENTS: [[u8; 2]; 2] = [[0xEC, 0xA5], [0xDC, 0xA5]];

/// The type of `bytes`, or `None` when it is none of the document types, or only looks like one.
/// Never panics on hostile input: a panic in a third-party parser refuses the file.
pub fn sniff(bytes: &[u8]) -> Option<FileType> {
    std::panic::catch_unwind(|| sniff_unguarded(Cursor::new(bytes))).unwrap_or(None)
}

/// [`sniff`] of a file on disk, read where needed (header, trailer, package directory),
/// never whole. `None` as well when the file cannot be read.
pub fn sniff_file(path: &Path) -> Option<FileType> {
    let file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    std::panic::catch_unwind(move || sniff_unguarded(file)).unwrap_or(None)
}

fn sniff_unguarded<R: Read + Seek>(mut r: R) -> Option<FileType> {
    let mut head = [0u8; 8];
    let len = r.seek(SeekFrom::End(0)).ok()?;
    r.seek(SeekFrom::Start(0)).ok()?;
    let n = read_up_to(&mut r, &mut head)?;
    let head = &head[..n];
    if head.starts_with(b"%PDF-") {
        let mut tail = vec![0u8; PDF_TAIL.min(len as usize)];
        r.seek(SeekFrom::Start(len - tail.len() as u64)).ok()?;
        let n = read_up_to(&mut r, &mut tail)?;
        is_pdf(head, &tail[..n]).then_some(FileType::Pdf)
    } else if head.starts_with(ZIP_MAGIC) {
        r.seek(SeekFrom::Start(0)).ok()?;
        package_type(ZipArchive::new(r).ok()?)
    } else if head.starts_with(OLE2_MAGIC) {
        r.seek(SeekFrom::Start(0)).ok()?;
        is_word_binary(r).then_some(FileType::Doc)
    } else {
        None
    }
}

/// Fills `buf` as far as the reader goes; the count read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> Option<usize> {
    let mut at = 0;
    while at < buf.len() {
        match r.read(&mut buf[at..]) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(at)
}

/// `%PDF-1.x` opens the file (ISO 32000-1 §7.5.2) and `%%EOF` ends it (within its `tail`).
fn is_pdf(head: &[u8], tail: &[u8]) -> bool {
    let header = head.strip_prefix(b"%PDF-").is_some_and(|rest| {
        rest.len() >= 3 && rest[0].is_ascii_digit() && rest[1] == b'.' && rest[2].is_ascii_digit()
    });
    header && memchr::memmem::rfind(tail, b"%%EOF").is_some()
}

fn package_type<R: Read + Seek>(mut zip: ZipArchive<R>) -> Option<FileType> {
    if is_odt(&mut zip) {
        return Some(FileType::Odt);
    }
    is_docx(&mut zip).then_some(FileType::Docx)
}

/// An ODF package whose `mimetype` entry names a text document, with its `content.xml`.
fn is_odt<R: Read + Seek>(zip: &mut ZipArchive<R>) -> bool {
    let Some(mimetype) = read_part(zip, "mimetype") else {
        return false;
    };
    mimetype.trim_ascii() == ODT_MIMETYPE.as_bytes() && find_entry(zip, "content.xml").is_some()
}

/// An OPC package whose `officeDocument` relationship points at a part that
/// `[Content_Types].xml` declares a WordprocessingML main document, and that exists.
fn is_docx<R: Read + Seek>(zip: &mut ZipArchive<R>) -> bool {
    let Some(main) = read_part(zip, "_rels/.rels").and_then(|rels| main_part(&rels)) else {
        return false;
    };
    let Some(types) = read_part(zip, "[Content_Types].xml") else {
        return false;
    };
    content_type(&types, &main).is_some_and(|t| t.eq_ignore_ascii_case(WORD_MAIN))
        && find_entry(zip, &main).is_some()
}

/// The part name (no leading `/`) of the package relationship `officeDocument`.
fn main_part(rels: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(rels).ok()?;
    let doc = roxmltree::Document::parse(text).ok()?;
    let rel = doc.descendants().find(|n| {
        n.has_tag_name("Relationship")
            && n.attribute("Type")
                .is_some_and(|t| OFFICE_DOCUMENT_RELS.contains(&t))
            && n.attribute("TargetMode").is_none_or(|m| m == "Internal")
    })?;
    let target = rel.attribute("Target")?;
    let name = target.trim_start_matches("./").trim_start_matches('/');
    (!name.is_empty() && !name.contains("..")).then(|| name.to_string())
}

/// The content type `[Content_Types].xml` gives the part: its `Override`, else the
/// `Default` of its extension (ECMA-376 Part 2 §10.1.2.4; names compare case-insensitively).
fn content_type(types: &[u8], part: &str) -> Option<String> {
    let text = std::str::from_utf8(types).ok()?;
    let doc = roxmltree::Document::parse(text).ok()?;
    let part_name = format!("/{part}");
    let overridden = doc.descendants().find(|n| {
        n.has_tag_name("Override")
            && n.attribute("PartName")
                .is_some_and(|p| p.eq_ignore_ascii_case(&part_name))
    });
    let extension = part.rsplit_once('.').map(|(_, e)| e)?;
    let by_default = || {
        doc.descendants().find(|n| {
            n.has_tag_name("Default")
                && n.attribute("Extension")
                    .is_some_and(|e| e.eq_ignore_ascii_case(extension))
        })
    };
    Some(
        overridden
            .or_else(by_default)?
            .attribute("ContentType")?
            .to_string(),
    )
}

/// Index of the entry named `name`, compared as OPC compares part names: ignoring case.
fn find_entry<R: Read + Seek>(zip: &ZipArchive<R>, name: &str) -> Option<usize> {
    zip.index_for_name(name).or_else(|| {
        let found = zip.file_names().find(|n| n.eq_ignore_ascii_case(name))?;
        zip.index_for_name(found)
    })
}

/// A small entry's content, or `None` if it is missing, unreadable or over `PART_LIMIT`.
fn read_part<R: Read + Seek>(zip: &mut ZipArchive<R>, name: &str) -> Option<Vec<u8>> {
    let index = find_entry(zip, name)?;
    let entry = zip.by_index(index).ok()?;
    let mut out = Vec::new();
    entry.take(PART_LIMIT + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= PART_LIMIT).then_some(out)
}

/// An OLE2 compound file with a `WordDocument` stream that starts with a Word FIB.
fn is_word_binary<R: Read + Seek>(r: R) -> bool {
    let Ok(mut cfb) = cfb::CompoundFile::open(r) else {
        return false;
    };
    let Ok(mut stream) = cfb.open_stream("/WordDocument") else {
        return false;
    };
    let mut ident = [0u8; 2];
    stream.read_exact(&mut ident).is_ok() && WORD_IDENTS.contains(&ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/cv/",
                $name
            ))
        };
    }

    #[test]
    fn real_documents_are_recognised_whatever_their_producer() {
        assert_eq!(sniff(fixture!("cv.pdf")), Some(FileType::Pdf));
        assert_eq!(sniff(fixture!("cv.docx")), Some(FileType::Docx));
        assert_eq!(sniff(fixture!("cv-python-docx.docx")), Some(FileType::Docx));
        assert_eq!(sniff(fixture!("cv.odt")), Some(FileType::Odt));
        assert_eq!(sniff(fixture!("cv.doc")), Some(FileType::Doc));
    }

    #[test]
    fn impostors_are_refused() {
        for bytes in [
            &fixture!("cv-html.doc")[..],
            fixture!("cv-plain.zip"),
            fixture!("cv-word-only.zip"),
            fixture!("cv-not-text.ods"),
            fixture!("cv.txt"),
        ] {
            assert_eq!(sniff(bytes), None, "{:?}", &bytes[..16]);
        }
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(sniff(&exe[..1024]), None);
    }

    #[test]
    fn a_pdf_needs_its_header_and_its_trailer() {
        let pdf = fixture!("cv.pdf");
        assert_eq!(sniff(&pdf[..pdf.len() / 2]), None, "cut off: no %%EOF");
        let mut prefixed = b"MZ\x90\x00".to_vec();
        prefixed.extend_from_slice(pdf);
        assert_eq!(sniff(&prefixed), None, "an executable carrying a PDF");
    }

    #[test]
    fn cut_off_packages_and_compound_files_are_refused_without_panic() {
        for doc in [
            &fixture!("cv.docx")[..],
            fixture!("cv.odt"),
            fixture!("cv.doc"),
        ] {
            for len in [4, 100, doc.len() / 2, doc.len() - 1] {
                assert_eq!(sniff(&doc[..len]), None, "{len} bytes");
            }
        }
    }
}
