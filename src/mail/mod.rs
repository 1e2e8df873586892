//! Emails: what a form's emails say (rendered from embedded tera templates) and how they
//! leave (the Mailtrap client). Never touches the store: outcomes are returned as data.

mod mailtrap;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tera::Context;

pub use mailtrap::{parse_batch_answer, Mailtrap, Outcome};

use crate::config::{AppConfig, Mailbox};
use crate::forms::{single_line, EmailDef, FormDef};
use crate::store::{Submission, Subscriber};
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

/// Where an email stands; also the summary status of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailStatus {
    /// Stored, emails not yet attempted.
    Pending,
    Sent,
    Failed,
    /// Not sent on purpose: no token, no recipient configured, spam, or nothing to send.
    Skipped,
}

impl EmailStatus {
    /// A submission's status from its emails' outcomes: failed if any failed.
    pub fn summarize(outcomes: impl IntoIterator<Item = EmailStatus>) -> EmailStatus {
        let mut all = outcomes.into_iter().peekable();
        if all.peek().is_none() {
            return EmailStatus::Skipped;
        }
        all.fold(EmailStatus::Sent, |acc, s| match (acc, s) {
            (EmailStatus::Failed, _) | (_, EmailStatus::Failed) => EmailStatus::Failed,
            (EmailStatus::Skipped, _) | (_, EmailStatus::Skipped) => EmailStatus::Skipped,
            _ => EmailStatus::Sent,
        })
    }
}

/// A file attached to an email. The bytes are shared: every email and batch that carries
/// the file points at one copy (a CV is megabytes).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: std::sync::Arc<[u8]>,
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
    pub attachments: Vec<Attachment>,
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
            Some(serde_json::json!({ "name": f.name, "label": f.label, "value": value }))
        })
        .collect();
    ctx.insert("fields", &fields);
    ctx.insert("form_title", &mc.form.title);
    ctx.insert("reference", &sub.reference);
    ctx.insert(
        "submitted_at",
        &crate::templates::human_time(sub.created_at),
    );
    ctx.insert("files", &sub.files);
    ctx.insert("site_name", config.site_name());
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
        if def.kind == "welcome" {
            headers.insert("List-Unsubscribe".into(), format!("<{unsubscribe}>"));
            headers.insert(
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            );
        }
    }
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
    let visitor = sub.visitor_email.clone().map(|email| {
        let name = sub.fields.get("full_name").or(sub.fields.get("name"));
        Mailbox::new(name.map_or("", String::as_str), email)
    });
    let to = if def.to_visitor() {
        visitor.clone()
    } else {
        config.recipient(&def.to).cloned().map(|e| Mailbox {
            name: None,
            email: e,
        })
    };
    Ok(Email {
        kind: def.kind.clone(),
        to_visitor: def.to_visitor(),
        category: format!("{}-{}", mc.slug, def.kind),
        to,
        reply_to: if def.to_visitor() { None } else { visitor },
        subject: single_line(&subject, 200),
        text: render(format!("email/{}.txt", def.template))?,
        html: render(format!("email/{}.html", def.template))?,
        headers,
        attachments: if def.attach_files {
            mc.files.clone()
        } else {
            Vec::new()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_failed_if_any_failed_and_sent_only_if_all_sent() {
        use EmailStatus::*;
        assert_eq!(EmailStatus::summarize([Sent, Sent]), Sent);
        assert_eq!(EmailStatus::summarize([Sent, Failed, Skipped]), Failed);
        assert_eq!(EmailStatus::summarize([Sent, Skipped]), Skipped);
        assert_eq!(EmailStatus::summarize([]), Skipped);
    }
}
