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
    let first = store.submissions_page(&filter, None, 25).unwrap().1;
    assert_eq!((first.total, first.more), (COUNT_CAP, true));
    // Deep in the list the pages before are counted whole: 41 newer, 989 older.
    let cursor = stored[COUNT_CAP + 30 - 41].id.0;
    let deep = store.submissions_page(&filter, Some(cursor), 25).unwrap().1;
    assert_eq!(deep.newer, 41);
    assert_eq!((deep.total, deep.more), (41 + COUNT_CAP - 11, false));
    let one_form = SubmissionFilter {
        form: Some("quote".into()),
        ..SubmissionFilter::default()
    };
    let by_form = store.submissions_page(&one_form, None, 25).unwrap().1;
    assert_eq!((by_form.total, by_form.more), (COUNT_CAP, true));
}

/// The page and position a brute-force reading gives: every matching id newest first from
/// `list_submissions`, counted by hand.
fn expected(
    all_ids: &[u64],
    before: Option<u64>,
    limit: usize,
) -> (Vec<u64>, Option<u64>, (usize, usize, bool)) {
    let cursor = before.unwrap_or(u64::MAX);
    let newer = all_ids.iter().filter(|&&id| id >= cursor).count();
    let older: Vec<u64> = all_ids.iter().copied().filter(|&id| id < cursor).collect();
    let page: Vec<u64> = older.iter().copied().take(limit).collect();
    let next = (older.len() > limit).then(|| page[limit - 1]);
    let counted = older.len().min(COUNT_CAP);
    (
        page,
        next,
        (newer + counted, newer, older.len() > COUNT_CAP),
    )
}

#[rocket::async_test]
async fn one_walk_gives_the_page_and_its_place_as_two_did() {
    use crate::model::DeliveryState;
    let store = Store::temporary().unwrap();
    let batch = (0..COUNT_CAP + 60)
        .map(|i| {
            let word = ["tents", "lodge", "beach"][i % 3];
            let form = ["quote", "contact"][i % 2];
            let mut s = NewSubmission::for_test(form, "Q", &[("message", word)]);
            s.test = i % 7 == 0;
            s
        })
        .collect();
    let stored = store.insert_submissions(batch).await.unwrap();
    let filters = [
        SubmissionFilter::default(),
        SubmissionFilter {
            query: Some("LODGE".into()),
            ..SubmissionFilter::default()
        },
        SubmissionFilter {
            form: Some("contact".into()),
            query: Some("beach".into()),
            test: true,
            ..SubmissionFilter::default()
        },
        SubmissionFilter {
            email_status: Some(DeliveryState::Sent),
            ..SubmissionFilter::default()
        },
    ];
    let n = stored.len();
    let cursors = [
        None,
        Some(stored[n - 1].id.0),
        Some(stored[n - 30].id.0),
        Some(stored[40].id.0),
        Some(stored[0].id.0),
    ];
    for filter in &filters {
        let all: Vec<u64> = store
            .list_submissions(filter, None, 100_000)
            .unwrap()
            .items
            .iter()
            .map(|s| s.id.0)
            .collect();
        for before in cursors {
            for limit in [1, 25] {
                let (page, position) = store.submissions_page(filter, before, limit).unwrap();
                let listed = store.list_submissions(filter, before, limit).unwrap();
                let ids: Vec<u64> = page.items.iter().map(|s| s.id.0).collect();
                let (want, next, (total, newer, more)) = expected(&all, before, limit);
                let case = format!("{filter:?} before {before:?} limit {limit}");
                assert_eq!(ids, want, "{case}");
                assert_eq!(
                    ids,
                    listed.items.iter().map(|s| s.id.0).collect::<Vec<_>>(),
                    "{case}"
                );
                assert_eq!(page.next, next, "{case}");
                assert_eq!(page.next, listed.next, "{case}");
                assert_eq!(
                    (position.total, position.newer, position.more),
                    (total, newer, more),
                    "{case}"
                );
            }
        }
    }
}

#[rocket::async_test]
async fn one_walk_of_the_delivery_log_gives_the_page_and_its_place() {
    use crate::model::{Delivery, DeliveryState, EmailBody, EmailStatus};
    let store = Store::temporary().unwrap();
    let s = store
        .insert_submission(NewSubmission::for_test(
            "quote",
            "Q",
            &[("message", "tents")],
        ))
        .await
        .unwrap();
    for round in 0..(COUNT_CAP + 40) / 2 {
        let mut owner = Delivery::planned("admin", Some("o@example.com"), "New quote");
        owner.outcome.status = EmailStatus::Sent;
        let mut visitor = Delivery::planned("confirmation", Some("v@example.com"), "Thanks");
        visitor.outcome.status = if round % 3 == 0 {
            EmailStatus::Failed
        } else {
            EmailStatus::Sent
        };
        store
            .record_deliveries(
                s.id,
                vec![
                    (owner, EmailBody::default()),
                    (visitor, EmailBody::default()),
                ],
            )
            .await
            .unwrap();
    }
    let everything = DeliveryFilter::default();
    let failed = DeliveryFilter {
        status: Some(DeliveryState::Failed),
        ..DeliveryFilter::default()
    };
    let all = store
        .list_deliveries(&everything, None, 100_000)
        .unwrap()
        .items;
    let n = all.len();
    let cursors = [
        None,
        Some(all[0].id.0),
        Some(all[29].id.0),
        Some(all[n - 10].id.0),
    ];
    for filter in [&everything, &failed] {
        let ids: Vec<u64> = store
            .list_deliveries(filter, None, 100_000)
            .unwrap()
            .items
            .iter()
            .map(|d| d.id.0)
            .collect();
        for before in cursors {
            let (page, position) = store.deliveries_page(filter, before, 25).unwrap();
            let listed = store.list_deliveries(filter, before, 25).unwrap();
            let got: Vec<u64> = page.items.iter().map(|d| d.id.0).collect();
            let (want, next, (total, newer, more)) = expected(&ids, before, 25);
            let case = format!("{filter:?} before {before:?}");
            assert_eq!(got, want, "{case}");
            assert_eq!(
                got,
                listed.items.iter().map(|d| d.id.0).collect::<Vec<_>>(),
                "{case}"
            );
            assert_eq!((page.next, listed.next), (next, next), "{case}");
            assert_eq!(
                (position.total, position.newer, position.more),
                (total, newer, more),
                "{case}"
            );
        }
    }
}
