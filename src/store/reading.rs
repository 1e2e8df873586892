//! Reading the inbox: which submissions the owner has not opened yet, and where a page of a
//! newest-first list sits in the whole list ("26–50 of 133", a newer page to go back to).
//!
//! Read state is an index tree, `unread_formslug_submissionid` (`slug 0x00 id` → ()): a
//! submission is entered when it is stored (tests and spam are not) and removed when the owner
//! opens its page or deletes it. Backups carry the tree like any other; a store or a backup
//! from before the tree existed simply has nothing unread.

use super::queries::{DeliveryFilter, SubmissionFilter};
use super::{codec, keys, Result, Store};
use crate::model::{Delivery, DeliveryId, Submission, SubmissionId};

/// Counts of the panel (a list's total, unread submissions) stop here, and the panel says
/// "1000+": a count walks its list, and an owner with 100,000 submissions should not wait for
/// it on every page (`cargo bench --bench admin`).
pub const COUNT_CAP: usize = 1000;

/// Where the page that starts after the cursor `before` sits in its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Items of the whole list (every page) under the filter, counting at most
    /// [`COUNT_CAP`] items older than this page.
    pub total: usize,
    /// More items are older than those counted in `total`.
    pub more: bool,
    /// Items newer than this page: its first item is number `newer + 1`.
    pub newer: usize,
    /// How to reach the page before this one (towards the newest).
    pub newer_page: NewerPage,
}

/// The link back towards the newest items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewerPage {
    /// This is the first page.
    None,
    /// The first page (no cursor).
    First,
    /// The page of items strictly older than this cursor.
    Before(u64),
}

impl Position {
    /// From the matching ids newer than the cursor (ascending, at most `limit + 1` kept),
    /// their count, and the count of those older (at most [`COUNT_CAP`], `more` past it).
    fn from_counts(
        newer_ids: &[u64],
        newer: usize,
        (older, more): (usize, bool),
        limit: usize,
    ) -> Position {
        let newer_page = match newer_ids.get(limit.saturating_sub(1)) {
            _ if newer == 0 => NewerPage::None,
            Some(&last) if newer > limit => NewerPage::Before(last.saturating_add(1)),
            _ => NewerPage::First,
        };
        Position {
            total: newer + older,
            more,
            newer,
            newer_page,
        }
    }
}

/// How many deliveries of `newest_first` match `filter`, counting at most [`COUNT_CAP`] + 1.
fn older_matching(
    newest_first: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    filter: &DeliveryFilter,
) -> Result<usize> {
    let mut n = 0;
    for entry in newest_first {
        let (_, v) = entry?;
        let d: Delivery = codec::decode("deliveries", &v)?;
        if filter.matches(&d) {
            n += 1;
            if n > COUNT_CAP {
                break;
            }
        }
    }
    Ok(n)
}

impl Store {
    /// Whether the owner has not opened `s` yet.
    pub fn is_unread(&self, s: &Submission) -> Result<bool> {
        Ok(self
            .unread_formslug_submissionid
            .contains_key(keys::form_key(&s.form, s.id))?)
    }

    /// Unread submissions of one form (tests and spam are never unread).
    /// At most [`COUNT_CAP`].
    pub fn unread_count(&self, slug: &str) -> usize {
        self.unread_formslug_submissionid
            .scan_prefix(keys::form_prefix(slug))
            .take(COUNT_CAP)
            .count()
    }

    /// Unread submissions of every form, at most [`COUNT_CAP`] (sled's `len` walks the tree).
    pub fn unread_total(&self) -> usize {
        self.unread_formslug_submissionid
            .iter()
            .take(COUNT_CAP)
            .count()
    }

    /// The owner opened `s`: it is read from now on. Not flushed (sled writes it out within
    /// half a second); a crash just before that shows it unread again, nothing worse.
    pub fn mark_read(&self, s: &Submission) -> Result<bool> {
        Ok(self
            .unread_formslug_submissionid
            .remove(keys::form_key(&s.form, s.id))?
            .is_some())
    }

    /// Entered when a submission is stored (see the module doc).
    pub(super) fn unread_on_insert(record: &Submission) -> bool {
        !record.test && !record.spam
    }

    pub(super) fn forget_unread(&self, s: &Submission) -> Result<()> {
        self.unread_formslug_submissionid
            .remove(keys::form_key(&s.form, s.id))?;
        Ok(())
    }

