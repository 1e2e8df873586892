//! What Mailtrap's webhooks told about an email, as the owner reads it: a line per delivery,
//! the bounces and rejections that still stand (on the dashboard and the submission page),
//! and the `unknown` attempts that no event confirmed in time. What stands, and when a
//! confirmation is overdue, is the ledger's ([`Ledger`]); this module words it.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::Reader;
use crate::forms::FieldRole;
use crate::model::{
    Confirmation, Delivery, DeliveryId, DeliveryState, InboxEvent, InboxState, Ledger,
    CONFIRM_WITHIN,
};
use crate::store::Store;
use crate::web::Page;

/// What the owner is told when no event came for an `unknown` attempt in [`CONFIRM_WITHIN`].
pub(super) fn unconfirmed(r: Reader) -> String {
    r.t(
        "admin.confirm.overdue",
        &[("minutes", &CONFIRM_WITHIN.whole_minutes())],
    )
}

/// The sentence shown in place of a failure's advice while Mailtrap's confirmation is
/// awaited or overdue, if any.
fn confirmation_advice(c: Confirmation, r: Reader) -> Option<String> {
    match c {
        Confirmation::NotAwaited | Confirmation::Reported => None,
        Confirmation::Waiting { deadline } => {
            Some(r.t("admin.confirm.waiting", &[("until", &r.time(deadline))]))
        }
        Confirmation::Overdue => Some(unconfirmed(r)),
    }
}

/// One line per attempt at the same email (`kind`) of a submission, oldest first: what it
/// was, when, and how it ended (`first try, 2026-11-30 09:10 EAT: unknown (HTTP 504)`).
pub fn history(r: Reader, log: &[Delivery], kind: &str) -> Vec<String> {
    log.iter()
        .filter(|d| d.kind == kind)
        .map(|d| {
            let status = state_label(r, d.state());
            let attempt = super::submissions::attempt_label(r, d.attempt);
            let at = r.time(d.outcome.started_at);
            let args: [(&str, &dyn std::fmt::Display); 3] =
                [("attempt", &attempt), ("at", &at), ("status", &status)];
            match d.outcome.http_status {
                Some(code) => r.t(
                    "admin.history.line_http",
                    &[args[0], args[1], args[2], ("code", &code)],
                ),
                None => r.t("admin.history.line", &args),
            }
        })
        .collect()
}

/// A delivery's inbox state for the templates: `state` (the filter's label) and `text`
/// (one plain sentence); `Null` when no event came.
pub fn view(r: Reader, inbox: Option<&InboxEvent>) -> Value {
    let Some(e) = inbox else {
        return Value::Null;
    };
    let no_reason = r.t("admin.inbox.no_reason", &[]);
    let detail = e.detail.as_deref().unwrap_or(&no_reason);
    let at = r.time(e.at);
    let key = match (e.state, &e.bounce_category) {
        (InboxState::Bounced, Some(_)) => "bounced_category",
        (state, _) => state.label(),
    };
    let category = e.bounce_category.as_deref().unwrap_or_default();
    let text = r.t(
        &format!("admin.inbox.text.{key}"),
        &[("detail", &detail), ("at", &at), ("category", &category)],
    );
    let short = r.t(&format!("admin.inbox.short.{}", e.state.label()), &[]);
    json!({ "state": e.state.label(), "short": short, "text": text, "at": at })
}

/// The bounces and rejections that still stand (the ledger's
/// [`standing_bounces`](Ledger::standing_bounces), newest first), each with a sentence: to a
/// visitor, naming a way to reach them (the form's phone field, with its `tel:` link); to the
/// owner, that new submissions are not reaching them. A rejection is worded as Mailtrap's
/// refusal with its reason, never as a bounce: the address may be fine.
pub fn bounces(page: Page<'_>, store: &Store, standing: &[&Delivery]) -> Vec<Value> {
    let r = Reader::of(page);
    let no_reason = r.t("admin.inbox.no_reason", &[]);
    standing
        .iter()
        .map(|d| {
            let to = d.to.clone().unwrap_or_default();
            let reason = d
                .inbox
                .as_ref()
                .and_then(|e| e.detail.as_deref())
                .unwrap_or(&no_reason);
            let key = match (d.state() == DeliveryState::Rejected, d.to_visitor) {
                (false, true) => "admin.bounce.text",
                (false, false) => "admin.bounce.owner",
                (true, true) => "admin.bounce.rejected",
                (true, false) => "admin.bounce.owner_rejected",
            };
            let text = r.t(key, &[("kind", &d.kind), ("to", &to), ("reason", &reason)]);
            let phone = d
                .to_visitor
                .then(|| phone_of(page, store, d))
                .flatten()
                .map(|p| json!({ "shown": p, "href": crate::model::tel_uri(&p) }));
            json!({ "text": text, "phone": phone, "submission_id": d.submission_id,
                    "state": d.state().as_str() })
        })
        .collect()
}

