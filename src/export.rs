//! Exports of stored submissions, shared by `kipekee export` and the admin panel's download:
//! CSV for spreadsheets, JSON for programs. Oldest first; spam never; test submissions only
//! when asked. CSV cells a spreadsheet would run as a formula are defused.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use crate::forms::FormDef;
use crate::model::{FormSlug, Submission};
use crate::store::{Store, StoreError, SubmissionFilter};
use crate::zone::Zone;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("export: {0}")]
    Io(#[from] std::io::Error),
    #[error("export: {0}")]
    Csv(#[from] csv::Error),
    #[error("there is no form {slug:?} (forms: {known})")]
    UnknownForm { slug: String, known: String },
}

impl ExportError {
    /// The reader went away (`kipekee export | head`): not worth an error message.
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            ExportError::Io(e) => Some(e),
            ExportError::Csv(e) => match e.kind() {
                csv::ErrorKind::Io(e) => Some(e),
                _ => None,
            },
            _ => None,
        };
        io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// One CSV column.
enum Column {
    Id,
    Reference,
    CreatedAt,
    Form,
    /// A form field; a file field shows the uploaded file names.
    Field(String),
    EmailStatus,
    Status,
    Test,
}

impl Column {
    fn name(&self) -> &str {
        match self {
            Column::Id => "id",
            Column::Reference => "reference",
            Column::CreatedAt => "created_at",
            Column::Form => "form",
            Column::Field(name) => name,
            Column::EmailStatus => "email_status",
            Column::Status => "status",
            Column::Test => "test",
        }
    }

    fn cell(&self, s: &Submission, zone: &Zone) -> String {
        match self {
            Column::Id => s.id.to_string(),
            Column::Reference => s.reference.clone(),
            Column::CreatedAt => zone.rfc3339(s.created_at),
            Column::Form => s.form.clone(),
            Column::Field(name) => match s.fields.get(name) {
                Some(value) => value.clone(),
                None => file_names(s, name),
            },
            Column::EmailStatus => s.email_status.as_str().to_string(),
            Column::Status => s.status.clone(),
            Column::Test => if s.test { "yes" } else { "" }.into(),
        }
    }
}

fn file_names(s: &Submission, field: &str) -> String {
    let names: Vec<&str> = s
        .files
        .iter()
        .filter(|f| f.field == field)
        .map(|f| f.filename.as_str())
        .collect();
    names.join(", ")
}

/// A cell that starts like a formula (`=`, `+`, `-`, `@`, tab, CR) gets a leading `'`, so a
/// spreadsheet shows it as text instead of running it (OWASP "CSV injection").
pub fn neutralise(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// The UTF-8 byte order mark every CSV export starts with.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes the submissions of `form` (or of every form) as CSV, oldest first, to `out`.
/// Columns: `id`, `reference`, `created_at` (RFC 3339 in `zone`, with its offset), `form` when exporting every form, one
/// column per field (of that form, or of every form in order), fields found in the records but
/// no longer defined, then `email_status`, `status`, and `test` with `include_test`.
pub fn csv<W: Write>(
    store: &Store,
    forms: &BTreeMap<FormSlug, FormDef>,
    filter: &SubmissionFilter,
    zone: &Zone,
    out: W,
) -> Result<(), ExportError> {
    let columns = columns(store, forms, filter)?;
    let mut out = out;
    // Excel reads a CSV without a byte order mark as the local ANSI code page ("ZoÃ«").
    out.write_all(UTF8_BOM)?;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(columns.iter().map(|c| neutralise(c.name())))?;
    for submission in exported(store, forms, filter)? {
        let submission = submission?;
        writer.write_record(
            columns
                .iter()
                .map(|c| neutralise(&c.cell(&submission, zone))),
        )?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes the same submissions as `csv` as one JSON array of full records, oldest first.
pub fn json<W: Write>(
    store: &Store,
    forms: &BTreeMap<FormSlug, FormDef>,
    filter: &SubmissionFilter,
    mut out: W,
) -> Result<(), ExportError> {
    out.write_all(b"[")?;
    let mut first = true;
    for submission in exported(store, forms, filter)? {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut out, &submission?).map_err(std::io::Error::from)?;
        first = false;
    }
    out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
    out.flush()?;
    Ok(())
}

/// The submissions an export holds, oldest first: those the admin list shows under `filter`
/// (by default no spam and no tests).
fn exported<'a>(
    store: &'a Store,
    forms: &BTreeMap<FormSlug, FormDef>,
    filter: &SubmissionFilter,
) -> Result<impl Iterator<Item = Result<Submission, StoreError>> + 'a, ExportError> {
    if let Some(slug) = &filter.form {
        if !forms.contains_key(slug.as_str()) {
            return Err(ExportError::UnknownForm {
                slug: slug.to_string(),
                known: forms.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
    }
    let all = store.submissions_oldest_first(filter.form.as_deref());
    let filter = filter.clone();
    Ok(all.filter(move |s| s.as_ref().map_or(true, |s| filter.matches(s))))
}

fn columns(
    store: &Store,
    forms: &BTreeMap<FormSlug, FormDef>,
    filter: &SubmissionFilter,
) -> Result<Vec<Column>, ExportError> {
    let (form, include_test) = (filter.form.as_deref(), filter.test);
    let mut defs: Vec<(&FormSlug, &FormDef)> = match form {
        Some(slug) => forms.iter().filter(|(s, _)| s.as_str() == slug).collect(),
        None => forms.iter().collect(),
    };
    defs.sort_by_key(|(slug, def)| (def.position, *slug));
    let mut names: Vec<String> = Vec::new();
    for field in defs.iter().flat_map(|(_, def)| &def.fields) {
        if !names.contains(&field.name) {
            names.push(field.name.clone());
        }
    }
    // Records keep fields a form no longer defines; they are exported rather than lost.
    let mut extra = BTreeSet::new();
    for submission in exported(store, forms, filter)? {
        let submission = submission?;
        let stored = submission
            .fields
            .keys()
            .chain(submission.files.iter().map(|f| &f.field));
        extra.extend(stored.filter(|n| !names.contains(n)).cloned());
    }
    let mut columns = vec![Column::Id, Column::Reference, Column::CreatedAt];
    if form.is_none() {
        columns.push(Column::Form);
    }
    columns.extend(names.into_iter().chain(extra).map(Column::Field));
    columns.extend([Column::EmailStatus, Column::Status]);
    if include_test {
        columns.push(Column::Test);
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::builtin;
    use crate::model::{FileType, NewSubmission, Upload};

    fn new(form: &str, fields: &[(&str, &str)]) -> NewSubmission {
        NewSubmission::for_test(form, &form[..1].to_uppercase(), fields)
    }

    fn only(form: Option<&str>, test: bool) -> SubmissionFilter {
        SubmissionFilter {
            form: form.map(str::to_string),
            test,
            ..SubmissionFilter::default()
        }
    }

    fn text(f: impl FnOnce(&mut Vec<u8>) -> Result<(), ExportError>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formula_like_cells_get_a_quote_and_others_stay_as_they_are() {
        for risky in ["=1+1", "+255 700", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(risky), format!("'{risky}"));
        }
        for safe in ["Neema", "a=b", "", "'quoted", "0755 123"] {
            assert_eq!(neutralise(safe), safe);
        }
    }

    #[rocket::async_test]
    async fn csv_of_one_form_has_its_fields_oldest_first_without_spam_or_tests() {
        let store = Store::temporary().unwrap();
        let forms = builtin();
        let first = [
            ("full_name", "Ann"),
            ("email", "a@x.com"),
            ("message", "=HYPERLINK(\"http://evil\")"),
        ];
        store.insert_submission(new("quote", &first)).await.unwrap();
        let mut spam = new("quote", &[("full_name", "Bot")]);
        spam.spam = true;
        store.insert_submission(spam).await.unwrap();
        let mut test = new("quote", &[("full_name", "Tester")]);
        test.test = true;
        store.insert_submission(test).await.unwrap();
        store
            .insert_submission(new("quote", &[("full_name", "Ben"), ("legacy", "old")]))
            .await
            .unwrap();
        store
            .insert_submission(new("contact", &[("name", "Cy")]))
            .await
            .unwrap();

        let out = text(|o| csv(&store, &forms, &only(Some("quote"), false), &Zone::utc(), o));
        let mut rows = csv::Reader::from_reader(out.as_bytes());
        let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(
            header,
            [
                "id",
                "reference",
                "created_at",
                "full_name",
                "email",
                "phone",
                "company",
                "message",
                "legacy",
                "email_status",
                "status"
            ]
        );
        let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
        let names: Vec<&str> = records.iter().map(|r| &r[3]).collect();
        assert_eq!(names, ["Ann", "Ben"]);
        assert_eq!(&records[0][7], "'=HYPERLINK(\"http://evil\")");
        // Stored, no email attempted: what an empty delivery log says.
        assert_eq!((&records[0][9], &records[0][10]), ("skipped", "new"));
        assert_eq!(&records[1][8], "old");

        let with_tests = text(|o| csv(&store, &forms, &only(Some("quote"), true), &Zone::utc(), o));
        assert!(
            with_tests.contains("Tester") && !with_tests.contains("Bot"),
            "{with_tests}"
        );
    }

    #[rocket::async_test]
    async fn csv_of_every_form_has_a_form_column_and_the_union_of_fields() {
        let store = Store::temporary().unwrap();
        let forms = builtin();
        let mut job = new("job", &[("full_name", "Jo")]);
        let tmp = tempfile::tempdir().unwrap();
        job.uploads = vec![Upload {
            field: "cv".into(),
            filename: "jo.pdf".into(),
            file_type: FileType::Pdf,
            file: crate::forms::temp::from_bytes(tmp.path(), b"%PDF")
                .await
                .unwrap(),
        }];
        store.insert_submission(job).await.unwrap();
        store
            .insert_submission(new("contact", &[("name", "Cy")]))
            .await
            .unwrap();
        let out = text(|o| csv(&store, &forms, &only(None, false), &Zone::utc(), o));
        let mut rows = csv::Reader::from_reader(out.as_bytes());
        let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header[..4], ["id", "reference", "created_at", "form"]);
        for field in ["full_name", "message", "position", "cv", "name"] {
            assert_eq!(
                header.iter().filter(|h| *h == field).count(),
                1,
                "{field}: {header:?}"
            );
        }
        let cv = header.iter().position(|h| h == "cv").unwrap();
        let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
        assert_eq!((&records[0][3], &records[0][cv]), ("job", "jo.pdf"));
        assert_eq!(&records[1][3], "contact");
    }

    #[rocket::async_test]
    async fn json_is_an_array_of_full_records_and_unknown_forms_are_named() {
        let store = Store::temporary().unwrap();
        let forms = builtin();
        assert_eq!(
            text(|o| json(&store, &forms, &only(None, false), o)),
            "[]\n"
        );
        store
            .insert_submission(new("quote", &[("message", "=1+1")]))
            .await
            .unwrap();
        store
            .insert_submission(new("quote", &[("message", "two")]))
            .await
            .unwrap();
        let out = text(|o| json(&store, &forms, &only(Some("quote"), false), o));
        let records: Vec<Submission> = serde_json::from_str(&out).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].fields["message"], "=1+1");
        assert_eq!(records[1].reference, "Q-1002");
        let err = json(&store, &forms, &only(Some("nope"), false), Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("\"nope\"") && err.to_string().contains("quote"),
            "{err}"
        );
    }
}
