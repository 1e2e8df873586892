use super::*;
use crate::model::{DeliveryState, EmailBody, EmailStatus};

fn new_sub(form: &str, prefix: &str) -> NewSubmission {
    NewSubmission::for_test(form, prefix, &[("email", "a@example.com")])
}

#[rocket::async_test]
async fn submissions_get_increasing_ids_and_per_form_references() {
    let store = Store::temporary().unwrap();
    let a = store
        .insert_submission(new_sub("quote", "Q"))
        .await
        .unwrap();
    let b = store
        .insert_submission(new_sub("quote", "Q"))
        .await
        .unwrap();
    let c = store
        .insert_submission(new_sub("contact", "C"))
        .await
        .unwrap();
    assert!(a.id < b.id && b.id < c.id);
    assert_eq!(
        (a.reference.as_str(), b.reference.as_str()),
        ("Q-1001", "Q-1002")
    );
    assert_eq!(c.reference, "C-1001");
    let quotes = store.latest_submissions(Some("quote"), 10).unwrap();
    assert_eq!(
        quotes.iter().map(|s| s.id).collect::<Vec<_>>(),
        [b.id, a.id]
    );
    assert_eq!(
        store.submission_by_reference("C-1001").unwrap().unwrap().id,
        c.id
    );
    assert_eq!(store.latest_submissions(None, 2).unwrap().len(), 2);
}

fn attempt(kind: &str, status: EmailStatus) -> (Delivery, EmailBody) {
    let mut d = Delivery::planned(kind, Some("o@example.com"), "subj");
    d.outcome.status = status;
    let body = EmailBody {
        text: format!("the {kind}"),
        html: format!("<p>the {kind}</p>"),
    };
    (d, body)
}

/// Each round settles the submission's state over its whole log, not over the round: a
/// resend of the failed confirmation that goes through leaves it sent.
#[rocket::async_test]
async fn deliveries_link_to_their_submission_and_settle_its_state_over_the_whole_log() {
    let store = Store::temporary().unwrap();
    let s = store
        .insert_submission(new_sub("quote", "Q"))
        .await
        .unwrap();
    assert_eq!(s.email_status, DeliveryState::Skipped, "nothing sent yet");
    let state = |store: &Store| store.submission(s.id).unwrap().unwrap().email_status;
    let saved = store
        .record_deliveries(
            s.id,
            vec![
                attempt("admin", EmailStatus::Sent),
                attempt("confirmation", EmailStatus::Failed),
            ],
        )
        .await
        .unwrap();
    let log = store.deliveries_of(s.id).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].id, saved[0].id);
    assert_eq!(log[0].submission_id, s.id);
    assert_eq!(state(&store), DeliveryState::Failed);
    let body = store.body(saved[1].id).unwrap().unwrap();
    assert_eq!(body.text, "the confirmation", "kept apart, by delivery id");
    let raw = store.deliveries.get(saved[1].id.to_key()).unwrap().unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("the confirmation"),
        "the record holds no body"
    );

    store
        .record_deliveries(s.id, vec![attempt("confirmation", EmailStatus::Sent)])
        .await
        .unwrap();
    assert_eq!(state(&store), DeliveryState::Sent);
    store
        .record_deliveries(s.id, vec![attempt("admin", EmailStatus::Unknown)])
        .await
        .unwrap();
    assert_eq!(
        state(&store),
        DeliveryState::Unknown,
        "the latest admin attempt"
    );
}

#[test]
fn a_newer_schema_is_refused_and_secrets_persist() {
    let dir = tempfile::tempdir().unwrap();
    let secret = {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let s = store.secret("cookie").unwrap();
        assert_eq!(store.secret("cookie").unwrap(), s);
        store
            .set_meta_u64("schema_version", SCHEMA_VERSION + 1)
            .unwrap();
        store.db.flush().unwrap();
        s
    };
    let err = Store::open(dir.path()).err().unwrap();
    assert!(err.to_string().contains("newer than this binary"), "{err}");
    {
        let store = reopen_raw(dir.path());
        let meta = store.open_tree("meta").unwrap();
        meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())
            .unwrap();
        store.flush().unwrap();
    }
    assert_eq!(
        Store::open(dir.path()).unwrap().secret("cookie").unwrap(),
        secret
    );
}

fn reopen_raw(dir: &Path) -> sled::Db {
    for _ in 0..100 {
        if let Ok(db) = sled::open(dir) {
            return db;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sled::open(dir).unwrap()
}

#[test]
fn a_second_process_style_open_says_the_store_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    // sled takes an exclusive file lock; a second open, even in-process, is refused.
    match Store::open(dir.path()) {
        Err(StoreError::Locked { path }) => assert_eq!(path, dir.path().display().to_string()),
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second open of a held store succeeded"),
    }
}
