//! The settings page as a checklist an owner can read: is each thing Kipekee needs in place
//! (sender, owner addresses, Mailtrap reachable and authorised, webhook, sandbox, time zone,
//! locale), each form's address with a ready `<form>` for an existing site, and the raw
//! configuration folded away with every secret masked (issue 13, item 6).

use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{get, State};
use serde::Serialize;
use serde_json::{json, Value};
use tera::Context;
use time::OffsetDateTime;

use super::auth::Admin;
use super::AdminPassword;
use super::{render, Reader};
use crate::config::PLACEHOLDER_FROM;
use crate::forms::{FieldKind, FormDef};
use crate::health::DeliveryHealth;
use crate::model::{Delivery, EmailStatus, FailureKind, Retry};
use crate::store::DeliveryFilter;
use crate::store::Store;
use crate::web::Error;
use crate::web::Page;

/// How a checklist item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// In place.
    Ok,
    /// Works, but worth a look (a fallback, a sandbox, an unset option).
    Warn,
    /// Stops emails from reaching people.
    Bad,
}

/// One line of the checklist: what, how it stands, in plain words, and the setting behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable id for the page (`sender`, `mailtrap`, `webhook`…).
    pub id: &'static str,
    pub title: String,
    pub state: Standing,
    pub text: String,
    /// The environment name(s) that change it.
    pub setting: &'static str,
}

/// A checklist line `id` (its title is the catalogue's `admin.check.<id>.title`).
fn check(r: Reader, id: &'static str, setting: &'static str) -> impl Fn(Standing, String) -> Check {
    let title = r.t(&format!("admin.check.{id}.title"), &[]);
    move |state, text| Check {
        id,
        title: title.clone(),
        state,
        text,
        setting,
    }
}

/// Attempts looked at to judge whether Mailtrap takes our emails.
const RECENT: usize = 50;

