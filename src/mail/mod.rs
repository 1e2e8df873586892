//! Emails: what a form's emails say (rendered from embedded tera templates) and how they
//! leave (the Mailtrap client). Never touches the store: outcomes are returned as data.

mod answer;
mod body;
mod mailtrap;
mod tls;

use std::collections::BTreeMap;

use tera::Context;

pub use answer::parse_batch_answer;
pub use body::{largest_message, MESSAGE_RESERVE};
pub use mailtrap::{budget, longest_send, Mailtrap, MAX_MESSAGE_BYTES};

use crate::config::AppConfig;

use crate::forms::{EmailDef, FieldRole, FormDef};
use crate::model::{single_line, Mailbox, Submission, Subscriber};
use crate::templates::Templates;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("rendering email template {template}: {source}")]
    Render {
        template: String,
        #[source]
        source: tera::Error,
    },
}

/// A file attached to an email: where it is, never its content. The request body reads
/// and encodes it while it is sent (`body`), so a CV is never held whole in memory.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub path: std::path::PathBuf,
    /// Bytes, as recorded; a file of another size is not sent.
    pub size: u64,
}

/// One rendered email. `to` is `None` when its recipient is not configured: it is logged
/// as skipped, so the owner still sees what would have gone out.
#[derive(Debug, Clone)]
pub struct Email {
    pub kind: String,
    /// Goes to the visitor (a confirmation), not to the owner.
    pub to_visitor: bool,
    pub category: String,
    pub to: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub headers: BTreeMap<String, String>,
    /// Mailtrap's `custom_variables`: returned in every webhook event of this message
    /// (see [`trace`]); empty for emails not tied to a submission.
    pub custom_variables: BTreeMap<String, String>,
    pub attachments: Vec<Attachment>,
}

/// Mailtrap refuses `custom_variables` over 1,000 bytes (mailtrap-api.md, sending API).
pub const MAX_CUSTOM_VARIABLES_BYTES: usize = 1000;

/// Longest reference carried in `custom_variables`, in characters: keeps the JSON object
/// far below [`MAX_CUSTOM_VARIABLES_BYTES`] whatever prefix a form configures.
const MAX_TRACED_REFERENCE_CHARS: usize = 200;

/// Marks an email with what lets a webhook event find its way back to the delivery log:
/// `reference`, `submission_id` and `delivery_id`, all strings (DESIGN.md "Round 2 contract").
pub fn trace(email: &mut Email, reference: &str, submission_id: &str, delivery_id: &str) {
    let reference: String = reference.chars().take(MAX_TRACED_REFERENCE_CHARS).collect();
    email.custom_variables = BTreeMap::from([
        ("reference".to_string(), reference),
        ("submission_id".to_string(), submission_id.to_string()),
        ("delivery_id".to_string(), delivery_id.to_string()),
    ]);
}

/// Everything an email of one submission may mention.
pub struct MailContext<'a> {
    pub slug: &'a str,
    pub form: &'a FormDef,
    pub submission: &'a Submission,
    pub subscriber: Option<&'a Subscriber>,
    pub files: Vec<Attachment>,
    pub public_base: String,
}

/// `mailto:`/`tel:` for an email or phone field, so the owner can answer from a phone with
/// one tap; a phone link keeps only `+` and digits (RFC 3966 global or local numbers).
fn contact_link(kind: crate::forms::FieldKind, value: &str) -> Option<String> {
    use crate::forms::FieldKind;
    match kind {
        FieldKind::Email => crate::model::EmailAddress::parse(value)
            .ok()
            .map(|a| crate::model::mailto_uri(&a, None)),
        FieldKind::Tel => crate::model::tel_uri(value),
        _ => None,
    }
}

/// The business behind a form: the recipient of its first email to a role (`admin`, `jobs`,
/// …), else `ADMIN_EMAIL`, named by the site's name. The visitor's emails reply to it.
fn business_mailbox(config: &AppConfig, form: &crate::forms::FormDef) -> Option<Mailbox> {
    let email = form
        .emails
        .iter()
        .filter(|e| !e.to_visitor())
        .find_map(|e| config.recipient(e.to))
        .or(config.admin_email.as_ref())?;
    let name = crate::model::display_name(config.site_name(), 100);
    Some(Mailbox {
        name: (!name.is_empty()).then_some(name),
        email: email.clone(),
    })
}

