use super::*;
use crate::model::{
    DeliveryState, EmailStatus, Failure, FailureKind, InboxEvent, InboxState, Ledger,
    NewSubmission, Outcome,
};
use crate::store::{Applied, IncomingEvent};

async fn submission(store: &Store) -> Submission {
    let new = NewSubmission::for_test("contact", "C", &[("email", "a@example.com")]);
    store.insert_submission(new).await.unwrap()
}

/// An attempt at `kind` of `s`, with a fresh id, as a round writes it before sending.
fn intent(store: &Store, s: &Submission, kind: &str) -> Delivery {
    Delivery {
        id: store.new_delivery_id(),
        submission_id: s.id,
        outcome: Outcome::in_flight(),
        ..Delivery::planned(kind, Some("o@example.com"), "subject")
    }
}

/// The records a round claims: each attempt with its email as rendered.
fn rendered(attempts: &[Delivery]) -> Vec<(Delivery, EmailBody)> {
    attempts
        .iter()
        .map(|d| {
            let body = EmailBody {
                text: format!("{} text", d.kind),
                html: String::new(),
            };
            (d.clone(), body)
        })
        .collect()
}

fn with(mut d: Delivery, outcome: Outcome) -> Delivery {
    d.outcome = outcome;
    d
}

fn sent() -> Outcome {
    Outcome {
        status: EmailStatus::Sent,
        message_ids: vec!["m-1".into()],
        ..Outcome::in_flight()
    }
}

fn outage() -> Outcome {
    Outcome::failed(Failure::new(
        FailureKind::Http {
            status: 500,
            mailtrap: true,
        },
        "outage",
    ))
}

fn kinds(taken: &BTreeSet<String>) -> Vec<&str> {
    taken.iter().map(String::as_str).collect()
}

/// A failed first attempt at `kind`, recorded with the retry it queues (due at 100).
async fn failed_first(store: &Store, s: &Submission, kind: &str) -> (Delivery, RetryJob) {
    let first = intent(store, s, kind);
    let taken = store
        .claim_round(s.id, Claim::First, &rendered(std::slice::from_ref(&first)))
        .await
        .unwrap();
    assert_eq!(kinds(&taken), [kind]);
    let job = RetryJob {
        submission_id: s.id,
        kind: kind.into(),
        attempt: 2,
        after: Some(first.id),
    };
    let failed = with(first, outage());
    store
        .record_round(s.id, vec![failed.clone()], &[(100, job.clone())])
        .await
        .unwrap();
    (failed, job)
}

#[rocket::async_test]
async fn an_email_in_flight_cannot_be_taken_by_another_round() {
    let store = Store::temporary().unwrap();
    let s = submission(&store).await;
    let first = intent(&store, &s, "admin");
    let taken = store
        .claim_round(s.id, Claim::First, &rendered(std::slice::from_ref(&first)))
        .await
        .unwrap();
    assert_eq!(kinds(&taken), ["admin"]);
    assert!(store.in_flight(s.id, "admin").unwrap());
    let log = store.deliveries_of(s.id).unwrap();
    assert_eq!(log.len(), 1, "the attempt is written before it is sent");
    assert_eq!(log[0].outcome.status, EmailStatus::Pending);
    let first_id = first.id;
    let body = store
        .body(first_id)
        .unwrap()
        .expect("written with the claim");
    assert_eq!(body.text, "admin text");
    assert_eq!(
        store.submission(s.id).unwrap().unwrap().email_status,
        DeliveryState::Pending,
        "settled in the claim: in flight, neither sent nor failed"
    );

    let again = [intent(&store, &s, "admin")];
    assert!(store
        .claim_round(s.id, Claim::First, &rendered(&again))
        .await
        .unwrap()
        .is_empty());
    let owner = store
        .claim_round(s.id, Claim::Owner(&[]), &rendered(&again))
        .await
        .unwrap();
    assert!(owner.is_empty(), "not even the owner's explicit resend");

    store
        .record_round(s.id, vec![with(first.clone(), sent())], &[])
        .await
        .unwrap();
    assert!(!store.in_flight(s.id, "admin").unwrap());
    assert_eq!(
        store.submission(s.id).unwrap().unwrap().email_status,
        DeliveryState::Sent,
        "settled in the record"
    );
    assert_eq!(
        store.body(first_id).unwrap().map(|b| b.text),
        Some("admin text".into()),
        "the record keeps the body the claim wrote"
    );
    assert!(
        store
            .claim_round(s.id, Claim::First, &rendered(&again))
            .await
            .unwrap()
            .is_empty(),
        "a first attempt only once"
    );
    let owner = store
        .claim_round(s.id, Claim::Owner(&[]), &rendered(&again))
        .await
        .unwrap();
    assert_eq!(kinds(&owner), ["admin"], "the owner may send it again");
}