#[get("/settings")]
pub fn settings(
    admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
    password: &State<AdminPassword>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>, Error> {
    let recent = store
        .list_deliveries(&DeliveryFilter::default(), None, RECENT)?
        .items;
    let mut ctx = Context::new();
    ctx.insert(
        "checks",
        &checklist(page, &recent, OffsetDateTime::now_utc()),
    );
    ctx.insert(
        "hook_url",
        &format!("{}/hooks/mailtrap", page.site.public_base),
    );
    ctx.insert("forms", &forms(page));
    ctx.insert("allowed_origins", &page.config.allowed_origins.to_strings());
    ctx.insert("config", &raw_config(page));
    ctx.insert("warnings", &page.config.warnings());
    ctx.insert("admin_email", &page.config.admin_email);
    ctx.insert(
        "devices",
        &super::devices::list(page, store, (&admin, password.tag()))?,
    );
    render(
        page,
        store,
        &admin,
        flash,
        ("admin/settings.html", "settings"),
        ctx,
    )
}

/// The checklist, in the order an owner sets things up.
pub fn checklist(page: Page<'_>, recent: &[Delivery], now: OffsetDateTime) -> Vec<Check> {
    let c = &page.config;
    let r = Reader::of(page);
    let mut out = Vec::new();
    let sender = check(r, "sender", "DEFAULT_FROM_EMAIL");
    out.push(if c.default_from_email.to_string() == PLACEHOLDER_FROM {
        sender(Standing::Bad, r.t("admin.check.sender.placeholder", &[]))
    } else {
        sender(
            Standing::Ok,
            r.t("admin.check.sender.ok", &[("from", &c.default_from_email)]),
        )
    });

    let owners = check(r, "owners", "ADMIN_EMAIL, JOBS_EMAIL, NEWSLETTER_EMAIL");
    out.push(match &c.admin_email {
        None => owners(Standing::Bad, r.t("admin.check.owners.unset", &[])),
        Some(admin) => {
            let role = |own: &Option<crate::model::EmailAddress>| {
                own.as_ref().map_or_else(
                    || r.t("admin.check.owners.same", &[("admin", admin)]),
                    ToString::to_string,
                )
            };
            owners(
                Standing::Ok,
                r.t(
                    "admin.check.owners.ok",
                    &[
                        ("admin", admin),
                        ("jobs", &role(&c.jobs_email)),
                        ("newsletter", &role(&c.newsletter_email)),
                    ],
                ),
            )
        }
    });

    out.push(mailtrap_check(page, recent));

    let webhook = check(r, "webhook", "KIPEKEE_MAILTRAP_WEBHOOK_SECRET");
    out.push(if c.mailtrap_webhook_secret.is_some() {
        webhook(Standing::Ok, r.t("admin.check.webhook.on", &[]))
    } else {
        webhook(Standing::Warn, r.t("admin.check.webhook.off", &[]))
    });

    let sandbox = check(r, "sandbox", "MAILTRAP_INBOX_ID");
    out.push(match c.mailtrap_inbox_id {
        Some(inbox) => sandbox(
            Standing::Warn,
            r.t("admin.check.sandbox.on", &[("inbox", &inbox)]),
        ),
        None => sandbox(Standing::Ok, r.t("admin.check.sandbox.off", &[])),
    });

    let public = check(r, "public_url", "KIPEKEE_PUBLIC_URL");
    let base: &[(&str, &dyn std::fmt::Display)] = &[("base", &page.site.public_base)];
    out.push(if c.public_url.is_some() {
        public(Standing::Ok, r.t("admin.check.public_url.ok", base))
    } else {
        public(Standing::Warn, r.t("admin.check.public_url.unset", base))
    });

    out.push(check(r, "timezone", "KIPEKEE_TIMEZONE")(
        Standing::Ok,
        r.t(
            "admin.check.timezone.now",
            &[("zone", &c.timezone.name()), ("now", &r.time(now))],
        ),
    ));

    let locale = serde_json::to_value(c)
        .ok()
        .and_then(|v| v.get("locale").and_then(Value::as_str).map(str::to_string));
    if let Some(locale) = locale {
        out.push(check(r, "locale", "KIPEKEE_LOCALE")(Standing::Ok, locale));
    }
    out
}

/// Mailtrap reachable and authorised, judged from the latest attempts that went to it: the
/// same streak the dashboard's banner and `/healthz` use ([`DeliveryHealth`]).
fn mailtrap_check(page: Page<'_>, recent: &[Delivery]) -> Check {
    let r = Reader::of(page);
    let mailtrap = check(r, "mailtrap", "MAILTRAP_API_TOKEN");
    if !page.mailtrap_configured() {
        return mailtrap(Standing::Bad, r.t("admin.check.mailtrap.unset", &[]));
    }
    let health = DeliveryHealth::judge(recent);
    if let Some(kind) = health.failure() {
        return mailtrap(
            Standing::Bad,
            r.t(
                "admin.check.mailtrap.failing",
                &[("advice", &r.advice(kind))],
            ),
        );
    }
    let last = recent.iter().find(|d| {
        matches!(
            d.outcome.status,
            EmailStatus::Sent | EmailStatus::Failed | EmailStatus::Unknown
        )
    });
    match last {
        None => mailtrap(Standing::Warn, r.t("admin.check.mailtrap.none_yet", &[])),
        Some(d) if d.outcome.status == EmailStatus::Sent => mailtrap(
            Standing::Ok,
            r.t(
                "admin.check.mailtrap.ok",
                &[("at", &r.time(d.outcome.started_at))],
            ),
        ),
        Some(d) => {
            let advice = d.outcome.failure.map(|f| r.advice(f)).unwrap_or_default();
            // Refused for good (token, domain): nothing gets through until it is fixed.
            let standing = match d.outcome.failure.map(FailureKind::retry) {
                Some(Retry::Permanent) => Standing::Bad,
                _ => Standing::Warn,
            };
            mailtrap(
                standing,
                r.t(
                    "admin.check.mailtrap.refused",
                    &[("at", &r.time(d.outcome.started_at)), ("advice", &advice)],
                ),
            )
        }
    }
}

/// Each form with its absolute address and a `<form>` to paste into an existing site.
fn forms(page: Page<'_>) -> Vec<Value> {
    let r = Reader::of(page);
    let choose = page.templates.strings().text("form.choose");
    page.forms
        .iter()
        .map(|(slug, f)| {
            let url = format!("{}/f/{slug}", page.site.public_base);
            let emails: Vec<_> = f
                .emails
                .iter()
                .map(|e| {
                    let to = if e.to_visitor() {
                        r.t("admin.settings.to_visitor", &[])
                    } else {
                        page.config
                            .recipient(e.to)
                            .map_or_else(|| r.t("admin.settings.to_unset", &[]), |a| a.to_string())
                    };
                    json!({ "kind": e.kind, "to": to, "when": e.when })
                })
                .collect();
            json!({ "slug": slug, "title": f.title, "url": url, "emails": emails,
                    "enabled": f.enabled, "snippet": snippet(&url, f, choose) })
        })
        .collect()
}

/// Text made safe inside HTML double-quoted attributes and element content.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain `<form>` posting to `url` with every field of `f`, as `/f/<slug>` itself shows
/// them, plus the `_gotcha` honeypot; `choose` is a select's empty option in the visitor's
/// language. A site on another origin must be listed in `KIPEKEE_ALLOWED_ORIGINS` for its
/// posts to be taken.
pub fn snippet(url: &str, f: &FormDef, choose: &str) -> String {
    let multipart = f.fields.iter().any(|x| x.kind == FieldKind::File);
    let mut out = format!(
        "<form action=\"{}\" method=\"post\"{}>\n",
        html(url),
        if multipart {
            " enctype=\"multipart/form-data\""
        } else {
            ""
        }
    );
    for x in &f.fields {
        let required = if x.required { " required" } else { "" };
        let (name, label) = (html(&x.name), html(&x.label));
        let control = match x.kind {
            FieldKind::Textarea => {
                format!("<textarea name=\"{name}\" rows=\"6\"{required}></textarea>")
            }
            FieldKind::Select => {
                let options: String = x
                    .options
                    .iter()
                    .map(|o| format!("<option>{}</option>", html(o)))
                    .collect();
                format!("<select name=\"{name}\"{required}><option value=\"\">{choose}</option>{options}</select>")
            }
            FieldKind::Checkbox => {
                out.push_str(&format!("  <label><input type=\"checkbox\" name=\"{name}\" value=\"yes\"{required}> {label}</label>\n"));
                continue;
            }
            FieldKind::File => {
                let accept: Vec<String> = x
                    .accept
                    .iter()
                    .map(|t| format!(".{}", t.extension()))
                    .collect();
                format!(
                    "<input type=\"file\" name=\"{name}\" accept=\"{}\"{required}>",
                    accept.join(",")
                )
            }
            kind => {
                let t = match kind {
                    FieldKind::Email => "email",
                    FieldKind::Tel => "tel",
                    FieldKind::Url => "url",
                    _ => "text",
                };
                format!("<input type=\"{t}\" name=\"{name}\"{required}>")
            }
        };
        out.push_str(&format!("  <label>{label} {control}</label>\n"));
    }
    out.push_str(
        "  <input name=\"_gotcha\" style=\"display:none\" tabindex=\"-1\" autocomplete=\"off\">\n",
    );
    out.push_str(&format!(
        "  <button type=\"submit\">{}</button>\n</form>",
        html(&f.submit_label)
    ));
    out
}

/// The effective configuration as pretty JSON: secrets are `***` (`config::Secret`), and a
/// password written into `MAILTRAP_API_URL` (`https://user:pass@host`) is masked too.
fn raw_config(page: Page<'_>) -> String {
    let mut value = serde_json::to_value(page.config).unwrap_or_default();
    if let Some(Value::String(api)) = value.get_mut("mailtrap_api_url") {
        if let Ok(mut u) = url::Url::parse(api) {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("***");
                let _ = u.set_password(None);
                *api = u.to_string();
            }
        }
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
