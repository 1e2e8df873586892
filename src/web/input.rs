//! Turning a request into the raw material of a submission: the body as `RawInput` whatever
//! its encoding, and who sent it (`Visitor`).

use std::net::IpAddr;

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::form::{self, DataField, Form, FromForm, ValueField};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use serde_json::Value;

use super::client::ClientAddr;
use super::error::{wants_json, Unreadable};
use super::page::{Page, Site};
use super::Error;
use crate::config::{AppConfig, Origins};
use crate::forms::temp;
use crate::forms::{RawFile, RawInput, MAX_FIELDS};
use crate::space::DiskFloor;

/// Most bytes of a multipart text part that is not a file (a textarea sent as a part).
const TEXT_PART_LIMIT: rocket::data::ByteUnit = rocket::data::ByteUnit::Kibibyte(64);

/// A post body: url-encoded, multipart (with files) or a JSON object.
pub struct Posted(pub RawInput);

#[rocket::async_trait]
impl<'r> FromData<'r> for Posted {
    type Error = Error;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        // Below the free-space floor nothing is read, so nothing is half-written.
        if let Some(Err(e)) = req.rocket().state::<DiskFloor>().map(DiskFloor::check) {
            let e = Error::InsufficientStorage(e);
            return Outcome::Error((e.status(), e));
        }
        let ct = req.content_type();
        if ct.is_some_and(|c| c.is_json()) {
            return match read_json(req, data).await {
                Ok(raw) => Outcome::Success(Posted(raw)),
                Err(e) => Outcome::Error((e.status(), e)),
            };
        }
        if !ct.is_some_and(|c| c.is_form() || c.is_form_data()) {
            return Outcome::Error((Status::UnsupportedMediaType, Error::UnsupportedMediaType));
        }
        match Form::<Fields>::from_data(req, data).await {
            Outcome::Success(form) => Outcome::Success(Posted(form.into_inner().0)),
            Outcome::Error((status, errors)) => {
                let e = if status == Status::PayloadTooLarge {
                    Error::TooLarge
                } else if status == Status::InsufficientStorage {
                    Error::InsufficientStorage(crate::space::SpaceError::WriteFailed)
                } else {
                    Error::Unreadable(Unreadable::Form(errors.to_string()))
                };
                Outcome::Error((e.status(), e))
            }
            Outcome::Forward(f) => Outcome::Forward(f),
        }
    }
}

async fn read_json(req: &Request<'_>, data: Data<'_>) -> Result<RawInput, Error> {
    let limit = req.limits().get("json").unwrap_or(1.mebibytes());
    let bytes = data
        .open(limit)
        .into_bytes()
        .await
        .map_err(|e| Error::Unreadable(Unreadable::Body(e.to_string())))?;
    if !bytes.is_complete() {
        return Err(Error::TooLarge);
    }
    let object: serde_json::Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Unreadable(Unreadable::NotAnObject(e.to_string())))?;
    let mut raw = RawInput::default();
    for (name, value) in object {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(Error::Unreadable(Unreadable::NotText(name)))
            }
        };
        push_value(&mut raw, name, text);
    }
    Ok(raw)
}

fn push_value(raw: &mut RawInput, name: String, value: String) {
    if raw.values.len() + raw.files.len() >= MAX_FIELDS {
        raw.too_many_fields = true;
    } else {
        raw.values.push((name, value));
    }
}

/// Rocket's form parser fed into a `RawInput`: field names are only known at run time.
struct Fields(RawInput);

struct FieldsContext<'r> {
    raw: RawInput,
    errors: form::Errors<'r>,
}

#[rocket::async_trait]
impl<'r> FromForm<'r> for Fields {
    type Context = FieldsContext<'r>;

    fn init(_: form::Options) -> Self::Context {
        FieldsContext {
            raw: RawInput::default(),
            errors: form::Errors::new(),
        }
    }