#[rocket::async_test]
async fn the_runner_and_the_owners_resend_never_both_send_one_email() {
    let store = Store::temporary().unwrap();
    let s = submission(&store).await;
    let (failed, job) = failed_first(&store, &s, "admin").await;
    let seen = [("admin".to_string(), failed.id)];

    // The runner first: the owner, who saw the failure, finds it taken, then sent.
    let retry = [intent(&store, &s, "admin")];
    let taken = store
        .claim_round(
            s.id,
            Claim::Job {
                due: 100,
                job: &job,
            },
            &rendered(&retry),
        )
        .await
        .unwrap();
    assert_eq!(kinds(&taken), ["admin"]);
    assert_eq!(store.pending_retries(), 0, "the claim took the job");
    let resend = [intent(&store, &s, "admin")];
    let owner = store
        .claim_round(s.id, Claim::Owner(&seen), &rendered(&resend))
        .await;
    assert!(owner.unwrap().is_empty(), "in flight");
    let retried = with(retry[0].clone(), sent());
    store.record_round(s.id, vec![retried], &[]).await.unwrap();
    let owner = store
        .claim_round(s.id, Claim::Owner(&seen), &rendered(&resend))
        .await;
    assert!(owner.unwrap().is_empty(), "sent since the owner looked");

    // The owner first: the resend takes the queued retry's place.
    let s = submission(&store).await;
    let (failed, job) = failed_first(&store, &s, "admin").await;
    let seen = [("admin".to_string(), failed.id)];
    let resend = [intent(&store, &s, "admin")];
    let owner = store
        .claim_round(s.id, Claim::Owner(&seen), &rendered(&resend))
        .await;
    assert_eq!(kinds(&owner.unwrap()), ["admin"]);
    assert_eq!(store.pending_retries(), 0, "the resend took the job off");
    let retry = rendered(&[intent(&store, &s, "admin")]);
    let runner = store.claim_round(
        s.id,
        Claim::Job {
            due: 100,
            job: &job,
        },
        &retry,
    );
    assert!(runner.await.unwrap().is_empty());
    assert_eq!(
        store.deliveries_of(s.id).unwrap().len(),
        2,
        "failure and resend"
    );
}

#[rocket::async_test]
async fn a_job_whose_email_was_resent_since_is_dropped_not_sent() {
    let store = Store::temporary().unwrap();
    let s = submission(&store).await;
    let (_, job) = failed_first(&store, &s, "admin").await;
    let resend = intent(&store, &s, "admin");
    let owner = store
        .claim_round(
            s.id,
            Claim::Owner(&[]),
            &rendered(std::slice::from_ref(&resend)),
        )
        .await
        .unwrap();
    assert_eq!(kinds(&owner), ["admin"]);
    assert_eq!(store.pending_retries(), 0, "the resend took its place");
    // Queued again after the owner's resend had looked at the queue: still bound to the
    // failure it follows.
    store.schedule_retry(200, &job).await.unwrap();
    store
        .record_round(s.id, vec![with(resend, sent())], &[])
        .await
        .unwrap();
    assert_eq!(store.pending_retries(), 1, "queued after the resend looked");
    let retry = rendered(&[intent(&store, &s, "admin")]);
    let runner = store.claim_round(
        s.id,
        Claim::Job {
            due: 200,
            job: &job,
        },
        &retry,
    );
    assert!(runner.await.unwrap().is_empty());
    assert_eq!(store.pending_retries(), 0, "dropped all the same");
}

