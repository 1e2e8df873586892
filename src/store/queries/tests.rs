use super::*;
use crate::model::{EmailBody, NewSubmission};

async fn add(store: &Store, form: &str, message: &str) -> Submission {
    store
        .insert_submission(NewSubmission::for_test(form, "X", &[("message", message)]))
        .await
        .unwrap()
}

#[rocket::async_test]
async fn pages_follow_the_cursor_newest_first_through_filters() {
    let store = Store::temporary().unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        let form = if i % 2 == 0 { "quote" } else { "contact" };
        ids.push(add(&store, form, &format!("tents {i}")).await.id);
    }
    let all = SubmissionFilter::default();
    let p1 = store.list_submissions(&all, None, 3).unwrap();
    assert_eq!(
        p1.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[6], ids[5], ids[4]]
    );
    let p2 = store.list_submissions(&all, p1.next, 3).unwrap();
    assert_eq!(p2.items[0].id, ids[3]);
    let p3 = store.list_submissions(&all, p2.next, 3).unwrap();
    assert_eq!((p3.items.len(), p3.next), (1, None));

    let quotes = SubmissionFilter {
        form: Some("quote".into()),
        ..Default::default()
    };
    let q = store.list_submissions(&quotes, None, 10).unwrap();
    assert_eq!(
        q.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[6], ids[4], ids[2], ids[0]]
    );
    let q = store.list_submissions(&quotes, Some(ids[4].0), 10).unwrap();
    assert_eq!(q.items[0].id, ids[2]);

    let search = SubmissionFilter {
        query: Some("TENTS 3".into()),
        ..Default::default()
    };
    assert_eq!(
        store.list_submissions(&search, None, 10).unwrap().items[0].id,
        ids[3]
    );
    let c = store
        .form_counts(
            "quote",
            crate::zone::Zone::utc().day_starts(OffsetDateTime::now_utc()),
        )
        .unwrap();
    assert_eq!(
        c,
        FormCounts {
            today: 4,
            week: 4,
            total: 4
        }
    );
}

#[rocket::async_test]
async fn dashboard_counts_leave_test_submissions_out() {
    let store = Store::temporary().unwrap();
    add(&store, "quote", "real").await;
    add(&store, "quote", "\"test\":true in the text").await;
    let mut test = NewSubmission::for_test("quote", "X", &[("message", "try")]);
    test.test = true;
    store.insert_submission(test).await.unwrap();
    let starts = crate::zone::Zone::utc().day_starts(OffsetDateTime::now_utc());
    let c = store.form_counts("quote", starts).unwrap();
    assert_eq!((c.today, c.week, c.total), (2, 2, 2));

    // A store written before the index existed: it is filled once, at open.
    store.test_submissionid.clear().unwrap();
    store.meta.remove("tests_indexed").unwrap();
    assert_eq!(store.form_counts("quote", starts).unwrap().total, 3);
    store.index_tests().unwrap();
    assert_eq!(store.form_counts("quote", starts).unwrap().total, 2);
}

#[rocket::async_test]
async fn delete_removes_the_submission_and_scrubs_its_deliveries() {
    let store = Store::temporary().unwrap();
    let s = add(&store, "quote", "secret plans").await;
    let d = Delivery::planned("admin", Some("o@example.com"), "Quote from Jane");
    let body = EmailBody {
        text: "Jane's secret plans".into(),
        html: "<p>Jane's secret plans</p>".into(),
    };
    let d = store
        .record_deliveries(s.id, vec![(d, body)])
        .await
        .unwrap()
        .remove(0);
    assert!(store.body(d.id).unwrap().is_some());
    assert!(store.delete_submission(s.id).await.unwrap());
    assert!(store.submission(s.id).unwrap().is_none());
    assert!(store
        .submission_by_reference(&s.reference)
        .unwrap()
        .is_none());
    let log = store.deliveries_of(s.id).unwrap();
    assert_eq!(log[0].to, None);
    assert!(!log[0].subject.contains("Jane"));
    assert_eq!(store.body(d.id).unwrap(), None, "the email itself is gone");
    assert_eq!(
        store
            .form_counts(
                "quote",
                crate::zone::Zone::utc().day_starts(OffsetDateTime::now_utc())
            )
            .unwrap()
            .total,
        0
    );
    assert!(!store.delete_submission(s.id).await.unwrap());
}
