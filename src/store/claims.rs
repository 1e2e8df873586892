//! Who sends an email, recorded before it is sent. Each email (one submission, one kind) has
//! one entry in `claims`: its latest attempt and whether that attempt is still with Mailtrap.
//! A delivery round takes its emails here in one transaction that also writes each attempt as
//! in flight (status `pending`, with the delivery id the message carries) and, for the retry
//! runner, takes the job off the queue; only then does the request go out. So the visitor's
//! post, the retry runner and the owner's resend can never send one email twice at once, a
//! crash leaves the attempt that was with Mailtrap marked as such, and the jobs not yet
//! started stay queued. At start-up, [`Store::settle_interrupted`] turns every attempt still
//! in flight into `unknown` (it may have arrived; a webhook `delivery` event reconciles it).

use std::collections::{BTreeMap, BTreeSet};

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

use super::{abort, codec, keys, retries, Result, RetryJob, Store, StoreError};
use crate::model::{Delivery, DeliveryId, DeliveryState, EmailBody, Submission, SubmissionId};

/// On what condition a round takes an email, and what it takes from the retry queue.
#[derive(Debug, Clone, Copy)]
pub enum Claim<'a> {
    /// The email's first attempt (a visitor's post, an approval, a confirmation's welcome):
    /// taken only if it has never been attempted.
    First,
    /// The owner's resend: taken unless an attempt is in flight; an email listed here only
    /// while its latest attempt is still the one listed (the failure the owner saw), so one
    /// that a retry sent meanwhile is not sent again. Its queued retries leave the queue in
    /// the same transaction: a resend takes a queued retry's place, never both.
    Owner(&'a [(String, DeliveryId)]),
    /// The retry runner's job, due at `due`: taken only while the job is still queued and
    /// the email's latest attempt is the one that failed (`job.after`); the job leaves the
    /// queue in the same transaction, whether it is taken or not.
    Job { due: u64, job: &'a RetryJob },
}

/// An email's entry in `claims`: its latest attempt, and whether it is still in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    latest: DeliveryId,
    in_flight: bool,
}

impl Head {
    fn encode(self) -> [u8; 9] {
        let mut v = [0u8; 9];
        v[..8].copy_from_slice(&self.latest.to_key());
        v[8] = u8::from(self.in_flight);
        v
    }

    fn decode(raw: &[u8]) -> Option<Head> {
        Some(Head {
            latest: DeliveryId::from_key(raw)?,
            in_flight: *raw.get(8)? == 1,
        })
    }
}

/// `claims`: `submission id ++ kind`.
fn claim_key(submission: SubmissionId, kind: &str) -> Vec<u8> {
    let mut k = submission.to_key().to_vec();
    k.extend_from_slice(kind.as_bytes());
    k
}

impl Claim<'_> {
    /// Whether an email whose entry is `head` (none: never attempted since claims exist)
    /// may be taken. An email without an entry was attempted by an older release at most,
    /// and nothing of that release can be in flight now.
    fn allows(&self, kind: &str, head: Option<Head>) -> bool {
        let Some(head) = head else {
            return true;
        };
        if head.in_flight {
            return false;
        }
        match self {
            Claim::First => false,
            Claim::Owner(seen) => seen
                .iter()
                .find(|(k, _)| k == kind)
                .is_none_or(|(_, id)| *id == head.latest),
            Claim::Job { job, .. } => job.after == Some(head.latest),
        }
    }
}

/// Reads one entry inside a transaction.
fn head_in(
    claims: &TransactionalTree,
    key: &[u8],
) -> std::result::Result<Option<Head>, ConflictableTransactionError<StoreError>> {
    Ok(claims.get(key)?.as_deref().and_then(Head::decode))
}

