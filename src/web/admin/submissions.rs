//! One submission with its deliveries, and the owner's actions on it (resend, pipeline
//! status, notes, delete). The list is in `list`.

use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, State};
use serde_json::json;
use tera::Context;
use time::OffsetDateTime;

use super::auth::Admin;
use super::csrf::Csrf;
use super::list::row;
use super::wording::attempt_label;
use super::{back_to, render, Reader};
use crate::model::{Attempt, Delivery, DeliveryState, EmailStatus, Ledger, Note, SubmissionId};
use crate::outbox::{self, Outbox, Resend};
use crate::store::DeliveryFilter;
use crate::store::Store;
use crate::submit::Intake;
use crate::web::Error;
use crate::web::Page;

#[get("/submissions/<id>")]
pub fn show(
    id: SubmissionId,
    admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>, Error> {
    let s = store.submission(id)?.ok_or(Error::NotFound)?;
    store.mark_read(&s)?;
    let def = page.forms.get(&s.form);
    let fields: Vec<_> = match def {
        Some(def) => def
            .fields
            .iter()
            .filter_map(|f| Some(json!({ "label": f.label, "value": s.fields.get(&f.name)? })))
            .collect(),
        None => s
            .fields
            .iter()
            .map(|(k, v)| json!({ "label": k, "value": v }))
            .collect(),
    };
    let r = Reader::of(page);
    let log = store.deliveries_of(id)?;
    let queued = store.queued_retries(id)?;
    let ledger = Ledger::new(&log)
        .held(s.spam || s.review.is_some())
        .retries_queued(queued.iter().map(|(_, job)| (id, job.kind.as_str())));
    let confirmations =
        super::inbox::Confirmations::of(page, &ledger, &log, OffsetDateTime::now_utc());
    let mut deliveries = Vec::with_capacity(log.len());
    for d in log.iter().rev() {
        let state = ledger.email_state(d);
        let text = store.body(d.id)?.map(|b| b.text).unwrap_or_default();
        deliveries.push(json!({
            "id": d.id, "kind": d.kind, "to": d.to, "subject": d.subject,
            "started_at": r.time(d.outcome.started_at), "duration_ms": d.outcome.duration_ms,
            "status": state.as_str(), "tone": state.tone(),
            "http_status": d.outcome.http_status, "message_ids": d.outcome.message_ids,
            "error": d.outcome.error, "text": text, "attachments": d.attachments,
            "attempt": attempt_label(r, d.attempt),
            "advice": confirmations.advice(r, d),
            "inbox": super::inbox::view(r, d.inbox.as_ref()),
        }));
    }
    let retries: Vec<_> = queued
        .into_iter()
        .map(|(due, job)| {
            let due = OffsetDateTime::from_unix_timestamp_nanos(i128::from(due) * 1000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let state = DeliveryState::Retrying;
            json!({ "kind": job.kind, "due": r.time(due), "attempt": job.attempt,
                    "of": outbox::MAX_ATTEMPTS, "status": state.as_str(), "tone": state.tone() })
        })
        .collect();
    let notes: Vec<_> = s
        .notes
        .iter()
        .map(|n| json!({ "at": r.time(n.at), "text": n.text }))
        .collect();
    let mut ctx = Context::new();
    ctx.insert("s", &row(page, store, &s));
    ctx.insert("fields", &fields);
    ctx.insert("files", &s.files);
    ctx.insert("deliveries", &deliveries);
    ctx.insert("retries", &retries);
    ctx.insert("unconfirmed", &confirmations.overdue);
    ctx.insert(
        "bounced",
        &super::inbox::bounces(page, store, &ledger.standing_bounces()),
    );
    ctx.insert("notes", &notes);
    ctx.insert(
        "statuses",
        &def.map(|d| d.statuses.clone()).unwrap_or_default(),
    );
    ctx.insert(
        "kinds",
        &def.map(|d| d.emails.iter().map(|e| e.kind.clone()).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    ctx.insert("client_ip", &s.client_ip);
    let reply = s.visitor_email.as_ref();
    ctx.insert(
        "reply_href",
        &reply.map(|e| crate::model::mailto_uri(e, Some(&s.reference))),
    );
    render(
        page,
        store,
        &admin,
        flash,
        ("admin/submission.html", "submissions"),
        ctx,
    )
}

/// How many of a round's attempts Mailtrap accepted.
fn sent_count(attempts: &[Delivery]) -> usize {
    attempts
        .iter()
        .filter(|d| d.outcome.status == EmailStatus::Sent)
        .count()
}

/// `2 of 3 emails delivered to Mailtrap`: how a round went, for the owner's notice.
fn round_notice(r: Reader, attempts: &[Delivery]) -> String {
    r.plural(
        "admin.notice.round",
        attempts.len() as u64,
        &[("sent", &sent_count(attempts))],
    )
}

/// `notice`, then how many emails a resend left to the retry runner or another resend.
fn with_left_alone(r: Reader, notice: String, left_alone: usize) -> String {
    if left_alone == 0 {
        return notice;
    }
    let more = r.plural("admin.notice.left_alone", left_alone as u64, &[]);
    [notice, more]
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(FromForm)]
pub struct ResendForm {
    /// One email kind, `all` for every email, or (absent or empty) those that failed.
    kind: Option<String>,
}

#[post("/submissions/<id>/resend", data = "<form>")]
pub async fn resend(
    id: SubmissionId,
    _admin: Admin,
    form: Csrf<ResendForm>,
    page: Page<'_>,
    store: &State<Store>,
    outbox: &State<Outbox>,
) -> Result<Flash<Redirect>, Error> {
    let s = store.submission(id)?.ok_or(Error::NotFound)?;
    let which = match form.kind.as_deref().unwrap_or("") {
        "" => Resend::Failed,
        "all" => Resend::All,
        kind => Resend::Kind(kind),
    };
    let resent = outbox.resend(&s, which, Attempt::ResentByOwner).await?;
    let attempts = resent.attempts;
    let r = Reader::of(page);
    let notice = match (attempts.is_empty(), resent.left_alone) {
        (true, 0) => r.t("admin.notice.nothing_resent", &[]),
        (true, _) => String::new(),
        (false, _) => r.t(
            "admin.notice.resent",
            &[("round", &round_notice(r, &attempts))],
        ),
    };
    let notice = with_left_alone(r, notice, resent.left_alone);
    Ok(back_to(format!("/admin/submissions/{id}"), notice))
}

/// Submissions looked at by "Resend all failed" at most, newest first.
const CATCH_UP_DELIVERIES: usize = 2000;

/// "Resend all failed": after the token or the sending domain is fixed, every email whose
/// latest attempt failed goes again, as the owner's resend. Unknown ones (may have arrived)
/// are left to the owner, one by one.
#[post("/deliveries/resend-failed", data = "<_csrf>")]
pub async fn resend_failed(
    _admin: Admin,
    _csrf: Csrf,
    page: Page<'_>,
    store: &State<Store>,
    outbox: &State<Outbox>,
) -> Result<Flash<Redirect>, Error> {
    let recent = store
        .list_deliveries(&DeliveryFilter::default(), None, CATCH_UP_DELIVERIES)?
        .items;
    let mut ids: Vec<SubmissionId> = Ledger::new(&recent)
        .latest()
        .into_iter()
        .filter(|d| d.outcome.status == EmailStatus::Failed)
        .map(|d| d.submission_id)
        .collect();
    ids.sort();
    ids.dedup();
    let (mut tried, mut sent, mut left_alone) = (0, 0, 0);
    for id in &ids {
        let Some(s) = store.submission(*id)? else {
            continue;
        };
        let resent = outbox
            .resend(&s, Resend::Failed, Attempt::ResentByOwner)
            .await?;
        tried += resent.attempts.len();
        sent += sent_count(&resent.attempts);
        left_alone += resent.left_alone;
    }
    let r = Reader::of(page);
    let notice = r.plural(
        "admin.notice.resent_failed",
        tried as u64,
        &[("submissions", &ids.len()), ("sent", &sent)],
    );
    Ok(back_to(
        "/admin/deliveries".into(),
        with_left_alone(r, notice, left_alone),
    ))
}

/// "Not spam — send the emails": clears the review (or spam) flag and sends what was held.
#[post("/submissions/<id>/approve", data = "<_csrf>")]
pub async fn approve(
    id: SubmissionId,
    _admin: Admin,
    _csrf: Csrf,
    page: Page<'_>,
    intake: &State<Intake>,
) -> Result<Flash<Redirect>, Error> {
    let (s, sent) = intake.approve(id).await?.ok_or(Error::NotFound)?;
    let r = Reader::of(page);
    let notice = r.t(
        "admin.notice.approved",
        &[
            ("reference", &s.reference),
            ("round", &round_notice(r, &sent)),
        ],
    );
    Ok(back_to(format!("/admin/submissions/{id}"), notice))
}

#[derive(FromForm)]
pub struct StatusForm {
    status: String,
}

#[post("/submissions/<id>/status", data = "<form>")]
pub async fn set_status(
    id: SubmissionId,
    _admin: Admin,
    form: Csrf<StatusForm>,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<Flash<Redirect>, Error> {
    let s = store.submission(id)?.ok_or(Error::NotFound)?;
    let allowed = page
        .forms
        .get(&s.form)
        .is_some_and(|d| d.statuses.contains(&form.status));
    if !allowed {
        return Err(Error::BadRequest(Reader::of(page).t(
            "admin.notice.bad_status",
            &[("status", &format!("{:?}", form.status))],
        )));
    }
    store
        .update_submission(id, |s| s.status.clone_from(&form.status))
        .await?;
    Ok(back_to(
        format!("/admin/submissions/{id}"),
        Reader::of(page).t("admin.notice.status_set", &[("status", &form.status)]),
    ))
}

#[derive(FromForm)]
pub struct NoteForm {
    #[field(validate = len(1..=5000))]
    text: String,
}

#[post("/submissions/<id>/notes", data = "<form>")]
pub async fn add_note(
    id: SubmissionId,
    _admin: Admin,
    form: Csrf<NoteForm>,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<Flash<Redirect>, Error> {
    let note = Note {
        at: OffsetDateTime::now_utc(),
        text: form.text.trim().to_string(),
    };
    store
        .update_submission(id, |s| s.notes.push(note.clone()))
        .await?
        .ok_or(Error::NotFound)?;
    let notice = Reader::of(page).t("admin.notice.note_added", &[]);
    Ok(back_to(format!("/admin/submissions/{id}"), notice))
}

#[post("/submissions/<id>/delete", data = "<_csrf>")]
pub async fn delete(
    id: SubmissionId,
    _admin: Admin,
    _csrf: Csrf,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<Flash<Redirect>, Error> {
    let s = store.submission(id)?.ok_or(Error::NotFound)?;
    store.delete_submission(id).await?;
    tracing::info!(submission_id = %id, "submission deleted by the admin");
    Ok(back_to(
        "/admin/submissions".into(),
        Reader::of(page).t("admin.notice.deleted", &[("reference", &s.reference)]),
    ))
}
