//! Submissions in and out: one sled transaction per submission (record, form index,
//! reference, idempotency key, review and unread markers), files moved in beside it, and the
//! delivery log each round appends to.

use rocket::tokio::task::spawn_blocking;
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;
use time::OffsetDateTime;

use super::{
    abort, codec, idem, keys, retries, Result, RetryJob, Store, StoreError, FIRST_REFERENCE,
};
use crate::model::{
    Delivery, DeliveryId, EmailBody, Ledger, NewSubmission, StoredFile, Submission, SubmissionId,
};

impl Store {
    pub(super) fn next_reference(&self, form: &str, prefix: &str) -> Result<String> {
        let n = self
            .meta
            .update_and_fetch(format!("seq/{form}"), |old| {
                let next = old
                    .and_then(|v| v.try_into().ok())
                    .map_or(FIRST_REFERENCE, |b| u64::from_be_bytes(b) + 1);
                Some(next.to_be_bytes().to_vec())
            })?
            .and_then(|v| Some(u64::from_be_bytes(v.as_ref().try_into().ok()?)))
            .unwrap_or(FIRST_REFERENCE);
        Ok(format!("{prefix}-{n}"))
    }

    /// Writes the submission, its index entries and its files in one transaction, then
    /// flushes to disk: when this returns, the submission survives `kill -9`.
    pub async fn insert_submission(&self, new: NewSubmission) -> Result<Submission> {
        let mut stored = self.insert_submissions(vec![new]).await?;
        Ok(stored.remove(0))
    }

    /// [`Store::insert_submission`] without the flush: durable with the caller's next one.
    /// A visitor's post is flushed with its emails' claim ([`Store::claim_round`]), one
    /// fsync for both before anything is sent; a post whose emails are not sent calls
    /// [`Store::flush`].
    pub async fn insert_submission_unflushed(&self, new: NewSubmission) -> Result<Submission> {
        let mut stored = self
            .insert_unflushed(vec![new], OffsetDateTime::now_utc())
            .await?;
        Ok(stored.remove(0))
    }

    /// Many submissions (an import, a benchmark's fixture) with one flush at the end.
    /// A post whose `_idem` already bound the same content fails with `Duplicate(first)`.
    pub async fn insert_submissions(&self, batch: Vec<NewSubmission>) -> Result<Vec<Submission>> {
        self.insert_submissions_at(batch, OffsetDateTime::now_utc())
            .await
    }

    /// `insert_submissions` with the clock passed in (idempotency keys expire by it).
    pub(crate) async fn insert_submissions_at(
        &self,
        batch: Vec<NewSubmission>,
        now: OffsetDateTime,
    ) -> Result<Vec<Submission>> {
        let stored = self.insert_unflushed(batch, now).await?;
        self.flusher.flush(&self.db).await?;
        Ok(stored)
    }

