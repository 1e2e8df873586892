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

/// Where the page that starts after the cursor `before` sits in its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Items of the whole list (every page) under the filter.
    pub total: usize,
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
    /// their count, and the count of those older.
    fn from_counts(newer_ids: &[u64], newer: usize, older: usize, limit: usize) -> Position {
        let newer_page = match newer_ids.get(limit.saturating_sub(1)) {
            _ if newer == 0 => NewerPage::None,
            Some(&last) if newer > limit => NewerPage::Before(last.saturating_add(1)),
            _ => NewerPage::First,
        };
        Position {
            total: newer + older,
            newer,
            newer_page,
        }
    }
}

impl Store {
    /// Whether the owner has not opened `s` yet.
    pub fn is_unread(&self, s: &Submission) -> Result<bool> {
        Ok(self
            .unread_formslug_submissionid
            .contains_key(keys::form_key(&s.form, s.id))?)
    }

    /// Unread submissions of one form (tests and spam are never unread).
    pub fn unread_count(&self, slug: &str) -> usize {
        self.unread_formslug_submissionid
            .scan_prefix(keys::form_prefix(slug))
            .count()
    }

    /// Unread submissions of every form.
    pub fn unread_total(&self) -> usize {
        self.unread_formslug_submissionid.len()
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
                        .map(|key| {
                            let Some(id) = keys::trailing_id(&key?) else {
                                return Ok(None);
                            };
                            let raw = self.submissions.get(SubmissionId(id).to_key())?;
                            Ok(raw.map(|raw| (id, raw)))
                        }),
                ),
                None => Box::new(self.submissions.iter().map(|entry| {
                    let (k, raw) = entry?;
                    Ok(keys::trailing_id(&k).map(|id| (id, raw)))
                })),
            };
        let judge = super::queries::RawJudge::new(filter);
        let (mut newer_ids, mut newer, mut older) = (Vec::new(), 0, 0);
        for record in records {
            let Some((id, raw)) = record? else {
                continue;
            };
            if !judge.matches(&raw)? {
                continue;
            }
            if id < cursor {
                older += 1;
            } else {
                newer += 1;
                if newer_ids.len() < limit {
                    newer_ids.push(id);
                }
            }
        }
        Ok(Position::from_counts(&newer_ids, newer, older, limit))
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
            self.deliveries.range(..cursor).count()
        } else {
            count(self.deliveries.range(..cursor))?.1
        };
        Ok(Position::from_counts(&newer_ids, newer, older, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewSubmission;

    #[test]
    fn the_newer_page_is_the_first_or_a_cursor_past_the_limit() {
        assert_eq!(
            Position::from_counts(&[], 0, 33, 25).newer_page,
            NewerPage::None
        );
        assert_eq!(
            Position::from_counts(&[5, 6], 2, 3, 25).newer_page,
            NewerPage::First
        );
        let p = Position::from_counts(&[5, 6, 9], 4, 1, 3);
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
}
