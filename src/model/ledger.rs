//! Where a submission's emails stand, read from its whole delivery log: the one rule behind
//! the word the owner reads in the list, the header, the dashboard, the filter, the CSV and
//! JSON (DESIGN.md, "The owner's day": one state, one word), what needs the owner, which
//! bounces still stand, and how long Mailtrap's confirmation of an `unknown` attempt is
//! awaited.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use time::{Duration, OffsetDateTime};

use super::{Delivery, DeliveryState, EmailStatus, InboxEvent, InboxState, SubmissionId};

/// How long Mailtrap's webhooks get to report on an `unknown` attempt (one that may have
/// been delivered) before the owner is asked whether to resend it. Mailtrap reports a
/// delivery within seconds to minutes; half an hour leaves room for its batching and a soft
/// bounce or two.
pub const CONFIRM_WITHIN: Duration = Duration::minutes(30);

/// Where an attempt stands with Mailtrap's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Not an `unknown` attempt, a later attempt replaced it, or webhooks are off: the
    /// failure's own advice stands.
    NotAwaited,
    /// An event came for it, so Mailtrap has it (a delivery already made it `sent`).
    Reported,
    /// No event yet; one is awaited until `deadline` (its start + [`CONFIRM_WITHIN`]).
    Waiting { deadline: OffsetDateTime },
    /// No event within [`CONFIRM_WITHIN`]: the owner decides whether to resend. Never
    /// resent automatically (it may have arrived).
    Overdue,
}

/// The deliveries of one submission (or of several, as on the dashboard), in any order, with
/// what the log alone cannot say: whether the submission is held back, and which of its
/// emails have an automatic retry queued. An email is a (submission, kind) pair; its latest
/// attempt is the one with the highest [`DeliveryId`](super::DeliveryId).
#[derive(Debug, Clone)]
pub struct Ledger<'a> {
    log: &'a [Delivery],
    held: bool,
    retries_queued: BTreeSet<(SubmissionId, String)>,
}

impl<'a> Ledger<'a> {
    /// The ledger of `log`: not held, no retry queued.
    pub fn new(log: &'a [Delivery]) -> Ledger<'a> {
        Ledger {
            log,
            held: false,
            retries_queued: BTreeSet::new(),
        }
    }

    /// The submission is held back (caught as spam or waiting for the owner's review): its
    /// emails were not sent. Meant for a ledger of one submission.
    pub fn held(self, held: bool) -> Ledger<'a> {
        Ledger { held, ..self }
    }