#[rocket::async_test]
async fn a_kill_leaves_jobs_not_started_queued_and_the_one_in_flight_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let (s, delivered, jobs) = {
        let store = Store::open(dir.path()).unwrap();
        let s = submission(&store).await;
        let (_, admin) = failed_first(&store, &s, "admin").await;
        let (_, confirmation) = failed_first(&store, &s, "confirmation").await;
        let retry = [intent(&store, &s, "admin")];
        let claim = Claim::Job {
            due: 100,
            job: &admin,
        };
        let taken = store
            .claim_round(s.id, claim, &rendered(&retry))
            .await
            .unwrap();
        assert_eq!(kinds(&taken), ["admin"]);
        // A second submission whose attempt Mailtrap reported delivered while in flight.
        let t = submission(&store).await;
        let first = intent(&store, &t, "admin");
        store
            .claim_round(t.id, Claim::First, &rendered(std::slice::from_ref(&first)))
            .await
            .unwrap();
        let event = IncomingEvent {
            event_id: "evt-1".into(),
            message_id: None,
            delivery_id: Some(first.id),
            inbox: InboxEvent {
                state: InboxState::Delivered,
                at: time::OffsetDateTime::now_utc(),
                detail: None,
                bounce_category: None,
            },
        };
        let applied = store.apply_inbox_event(&event).await.unwrap();
        assert!(matches!(applied, Applied::Matched(_)));
        (s, t, [confirmation])
        // Dropped here without recording either outcome: the process died.
    };
    let store = Store::open(dir.path()).unwrap();
    let latest = |id| {
        let log = store.deliveries_of(id).unwrap();
        let latest = Ledger::new(&log)
            .latest()
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        latest
    };
    let admin = latest(s.id)
        .into_iter()
        .find(|d| d.kind == "admin")
        .unwrap();
    assert_eq!(admin.outcome.status, EmailStatus::Unknown);
    assert_eq!(admin.outcome.failure, Some(FailureKind::Interrupted));
    assert!(!store.in_flight(s.id, "admin").unwrap());
    assert_eq!(
        store.submission(s.id).unwrap().unwrap().email_status,
        DeliveryState::Unknown,
        "settled at start-up: the interrupted email, its confirmation retrying"
    );
    let queued: Vec<RetryJob> = store
        .due_retries(u64::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, j)| j)
        .collect();
    assert_eq!(queued, jobs, "the job not started is still queued");
    let reported = latest(delivered.id).remove(0);
    assert_eq!(
        reported.outcome.status,
        EmailStatus::Sent,
        "Mailtrap said it arrived"
    );
    assert_eq!(
        store
            .submission(delivered.id)
            .unwrap()
            .unwrap()
            .email_status,
        DeliveryState::Delivered,
        "settled at start-up with what Mailtrap reported"
    );
    let resend = [intent(&store, &s, "admin")];
    let owner = store
        .claim_round(s.id, Claim::Owner(&[]), &rendered(&resend))
        .await;
    assert_eq!(
        kinds(&owner.unwrap()),
        ["admin"],
        "the owner may choose to resend it"
    );
}

#[rocket::async_test]
async fn recording_an_outcome_keeps_what_a_webhook_reported_meanwhile() {
    let store = Store::temporary().unwrap();
    let s = submission(&store).await;
    let first = intent(&store, &s, "admin");
    store
        .claim_round(s.id, Claim::First, &rendered(std::slice::from_ref(&first)))
        .await
        .unwrap();
    let event = IncomingEvent {
        event_id: "evt-2".into(),
        message_id: None,
        delivery_id: Some(first.id),
        inbox: InboxEvent {
            state: InboxState::Delivered,
            at: time::OffsetDateTime::now_utc(),
            detail: None,
            bounce_category: None,
        },
    };
    store.apply_inbox_event(&event).await.unwrap();
    let timeout = Outcome::failed(Failure::new(FailureKind::TimeoutAfterSent, "no answer"));
    let recorded = store
        .record_round(s.id, vec![with(first, timeout)], &[])
        .await
        .unwrap();
    assert_eq!(recorded[0].outcome.status, EmailStatus::Sent);
    assert_eq!(
        recorded[0].inbox.as_ref().map(|i| i.state),
        Some(InboxState::Delivered)
    );
    assert_eq!(store.deliveries_of(s.id).unwrap()[0], recorded[0]);
}