/// The footer's contact details: `KIPEKEE_BUSINESS_ADDRESS`, `_PHONE` (with its `tel:` link)
/// and `_WEBSITE` (with a short label), each absent when not configured.
fn business_details(config: &AppConfig) -> serde_json::Value {
    serde_json::json!({
        "address": config.business_address,
        "phone": config.business_phone.as_ref().map(ToString::to_string),
        "phone_href": config.business_phone.as_ref().map(|p| p.href()),
        "website": config.business_website.as_ref().map(|w| w.href()),
        "website_label": config.business_website.as_ref().map(|w| w.label()),
    })
}

pub fn render(
    templates: &Templates,
    config: &AppConfig,
    def: &EmailDef,
    mc: &MailContext<'_>,
) -> Result<Email, MailError> {
    let sub = mc.submission;
    let mut ctx = Context::new();
    for (name, value) in &sub.fields {
        ctx.insert(name.as_str(), value);
    }
    let fields: Vec<_> = mc
        .form
        .fields
        .iter()
        .filter_map(|f| {
            let value = sub.fields.get(&f.name)?;
            let href = contact_link(f.kind, value);
            Some(serde_json::json!({ "name": f.name, "label": f.label, "value": value, "href": href }))
        })
        .collect();
    ctx.insert("fields", &fields);
    ctx.insert("form_title", &mc.form.title);
    ctx.insert("reference", &sub.reference);
    ctx.insert(
        "submitted_at",
        &crate::templates::human_time(&config.timezone, sub.created_at),
    );
    ctx.insert("files", &sub.files);
    ctx.insert("site_name", config.site_name());
    // The visitor's emails: the form's own thank-you text, the date in their language, and
    // the business's contact details (issue 13 item 5).
    ctx.insert("thanks", &mc.form.thanks);
    ctx.insert(
        "submitted_on",
        &templates
            .strings()
            .date_time(&config.timezone, sub.created_at),
    );
    ctx.insert("business", &business_details(config));
    ctx.insert(
        "replies_reach_business",
        &business_mailbox(config, mc.form).is_some(),
    );
    ctx.insert(
        "admin_url",
        &format!("{}/admin/submissions/{}", mc.public_base, sub.id),
    );
    let mut headers = BTreeMap::new();
    if let Some(s) = mc.subscriber {
        let unsubscribe = format!("{}/unsubscribe/{}", mc.public_base, s.unsubscribe_token);
        ctx.insert(
            "confirm_url",
            &format!("{}/confirm/{}", mc.public_base, s.confirm_token),
        );
        ctx.insert("unsubscribe_url", &unsubscribe);
        if def.template.list_unsubscribe() {
            headers.insert("List-Unsubscribe".into(), format!("<{unsubscribe}>"));
            headers.insert(
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            );
        }
    }
    // An address Mailtrap cannot take as Reply-To (no ASCII form): the owner is told.
    let unusable_reply_to = sub
        .visitor_email
        .as_ref()
        .filter(|e| !def.to_visitor() && e.to_ascii().is_none());
    ctx.insert("reply_to_unusable", &unusable_reply_to);
    let render = |name: String| {
        templates
            .render(&name, &ctx)
            .map_err(|source| MailError::Render {
                template: name,
                source,
            })
    };
    let subject = match (&sub.subject, def.to_visitor()) {
        (Some(custom), false) => custom.clone(),
        _ => render(Templates::subject_name(mc.slug, &def.kind))?,
    };
    // Emails to the visitor's address go to the bare address: a typed name would let anyone
    // put their own text into mail the business sends to a stranger (issue 9 item 10).
    let visitor = sub
        .visitor_email
        .clone()
        .map(|email| Mailbox { name: None, email });
    let to = if def.to_visitor() {
        visitor
    } else {
        config.recipient(def.to).cloned().map(|e| Mailbox {
            name: None,
            email: e,
        })
    };
    // The owner's Reply-To: the visitor, named by a cleaned display name, when the address
    // has an ASCII form Mailtrap accepts; otherwise none, and the email says so.
    let reply_to = match &sub.visitor_email {
        // The visitor's replies reach the business, not the no-reply sender.
        _ if def.to_visitor() => business_mailbox(config, mc.form),
        Some(email) if email.to_ascii().is_some() => {
            let name = mc.form.value(FieldRole::Name, &sub.fields);
            let name = crate::model::display_name(name.unwrap_or(""), 100);
            Some(Mailbox {
                name: (!name.is_empty()).then_some(name),
                email: email.clone(),
            })
        }
        _ => None,
    };
    let email = Email {
        kind: def.kind.clone(),
        to_visitor: def.to_visitor(),
        category: format!("{}-{}", mc.slug, def.kind),
        to,
        reply_to,
        subject: single_line(&subject, 200),
        text: render(format!("email/{}.txt", def.template))?,
        html: render(format!("email/{}.html", def.template))?,
        headers,
        custom_variables: BTreeMap::new(),
        attachments: if def.attach_files {
            mc.files.clone()
        } else {
            Vec::new()
        },
    };
    Ok(within_mailtrap_limit(
        email,
        &format!("{}/admin/submissions/{}", mc.public_base, sub.id),
    ))
}

