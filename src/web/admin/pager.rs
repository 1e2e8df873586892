//! "26–50 of 133" under a newest-first list, with links to the newer and older pages.

use serde::Serialize;

use crate::store::{NewerPage, Position};

/// What a list template shows below its rows; `None` links are left out.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(super) struct Pager {
    /// Number of the page's first item, from 1 (0 when the list is empty).
    pub first: usize,
    /// Number of its last item.
    pub last: usize,
    pub total: usize,
    /// More items than `total` (the count stopped at the store's `COUNT_CAP`).
    pub more: bool,
    pub newer: Option<String>,
    pub older: Option<String>,
}

impl Pager {
    /// `path` is the list's address and `query` its filter as pairs (without the cursor);
    /// `shown` rows are on this page, `older_cursor` is the store's `next`.
    pub fn new(
        path: &str,
        query: &[(&str, String)],
        shown: usize,
        position: Position,
        older_cursor: Option<u64>,
    ) -> Pager {
        let link = |before: Option<u64>| {
            let cursor = before.map(|b| ("before", b.to_string()));
            let pairs: Vec<_> = cursor.into_iter().chain(query.iter().cloned()).collect();
            match query_string(&pairs) {
                q if q.is_empty() => path.to_string(),
                q => format!("{path}?{q}"),
            }
        };
        let newer = match position.newer_page {
            NewerPage::None => None,
            NewerPage::First => Some(link(None)),
            NewerPage::Before(b) => Some(link(Some(b))),
        };
        Pager {
            first: if shown == 0 { 0 } else { position.newer + 1 },
            last: position.newer + shown,
            total: position.total,
            more: position.more,
            newer,
            older: older_cursor.map(|c| link(Some(c))),
        }
    }
}

/// `form=quote&q=Zo%C3%AB`: pairs as a query string, each key and value encoded.
pub(super) fn query_string(pairs: &[(&str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_page_counts_from_26_and_links_both_ways_with_the_filter() {
        let position = Position {
            total: 33,
            more: false,
            newer: 25,
            newer_page: NewerPage::First,
        };
        let p = Pager::new(
            "/admin/submissions",
            &[("form", "quote".into())],
            8,
            position,
            None,
        );
        assert_eq!((p.first, p.last, p.total), (26, 33, 33));
        assert_eq!(p.newer.as_deref(), Some("/admin/submissions?form=quote"));
        assert_eq!(p.older, None);
        let third = Position {
            total: 80,
            more: false,
            newer: 50,
            newer_page: NewerPage::Before(77),
        };
        let p = Pager::new("/admin/deliveries", &[], 25, third, Some(12));
        assert_eq!((p.first, p.last), (51, 75));
        assert_eq!(p.newer.as_deref(), Some("/admin/deliveries?before=77"));
        assert_eq!(p.older.as_deref(), Some("/admin/deliveries?before=12"));
    }

    #[test]
    fn a_filter_value_is_encoded_in_the_links_and_reads_back_the_same() {
        let position = Position {
            total: 60,
            more: false,
            newer: 25,
            newer_page: NewerPage::First,
        };
        let query = [("q", "Zoë & co=1".to_string()), ("test", "true".into())];
        let p = Pager::new("/admin/submissions", &query, 25, position, Some(9));
        let older = p.older.expect("an older page");
        assert_eq!(
            older,
            "/admin/submissions?before=9&q=Zo%C3%AB+%26+co%3D1&test=true"
        );
        let (_, q) = older.split_once('?').unwrap();
        let read: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(read[1], ("q".to_string(), "Zoë & co=1".to_string()));
    }
}
