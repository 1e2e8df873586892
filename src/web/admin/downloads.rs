//! Everything the admin downloads: uploaded files, exports, the backup. Always as
//! attachments, never rendered inline.

use std::io::Write;

use rocket::http::{ContentType, Header};
use rocket::response::{self, Responder};
use rocket::tokio::io::{AsyncWriteExt, DuplexStream};
use rocket::tokio::task::spawn_blocking;
use rocket::{get, Request, State};
use time::OffsetDateTime;

use super::auth::Admin;
use super::list::SubmissionQuery;
use crate::model::SubmissionId;
use crate::store::{Store, SubmissionFilter};
use crate::web::Error;
use crate::web::Page;

/// A body served with `Content-Disposition: attachment`.
pub struct Download {
    filename: String,
    content_type: ContentType,
    body: Body,
}

/// What a download sends: bytes made for it, a file read as it goes, or a stream written
/// by another thread as it is sent.
enum Body {
    Bytes(Vec<u8>),
    File(rocket::tokio::fs::File, u64),
    Stream(DuplexStream),
}

impl<'r> Responder<'r, 'static> for Download {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        // The name is ours or cleaned at upload; quotes and non-ASCII are dropped all the same.
        let safe: String = self
            .filename
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
            .collect();
        let mut response = rocket::Response::build();
        response
            .header(self.content_type)
            .header(Header::new(
                "Content-Disposition",
                format!("attachment; filename=\"{safe}\""),
            ))
            .header(Header::new("Cache-Control", "no-store"));
        match self.body {
            Body::Bytes(bytes) => response.sized_body(bytes.len(), std::io::Cursor::new(bytes)),
            Body::File(file, size) => response.sized_body(usize::try_from(size).ok(), file),
            Body::Stream(stream) => response.streamed_body(stream),
        };
        response.ok()
    }
}

/// An uploaded file, streamed from disk.
#[get("/submissions/<id>/files/<field>")]
pub async fn file(
    id: SubmissionId,
    field: &str,
    _admin: Admin,
    store: &State<Store>,
) -> Result<Download, Error> {
    let (meta, path) = store.file_on_disk(id, field)?.ok_or(Error::NotFound)?;
    let file = rocket::tokio::fs::File::open(path)
        .await
        .map_err(|_| Error::NotFound)?;
    Ok(Download {
        filename: meta.filename,
        // Never the uploaded type: a download is a download.
        content_type: ContentType::Binary,
        body: Body::File(file, meta.size),
    })
}

fn stamp() -> String {
    let f = time::macros::format_description!("[year][month][day]-[hour][minute]");
    OffsetDateTime::now_utc().format(&f).unwrap_or_default()
}

/// Runs a whole-store export off the executor, into memory.
async fn export_with(
    page: Page<'_>,
    store: &Store,
    run: impl FnOnce(&Store, &mut Vec<u8>) -> Result<(), String> + Send + 'static,
) -> Result<Vec<u8>, Error> {
    let store = store.clone();
    spawn_blocking(move || {
        let mut out = Vec::new();
        run(&store, &mut out).map(|()| out)
    })
    .await
    .map_err(|e| export_failed(page, e))?
    .map_err(|e| export_failed(page, e))
}

/// An export that could not be written, said in the panel's words with the cause.
fn export_failed(page: Page<'_>, error: impl std::fmt::Display) -> Error {
    let text = super::Reader::of(page).t("admin.error.export_failed", &[("error", &error)]);
    Error::BadRequest(text)
}

#[get("/export.csv?<query..>")]
pub async fn export_csv(
    query: SubmissionQuery,
    _admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<Download, Error> {
    export(page, store, query.filter(), Format::Csv).await
}

#[get("/export.json?<query..>")]
pub async fn export_json(
    query: SubmissionQuery,
    _admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<Download, Error> {
    export(page, store, query.filter(), Format::Json).await
}

#[derive(Clone, Copy)]
enum Format {
    Csv,
    Json,
}

/// The rows of the admin list under `filter` (by default as `kipekee export`: no spam, no tests).
async fn export(
    page: Page<'_>,
    store: &Store,
    filter: SubmissionFilter,
    format: Format,
) -> Result<Download, Error> {
    let forms = page.config.forms.clone();
    let zone = page.config.timezone.clone();
    let name = filter.form.clone().unwrap_or_else(|| "all".into());
    let bytes = export_with(page, store, move |store, out| {
        match format {
            Format::Csv => crate::export::csv(store, &forms, &filter, &zone, out),
            Format::Json => crate::export::json(store, &forms, &filter, out),
        }
        .map_err(|e| e.to_string())
    })
    .await?;
    let (extension, content_type) = match format {
        Format::Csv => (
            "csv",
            ContentType::new("text", "csv").with_params(("charset", "utf-8")),
        ),
        Format::Json => ("json", ContentType::JSON),
    };
    Ok(Download {
        filename: format!("kipekee-{name}-{}.{extension}", stamp()),
        content_type,
        body: Body::Bytes(bytes),
    })
}

#[get("/subscribers.csv")]
pub async fn subscribers_csv(
    _admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<Download, Error> {
    let zone = page.config.timezone.clone();
    let bytes = export_with(page, store, move |store, out| {
        crate::export::subscribers_csv(store, &zone, out).map_err(|e| e.to_string())
    })
    .await?;
    Ok(Download {
        filename: format!("kipekee-subscribers-{}.csv", stamp()),
        content_type: ContentType::new("text", "csv").with_params(("charset", "utf-8")),
        body: Body::Bytes(bytes),
    })
}

/// Bytes of the backup held between the thread that writes it and the response that sends
/// it: the writer waits while the admin's connection is slower than the store.
const BACKUP_PIPE: usize = 64 * 1024;

/// A complete snapshot of every tree, uploaded files included, restorable with
/// `kipekee restore FILE`. Streamed as `Store::backup_to` writes it, as `kipekee backup` does:
/// the server holds at most about twice [`BACKUP_PIPE`] of it, whatever the store's size. A
/// failure halfway (or the admin going away) cuts the download short; the stream's missing
/// end line makes `kipekee restore` refuse it.
#[get("/backup")]
pub fn backup(_admin: Admin, store: &State<Store>) -> Download {
    let (writer, reader) = rocket::tokio::io::duplex(BACKUP_PIPE);
    let store = Store::clone(store);
    let pipe = Pipe {
        runtime: rocket::tokio::runtime::Handle::current(),
        writer,
    };
    spawn_blocking(move || {
        match store.backup_to(std::io::BufWriter::with_capacity(BACKUP_PIPE, pipe)) {
            Ok(stats) => tracing::info!(
                entries = stats.entries(),
                files = stats.count("files"),
                "backup downloaded by the admin"
            ),
            Err(e) => tracing::warn!("the admin's backup download stopped: {e}"),
        }
    });
    Download {
        filename: format!("kipekee-backup-{}.jsonl", stamp()),
        content_type: ContentType::new("application", "x-ndjson"),
        body: Body::Stream(reader),
    }
}

/// The blocking end of the backup's pipe: each write waits until the response has taken
/// room for it; a closed response (the admin went away) is a broken pipe.
struct Pipe {
    runtime: rocket::tokio::runtime::Handle,
    writer: DuplexStream,
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.runtime.block_on(self.writer.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.runtime.block_on(self.writer.flush())
    }
}