/// The word of a state as the panel shows it (`admin.email_status.*`).
pub(super) fn state_label(r: Reader, state: DeliveryState) -> String {
    r.t(&format!("admin.email_status.{state}"), &[])
}

/// The submission's phone number: its form's first telephone field that was filled in.
fn phone_of(page: Page<'_>, store: &Store, d: &Delivery) -> Option<String> {
    let sub = store.submission(d.submission_id).ok()??;
    let def = page.forms.get(&sub.form)?;
    def.value(FieldRole::Phone, &sub.fields)
        .filter(|v| !v.trim().is_empty())
        .map(str::to_string)
}

/// The submission page's view of Mailtrap's confirmation for its attempts: what replaces
/// the failure's advice on an attempt, and the emails to offer for a resend because no event
/// confirmed them in time, each with its history.
pub struct Confirmations {
    latest: Vec<(DeliveryId, Confirmation)>,
    /// `{kind, to, history}` per email whose latest attempt is [`Confirmation::Overdue`].
    pub overdue: Vec<Value>,
}

impl Confirmations {
    /// From the ledger of one submission, whose log is `log` (oldest first).
    pub fn of(
        page: Page<'_>,
        ledger: &Ledger<'_>,
        log: &[Delivery],
        now: OffsetDateTime,
    ) -> Confirmations {
        let webhooks = page.config.mailtrap_webhook_secret.is_some();
        let r = Reader::of(page);
        let latest: Vec<_> = ledger
            .latest()
            .into_iter()
            .map(|d| (d.id, ledger.confirmation(d, webhooks, now)))
            .collect();
        let overdue = ledger
            .latest()
            .into_iter()
            .filter(|d| ledger.confirmation(d, webhooks, now) == Confirmation::Overdue)
            .map(|d| {
                json!({ "kind": d.kind, "to": d.to, "text": unconfirmed(r),
                        "history": history(r, log, &d.kind) })
            })
            .collect();
        Confirmations { latest, overdue }
    }

    /// The advice for attempt `d`: the confirmation's when one is awaited or overdue on the
    /// email's latest attempt, else the failure's own.
    pub fn advice(&self, r: Reader, d: &Delivery) -> Option<String> {
        self.latest
            .iter()
            .find(|(id, _)| *id == d.id)
            .and_then(|(_, c)| confirmation_advice(*c, r))
            .or_else(|| d.outcome.failure.map(|f| r.advice(f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EmailStatus;
    use time::macros::datetime;

    fn attempt(status: EmailStatus, inbox: Option<InboxState>) -> Delivery {
        let mut d = Delivery::planned("confirmation", Some("anna@visitor.example"), "Thanks");
        d.outcome.started_at = datetime!(2026-11-30 09:00 UTC);
        d.outcome.status = status;
        d.inbox = inbox.map(|state| InboxEvent {
            state,
            at: d.outcome.started_at,
            detail: None,
            bounce_category: None,
        });
        d
    }

    #[test]
    fn the_confirmation_advice_says_until_when_and_then_asks() {
        let r = Reader::english();
        assert_eq!(
            confirmation_advice(Confirmation::Overdue, r).as_deref(),
            Some(
                "Mailtrap has not confirmed this email in 30 minutes — it may not have been \
                 delivered; resend?"
            )
        );
        let waiting = Confirmation::Waiting {
            deadline: datetime!(2026-11-30 09:30 UTC),
        };
        let text = confirmation_advice(waiting, r).unwrap();
        assert!(text.contains("2026-11-30 09:30 UTC"), "{text}");
        assert_eq!(confirmation_advice(Confirmation::Reported, r), None);
        assert_eq!(confirmation_advice(Confirmation::NotAwaited, r), None);
    }

    /// The texts built from a state's word name keys that exist: a missing one would show
    /// the key itself on the page.
    #[test]
    fn every_state_and_inbox_state_reads_as_words() {
        let r = Reader::english();
        for state in InboxState::ALL {
            for category in [None, Some("bad_mailbox".to_string())] {
                let mut d = attempt(EmailStatus::Sent, Some(state));
                if let Some(e) = d.inbox.as_mut() {
                    e.bounce_category.clone_from(&category);
                }
                let v = view(r, d.inbox.as_ref());
                for field in ["text", "short"] {
                    let text = v[field].as_str().unwrap();
                    assert!(!text.starts_with("admin."), "{state:?} {field}: {text}");
                }
            }
        }
        for state in DeliveryState::ALL
            .into_iter()
            .chain([DeliveryState::Pending])
        {
            let label = state_label(r, state);
            assert!(!label.starts_with("admin."), "{state}: {label}");
        }
        for status in [
            EmailStatus::Sent,
            EmailStatus::Failed,
            EmailStatus::Unknown,
            EmailStatus::Skipped,
            EmailStatus::Pending,
        ] {
            let log = [attempt(status, None)];
            let line = &history(r, &log, "confirmation")[0];
            assert!(
                line.starts_with("first try, 2026-11-30 09:00 UTC: "),
                "{line}"
            );
            assert!(!line.contains("admin."), "{line}");
        }
    }
}