    /// Where the page of [`Store::list_submissions`] after `before` sits. Walks the whole
    /// list (the form's index with a form filter); a record is decoded only when its raw
    /// bytes cannot settle the filter.
    pub fn submission_position(
        &self,
        filter: &SubmissionFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Position> {
        let cursor = before.unwrap_or(u64::MAX);
        let records: Box<dyn Iterator<Item = Result<Option<(u64, sled::IVec)>>>> =
            match &filter.form {
                Some(slug) => Box::new(
                    self.formslug_submissionid
                        .scan_prefix(keys::form_prefix(slug))
                        .keys()
                        .rev()
                        .map(|key| {
                            let Some(id) = keys::trailing_id(&key?) else {
                                return Ok(None);
                            };
                            let raw = self.submissions.get(SubmissionId(id).to_key())?;
                            Ok(raw.map(|raw| (id, raw)))
                        }),
                ),
                None => Box::new(self.submissions.iter().rev().map(|entry| {
                    let (k, raw) = entry?;
                    Ok(keys::trailing_id(&k).map(|id| (id, raw)))
                })),
            };
        let judge = super::queries::RawJudge::new(filter);
        // Newest first: the pages before this one are counted whole, the older ones up to
        // the cap.
        let (mut newer_ids, mut older, mut more) = (Vec::new(), 0, false);
        for record in records {
            let Some((id, raw)) = record? else {
                continue;
            };
            if !judge.matches(&raw)? {
                continue;
            }
            if id >= cursor {
                newer_ids.push(id);
            } else if older == COUNT_CAP {
                more = true;
                break;
            } else {
                older += 1;
            }
        }
        let newer = newer_ids.len();
        newer_ids.reverse();
        newer_ids.truncate(limit);
        Ok(Position::from_counts(
            &newer_ids,
            newer,
            (older, more),
            limit,
        ))
    }

    /// Where the page of [`Store::list_deliveries`] after `before` sits.
    pub fn delivery_position(
        &self,
        filter: &DeliveryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Position> {
        let cursor = DeliveryId(before.unwrap_or(u64::MAX)).to_key();
        let everything = filter.status.is_none() && filter.inbox.is_none();
        let count = |range: sled::Iter| -> Result<(Vec<u64>, usize)> {
            let (mut ids, mut n) = (Vec::new(), 0);
            for entry in range {
                let (k, v) = entry?;
                if !everything {
                    let d: Delivery = codec::decode("deliveries", &v)?;
                    if !filter.matches(&d) {
                        continue;
                    }
                }
                n += 1;
                if ids.len() < limit {
                    ids.extend(keys::trailing_id(&k));
                }
            }
            Ok((ids, n))
        };
        let (newer_ids, newer) = if before.is_some() {
            count(self.deliveries.range(cursor..))?
        } else {
            (Vec::new(), 0)
        };
        let older = if everything {
            self.deliveries
                .range(..cursor)
                .rev()
                .take(COUNT_CAP + 1)
                .count()
        } else {
            older_matching(self.deliveries.range(..cursor).rev(), filter)?
        };
        let capped = (older.min(COUNT_CAP), older > COUNT_CAP);
        Ok(Position::from_counts(&newer_ids, newer, capped, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewSubmission;

    #[test]
    fn the_newer_page_is_the_first_or_a_cursor_past_the_limit() {
        assert_eq!(
            Position::from_counts(&[], 0, (33, false), 25).newer_page,
            NewerPage::None
        );
        assert_eq!(
            Position::from_counts(&[5, 6], 2, (3, false), 25).newer_page,
            NewerPage::First
        );
        let p = Position::from_counts(&[5, 6, 9], 4, (1, false), 3);
        assert_eq!((p.total, p.newer), (5, 4));
        assert_eq!(p.newer_page, NewerPage::Before(10));
    }

    #[rocket::async_test]
    async fn tests_and_spam_are_never_unread_and_opening_reads() {
        let store = Store::temporary().unwrap();
        let real = NewSubmission::for_test("quote", "Q", &[("message", "tents")]);
        let mut test = NewSubmission::for_test("quote", "Q", &[("message", "try")]);
        test.test = true;
        let mut spam = NewSubmission::for_test("quote", "Q", &[("message", "buy")]);
        spam.spam = true;
        let other = NewSubmission::for_test("contact", "C", &[("message", "hi")]);
        let stored = store
            .insert_submissions(vec![real, test, spam, other])
            .await
            .unwrap();
        assert_eq!(store.unread_count("quote"), 1);
        assert_eq!(store.unread_count("contact"), 1);
        assert_eq!(store.unread_total(), 2);
        assert!(store.is_unread(&stored[0]).unwrap());
        assert!(!store.is_unread(&stored[1]).unwrap());
        assert!(store.mark_read(&stored[0]).unwrap());
        assert!(!store.mark_read(&stored[0]).unwrap(), "read once");
        assert_eq!(store.unread_count("quote"), 0);
        assert!(store.delete_submission(stored[3].id).await.unwrap());
        assert_eq!(
            store.unread_total(),
            0,
            "a deleted submission is not unread"
        );
    }

    #[rocket::async_test]
    async fn counts_stop_at_the_cap_and_say_so() {
        let store = Store::temporary().unwrap();
        let batch = (0..COUNT_CAP + 30)
            .map(|_| NewSubmission::for_test("quote", "Q", &[("message", "tents")]))
            .collect();
        let stored = store.insert_submissions(batch).await.unwrap();
        assert_eq!(store.unread_total(), COUNT_CAP);
        assert_eq!(store.unread_count("quote"), COUNT_CAP);
        let filter = SubmissionFilter::default();
        let first = store.submission_position(&filter, None, 25).unwrap();
        assert_eq!((first.total, first.more), (COUNT_CAP, true));
        // Deep in the list the pages before are counted whole: 41 newer, 989 older.
        let cursor = stored[COUNT_CAP + 30 - 41].id.0;
        let deep = store
            .submission_position(&filter, Some(cursor), 25)
            .unwrap();
        assert_eq!(deep.newer, 41);
        assert_eq!((deep.total, deep.more), (41 + COUNT_CAP - 11, false));
        let one_form = SubmissionFilter {
            form: Some("quote".into()),
            ..SubmissionFilter::default()
        };
        let by_form = store.submission_position(&one_form, None, 25).unwrap();
        assert_eq!((by_form.total, by_form.more), (COUNT_CAP, true));
    }
}