    async fn insert_unflushed(
        &self,
        batch: Vec<NewSubmission>,
        now: OffsetDateTime,
    ) -> Result<Vec<Submission>> {
        self.prune_idempotency_keys(now)?;
        let mut stored = Vec::with_capacity(batch.len());
        for new in batch {
            let idem = new
                .idempotency_key
                .as_ref()
                .map(|k| (idem::tree_key(&new.form, k), idem::content_hash(&new)));
            if let Some((key, hash)) = &idem {
                // Checked first so a replay does not use up a reference number.
                let record = idem::Record::live(self.formidem_record.get(key)?.as_deref(), now)
                    .map(|r| r.retain_stored(|id| self.submissions.contains_key(id.to_key())))
                    .transpose()?;
                if let Some(idem::Seen::Replay(first)) = record.map(|r| r.seen(hash)) {
                    return Err(StoreError::Duplicate(first));
                }
            }
            let id = SubmissionId(self.next_id());
            let reference = self.next_reference(&new.form, &new.reference_prefix)?;
            // No attempt yet: held with a spam signal, else what an empty log says.
            let held = new.spam || new.review.is_some();
            let state = Ledger::new(&[]).held(held).state();
            let (mut submission, uploads) = new.into_record(id, reference, state);
            let files = self.files.clone();
            submission.files = spawn_blocking(move || files.put(id, uploads))
                .await
                .map_err(std::io::Error::other)??;
            let edit_of = (
                &self.submissions,
                &self.formslug_submissionid,
                &self.reference_submissionid,
                &self.formidem_record,
                &self.review_submissionid,
                &self.unread_formslug_submissionid,
                &self.test_submissionid,
            )
                .transaction(
                    |(subs, by_form, by_ref, idem_tree, review, unread, tests)| {
                        let mut record = submission.clone();
                        if let Some((key, hash)) = &idem {
                            // Checked again inside the transaction: two racing posts, one winner.
                            let bound = idem::Record::live(idem_tree.get(key)?.as_deref(), now)
                                .unwrap_or_default()
                                .retain_stored(|id| subs.get(id.to_key()).map(|v| v.is_some()))?;
                            match bound.seen(hash) {
                                idem::Seen::Replay(first) => {
                                    return Err(abort(StoreError::Duplicate(first)))
                                }
                                idem::Seen::EditOf(first) => record.edit_of = Some(first),
                                idem::Seen::New => {}
                            }
                            let bound = bound.with(hash.clone(), id, now);
                            idem_tree.insert(key.as_slice(), codec::encode(&bound))?;
                        }
                        subs.insert(&id.to_key(), codec::encode(&record))?;
                        by_form.insert(keys::form_key(&record.form, id), &[])?;
                        by_ref.insert(record.reference.as_bytes(), &id.to_key())?;
                        if record.review.is_some() {
                            review.insert(&id.to_key(), &[])?;
                        }
                        if record.test {
                            tests.insert(&id.to_key(), &[])?;
                        }
                        if Store::unread_on_insert(&record) {
                            unread.insert(keys::form_key(&record.form, id), &[])?;
                        }
                        Ok::<_, ConflictableTransactionError<StoreError>>(record.edit_of)
                    },
                );
            let edit_of = match edit_of {
                Ok(edit_of) => edit_of,
                Err(e) => {
                    // Not stored (a racing duplicate, a sled error): its files go too.
                    self.files.remove(id)?;
                    return Err(e.into());
                }
            };
            submission.edit_of = edit_of;
            stored.push(submission);
        }
        Ok(stored)
    }

    pub fn submission(&self, id: SubmissionId) -> Result<Option<Submission>> {
        self.submissions
            .get(id.to_key())?
            .map(|v| codec::decode("submissions", &v))
            .transpose()
    }

