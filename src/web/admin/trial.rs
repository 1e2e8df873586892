//! The settings page's two trial runs: a test email straight to Mailtrap, and a test
//! submission of a form through the whole path (stored, mailed, marked as a test).

use std::sync::Arc;

use rocket::form::FromForm;
use rocket::response::{Flash, Redirect};
use rocket::{post, State};

use super::auth::Admin;
use super::csrf::Csrf;
use super::{back_to, Reader};
use crate::mail::{Email, Mailtrap};
use crate::model::{DeliveryState, EmailAddress, EmailStatus, Mailbox};
use crate::submit::Intake;
use crate::web::Error;
use crate::web::Page;

#[derive(FromForm)]
pub struct TestEmailForm {
    to: String,
}

#[post("/test-email", data = "<form>")]
pub async fn test_email(
    _admin: Admin,
    form: Csrf<TestEmailForm>,
    page: Page<'_>,
    mailer: &State<Arc<Mailtrap>>,
) -> Result<Flash<Redirect>, Error> {
    let to = EmailAddress::parse(&form.to).map_err(Error::BadRequest)?;
    let r = Reader::of(page);
    let text = r.t("admin.test_email.text", &[]);
    let email = Email {
        kind: "test".into(),
        to_visitor: false,
        category: "test".into(),
        to: Some(Mailbox {
            name: None,
            email: to.clone(),
        }),
        reply_to: None,
        subject: r.t("admin.test_email.subject", &[]),
        html: format!("<p>{}</p>", tera::escape_html(&text)),
        text,
        headers: Default::default(),
        custom_variables: Default::default(),
        attachments: Vec::new(),
    };
    let mailer = Arc::clone(mailer);
    let outcome = rocket::tokio::task::spawn_blocking(move || mailer.send_batch(&[email]))
        .await
        .ok()
        .and_then(|mut o| o.pop());
    let notice = match outcome {
        Some(o) if o.status == EmailStatus::Sent => r.t(
            "admin.test_email.accepted",
            &[
                ("to", &to),
                ("code", &o.http_status.unwrap_or(0)),
                ("ids", &o.message_ids.join(", ")),
            ],
        ),
        Some(o) if o.status == EmailStatus::Skipped => r.t(
            "admin.test_email.skipped",
            &[("to", &to), ("error", &o.error.unwrap_or_default())],
        ),
        Some(o) => r.t(
            "admin.test_email.failed",
            &[("to", &to), ("error", &o.error.unwrap_or_default())],
        ),
        None => r.t("admin.test_email.not_attempted", &[]),
    };
    Ok(back_to("/admin/settings".into(), notice))
}

#[post("/forms/<slug>/test", data = "<_csrf>")]
pub async fn test_form(
    slug: &str,
    _admin: Admin,
    _csrf: Csrf,
    page: Page<'_>,
    intake: &State<Intake>,
) -> Result<Flash<Redirect>, Error> {
    let accepted = intake.test_submission(slug).await?.ok_or(Error::NotFound)?;
    let r = Reader::of(page);
    let outcomes: Vec<String> = accepted
        .deliveries
        .iter()
        .map(|d| {
            let status = super::inbox::state_label(r, DeliveryState::from(d.outcome.status));
            match &d.outcome.error {
                Some(e) if d.outcome.status != EmailStatus::Sent => r.t(
                    "admin.test_form.outcome_error",
                    &[("kind", &d.kind), ("status", &status), ("error", e)],
                ),
                _ => r.t(
                    "admin.test_form.outcome",
                    &[("kind", &d.kind), ("status", &status)],
                ),
            }
        })
        .collect();
    let id = accepted.submission.id;
    let notice = r.t(
        "admin.test_form.made",
        &[
            ("reference", &accepted.submission.reference),
            ("outcomes", &outcomes.join(", ")),
        ],
    );
    Ok(back_to(format!("/admin/submissions/{id}"), notice))
}