impl Store {
    /// Takes the emails of a round before anything is sent, in one transaction: for each
    /// email that `claim` allows, its records are written (`pending` for an attempt about to
    /// go to Mailtrap, final for one skipped or not rendered) with its email as rendered
    /// (`deliveryid_body`), and the email is marked in flight while one is pending; the
    /// retry queue loses the job or the jobs `claim` says; the submission's state is settled
    /// over all of it ([`super::settle`]: an email in flight is `pending`). Flushed (for a
    /// visitor's post, the same flush makes the submission durable). Returns the kinds
    /// taken; an email another round holds, or that was sent since its claimant looked, is
    /// left out.
    pub async fn claim_round(
        &self,
        submission: SubmissionId,
        claim: Claim<'_>,
        records: &[(Delivery, EmailBody)],
    ) -> Result<BTreeSet<String>> {
        let kinds: BTreeSet<&str> = records.iter().map(|(d, _)| d.kind.as_str()).collect();
        // Queued retries the owner's resend replaces, looked up first: sled's transactions
        // cannot scan. A job queued after this look-up carries the attempt it follows, which
        // the resend replaces, so the runner drops it (`Claim::Job`).
        let replaced: Vec<Vec<u8>> = match claim {
            Claim::Owner(_) => self
                .queued_retries(submission)?
                .into_iter()
                .filter(|(_, job)| kinds.contains(job.kind.as_str()))
                .map(|(due, job)| retries::retry_key(due, &job))
                .collect(),
            _ => Vec::new(),
        };
        let before = self.settling(submission)?;
        let (taken, settled) = (
            &self.claims,
            &self.retries,
            &self.deliveries,
            &self.submissionid_deliveryid,
            &self.deliveryid_body,
            &self.submissions,
            &self.bounced_deliveryid,
        )
            .transaction(
                |(claims, queue, deliveries, index, bodies, subs, bounced)| {
                    let mut taken = BTreeSet::new();
                    let mut settling = before.clone();
                    if let Claim::Job { due, job } = claim {
                        if queue.remove(retries::retry_key(due, job))?.is_none() {
                            // cancelled by a resend that took its place: nothing changed
                            return Ok((taken, None));
                        }
                        settling = settling.without_retry(&job.kind);
                    }
                    for kind in &kinds {
                        let key = claim_key(submission, kind);
                        if !claim.allows(kind, head_in(claims, &key)?) {
                            continue;
                        }
                        let mut head = Head {
                            latest: DeliveryId(0),
                            in_flight: false,
                        };
                        for (d, body) in records.iter().filter(|(d, _)| d.kind == *kind) {
                            let d = Delivery {
                                submission_id: submission,
                                ..d.clone()
                            };
                            deliveries.insert(&d.id.to_key(), codec::encode(&d))?;
                            if !body.is_empty() {
                                bodies.insert(&d.id.to_key(), codec::encode(body))?;
                            }
                            index.insert(&keys::delivery_key(submission, d.id), &[])?;
                            head.latest = head.latest.max(d.id);
                            head.in_flight |= d.in_flight();
                            settling = settling.with_attempts([d.id]);
                        }
                        claims.insert(key, &head.encode())?;
                        taken.insert(kind.to_string());
                    }
                    if matches!(claim, Claim::Owner(_)) {
                        for key in &replaced {
                            let job = match queue.get(key)? {
                                Some(raw) => {
                                    codec::decode::<RetryJob>("retries", &raw).map_err(abort)?
                                }
                                None => continue,
                            };
                            if taken.contains(&job.kind) {
                                queue.remove(key.as_slice())?;
                                settling = settling.without_retry(&job.kind);
                            }
                        }
                    }
                    settling.settle(subs, deliveries, bounced)?;
                    Ok::<_, ConflictableTransactionError<StoreError>>((taken, Some(settling)))
                },
            )?;
        if let Some(settling) = &settled {
            self.settle_again_if_raced(settling)?;
        }
        self.flusher.flush(&self.db).await?;
        Ok(taken)
    }

