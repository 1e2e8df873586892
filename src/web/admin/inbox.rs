//! What Mailtrap's webhooks told about an email, as the owner reads it: a line per delivery,
//! on the dashboard the visitors whose confirmation never reached them, and the `unknown`
//! attempts that no event confirmed in time.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::Reader;
use crate::forms::FieldRole;
use crate::model::{Delivery, EmailStatus, InboxEvent, InboxState, SubmissionId};
use crate::store::Store;
use crate::web::Page;

/// How long Mailtrap's webhooks get to report on an `unknown` attempt (one that may have
/// been delivered) before the owner is asked whether to resend it (issue 11, item 3).
/// Mailtrap reports a delivery within seconds to minutes; half an hour leaves room for its
/// batching and a soft bounce or two.
pub const CONFIRM_WITHIN: Duration = Duration::minutes(30);

/// What the owner is told when no event came for an `unknown` attempt in [`CONFIRM_WITHIN`].
pub(super) fn unconfirmed(r: Reader) -> String {
    r.t(
        "admin.confirm.overdue",
        &[("minutes", &CONFIRM_WITHIN.whole_minutes())],
    )
}

/// Where an attempt stands with Mailtrap's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Not an `unknown` attempt, or webhooks are off: the failure's own advice stands.
    NotAwaited,
    /// An event came for it, so Mailtrap has it (a delivery already made it `sent`).
    Reported,
    /// No event yet; one is awaited until `deadline`.
    Waiting { deadline: OffsetDateTime },
    /// No event within [`CONFIRM_WITHIN`]: the owner decides whether to resend. Never
    /// resent automatically (it may have arrived).
    Overdue,
}

impl Confirmation {
    /// How `d` stands at `now`, with webhooks on (`webhooks`) or off.
    pub fn of(d: &Delivery, webhooks: bool, now: OffsetDateTime) -> Confirmation {
        if !webhooks || d.outcome.status != EmailStatus::Unknown {
            return Confirmation::NotAwaited;
        }
        if d.inbox.is_some() {
            return Confirmation::Reported;
        }
        let deadline = d.outcome.started_at + CONFIRM_WITHIN;
        if now < deadline {
            Confirmation::Waiting { deadline }
        } else {
            Confirmation::Overdue
        }
    }

    /// Whether the owner should look at it now: failed emails, `unknown` ones without
    /// webhooks, and `unknown` ones no event confirmed in time.
    pub fn needs_attention(d: &Delivery, webhooks: bool, now: OffsetDateTime) -> bool {
        match d.outcome.status {
            EmailStatus::Failed => true,
            EmailStatus::Unknown => matches!(
                Confirmation::of(d, webhooks, now),
                Confirmation::NotAwaited | Confirmation::Overdue
            ),
            _ => false,
        }
    }

    /// The sentence shown in place of the failure's advice, if any.
    pub fn advice(self, r: Reader) -> Option<String> {
        match self {
            Confirmation::NotAwaited | Confirmation::Reported => None,
            Confirmation::Waiting { deadline } => {
                Some(r.t("admin.confirm.waiting", &[("until", &r.time(deadline))]))
            }
            Confirmation::Overdue => Some(unconfirmed(r)),
        }
    }
}