    /// The emails (submission, kind) an automatic retry is queued for, as the store's retry
    /// queue lists them.
    pub fn retries_queued<K: Into<String>>(
        mut self,
        queued: impl IntoIterator<Item = (SubmissionId, K)>,
    ) -> Ledger<'a> {
        self.retries_queued
            .extend(queued.into_iter().map(|(s, k)| (s, k.into())));
        self
    }

    /// The latest attempt of each email, by (submission, kind): what the owner cares about,
    /// an attempt a later one replaced no longer counts.
    pub fn latest(&self) -> Vec<&'a Delivery> {
        let mut latest: BTreeMap<(SubmissionId, &str), &'a Delivery> = BTreeMap::new();
        for d in self.log {
            let seen = latest
                .entry((d.submission_id, d.kind.as_str()))
                .or_insert(d);
            if seen.id < d.id {
                *seen = d;
            }
        }
        latest.into_values().collect()
    }

    /// The submission's state: held while held back; skipped without emails; otherwise the
    /// state of the email that most needs the owner (failed > bounced > rejected > unknown >
    /// retrying > sent > delivered > skipped), each email read from its latest attempt. Over
    /// a ledger of several submissions, the state most in need among them.
    pub fn state(&self) -> DeliveryState {
        if self.held {
            return DeliveryState::Held;
        }
        self.latest()
            .into_iter()
            .map(|d| self.email_state(d))
            .max_by_key(|s| urgency(*s))
            .unwrap_or(DeliveryState::Skipped)
    }

    /// The state of attempt `d`, usually its email's latest. What Mailtrap's webhooks
    /// reported wins over the send's outcome (mailtrap-api.md section 8): `delivery`, and a
    /// `spam` complaint or `unsubscribe` after it, are delivered; `bounce` is bounced;
    /// `reject` is rejected; `suspension` (Mailtrap stopped sending for the account) is
    /// failed; a `soft bounce` is still sent, as Mailtrap keeps trying. Without an event: the
    /// outcome's own word, a failure with a retry queued being retrying (on the latest
    /// attempt only), and a skipped email held while its submission is.
    pub fn email_state(&self, d: &Delivery) -> DeliveryState {
        if let Some(event) = &d.inbox {
            return match event.state {
                InboxState::Delivered | InboxState::Complained | InboxState::Unsubscribed => {
                    DeliveryState::Delivered
                }
                InboxState::SoftBounce => DeliveryState::Sent,
                InboxState::Bounced => DeliveryState::Bounced,
                InboxState::Rejected => DeliveryState::Rejected,
                InboxState::Suspended => DeliveryState::Failed,
            };
        }
        match d.outcome.status {
            EmailStatus::Failed if self.retry_queued(d) && self.is_latest(d) => {
                DeliveryState::Retrying
            }
            EmailStatus::Skipped if self.held => DeliveryState::Held,
            status => DeliveryState::from(status),
        }
    }

    /// What needs the owner at `now`, newest first, one attempt per email: its latest
    /// attempt when that failed (with no retry queued), bounced or was rejected, or is
    /// `unknown` and webhooks are off (`webhooks_on` false) or past [`CONFIRM_WITHIN`];
    /// otherwise its standing bounce, if any ([`Ledger::standing_bounces`]).
    pub fn attention(&self, now: OffsetDateTime, webhooks_on: bool) -> Vec<&'a Delivery> {
        let standing = self.standing_bounces();
        let mut out: Vec<&'a Delivery> = self
            .latest()
            .into_iter()
            .filter_map(|d| {
                let needs = match self.email_state(d) {
                    DeliveryState::Failed | DeliveryState::Bounced | DeliveryState::Rejected => {
                        true
                    }
                    DeliveryState::Unknown => matches!(
                        self.confirmation(d, webhooks_on, now),
                        Confirmation::NotAwaited | Confirmation::Overdue
                    ),
                    _ => false,
                };
                if needs {
                    Some(d)
                } else {
                    standing.iter().copied().find(|b| same_email(b, d))
                }
            })
            .collect();
        out.sort_by_key(|d| Reverse(d.id));
        out
    }

    /// The latest bounce or rejection of each email, newest first, unless a later attempt at
    /// the same email went through (its state is sent or delivered). A later attempt that
    /// failed, or is unknown or retrying, leaves the bounce standing.
    pub fn standing_bounces(&self) -> Vec<&'a Delivery> {
        let mut latest: BTreeMap<(SubmissionId, &str), &'a Delivery> = BTreeMap::new();
        for d in self.log.iter().filter(|d| {
            matches!(
                self.email_state(d),
                DeliveryState::Bounced | DeliveryState::Rejected
            )
        }) {
            let seen = latest
                .entry((d.submission_id, d.kind.as_str()))
                .or_insert(d);
            if seen.id < d.id {
                *seen = d;
            }
        }
        let made_good = |b: &Delivery| {
            self.later_attempts(b).any(|d| {
                matches!(
                    self.email_state(d),
                    DeliveryState::Sent | DeliveryState::Delivered
                )
            })
        };
        let mut standing: Vec<&'a Delivery> =
            latest.into_values().filter(|b| !made_good(b)).collect();
        standing.sort_by_key(|d| Reverse(d.id));
        standing
    }

    /// How attempt `d` stands with Mailtrap's confirmation at `now`: awaited only for an
    /// `unknown` attempt that is its email's latest, with webhooks on; reported once an event
    /// came; then waiting until [`CONFIRM_WITHIN`] after it started, and overdue after.
    pub fn confirmation(
        &self,
        d: &Delivery,
        webhooks_on: bool,
        now: OffsetDateTime,
    ) -> Confirmation {
        if !webhooks_on || d.outcome.status != EmailStatus::Unknown || !self.is_latest(d) {
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

    fn retry_queued(&self, d: &Delivery) -> bool {
        self.retries_queued
            .iter()
            .any(|(s, kind)| *s == d.submission_id && *kind == d.kind)
    }

    /// Attempts at `d`'s email made after it.
    fn later_attempts<'s>(&'s self, d: &'s Delivery) -> impl Iterator<Item = &'a Delivery> + 's {
        self.log
            .iter()
            .filter(move |other| same_email(other, d) && other.id > d.id)
    }

    fn is_latest(&self, d: &Delivery) -> bool {
        self.later_attempts(d).next().is_none()
    }
}

/// How much a submission's state is this email's: the email that most needs the owner
/// gives the submission its word. Failed > bounced > rejected > unknown > retrying >
/// sent > delivered > skipped; held and the legacy pending (never both with another
/// email in practice) sit between retrying and sent, as not yet out.
fn urgency(state: DeliveryState) -> u8 {
    match state {
        DeliveryState::Failed => 9,
        DeliveryState::Bounced => 8,
        DeliveryState::Rejected => 7,
        DeliveryState::Unknown => 6,
        DeliveryState::Retrying => 5,
        DeliveryState::Held => 4,
        DeliveryState::Pending => 3,
        DeliveryState::Sent => 2,
        DeliveryState::Delivered => 1,
        DeliveryState::Skipped => 0,
    }
}

/// Two attempts at the same email: same submission, same kind.
fn same_email(a: &Delivery, b: &Delivery) -> bool {
    a.submission_id == b.submission_id && a.kind == b.kind
}

impl Delivery {
    /// This attempt's word on its own ([`Ledger::email_state`] of a log of one): what
    /// Mailtrap reported for it, else its outcome; without its submission's hold or retry
    /// queue. The delivery log's badge and filter.
    pub fn state(&self) -> DeliveryState {
        Ledger::new(std::slice::from_ref(self)).email_state(self)
    }

    /// Applies one of Mailtrap's webhook events to this attempt; whether anything changed.
    /// The event replaces the inbox state unless that state has a higher
    /// [`InboxState::rank`]. An `unknown` attempt reported delivered becomes `sent`: Mailtrap
    /// had it, so it is not offered for resending (DESIGN.md, "Every email exactly once").
    pub fn apply(&mut self, event: &InboxEvent) -> bool {
        let mut changed = false;
        let outranked = self
            .inbox
            .as_ref()
            .is_some_and(|i| i.state.rank() > event.state.rank());
        if !outranked && self.inbox.as_ref() != Some(event) {
            self.inbox = Some(event.clone());
            changed = true;
        }
        if event.state == InboxState::Delivered && self.outcome.status == EmailStatus::Unknown {
            self.outcome.status = EmailStatus::Sent;
            changed = true;
        }
        changed
    }
}

#[cfg(test)]
mod tests;