    fn push_value(ctxt: &mut Self::Context, field: ValueField<'r>) {
        push_value(
            &mut ctxt.raw,
            field.name.source().to_string(),
            field.value.to_string(),
        );
    }

    async fn push_data(ctxt: &mut Self::Context, field: DataField<'r, '_>) {
        let name = field.name.source().to_string();
        let Some(config) = field.request.rocket().state::<AppConfig>() else {
            return;
        };
        let max = config.max_upload_bytes;
        let filename = field
            .file_name
            .map(|f| f.dangerous_unsafe_unsanitized_raw().as_str().to_string());
        if filename.is_none() && field.content_type.is_text() {
            match field.data.open(TEXT_PART_LIMIT).into_string().await {
                Ok(text) => push_value(&mut ctxt.raw, name, text.into_inner()),
                Err(e) => ctxt.errors.push(form::Error::from(e)),
            }
            return;
        }
        if ctxt.raw.values.len() + ctxt.raw.files.len() >= MAX_FIELDS {
            ctxt.raw.too_many_fields = true;
            return;
        }
        // One byte over the limit tells "too large" apart from "exactly the limit".
        let part = field.data.open((max + 1).bytes());
        match temp::receive(&config.data_dir, part, max).await {
            Ok(content) => ctxt.raw.files.push(RawFile {
                field: name,
                filename,
                content,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
                tracing::error!("upload not received: {e}");
                let kind = form::error::ErrorKind::Custom(Status::InsufficientStorage, Box::new(e));
                ctxt.errors.push(form::Error::from(kind));
            }
            Err(e) => ctxt.errors.push(form::Error::from(e)),
        }
    }

    fn push_error(ctxt: &mut Self::Context, error: form::Error<'r>) {
        ctxt.errors.push(error);
    }

    fn finalize(ctxt: Self::Context) -> form::Result<'r, Self> {
        if ctxt.errors.is_empty() {
            Ok(Fields(ctxt.raw))
        } else {
            Err(ctxt.errors)
        }
    }
}

/// Who is posting: address for the log and rate limits, and where the post came from.
pub struct Visitor {
    pub ip: Option<IpAddr>,
    pub origin: Option<String>,
    pub wants_json: bool,
    /// The `Origin` is this server itself (or absent, as from curl or older browsers).
    pub same_origin: bool,
}

impl Visitor {
    /// Cross-site posts are accepted only from `KIPEKEE_ALLOWED_ORIGINS`.
    pub fn check_origin(&self, config: &AppConfig) -> Result<(), Error> {
        match &self.origin {
            Some(origin) if !self.same_origin && !config.allowed_origins.allows(origin) => {
                Err(Error::OriginNotAllowed(origin.clone()))
            }
            _ => Ok(()),
        }
    }

    /// Formspree's `_next`, if it points at this server or an allowed origin
    /// (`redirect::safe_next`).
    pub fn allowed_next(&self, page: Page<'_>, next: Option<&str>) -> Option<String> {
        let next = next?;
        let safe = page
            .config
            .allowed_origins
            .safe_next(next, &page.site.public_base);
        if safe.is_none() {
            tracing::warn!("_next ignored: it does not lead to this site or an origin in KIPEKEE_ALLOWED_ORIGINS");
        }
        safe
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visitor {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        // `Origin: null` (a page with `Referrer-Policy: no-referrer`, a sandboxed frame) names
        // no site at all: treated like a missing Origin, never refused for that alone.
        let origin = req
            .headers()
            .get_one("Origin")
            .filter(|o| !o.trim().eq_ignore_ascii_case("null"))
            .map(str::to_string);
        let host = req.headers().get_one("Host").unwrap_or("");
        let public = req.rocket().state::<Site>().map(|s| s.public_base.as_str());
        let same_origin = origin
            .as_deref()
            .is_none_or(|o| Origins::is_self(o, public.unwrap_or_default(), host));
        Outcome::Success(Visitor {
            ip: ClientAddr::of(req).0,
            origin,
            wants_json: wants_json(req),
            same_origin,
        })
    }
}
