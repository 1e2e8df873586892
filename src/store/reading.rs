//! Reading the inbox: which submissions the owner has not opened yet, and where a page of a
//! newest-first list sits in the whole list ("26–50 of 133", a newer page to go back to).
//!
//! Read state is an index tree, `unread_formslug_submissionid` (`slug 0x00 id` → ()): a
//! submission is entered when it is stored (tests and spam are not) and removed when the owner
//! opens its page or deletes it. Backups carry the tree like any other; a store or a backup
//! from before the tree existed simply has nothing unread.

use super::queries::{DeliveryFilter, Page, SubmissionFilter};
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

    /// The page of [`Store::list_submissions`] after `before` and where it sits, in one walk
    /// of the list, newest first (the form's index with a form filter): the items newer than
    /// the page are counted whole, the page is taken, then the older items are counted up to
    /// [`COUNT_CAP`]. A record is decoded only when its raw bytes cannot settle the filter.
    pub fn submissions_page(
        &self,
        filter: &SubmissionFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Page<Submission>, Position)> {
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
        let mut walk = Walk::new(limit);
        for record in records {
            let Some((id, raw)) = record? else {
                continue;
            };
            if !judge.matches(&raw)? {
                continue;
            }
            if id >= cursor {
                walk.newer(Some(id));
                continue;
            }
            match walk.older() {
                Take::Done => break,
                Take::Item => walk.items.push(codec::decode("submissions", &raw)?),
                Take::Count => {}
            }
        }
        Ok(walk.finish(|s: &Submission| s.id.0))
    }

    /// The page of [`Store::list_deliveries`] after `before` and where it sits, in one walk:
    /// the deliveries newer than the cursor (when there is one) are counted, then those
    /// older are walked newest first for the page and counted up to [`COUNT_CAP`]. Without a
    /// filter only the page's records are decoded.
    pub fn deliveries_page(
        &self,
        filter: &DeliveryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Page<Delivery>, Position)> {
        let cursor = DeliveryId(before.unwrap_or(u64::MAX)).to_key();
        let everything = filter.status.is_none() && filter.inbox.is_none();
        let matching = |v: &sled::IVec| -> Result<Option<Delivery>> {
            let d: Delivery = codec::decode("deliveries", v)?;
            Ok(filter.matches(&d).then_some(d))
        };
        let mut walk = Walk::new(limit);
        if before.is_some() {
            for entry in self.deliveries.range(cursor..).rev() {
                let (k, v) = entry?;
                if everything || matching(&v)?.is_some() {
                    walk.newer(keys::trailing_id(&k));
                }
            }
        }
        for entry in self.deliveries.range(..cursor).rev() {
            let (_, v) = entry?;
            let item = if everything && !walk.wants_items() {
                None
            } else {
                match matching(&v)? {
                    Some(d) => Some(d),
                    None => continue,
                }
            };
            match walk.older() {
                Take::Done => break,
                Take::Item => walk.items.extend(item),
                Take::Count => {}
            }
        }
        Ok(walk.finish(|d: &Delivery| d.id.0))
    }
}

/// What a walk does with the next matching item older than the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Past the page: counted only.
    Count,
    /// On the page.
    Item,
    /// Past the cap: the walk stops.
    Done,
}

/// One newest-first walk of a list: the items newer than the cursor (counted whole, their
/// ids kept for the link back), the page's `limit` items, whether one more follows (the
/// older page's cursor), and the older items counted up to [`COUNT_CAP`].
struct Walk<T> {
    limit: usize,
    /// Ids of the newer items, newest first.
    newer_ids: Vec<u64>,
    items: Vec<T>,
    /// Matching items older than the cursor, the page's included.
    older: usize,
    /// An item older than the page exists.
    next: bool,
    /// More than [`COUNT_CAP`] items are older than the cursor.
    more: bool,
}

impl<T> Walk<T> {
    fn new(limit: usize) -> Walk<T> {
        Walk {
            limit,
            newer_ids: Vec::new(),
            items: Vec::with_capacity(limit),
            older: 0,
            next: false,
            more: false,
        }
    }

    /// Counts an item newer than the cursor (`id` if its key had one).
    fn newer(&mut self, id: Option<u64>) {
        self.newer_ids.extend(id);
    }

    /// Whether the page still takes items.
    fn wants_items(&self) -> bool {
        self.items.len() < self.limit
    }

    /// Counts the next matching item older than the cursor and says what to do with it.
    fn older(&mut self) -> Take {
        if self.older >= self.limit && self.older >= COUNT_CAP {
            self.next = true;
            self.more = true;
            return Take::Done;
        }
        let on_page = self.older < self.limit;
        self.next |= !on_page;
        self.older += 1;
        if on_page {
            Take::Item
        } else {
            Take::Count
        }
    }

    fn finish(self, id_of: impl Fn(&T) -> u64) -> (Page<T>, Position) {
        let next = self.next.then(|| self.items.last().map(&id_of)).flatten();
        let newer = self.newer_ids.len();
        let mut ascending = self.newer_ids;
        ascending.reverse();
        ascending.truncate(self.limit);
        let position = Position::from_counts(
            &ascending,
            newer,
            (
                self.older.min(COUNT_CAP),
                self.more || self.older > COUNT_CAP,
            ),
            self.limit,
        );
        (
            Page {
                items: self.items,
                next,
            },
            position,
        )
    }
}

#[cfg(test)]
mod tests;
