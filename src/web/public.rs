//! The public site: form index, form pages, submission, thank-you page (the newsletter's
//! emailed links are in `links`, `/healthz` in `metrics`). Handlers only orchestrate: parsing lives in `input`, rules in `forms`, the
//! submission's journey in `submit`.

use std::collections::BTreeMap;

use rocket::http::{ContentType, Header, Status};
use rocket::request::{self, FromRequest};
use rocket::response::content::RawHtml;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::{get, options, post, routes, Request, Route, State};
use serde_json::{json, Value};

use super::client::client_key;
use super::input::{Posted, Visitor};
use super::limits::RateLimiter;
use super::page::Page;
use super::Error;
use crate::forms::spam::TimeTrap;
use crate::forms::spam::{self, Signals};
use crate::forms::{self, FieldErrors, FormDef, FormKind};
use crate::model::{DeliveryState, EmailStatus, Verdict};
use crate::space::DiskFloor;
use crate::submit::{Accepted, Intake};

pub fn routes() -> Vec<Route> {
    routes![index, form_page, form_submit, form_preflight, thanks_page]
}

#[get("/")]
fn index(page: Page<'_>) -> Result<RawHtml<String>, Error> {
    let forms: Vec<Value> = page
        .forms
        .iter()
        .map(|(slug, f)| json!({ "slug": slug, "title": f.title, "intro": f.intro }))
        .collect();
    let mut ctx = page.context();
    ctx.insert("forms", &forms);
    Ok(page.render("public/index.html", &ctx)?)
}

/// A file kept for the form shown again: its token and its cleaned name, by field.
type KeptFiles = BTreeMap<String, (String, String)>;

/// The form with what the visitor typed, the files it keeps and the message of each field in
/// error.
fn form_html(
    (page, trap): (Page<'_>, &TimeTrap),
    slug: &str,
    def: &FormDef,
    (values, kept): (&BTreeMap<String, String>, &KeptFiles),
    errors: &FieldErrors,
) -> Result<RawHtml<String>, Error> {
    let strings = page.strings();
    let fields: Vec<Value> = def
        .fields
        .iter()
        .map(|f| {
            json!({
                "name": f.name, "label": f.label, "kind": f.kind, "required": f.required,
                "options": f.options, "placeholder": f.placeholder, "max_length": f.max_length(),
                "accept": f.accept.iter().map(|t| format!(".{}", t.extension())).collect::<Vec<_>>().join(","),
                "hint": (f.kind == forms::FieldKind::File).then(|| strings.t("form.file_hint", &[
                    ("types", &strings.list_or(&forms::labels(&f.accept))),
                    ("size", &strings.size(page.config.max_upload_bytes)),
                ])),
                "value": values.get(&f.name), "error": errors.get(&f.name),
                "kept": kept.get(&f.name).map(|(token, name)| json!({
                    "input": forms::kept::field_name(&f.name), "token": token, "name": name,
                })),
            })
        })
        .collect();
    let mut ctx = page.context();
    ctx.insert("slug", slug);
    ctx.insert("form", def);
    ctx.insert("fields", &fields);
    ctx.insert("has_file", &fields.iter().any(|f| f["kind"] == "file"));
    ctx.insert("error_count", &errors.len());
    ctx.insert("form_error", &errors.get("_form"));
    ctx.insert("shown_at", &trap.token(unix_now_ms()));
    ctx.insert("idempotency_key", &one_time_token());
    Ok(page.render("public/form.html", &ctx)?)
}

fn unix_now_ms() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// Identifies one display of a form, so a double click or a client retry is one submission.
fn one_time_token() -> String {
    crate::model::random_token(24)
}

#[get("/f/<slug>")]
fn form_page(slug: &str, page: Page<'_>, trap: &State<TimeTrap>) -> Result<RawHtml<String>, Error> {
    let def = page.forms.get(slug).ok_or(Error::NotFound)?;
    form_html(
        (page, trap),
        slug,
        def,
        (&BTreeMap::new(), &KeptFiles::new()),
        &FieldErrors::new(),
    )
}

/// The web layer's checks on a post that come before the intake: the time trap, the rate
/// limit and the free-space floor.
pub struct Gate<'r> {
    trap: &'r TimeTrap,
    rate_limit: &'r RateLimiter,
    disk: &'r DiskFloor,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Gate<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let r = req.rocket();
        match (r.state(), r.state(), r.state()) {
            (Some(trap), Some(rate_limit), Some(disk)) => request::Outcome::Success(Gate {
                trap,
                rate_limit,
                disk,
            }),
            _ => request::Outcome::Error((Status::InternalServerError, ())),
        }
    }
}

/// Every answer `POST /f/<slug>` can give besides an `Error`.
pub enum SubmitReply {
    Redirect(String),
    Created(Value),
    InvalidHtml(Status, RawHtml<String>),
    InvalidJson(Status, Value),
}

impl<'r> Responder<'r, 'static> for SubmitReply {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            SubmitReply::Redirect(to) => rocket::Response::build()
                .status(Status::SeeOther)
                .header(Header::new("Location", to))
                .ok(),
            SubmitReply::Created(body) => (Status::Created, Json(body)).respond_to(req),
            SubmitReply::InvalidHtml(status, html) => (status, html).respond_to(req),
            SubmitReply::InvalidJson(status, body) => (status, Json(body)).respond_to(req),
        }
    }
}

