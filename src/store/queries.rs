//! What the admin panel reads and changes: filtered pages walked newest first through the
//! indexes with a cursor (never an offset), counts from index keys alone, edits and deletion.

use sled::transaction::ConflictableTransactionError;
use sled::Transactional;
use time::OffsetDateTime;

use super::{abort, codec, keys, Result, Store, StoreError};
use crate::model::{Delivery, DeliveryId, DeliveryState, InboxState, Submission, SubmissionId};
use crate::zone::DayStarts;

/// Which submissions a list shows. Spam and test rows only when asked for.
#[derive(Debug, Clone, Default)]
pub struct SubmissionFilter {
    pub form: Option<String>,
    /// Only submissions in this delivery state, as stored ([`Submission::email_status`]).
    pub email_status: Option<DeliveryState>,
    /// The owner's pipeline status (`new`, `won`, …).
    pub status: Option<String>,
    /// Case-insensitive text searched in every field, the reference and the address.
    pub query: Option<String>,
    pub spam: bool,
    pub test: bool,
    /// Only submissions awaiting review (they are listed among the others by default).
    pub review: bool,
}

/// A cheap look at a stored record's JSON before decoding it: a record whose bytes cannot
/// contain the search text or the email status is skipped undecoded. JSON keeps text verbatim
/// except quotes, backslashes and control characters, which turn the text part of the look
/// off; the one miss left is a non-ASCII letter whose lowercase is ASCII (the Kelvin sign).
struct Prefilter {
    status: Option<memchr::memmem::Finder<'static>>,
    /// The query lowercased; ASCII queries are searched in the ASCII-lowercased bytes.
    query: Option<String>,
}

impl Prefilter {
    fn new(filter: &SubmissionFilter) -> Prefilter {
        let status = filter.email_status.map(|status| {
            let needle = format!("\"email_status\":\"{status}\"");
            memchr::memmem::Finder::new(needle.as_bytes()).into_owned()
        });
        let query = filter
            .query
            .as_ref()
            .filter(|q| !q.contains(['"', '\\']) && !q.chars().any(char::is_control))
            .map(|q| q.to_lowercase());
        Prefilter { status, query }
    }

    fn may_match(&self, raw: &[u8]) -> bool {
        if self.status.as_ref().is_some_and(|f| f.find(raw).is_none()) {
            return false;
        }
        match &self.query {
            Some(q) if q.is_ascii() => {
                memchr::memmem::find(&raw.to_ascii_lowercase(), q.as_bytes()).is_some()
            }
            Some(q) => String::from_utf8_lossy(raw)
                .to_lowercase()
                .contains(q.as_str()),
            None => true,
        }
    }
}

/// Whether a stored submission's raw bytes are listed under a filter, decoding the record
/// only when the bytes cannot tell: with no criterion but the default hiding of spam and
/// tests, a record without `"spam":true` and `"test":true` (keys JSON writes only for the
/// flags; a field's text has its quotes escaped) is listed as it is.
pub(super) struct RawJudge<'f> {
    filter: &'f SubmissionFilter,
    prefilter: Prefilter,
    plain: bool,
    flags: [memchr::memmem::Finder<'static>; 2],
}