#[rocket::async_test]
async fn only_submissions_never_attempted_are_found_at_start_up() {
    let store = Store::temporary().unwrap();
    let never = submission(&store).await;
    let attempted = submission(&store).await;
    let (_, _) = failed_first(&store, &attempted, "admin").await;
    for new in [
        NewSubmission {
            spam: true,
            ..NewSubmission::for_test("contact", "C", &[])
        },
        NewSubmission {
            review: Some(crate::model::SpamReason::TooFast),
            ..NewSubmission::for_test("contact", "C", &[])
        },
        NewSubmission {
            test: true,
            ..NewSubmission::for_test("contact", "C", &[])
        },
    ] {
        store.insert_submission(new).await.unwrap();
    }
    let found: Vec<SubmissionId> = store
        .unattempted_submissions()
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(found, [never.id]);
    let kinds = ["admin".to_string(), "confirmation".to_string()];
    store.queue_first_attempts(never.id, &kinds, 100).unwrap();
    let jobs = store.queued_retries(never.id).unwrap();
    assert_eq!(jobs.len(), 2);
    let (due, job) = &jobs[0];
    assert_eq!((job.attempt, job.after), (1, None));
    let first = rendered(&[intent(&store, &never, &job.kind)]);
    let taken = store.claim_round(never.id, Claim::Job { due: *due, job }, &first);
    assert_eq!(taken.await.unwrap().len(), 1);
    // Queued twice (two start-ups before the runner ran): the second never sends.
    store
        .queue_first_attempts(never.id, &kinds[..1], 150)
        .unwrap();
    let (due, job) = store.queued_retries(never.id).unwrap().pop().unwrap();
    assert_eq!((due, job.kind.as_str()), (150, "admin"));
    let again = rendered(&[intent(&store, &never, &job.kind)]);
    let taken = store.claim_round(never.id, Claim::Job { due, job: &job }, &again);
    assert!(taken.await.unwrap().is_empty());
}

/// A store from before claims (schema 4 as released): a failed attempt with no entry in
/// `claims` and its retry queued without the attempt it follows. The runner still takes
/// the job, once, and its submission is settled by the claim and the record.
#[rocket::async_test]
async fn a_retry_queued_before_claims_existed_is_taken_once() {
    let store = Store::temporary().unwrap();
    let s = submission(&store).await;
    let (_, mut job) = failed_first(&store, &s, "admin").await;
    store.claims.clear().unwrap();
    assert!(store.drop_retry(100, &job).await.unwrap());
    job.after = None;
    store.schedule_retry(100, &job).await.unwrap();
    assert_eq!(
        store.submission(s.id).unwrap().unwrap().email_status,
        DeliveryState::Retrying
    );
    let retry = rendered(&[intent(&store, &s, "admin")]);
    let claim = Claim::Job {
        due: 100,
        job: &job,
    };
    let taken = store.claim_round(s.id, claim, &retry).await.unwrap();
    assert_eq!(kinds(&taken), ["admin"]);
    assert_eq!(store.pending_retries(), 0);
    assert_eq!(
        store.submission(s.id).unwrap().unwrap().email_status,
        DeliveryState::Pending,
        "in flight, no longer retrying"
    );
    let again = rendered(&[intent(&store, &s, "admin")]);
    assert!(store
        .claim_round(s.id, claim, &again)
        .await
        .unwrap()
        .is_empty());
    store
        .record_round(s.id, vec![with(retry[0].0.clone(), sent())], &[])
        .await
        .unwrap();
    assert_eq!(
        store.submission(s.id).unwrap().unwrap().email_status,
        DeliveryState::Sent
    );
}