#[post("/f/<slug>", data = "<posted>")]
async fn form_submit(
    slug: &str,
    posted: Result<Posted, Error>,
    visitor: Visitor,
    content_type: Option<&ContentType>,
    page: Page<'_>,
    intake: &State<Intake>,
    gate: Gate<'_>,
) -> Result<SubmitReply, Error> {
    let def = page.forms.get(slug).ok_or(Error::NotFound)?;
    visitor.check_origin(page.config)?;
    gate.rate_limit
        .check(client_key(visitor.ip), slug)
        .map_err(Error::TooManyRequests)?;
    let mut raw = posted?.0;
    let data_dir = &page.config.data_dir;
    forms::kept::restore(
        data_dir,
        slug,
        def,
        &mut raw,
        time::OffsetDateTime::now_utc(),
    );
    let valid = match forms::validate(def, raw, page.config.max_upload_bytes, page.strings()) {
        Ok(valid) => valid,
        Err(invalid) => {
            let status = if invalid.too_large {
                Status::PayloadTooLarge
            } else {
                Status::UnprocessableEntity
            };
            if visitor.wants_json {
                return Ok(SubmitReply::InvalidJson(
                    status,
                    json!({ "errors": invalid.errors }),
                ));
            }
            let kept = keep_uploads(page.config, slug, invalid.uploads);
            let html = form_html(
                (page, gate.trap),
                slug,
                def,
                (&invalid.values, &kept),
                &invalid.errors,
            )?;
            return Ok(SubmitReply::InvalidHtml(status, html));
        }
    };
    let next = visitor.allowed_next(page, valid.next.as_deref());
    let signals = Signals {
        honeypot: valid.honeypot,
        shown_at: valid.shown_at.as_deref(),
        same_origin: visitor.same_origin,
        json_body: content_type.is_some_and(|c| c.is_json()),
    };
    let verdict = spam::judge(&signals, gate.trap, unix_now_ms());
    if verdict != Verdict::Clean {
        tracing::info!(form = slug, ?verdict, "spam check");
    }
    gate.disk.check().map_err(Error::InsufficientStorage)?;
    let accepted = intake.accept(slug, def, valid, verdict, visitor.ip).await?;
    Ok(reply(slug, def, &accepted, visitor.wants_json, next))
}

/// Keeps the files that passed their checks in a post refused for another field's sake, so
/// that the form shown again carries them (`forms::kept`).
fn keep_uploads(
    config: &crate::config::AppConfig,
    slug: &str,
    uploads: Vec<crate::model::Upload>,
) -> KeptFiles {
    let now = time::OffsetDateTime::now_utc();
    uploads
        .into_iter()
        .filter_map(|u| {
            let data_dir = &config.data_dir;
            match forms::kept::keep(data_dir, slug, &u.field, &u.filename, u.file, now) {
                Ok(token) => Some((u.field, (token, u.filename))),
                Err(e) => {
                    tracing::warn!(form = slug, "upload not kept for the corrected post: {e}");
                    None
                }
            }
        })
        .collect()
}

/// The `reason` of an email held back with its submission for the owner's review.
const HELD: &str = "held until the site owner has checked this submission";

/// The answer to a stored post: for JSON, the submission's state (`email_status`, the one
/// rule) and each email's; for a browser, the thank-you page told where the visitor's own
/// email stands.
fn reply(slug: &str, def: &FormDef, a: &Accepted, json: bool, next: Option<String>) -> SubmitReply {
    let visitor_state = a.visitor_state(def).unwrap_or(DeliveryState::Skipped);
    if json {
        let ledger = a.ledger();
        let mut emails: Vec<Value> = a
            .deliveries
            .iter()
            .map(|d| {
                let mut e = json!({ "kind": d.kind, "status": ledger.email_state(d).as_str(),
                                    "message_ids": d.outcome.message_ids });
                if d.outcome.status == EmailStatus::Skipped {
                    e["reason"] = json!(d.outcome.error);
                }
                e
            })
            .collect();
        if a.submission.review.is_some() && a.deliveries.is_empty() {
            let held = DeliveryState::Held.as_str();
            emails = def
                .emails_on(forms::Trigger::Submit)
                .map(|e| json!({ "kind": e.kind, "status": held, "reason": HELD }))
                .collect();
        }
        return SubmitReply::Created(json!({
            "id": a.submission.id, "form": slug, "reference": a.submission.reference,
            "email_status": a.submission.email_status.as_str(), "emails": emails,
        }));
    }
    let thanks = format!(
        "/f/{slug}/thanks?reference={}&email={visitor_state}",
        a.submission.reference,
    );
    SubmitReply::Redirect(next.unwrap_or(thanks))
}

/// Browsers ask before a cross-site JSON post; the CORS fairing adds the answer's headers.
#[options("/f/<_slug>")]
fn form_preflight(_slug: &str) -> Status {
    Status::NoContent
}

#[get("/f/<slug>/thanks?<reference>&<email>")]
fn thanks_page(
    slug: &str,
    reference: Option<&str>,
    email: Option<&str>,
    page: Page<'_>,
) -> Result<RawHtml<String>, Error> {
    let def = page.forms.get(slug).ok_or(Error::NotFound)?;
    // The query is the visitor's own: show it only if it has the shape we put there.
    let reference = reference.filter(|r| {
        r.strip_prefix(&format!("{}-", def.reference_prefix))
            .is_some_and(|n| {
                !n.is_empty() && n.len() <= 12 && n.bytes().all(|b| b.is_ascii_digit())
            })
    });
    let email = email.filter(|e| e.parse::<DeliveryState>().is_ok());
    let mut ctx = page.context();
    ctx.insert("slug", slug);
    ctx.insert("form", def);
    ctx.insert("reference", &reference);
    ctx.insert("email", &email);
    ctx.insert("newsletter", &(def.kind == FormKind::Newsletter));
    Ok(page.render("public/thanks.html", &ctx)?)
}