impl<'f> RawJudge<'f> {
    pub(super) fn new(filter: &'f SubmissionFilter) -> RawJudge<'f> {
        RawJudge {
            filter,
            prefilter: Prefilter::new(filter),
            plain: filter.email_status.is_none()
                && filter.status.is_none()
                && filter.query.is_none()
                && !filter.review
                && !filter.spam,
            flags: [
                memchr::memmem::Finder::new(b"\"spam\":true"),
                memchr::memmem::Finder::new(b"\"test\":true"),
            ],
        }
    }

    pub(super) fn matches(&self, raw: &[u8]) -> Result<bool> {
        if !self.prefilter.may_match(raw) {
            return Ok(false);
        }
        if self.plain && self.flags.iter().all(|f| f.find(raw).is_none()) {
            return Ok(true);
        }
        let s: Submission = codec::decode("submissions", raw)?;
        Ok(self.filter.matches(&s))
    }
}

impl SubmissionFilter {
    /// Whether `s` is listed under this filter (spam only with `spam`, tests only with `test`).
    pub fn matches(&self, s: &Submission) -> bool {
        if s.spam != self.spam || (s.test && !self.test) || (self.review && s.review.is_none()) {
            return false;
        }
        if self.email_status.is_some_and(|e| e != s.email_status) {
            return false;
        }
        if self.status.as_deref().is_some_and(|st| st != s.status) {
            return false;
        }
        match &self.query {
            None => true,
            Some(q) => {
                let q = q.to_lowercase();
                s.reference.to_lowercase().contains(&q)
                    || s.fields.values().any(|v| v.to_lowercase().contains(&q))
                    || s.notes.iter().any(|n| n.text.to_lowercase().contains(&q))
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only attempts in this state on their own ([`Delivery::state`]).
    pub status: Option<DeliveryState>,
    /// Only deliveries whose latest webhook event left them in this state.
    pub inbox: Option<InboxState>,
}

impl DeliveryFilter {
    /// Whether `d` is listed under this filter.
    pub fn matches(&self, d: &Delivery) -> bool {
        self.status.is_none_or(|s| s == d.state())
            && self
                .inbox
                .is_none_or(|i| d.inbox.as_ref().map(|e| e.state) == Some(i))
    }
}

/// One page of a newest-first list; `next` is the cursor of the following page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FormCounts {
    pub today: usize,
    pub week: usize,
    pub total: usize,
}

fn micros(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(0)
}

impl Store {
    /// Newest first, strictly older than `before`. With a form filter the per-form index is
    /// walked, so other forms' rows cost nothing.
    pub fn list_submissions(
        &self,
        filter: &SubmissionFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<Submission>> {
        let ids: Box<dyn Iterator<Item = sled::Result<sled::IVec>>> = match &filter.form {
            Some(slug) => {
                let start = keys::form_prefix(slug);
                let end = keys::form_key(slug, SubmissionId(before.unwrap_or(u64::MAX)));
                Box::new(
                    self.formslug_submissionid
                        .range(start..end)
                        .rev()
                        .map(|r| r.map(|(k, _)| k)),
                )
            }
            None => {
                let end = SubmissionId(before.unwrap_or(u64::MAX)).to_key();
                Box::new(
                    self.submissions
                        .range(..end)
                        .rev()
                        .map(|r| r.map(|(k, _)| k)),
                )
            }
        };
        let prefilter = Prefilter::new(filter);
        let mut items = Vec::with_capacity(limit);
        for key in ids {
            let Some(id) = keys::trailing_id(&key?) else {
                continue;
            };
            let Some(raw) = self.submissions.get(SubmissionId(id).to_key())? else {
                continue;
            };
            if !prefilter.may_match(&raw) {
                continue;
            }
            let s: Submission = codec::decode("submissions", &raw)?;
            if filter.matches(&s) {
                if items.len() == limit {
                    let next = items.last().map(|s: &Submission| s.id.0);
                    return Ok(Page { items, next });
                }
                items.push(s);
            }
        }
        Ok(Page { items, next: None })
    }

    /// Counts of a form's submissions, test submissions left out. The index keys carry the
    /// times (ids are timestamps); a record is decoded only when its bytes contain
    /// `"test":true`. "Today" and "this week" start at the owner's local midnights
    /// (`Zone::day_starts`).
    pub fn form_counts(&self, slug: &str, starts: DayStarts) -> Result<FormCounts> {
        let (today, week) = (micros(starts.today), micros(starts.week));
        let mut counts = FormCounts::default();
        for entry in self
            .formslug_submissionid
            .scan_prefix(keys::form_prefix(slug))
            .keys()
        {
            let id = keys::trailing_id(&entry?).unwrap_or(0);
            if self
                .test_submissionid
                .contains_key(SubmissionId(id).to_key())?
            {
                continue;
            }
            counts.total += 1;
            counts.week += usize::from(id >= week);
            counts.today += usize::from(id >= today);
        }
        Ok(counts)
    }

    pub fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<Delivery>> {
        let end = DeliveryId(before.unwrap_or(u64::MAX)).to_key();
        let mut items = Vec::with_capacity(limit);
        for entry in self.deliveries.range(..end).rev() {
            let (_, v) = entry?;
            let d: Delivery = codec::decode("deliveries", &v)?;
            if !filter.matches(&d) {
                continue;
            }
            if items.len() == limit {
                let next = items.last().map(|d: &Delivery| d.id.0);
                return Ok(Page { items, next });
            }
            items.push(d);
        }
        Ok(Page { items, next: None })
    }

    /// Applies `change` to a stored submission and flushes; `None` if it does not exist.
    pub async fn update_submission(
        &self,
        id: SubmissionId,
        change: impl Fn(&mut Submission),
    ) -> Result<Option<Submission>> {
        let updated = self.submissions.transaction(|tree| {
            let Some(raw) = tree.get(id.to_key())? else {
                return Ok(None);
            };
            let mut s: Submission = codec::decode("submissions", &raw).map_err(abort)?;
            change(&mut s);
            tree.insert(&id.to_key(), codec::encode(&s))?;
            Ok::<_, ConflictableTransactionError<StoreError>>(Some(s))
        })?;
        self.flusher.flush(&self.db).await?;
        Ok(updated)
    }

    /// How many submissions wait for the owner's review (a soft spam signal held them).
    pub fn count_review(&self) -> usize {
        self.review_submissionid.len()
    }

    /// The owner's "Not spam": clears the review and spam flags and settles the state (no
    /// longer held) in one transaction, flushed. `None` when the submission is gone; the
    /// caller sends the emails that were held back.
    pub async fn approve_submission(&self, id: SubmissionId) -> Result<Option<Submission>> {
        let settling = self.settling(id)?;
        let approved = (
            &self.submissions,
            &self.review_submissionid,
            &self.deliveries,
            &self.bounced_deliveryid,
        )
            .transaction(|(subs, review, deliveries, bounced)| {
                let Some(raw) = subs.get(id.to_key())? else {
                    return Ok(None);
                };
                let mut s: Submission = codec::decode("submissions", &raw).map_err(abort)?;
                s.review = None;
                s.spam = false;
                subs.insert(&id.to_key(), codec::encode(&s))?;
                review.remove(&id.to_key())?;
                s.email_status = settling
                    .settle(subs, deliveries, bounced)?
                    .unwrap_or(s.email_status);
                Ok::<_, ConflictableTransactionError<StoreError>>(Some(s))
            })?;
        self.settle_again_if_raced(&settling)?;
        self.flusher.flush(&self.db).await?;
        Ok(approved)
    }

    /// Removes the submission, its index entries and files, and scrubs the personal data
    /// (recipient, subject, the email itself) from its delivery log entries, which stay as
    /// bare outcomes, out of the bounce index.
    pub async fn delete_submission(&self, id: SubmissionId) -> Result<bool> {
        let Some(s) = self.submission(id)? else {
            return Ok(false);
        };
        let delivery_keys: Vec<sled::IVec> = self
            .submissionid_deliveryid
            .scan_prefix(id.to_key())
            .keys()
            .collect::<sled::Result<_>>()?;
        (
            &self.submissions,
            &self.formslug_submissionid,
            &self.reference_submissionid,
            &self.deliveries,
            &self.deliveryid_body,
            &self.bounced_deliveryid,
        )
            .transaction(|(subs, by_form, by_ref, deliveries, bodies, bounced)| {
                subs.remove(&id.to_key())?;
                by_form.remove(keys::form_key(&s.form, id))?;
                by_ref.remove(s.reference.as_bytes())?;
                for k in &delivery_keys {
                    let Some(did) = keys::trailing_id(k) else {
                        continue;
                    };
                    let key = DeliveryId(did).to_key();
                    bodies.remove(&key)?;
                    bounced.remove(&key)?;
                    if let Some(raw) = deliveries.get(key)? {
                        let mut d: Delivery = codec::decode("deliveries", &raw).map_err(abort)?;
                        d.to = None;
                        d.subject = "(deleted)".into();
                        d.attachments.clear();
                        deliveries.insert(&key, codec::encode(&d))?;
                    }
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })?;
        self.review_submissionid.remove(id.to_key())?;
        self.test_submissionid.remove(id.to_key())?;
        self.forget_claims(id)?;
        self.forget_unread(&s)?;
        self.flusher.flush(&self.db).await?;
        // After the record: a crash in between leaves files without a record, which the
        // next start removes (`Store::remove_orphan_files`), never a record without files.
        self.files.remove(id)?;
        Ok(true)
    }

    pub fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>> {
        self.deliveries
            .get(id.to_key())?
            .map(|v| codec::decode("deliveries", &v))
            .transpose()
    }
}

#[cfg(test)]
mod tests;