    /// The `claims` part of recording an attempt's outcome: the email's latest attempt is
    /// now `d`, no longer in flight, unless a later attempt already holds the entry. (An
    /// outcome is never in flight, whatever its status says.)
    pub(super) fn release_in(
        claims: &TransactionalTree,
        submission: SubmissionId,
        d: &Delivery,
    ) -> std::result::Result<(), ConflictableTransactionError<StoreError>> {
        let key = claim_key(submission, &d.kind);
        match head_in(claims, &key)? {
            Some(head) if head.latest > d.id => {}
            _ => {
                let head = Head {
                    latest: d.id,
                    in_flight: false,
                };
                claims.insert(key, &head.encode())?;
            }
        }
        Ok(())
    }

    /// Whether an attempt at this email is in flight (claimed, its outcome not recorded).
    pub fn in_flight(&self, submission: SubmissionId, kind: &str) -> Result<bool> {
        Ok(self
            .claims
            .get(claim_key(submission, kind))?
            .as_deref()
            .and_then(Head::decode)
            .is_some_and(|h| h.in_flight))
    }

    /// The start-up pass over attempts a previous run left in flight (it was killed while
    /// Mailtrap had the request): each becomes `unknown`, or `sent` if Mailtrap already
    /// reported its delivery, and is never resent automatically. Each submission concerned
    /// is settled in the transaction that marks its attempts ([`super::settle`]). Runs at
    /// open, before anything sends; returns how many attempts it settled.
    pub(super) fn settle_interrupted(&self) -> Result<usize> {
        let mut in_flight: BTreeMap<SubmissionId, Vec<(Vec<u8>, Head)>> = BTreeMap::new();
        for entry in self.claims.iter() {
            let (key, raw) = entry?;
            let Some(head) = Head::decode(&raw).filter(|h| h.in_flight) else {
                continue;
            };
            let Some(submission) = SubmissionId::from_key(&key) else {
                continue;
            };
            in_flight
                .entry(submission)
                .or_default()
                .push((key.to_vec(), head));
        }
        let mut settled = 0;
        for (submission, heads) in in_flight {
            let settling = self.settling(submission)?;
            settled += (
                &self.claims,
                &self.deliveries,
                &self.submissions,
                &self.bounced_deliveryid,
            )
                .transaction(|(claims, deliveries, subs, bounced)| {
                    let mut settled = 0;
                    for (key, head) in &heads {
                        if let Some(raw) = deliveries.get(head.latest.to_key())? {
                            let mut d: Delivery =
                                codec::decode("deliveries", &raw).map_err(abort)?;
                            if d.in_flight() {
                                d.interrupted();
                                deliveries.insert(&head.latest.to_key(), codec::encode(&d))?;
                                settled += 1;
                            }
                        }
                        let head = Head {
                            in_flight: false,
                            ..*head
                        };
                        claims.insert(key.as_slice(), &head.encode())?;
                    }
                    settling.settle(subs, deliveries, bounced)?;
                    Ok::<_, ConflictableTransactionError<StoreError>>(settled)
                })?;
        }
        if settled > 0 {
            self.db.flush()?;
            tracing::warn!(
                attempts = settled,
                "emails that were with Mailtrap when the server stopped are marked unknown: \
                 they may have arrived and are not resent automatically"
            );
        }
        Ok(settled)
    }