/// A message over Mailtrap's limit ([`MAX_MESSAGE_BYTES`]) is refused as a whole, so it is
/// never attempted as is: it goes without its attachments and says where the files are.
pub fn within_mailtrap_limit(mut email: Email, admin_url: &str) -> Email {
    if email.attachments.is_empty() || body::message_size(&email) <= MAX_MESSAGE_BYTES {
        return email;
    }
    let names: Vec<String> = email.attachments.drain(..).map(|a| a.filename).collect();
    let note = format!(
        "The attached file ({}) was too large to send by email (Mailtrap accepts up to 10 MB \
         per message). It is kept in the admin panel: {admin_url}",
        names.join(", ")
    );
    email.text = format!("{note}\n\n{}", email.text);
    let html_note = format!(
        "<p style=\"padding:12px;border:1px solid #d97706;border-radius:6px\">{}</p>",
        tera::escape_html(&note)
    );
    email.html = match email.html.find("<body") {
        Some(at) => match email.html[at..].find('>') {
            Some(end) => {
                let cut = at + end + 1;
                format!("{}{html_note}{}", &email.html[..cut], &email.html[cut..])
            }
            None => format!("{html_note}{}", email.html),
        },
        None => format!("{html_note}{}", email.html),
    };
    email
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An owner notification carrying one file of `size` bytes, in a directory that lives as
    /// long as the second value.
    pub(crate) fn email_with_attachment(size: usize) -> (Email, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cv.pdf");
        std::fs::write(&path, vec![7; size]).unwrap();
        let email = Email {
            kind: "admin".into(),
            to_visitor: false,
            category: "job-admin".into(),
            to: Some(Mailbox::new(
                "",
                crate::model::EmailAddress::parse("jobs@shop.example").unwrap(),
            )),
            reply_to: None,
            subject: "New application".into(),
            text: "Application from Zoë \"Z\" <z@example.com>".into(),
            html: "<html><body><p>Application</p></body></html>".into(),
            headers: BTreeMap::new(),
            custom_variables: BTreeMap::new(),
            attachments: vec![Attachment {
                filename: "cv \"final\".pdf".into(),
                content_type: "application/pdf".into(),
                path,
                size: size as u64,
            }],
        };
        (email, dir)
    }

    #[test]
    fn a_message_over_mailtrap_limit_goes_without_its_file_and_says_so() {
        let fits = within_mailtrap_limit(email_with_attachment(5 * 1024 * 1024).0, "http://x/a");
        assert_eq!(fits.attachments.len(), 1);
        // 7.6 MB of file is 10.1 MB base64-encoded.
        let big = within_mailtrap_limit(email_with_attachment(7_600_000).0, "http://x/admin/1");
        assert!(big.attachments.is_empty());
        assert!(big.text.contains("too large") && big.text.contains("http://x/admin/1"));
        assert!(
            big.html.starts_with("<html><body><p style="),
            "{}",
            big.html
        );
    }

    #[test]
    fn traced_variables_stay_within_mailtrap_limit_with_the_longest_reference() {
        let (mut email, _dir) = email_with_attachment(1);
        let long = "Ü".repeat(5000);
        trace(&mut email, &long, "0006a1b2c3d4e5f6", "0006a1b2c3d4e5f7");
        let json = serde_json::to_vec(&email.custom_variables).unwrap();
        assert!(json.len() <= MAX_CUSTOM_VARIABLES_BYTES, "{}", json.len());
        assert_eq!(email.custom_variables["delivery_id"], "0006a1b2c3d4e5f7");
        trace(&mut email, "Q-1042", "1", "2");
        assert_eq!(email.custom_variables["reference"], "Q-1042");
    }
}