/// One line per attempt at the same email (`kind`) of a submission, oldest first: what it
/// was, when, and how it ended (`first try, 2026-11-30 09:10 EAT: unknown (HTTP 504)`).
pub fn history(r: Reader, log: &[Delivery], kind: &str) -> Vec<String> {
    log.iter()
        .filter(|d| d.kind == kind)
        .map(|d| {
            let status = serde_json::to_value(d.outcome.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let status = r.t(&format!("admin.email_filter.{status}"), &[]);
            let attempt = super::wording::attempt_label(r, d.attempt);
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

/// Emails that bounced or were refused among the deliveries `log` (any order), newest
/// first, each with a sentence: to a visitor, naming a way to reach them (the form's phone
/// field, with its `tel:` link); to the owner, that new submissions are not reaching them.
/// An email made good by a later attempt is left out ([`standing_bounces`]).
pub fn bounces(page: Page<'_>, store: &Store, log: &[Delivery]) -> Vec<Value> {
    standing_bounces(log)
        .into_iter()
        .take(8)
        .map(|d| {
            let r = Reader::of(page);
            let to = d.to.clone().unwrap_or_default();
            if !d.to_visitor {
                let text = r.t("admin.bounce.owner", &[("kind", &d.kind), ("to", &to)]);
                return json!({ "text": text, "submission_id": d.submission_id });
            }
            let phone = phone_of(page, store, d).map(|p| {
                let href = crate::model::tel_uri(&p);
                json!({ "shown": p, "href": href })
            });
            let text = r.t("admin.bounce.text", &[("kind", &d.kind), ("to", &to)]);
            json!({ "text": text, "phone": phone, "submission_id": d.submission_id })
        })
        .collect()
}

/// The latest bounce (or refusal by Mailtrap) of each email (submission and kind) in `log`,
/// newest first, unless a later attempt at the same email went through
/// (Mailtrap accepted it and no bounce or refusal came back for it).
fn standing_bounces(log: &[Delivery]) -> Vec<&Delivery> {
    let bounced = |d: &Delivery| {
        d.inbox
            .as_ref()
            .is_some_and(|i| matches!(i.state, InboxState::Bounced | InboxState::Rejected))
    };
    let mut latest: BTreeMap<(SubmissionId, &str), &Delivery> = BTreeMap::new();
    for d in log.iter().filter(|d| bounced(d)) {
        let key = (d.submission_id, d.kind.as_str());
        if latest.get(&key).is_none_or(|seen| seen.id < d.id) {
            latest.insert(key, d);
        }
    }
    let made_good = |b: &Delivery| {
        log.iter().any(|d| {
            d.submission_id == b.submission_id
                && d.kind == b.kind
                && d.id > b.id
                && d.outcome.status == EmailStatus::Sent
                && !bounced(d)
        })
    };
    let mut standing: Vec<&Delivery> = latest.into_values().filter(|b| !made_good(b)).collect();
    standing.sort_by_key(|d| std::cmp::Reverse(d.id));
    standing
}

/// The submission's phone number: its form's first telephone field that was filled in.
fn phone_of(page: Page<'_>, store: &Store, d: &Delivery) -> Option<String> {
    let sub = store.submission(d.submission_id).ok()??;
    let def = page.forms.get(&sub.form)?;
    def.value(FieldRole::Phone, &sub.fields)
        .filter(|v| !v.trim().is_empty())
        .map(str::to_string)
}

/// The submission page's view of Mailtrap's confirmation for its attempts (`log`, oldest
/// first): what replaces the failure's advice on an attempt, and the emails to offer for a
/// resend because no event confirmed them in time, each with its history.
pub struct Confirmations {
    latest: Vec<(crate::model::DeliveryId, Confirmation)>,
    /// `{kind, to, history}` per email whose latest attempt is [`Confirmation::Overdue`].
    pub overdue: Vec<Value>,
}

impl Confirmations {
    pub fn of(page: Page<'_>, log: &[Delivery], now: OffsetDateTime) -> Confirmations {
        let webhooks = page.config.mailtrap_webhook_secret.is_some();
        let r = Reader::of(page);
        let latest: Vec<_> = crate::outbox::latest_attempts(log)
            .into_iter()
            .map(|d| (d.id, Confirmation::of(d, webhooks, now)))
            .collect();
        let overdue = crate::outbox::latest_attempts(log)
            .into_iter()
            .filter(|d| Confirmation::of(d, webhooks, now) == Confirmation::Overdue)
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
            .and_then(|(_, c)| c.advice(r))
            .or_else(|| d.outcome.failure.map(|f| r.advice(f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn to_visitor(id: u64, sub: u64, status: EmailStatus, inbox: Option<InboxState>) -> Delivery {
        let mut d = attempt(status, inbox);
        d.id = crate::model::DeliveryId(id);
        d.submission_id = SubmissionId(sub);
        d.to_visitor = true;
        d
    }

    fn ids(log: &[Delivery]) -> Vec<u64> {
        standing_bounces(log).iter().map(|d| d.id.0).collect()
    }

    #[test]
    fn a_bounce_stands_until_a_later_attempt_at_the_same_email_goes_through() {
        use EmailStatus::{Failed, Sent};
        use InboxState::{Bounced, Delivered, Rejected};
        let bounce = to_visitor(1, 7, Sent, Some(Bounced));
        assert_eq!(ids(std::slice::from_ref(&bounce)), vec![1]);
        assert_eq!(
            ids(&[bounce.clone(), to_visitor(2, 7, Sent, None)]),
            Vec::<u64>::new()
        );
        assert_eq!(
            ids(&[to_visitor(2, 7, Sent, Some(Delivered)), bounce.clone()]),
            Vec::<u64>::new(),
            "in any order"
        );
        assert_eq!(
            ids(&[bounce.clone(), to_visitor(2, 7, Failed, None)]),
            vec![1]
        );
        assert_eq!(
            ids(&[bounce.clone(), to_visitor(2, 7, Sent, Some(Rejected))]),
            vec![2],
            "the later refusal stands for both"
        );
        assert_eq!(
            ids(&[to_visitor(0, 7, Sent, None), bounce.clone()]),
            vec![1],
            "an earlier success does not make good a later bounce"
        );
        assert_eq!(
            ids(&[bounce.clone(), to_visitor(2, 8, Sent, None)]),
            vec![1],
            "another submission's email"
        );
        let mut other_kind = to_visitor(2, 7, Sent, None);
        other_kind.kind = "welcome".into();
        assert_eq!(ids(&[bounce.clone(), other_kind]), vec![1]);
        let mut owner = to_visitor(3, 9, Sent, Some(Bounced));
        owner.to_visitor = false;
        assert_eq!(
            ids(&[bounce, owner, to_visitor(4, 8, Sent, Some(Bounced))]),
            vec![4, 3, 1],
            "the owner's own notification too, newest first"
        );
    }

    #[test]
    fn an_unknown_attempt_waits_30_minutes_for_an_event_with_webhooks_only() {
        let unknown = attempt(EmailStatus::Unknown, None);
        let soon = datetime!(2026-11-30 09:29:59 UTC);
        let late = datetime!(2026-11-30 09:30 UTC);
        assert_eq!(
            Confirmation::of(&unknown, true, soon),
            Confirmation::Waiting {
                deadline: datetime!(2026-11-30 09:30 UTC)
            }
        );
        assert!(!Confirmation::needs_attention(&unknown, true, soon));
        assert_eq!(
            Confirmation::of(&unknown, true, late),
            Confirmation::Overdue
        );
        assert!(Confirmation::needs_attention(&unknown, true, late));
        assert_eq!(
            Confirmation::of(&unknown, false, late),
            Confirmation::NotAwaited
        );
        assert!(Confirmation::needs_attention(&unknown, false, soon));
        let bounced = attempt(EmailStatus::Unknown, Some(InboxState::Bounced));
        assert_eq!(
            Confirmation::of(&bounced, true, late),
            Confirmation::Reported
        );
        let sent = attempt(EmailStatus::Sent, None);
        assert!(!Confirmation::needs_attention(&sent, true, late));
        assert!(Confirmation::needs_attention(
            &attempt(EmailStatus::Failed, None),
            true,
            soon
        ));
        assert_eq!(
            Confirmation::Overdue.advice(Reader::english()).as_deref(),
            Some(
                "Mailtrap has not confirmed this email in 30 minutes — it may not have been \
                 delivered; resend?"
            )
        );
    }

    /// The texts built from a state's label name keys that exist: a missing one would show
    /// the key itself on the page.
    #[test]
    fn every_inbox_state_and_status_reads_as_a_sentence() {
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