    /// Stored submissions whose emails were never attempted: neither spam nor held for
    /// review nor a test, with no attempt in their log and no send queued (the server stopped
    /// between storing one and claiming its emails). Their state is what an empty log says
    /// (`skipped`; `pending` in records of older releases). Nothing of theirs reached
    /// Mailtrap.
    pub fn unattempted_submissions(&self) -> Result<Vec<Submission>> {
        let words = [DeliveryState::Skipped, DeliveryState::Pending]
            .map(|state| format!("\"email_status\":\"{state}\""));
        let finders = words
            .iter()
            .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
            .collect::<Vec<_>>();
        let queued: BTreeSet<SubmissionId> = self
            .retries_queued()?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut out = Vec::new();
        for entry in self.submissions.iter() {
            let (key, raw) = entry?;
            if finders.iter().all(|f| f.find(&raw).is_none())
                || self
                    .submissionid_deliveryid
                    .scan_prefix(&key)
                    .next()
                    .is_some()
            {
                continue;
            }
            let s: Submission = codec::decode("submissions", &raw)?;
            let unsent = matches!(
                s.email_status,
                DeliveryState::Skipped | DeliveryState::Pending
            );
            if unsent && !s.spam && s.review.is_none() && !s.test && !queued.contains(&s.id) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Queues the first attempt of these emails of a submission that was never attempted,
    /// due at `due_micros` (start-up, before serving; flushed), and settles the submission
    /// in the same transaction. The runner takes each job only while the email has no
    /// attempt ([`Claim::Job`] with no `after`).
    pub fn queue_first_attempts(
        &self,
        submission: SubmissionId,
        kinds: &[String],
        due_micros: u64,
    ) -> Result<()> {
        let jobs: Vec<RetryJob> = kinds
            .iter()
            .map(|kind| RetryJob {
                submission_id: submission,
                kind: kind.clone(),
                attempt: 1,
                after: None,
            })
            .collect();
        let mut settling = self.settling(submission)?;
        for job in &jobs {
            settling = settling.with_retry(&job.kind);
        }
        (
            &self.retries,
            &self.submissions,
            &self.deliveries,
            &self.bounced_deliveryid,
        )
            .transaction(|(queue, subs, deliveries, bounced)| {
                for job in &jobs {
                    queue.insert(retries::retry_key(due_micros, job), codec::encode(job))?;
                }
                settling.settle(subs, deliveries, bounced)?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })?;
        self.settle_again_if_raced(&settling)?;
        self.db.flush()?;
        Ok(())
    }

    /// After a restore: a backup walks its trees one after the other while rounds go on, so
    /// its `claims` (read first) may lag its delivery log. An entry behind the latest
    /// attempt the log holds for its email is brought up to it, in flight if that attempt is
    /// (`pending`: [`Store::settle_interrupted`] makes it `unknown`), and an attempt in
    /// flight whose email has no entry gets one. An entry that names the latest attempt
    /// stands (its record was released or is still in flight as it says), and an email
    /// without an entry and nothing in flight keeps none (it was attempted by a release
    /// before claims at most). Returns how many entries changed.
    pub(super) fn repair_claims(&self) -> Result<usize> {
        let mut latest: BTreeMap<Vec<u8>, Head> = BTreeMap::new();
        for entry in self.deliveries.iter() {
            let (_, raw) = entry?;
            let d: Delivery = codec::decode("deliveries", &raw)?;
            let head = Head {
                latest: d.id,
                in_flight: d.in_flight(),
            };
            let seen = latest
                .entry(claim_key(d.submission_id, &d.kind))
                .or_insert(head);
            if seen.latest < d.id {
                *seen = head;
            }
        }
        let mut changed = 0;
        for (key, logged) in latest {
            let repaired = match self.claims.get(&key)?.as_deref().and_then(Head::decode) {
                None if logged.in_flight => logged,
                Some(head) if head.latest < logged.latest => logged,
                _ => continue,
            };
            self.claims.insert(key, &repaired.encode())?;
            changed += 1;
        }
        Ok(changed)
    }

    /// Whether a backup's `claims` entry is one: a submission id and a kind for its key, a
    /// delivery id and an in-flight flag (0 or 1) for its value.
    pub(super) fn is_claim_entry(key: &[u8], value: &[u8]) -> bool {
        key.len() > 8 && value.len() == 9 && value[8] <= 1
    }

    /// Drops the `claims` entries of a deleted submission that are not in flight.
    pub(super) fn forget_claims(&self, submission: SubmissionId) -> Result<()> {
        for entry in self.claims.scan_prefix(submission.to_key()) {
            let (key, raw) = entry?;
            if Head::decode(&raw).is_some_and(|h| !h.in_flight) {
                self.claims.remove(key)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