    pub fn submission_by_reference(&self, reference: &str) -> Result<Option<Submission>> {
        match self.reference_submissionid.get(reference.as_bytes())? {
            Some(id) => match SubmissionId::from_key(&id) {
                Some(id) => self.submission(id),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// Newest first, at most `limit`, optionally of one form (through the per-form index).
    pub fn latest_submissions(&self, form: Option<&str>, limit: usize) -> Result<Vec<Submission>> {
        let ids: Box<dyn Iterator<Item = sled::Result<u64>>> = match form {
            Some(slug) => Box::new(
                self.formslug_submissionid
                    .scan_prefix(keys::form_prefix(slug))
                    .rev()
                    .map(|r| r.map(|(k, _)| keys::trailing_id(&k).unwrap_or(0))),
            ),
            None => Box::new(
                self.submissions
                    .iter()
                    .rev()
                    .map(|r| r.map(|(k, _)| keys::trailing_id(&k).unwrap_or(0))),
            ),
        };
        let mut out = Vec::new();
        for id in ids.take(limit) {
            if let Some(s) = self.submission(SubmissionId(id?))? {
                out.push(s);
            }
        }
        Ok(out)
    }

    pub fn count_submissions(&self) -> usize {
        self.submissions.len()
    }

    /// The file of `field` of submission `id`: what describes it and where it is on disk.
    /// `None` when the submission, the field's file or its content is missing.
    pub fn file_on_disk(
        &self,
        id: SubmissionId,
        field: &str,
    ) -> Result<Option<(StoredFile, std::path::PathBuf)>> {
        let Some(s) = self.submission(id)? else {
            return Ok(None);
        };
        let Some(meta) = s.files.into_iter().find(|f| f.field == field) else {
            return Ok(None);
        };
        Ok(self
            .files
            .locate(id, &meta)
            .filter(|p| p.is_file())
            .map(|p| (meta, p)))
    }

    /// The content of `field`'s file of submission `id`, read whole (tests, the CLI's
    /// checks; downloads and emails read it from [`Store::file_on_disk`] as they go).
    pub fn file(&self, id: SubmissionId, field: &str) -> Result<Option<Vec<u8>>> {
        match self.file_on_disk(id, field)? {
            Some((_, path)) => Ok(Some(std::fs::read(path)?)),
            None => Ok(None),
        }
    }

    /// Logs a round of delivery attempts made without a claim (keeping ids given by
    /// [`Store::new_delivery_id`]), each with its email as rendered (kept apart, in
    /// `deliveryid_body`), and settles the submission's state in the same transaction
    /// ([`super::settle`]); flushed. A delivery round claims its emails first
    /// ([`Store::claim_round`]) and records with [`Store::record_round`].
    pub async fn record_deliveries(
        &self,
        submission: SubmissionId,
        attempts: Vec<(Delivery, EmailBody)>,
    ) -> Result<Vec<Delivery>> {
        let (attempts, bodies): (Vec<Delivery>, Vec<EmailBody>) = attempts
            .into_iter()
            .map(|(d, body)| {
                let d = Delivery {
                    id: if d.id.0 == 0 {
                        DeliveryId(self.next_id())
                    } else {
                        d.id
                    },
                    ..d
                };
                (d, body)
            })
            .unzip();
        let bodies: Vec<(DeliveryId, EmailBody)> = attempts
            .iter()
            .map(|d| d.id)
            .zip(bodies)
            .filter(|(_, body)| !body.is_empty())
            .collect();
        self.record(submission, attempts, &bodies, &[]).await
    }

    /// Records the outcome of a claimed round in one transaction, flushed: each attempt
    /// replaces its in-flight record (keeping what Mailtrap's webhooks reported meanwhile;
    /// its email as rendered was written with the claim), its email is no longer in flight,
    /// the retries of its transient failures (`(due micros, job)`) are queued with it, so no
    /// crash can leave a failure recorded without its retry, and the submission's state is
    /// settled over all of it ([`super::settle`]).
    pub async fn record_round(
        &self,
        submission: SubmissionId,
        attempts: Vec<Delivery>,
        retries: &[(u64, RetryJob)],
    ) -> Result<Vec<Delivery>> {
        self.record(submission, attempts, &[], retries).await
    }

    /// [`Store::record_round`], writing `bodies` too.
    async fn record(
        &self,
        submission: SubmissionId,
        attempts: Vec<Delivery>,
        bodies: &[(DeliveryId, EmailBody)],
        retries: &[(u64, RetryJob)],
    ) -> Result<Vec<Delivery>> {
        let attempts: Vec<Delivery> = attempts
            .into_iter()
            .map(|d| Delivery {
                id: if d.id.0 == 0 {
                    DeliveryId(self.next_id())
                } else {
                    d.id
                },
                submission_id: submission,
                ..d
            })
            .collect();
        let mut settling = self
            .settling(submission)?
            .with_attempts(attempts.iter().map(|d| d.id));
        for (_, job) in retries {
            settling = settling.with_retry(&job.kind);
        }
        let recorded = (
            &self.submissions,
            &self.deliveries,
            &self.submissionid_deliveryid,
            &self.messageid_deliveryid,
            &self.deliveryid_body,
            &self.bounced_deliveryid,
            &self.claims,
            &self.retries,
        )
            .transaction(
                |(subs, deliveries, index, messages, stored_bodies, bounced, claims, queue)| {
                    let mut recorded = Vec::with_capacity(attempts.len());
                    for d in &attempts {
                        let mut d = d.clone();
                        if let Some(raw) = deliveries.get(d.id.to_key())? {
                            let before: Delivery =
                                codec::decode("deliveries", &raw).map_err(abort)?;
                            if let Some(event) = &before.inbox {
                                d.apply(event);
                            }
                        }
                        deliveries.insert(&d.id.to_key(), codec::encode(&d))?;
                        index.insert(&keys::delivery_key(submission, d.id), &[])?;
                        for m in &d.outcome.message_ids {
                            messages.insert(m.as_bytes(), &d.id.to_key())?;
                        }
                        Store::release_in(claims, submission, &d)?;
                        recorded.push(d);
                    }
                    for (id, body) in bodies {
                        stored_bodies.insert(&id.to_key(), codec::encode(body))?;
                    }
                    for (due, job) in retries {
                        queue.insert(retries::retry_key(*due, job), codec::encode(job))?;
                    }
                    settling.settle(subs, deliveries, bounced)?;
                    Ok::<_, ConflictableTransactionError<StoreError>>(recorded)
                },
            )?;
        self.settle_again_if_raced(&settling)?;
        self.flusher.flush(&self.db).await?;
        Ok(recorded)
    }

    /// The email attempt `id` sent (or would have sent), as rendered; `None` when nothing
    /// was rendered or its submission was deleted.
    pub fn body(&self, id: DeliveryId) -> Result<Option<EmailBody>> {
        self.deliveryid_body
            .get(id.to_key())?
            .map(|v| codec::decode("deliveryid_body", &v))
            .transpose()
    }

    /// Every attempt for one submission, oldest first.
    pub fn deliveries_of(&self, submission: SubmissionId) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        for entry in self
            .submissionid_deliveryid
            .scan_prefix(submission.to_key())
        {
            let (k, _) = entry?;
            let Some(id) = keys::trailing_id(&k) else {
                continue;
            };
            if let Some(v) = self.deliveries.get(DeliveryId(id).to_key())? {
                out.push(codec::decode("deliveries", &v)?);
            }
        }
        Ok(out)
    }

    /// Fills `test_submissionid` once for a store written before it existed (a one-time
    /// scan at open; the `tests_indexed` meta key says it was done).
    pub(super) fn index_tests(&self) -> Result<()> {
        if self.meta_u64("tests_indexed")?.is_some() {
            return Ok(());
        }
        let flag = memchr::memmem::Finder::new(b"\"test\":true");
        for entry in self.submissions.iter() {
            let (k, raw) = entry?;
            if flag.find(&raw).is_some() && codec::decode::<Submission>("submissions", &raw)?.test {
                self.test_submissionid.insert(k, &[])?;
            }
        }
        self.set_meta_u64("tests_indexed", 1)
    }

    /// Submissions oldest first: all of them, or one form's through its index.
    pub fn submissions_oldest_first<'a>(
        &'a self,
        form: Option<&str>,
    ) -> Box<dyn Iterator<Item = Result<Submission, StoreError>> + 'a> {
        match form {
            None => Box::new(self.submissions.iter().map(|entry| {
                let (_, raw) = entry?;
                codec::decode("submissions", &raw)
            })),
            Some(slug) => Box::new(
                self.formslug_submissionid
                    .scan_prefix(keys::form_prefix(slug))
                    .filter_map(|entry| {
                        let id = match entry {
                            Ok((k, _)) => SubmissionId(keys::trailing_id(&k)?),
                            Err(e) => return Some(Err(e.into())),
                        };
                        self.submission(id).transpose()
                    }),
            ),
        }
    }
}
