//! Sending an email again: the owner's resend, the retry runner's retry, and the first tries
//! queued at start for submissions a crash left unsent. Each goes through
//! [`Outbox::deliver`] with a claim that says when it may take the email, so a resend and the
//! retry runner never both send it.

use std::collections::BTreeMap;

use tracing::warn;

use super::{now_micros, Outbox, Round};
use crate::forms::{FormDef, FormKind, Trigger};
use crate::model::{
    Attempt, Delivery, DeliveryId, EmailStatus, Ledger, Submission, Subscriber, SubscriberState,
};
use crate::store::{Claim, RetryJob, StoreError};

impl Outbox {
    /// The owner's resend: the chosen emails again, as new, logged attempts labelled
    /// `attempt`. A queued retry of the same emails leaves the queue in the same
    /// transaction that claims them: a resend takes its place, never both. An email being
    /// sent (by the retry runner or another resend) is left alone, and so is a failed one
    /// that was sent since it was read here. A newsletter signup resends its opt-in, or its
    /// welcome and notice once confirmed.
    pub async fn resend(
        &self,
        submission: &Submission,
        which: Resend<'_>,
        attempt: Attempt,
    ) -> Result<Resent, StoreError> {
        let Some(def) = self.forms.get(&submission.form) else {
            return Ok(Resent::default());
        };
        let subscriber = self.subscriber_of(def, submission)?;
        let confirmed = subscriber
            .as_ref()
            .is_some_and(|s| s.state == SubscriberState::Confirmed);
        let mut seen: Vec<(String, DeliveryId)> = Vec::new();
        let kinds: Vec<String> = match which {
            Resend::Kind(kind) => vec![kind.to_string()],
            Resend::All => {
                let trigger = if confirmed {
                    Trigger::Confirm
                } else {
                    Trigger::Submit
                };
                def.emails_on(trigger).map(|e| e.kind.clone()).collect()
            }
            Resend::Failed => {
                seen = Ledger::new(&self.store.deliveries_of(submission.id)?)
                    .latest()
                    .into_iter()
                    .filter(|d| d.outcome.status == EmailStatus::Failed)
                    .map(|d| (d.kind.clone(), d.id))
                    .collect();
                seen.iter().map(|(kind, _)| kind.clone()).collect()
            }
        };
        self.resend_as(
            def,
            submission,
            subscriber.as_ref(),
            kinds,
            attempt,
            Claim::Owner(&seen),
        )
        .await
    }

    /// The retry runner's job `job`, due at `due`: its email again, if the job is still
    /// queued and nothing else sent the email since (the claim takes the job off the queue).
    /// A job of attempt 1 is the first send of an email that was never attempted.
    pub async fn retry(
        &self,
        submission: &Submission,
        due: u64,
        job: &RetryJob,
    ) -> Result<Vec<Delivery>, StoreError> {
        let Some(def) = self.forms.get(&submission.form) else {
            return Ok(Vec::new());
        };
        let subscriber = self.subscriber_of(def, submission)?;
        let attempt = match job.attempt {
            0 | 1 => Attempt::FirstTry,
            n => Attempt::AutomaticRetry(n),
        };
        let resent = self
            .resend_as(
                def,
                submission,
                subscriber.as_ref(),
                vec![job.kind.clone()],
                attempt,
                Claim::Job { due, job },
            )
            .await?;
        Ok(resent.attempts)
    }

    /// One round per trigger (an opt-in goes on submit, a welcome on confirmation) for
    /// `kinds` of `def`'s emails, each claimed with `claim`.
    async fn resend_as(
        &self,
        def: &FormDef,
        submission: &Submission,
        subscriber: Option<&Subscriber>,
        kinds: Vec<String>,
        attempt: Attempt,
        claim: Claim<'_>,
    ) -> Result<Resent, StoreError> {
        let mut by_trigger: BTreeMap<Trigger, Vec<String>> = BTreeMap::new();
        for kind in kinds {
            let Some(e) = def.emails.iter().find(|e| e.kind == kind) else {
                continue;
            };
            by_trigger.entry(e.when).or_default().push(kind);
        }
        let mut out = Resent::default();
        for (trigger, kinds) in by_trigger {
            let round = Round {
                trigger,
                only: Some(&kinds),
                attempt,
                claim,
                ..Round::SUBMIT
            };
            let attempts = self.deliver(def, submission, subscriber, round).await?;
            out.left_alone += kinds
                .iter()
                .filter(|k| !attempts.iter().any(|d| &&d.kind == k))
                .count();
            out.attempts.extend(attempts);
        }
        Ok(out)
    }

    /// A newsletter signup's subscriber, whose links its emails carry.
    fn subscriber_of(
        &self,
        def: &FormDef,
        submission: &Submission,
    ) -> Result<Option<Subscriber>, StoreError> {
        match &submission.visitor_email {
            Some(email) if def.kind == FormKind::Newsletter => self.store.subscriber(email),
            _ => Ok(None),
        }
    }

    /// The start-up pass over submissions stored but never attempted (the server stopped
    /// between storing one and claiming its emails): their emails on submit are queued for
    /// the retry runner, due now. Nothing of theirs reached Mailtrap, so sending is safe.
    /// Runs before serving; returns how many submissions it queued.
    pub fn queue_unattempted(&self) -> Result<usize, StoreError> {
        let mut queued = 0;
        for s in self.store.unattempted_submissions()? {
            let Some(def) = self.forms.get(&s.form) else {
                continue;
            };
            let kinds: Vec<String> = def
                .emails_on(Trigger::Submit)
                .map(|e| e.kind.clone())
                .collect();
            if kinds.is_empty() {
                continue;
            }
            self.store
                .queue_first_attempts(s.id, &kinds, now_micros())?;
            warn!(submission_id = %s.id, reference = %s.reference,
                  "stored but never emailed (the server stopped in between): its emails are queued");
            queued += 1;
        }
        Ok(queued)
    }
}

/// What an owner's resend did.
#[derive(Debug, Default)]
pub struct Resent {
    /// The attempts it made, as recorded.
    pub attempts: Vec<Delivery>,
    /// Emails it left alone: the retry runner or another resend was sending them, or sent
    /// them after they were read as failed.
    pub left_alone: usize,
}

/// Which of a submission's emails the owner's resend sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend<'a> {
    /// Those whose latest attempt failed (the default: never what already arrived).
    Failed,
    /// Every email of the submission again.
    All,
    /// The email of this kind, whatever its latest attempt did.
    Kind(&'a str),
}
