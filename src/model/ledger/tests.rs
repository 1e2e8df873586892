use time::macros::datetime;

use super::*;
use crate::model::{DeliveryId, FailureKind};

/// Submission 7's attempt `id` at email `kind`, started `id` minutes after 09:00, with this
/// outcome and no event.
fn attempt(id: u64, kind: &str, status: EmailStatus) -> Delivery {
    let mut d = Delivery::planned(kind, Some("anna@visitor.example"), "Thanks");
    d.id = DeliveryId(id);
    d.submission_id = SubmissionId(7);
    d.to_visitor = kind == "confirmation";
    d.outcome.status = status;
    d.outcome.started_at = datetime!(2026-11-30 09:00 UTC) + Duration::minutes(id as i64);
    d
}

fn event(state: InboxState, detail: Option<&str>) -> InboxEvent {
    InboxEvent {
        state,
        at: datetime!(2026-11-30 10:00 UTC),
        detail: detail.map(str::to_string),
        bounce_category: None,
    }
}

/// `d` after Mailtrap reported `state` for it.
fn reported(mut d: Delivery, state: InboxState) -> Delivery {
    d.inbox = Some(event(state, None));
    d
}

fn ids(found: &[&Delivery]) -> Vec<u64> {
    found.iter().map(|d| d.id.0).collect()
}

/// An attempt at `kind` whose email state is `state`, and whether it needs a retry queued.
fn email_in(state: DeliveryState, id: u64, kind: &str) -> (Delivery, bool) {
    use DeliveryState as S;
    let d = |status| attempt(id, kind, status);
    match state {
        S::Delivered => (reported(d(EmailStatus::Sent), InboxState::Delivered), false),
        S::Sent => (d(EmailStatus::Sent), false),
        S::Retrying => (d(EmailStatus::Failed), true),
        S::Unknown => (d(EmailStatus::Unknown), false),
        S::Bounced => (reported(d(EmailStatus::Sent), InboxState::Bounced), false),
        S::Rejected => (reported(d(EmailStatus::Sent), InboxState::Rejected), false),
        S::Failed => (d(EmailStatus::Failed), false),
        S::Skipped => (d(EmailStatus::Skipped), false),
        S::Held | S::Pending => unreachable!("not an email state of its own"),
    }
}

#[test]
fn the_words_are_the_contracts_and_read_back_the_same_everywhere() {
    let words: Vec<&str> = DeliveryState::ALL.map(DeliveryState::as_str).to_vec();
    assert_eq!(
        words,
        [
            "delivered",
            "sent",
            "retrying",
            "unknown",
            "bounced",
            "rejected",
            "failed",
            "held",
            "skipped"
        ]
    );
    for state in DeliveryState::ALL
        .into_iter()
        .chain([DeliveryState::Pending])
    {
        let word = state.as_str();
        assert_eq!(word.parse::<DeliveryState>(), Ok(state));
        assert_eq!(state.to_string(), word);
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, format!("\"{word}\""));
        assert_eq!(serde_json::from_str::<DeliveryState>(&json).unwrap(), state);
    }
    // Submissions stored before the ledger carry the outcome words, `pending` included.
    for old in ["pending", "sent", "failed", "skipped", "unknown"] {
        let json = format!("\"{old}\"");
        assert!(
            serde_json::from_str::<DeliveryState>(&json).is_ok(),
            "{old}"
        );
    }
    assert!("Sent".parse::<DeliveryState>().is_err());
    assert!("complained".parse::<DeliveryState>().is_err());
    assert!(serde_json::from_str::<DeliveryState>("\"soft_bounce\"").is_err());
}

#[test]
fn red_is_failed_bounced_rejected_and_unknown() {
    let red: Vec<_> = DeliveryState::ALL
        .into_iter()
        .filter(|s| s.needs_owner())
        .collect();
    use DeliveryState::*;
    assert_eq!(red, [Unknown, Bounced, Rejected, Failed]);
    for state in DeliveryState::ALL {
        let expected = match state {
            Unknown | Bounced | Rejected | Failed => "bad",
            Delivered | Sent => "ok",
            Retrying | Held | Skipped | Pending => "warn",
        };
        assert_eq!(state.tone(), expected, "{state}");
    }
}

#[test]
fn each_email_reads_its_word_from_its_latest_attempt() {
    use DeliveryState as S;
    use InboxState as I;
    let sent = || attempt(1, "admin", EmailStatus::Sent);
    let cases = [
        (reported(sent(), I::Delivered), S::Delivered),
        (reported(sent(), I::Complained), S::Delivered),
        (reported(sent(), I::Unsubscribed), S::Delivered),
        (reported(sent(), I::SoftBounce), S::Sent),
        (reported(sent(), I::Bounced), S::Bounced),
        (reported(sent(), I::Rejected), S::Rejected),
        (reported(sent(), I::Suspended), S::Failed),
        (
            reported(attempt(1, "admin", EmailStatus::Unknown), I::Delivered),
            S::Delivered,
        ),
        (sent(), S::Sent),
        (attempt(1, "admin", EmailStatus::Unknown), S::Unknown),
        (attempt(1, "admin", EmailStatus::Failed), S::Failed),
        (attempt(1, "admin", EmailStatus::Skipped), S::Skipped),
        (attempt(1, "admin", EmailStatus::Pending), S::Pending),
    ];
    for (d, expected) in cases {
        let log = [d];
        assert_eq!(
            Ledger::new(&log).email_state(&log[0]),
            expected,
            "{:?} {:?}",
            log[0].outcome.status,
            log[0].inbox.as_ref().map(|e| e.state)
        );
        assert_eq!(Ledger::new(&log).state(), expected);
    }

    let failed = [attempt(1, "admin", EmailStatus::Failed)];
    let queued = Ledger::new(&failed).retries_queued([(SubmissionId(7), "admin")]);
    assert_eq!(queued.email_state(&failed[0]), S::Retrying);
    let elsewhere = Ledger::new(&failed).retries_queued([(SubmissionId(8), "admin")]);
    assert_eq!(
        elsewhere.email_state(&failed[0]),
        S::Failed,
        "another submission's retry"
    );
    let two = [failed[0].clone(), attempt(2, "admin", EmailStatus::Failed)];
    let queued = Ledger::new(&two).retries_queued([(SubmissionId(7), "admin".to_string())]);
    assert_eq!(
        queued.email_state(&two[0]),
        S::Failed,
        "the retry belongs to the latest attempt"
    );
    assert_eq!(queued.email_state(&two[1]), S::Retrying);

    let skipped = [attempt(1, "admin", EmailStatus::Skipped)];
    assert_eq!(
        Ledger::new(&skipped).held(true).email_state(&skipped[0]),
        S::Held
    );
}

#[test]
fn the_submission_is_held_while_held_and_skipped_without_emails() {
    assert_eq!(Ledger::new(&[]).state(), DeliveryState::Skipped);
    assert_eq!(Ledger::new(&[]).held(true).state(), DeliveryState::Held);
    let log = [attempt(1, "admin", EmailStatus::Skipped)];
    assert_eq!(Ledger::new(&log).held(true).state(), DeliveryState::Held);
}

#[test]
fn the_email_that_most_needs_the_owner_gives_the_submission_its_word() {
    use DeliveryState::*;
    let precedence = [
        Failed, Bounced, Rejected, Unknown, Retrying, Sent, Delivered, Skipped,
    ];
    for (i, &high) in precedence.iter().enumerate() {
        for &low in &precedence[i..] {
            for (first, second) in [(high, low), (low, high)] {
                let (a, a_retry) = email_in(first, 1, "admin");
                let (b, b_retry) = email_in(second, 2, "confirmation");
                let queued = [(a_retry, "admin"), (b_retry, "confirmation")]
                    .into_iter()
                    .filter(|(q, _)| *q)
                    .map(|(_, kind)| (SubmissionId(7), kind));
                let log = [a, b];
                let state = Ledger::new(&log).retries_queued(queued).state();
                assert_eq!(state, high, "{first} with {second}");
            }
        }
    }
    let words = |log: &[Delivery]| Ledger::new(log).state();
    let delivered = |id, kind| email_in(Delivered, id, kind).0;
    assert_eq!(
        words(&[delivered(1, "admin"), delivered(2, "confirmation")]),
        Delivered
    );
    assert_eq!(
        words(&[
            delivered(1, "admin"),
            attempt(2, "confirmation", EmailStatus::Sent)
        ]),
        Sent
    );
    assert_eq!(
        words(&[
            attempt(1, "admin", EmailStatus::Skipped),
            attempt(2, "confirmation", EmailStatus::Skipped)
        ]),
        Skipped
    );
}

/// An owner saw `sent` on a submission whose confirmation Mailtrap reported bounced.
#[test]
fn a_bounced_confirmation_makes_the_submission_bounced_not_sent() {
    let log = [
        reported(
            attempt(1, "admin", EmailStatus::Sent),
            InboxState::Delivered,
        ),
        reported(
            attempt(2, "confirmation", EmailStatus::Sent),
            InboxState::Bounced,
        ),
    ];
    let ledger = Ledger::new(&log);
    assert_eq!(ledger.state(), DeliveryState::Bounced);
    assert_eq!(ids(&ledger.standing_bounces()), [2]);
    let now = datetime!(2026-11-30 12:00 UTC);
    assert_eq!(ids(&ledger.attention(now, true)), [2]);
}

/// An owner saw `failed` while both emails waited for an automatic retry.
#[test]
fn emails_queued_for_retry_are_retrying_not_failed() {
    let mut log = [
        attempt(1, "admin", EmailStatus::Failed),
        attempt(2, "confirmation", EmailStatus::Failed),
    ];
    for d in &mut log {
        d.outcome.http_status = Some(503);
        d.outcome.failure = Some(FailureKind::Http {
            status: 503,
            mailtrap: true,
        });
    }
    let queued = [
        (SubmissionId(7), "admin"),
        (SubmissionId(7), "confirmation"),
    ];
    let ledger = Ledger::new(&log).retries_queued(queued);
    assert_eq!(ledger.state(), DeliveryState::Retrying);
    let now = datetime!(2026-11-30 12:00 UTC);
    assert!(ledger.attention(now, false).is_empty(), "nothing to do yet");
    // Once the queue gave up (no retry left), the same log is failed and needs the owner.
    let gave_up = Ledger::new(&log);
    assert_eq!(gave_up.state(), DeliveryState::Failed);
    assert_eq!(ids(&gave_up.attention(now, false)), [2, 1]);
}

/// An owner resent the notification to themselves, it went through, and the submission read
/// `sent` although the visitor's confirmation had failed for good: the old summary covered
/// only the resend's round.
#[test]
fn a_resend_of_one_email_leaves_the_other_that_failed_for_good_failed() {
    let mut resent = attempt(3, "admin", EmailStatus::Sent);
    resent.attempt = crate::model::Attempt::ResentByOwner;
    let log = [
        attempt(1, "admin", EmailStatus::Failed),
        attempt(2, "confirmation", EmailStatus::Failed),
        resent,
    ];
    let ledger = Ledger::new(&log);
    assert_eq!(
        Ledger::new(&log[2..]).state(),
        DeliveryState::Sent,
        "what the resend's round alone says"
    );
    assert_eq!(ledger.state(), DeliveryState::Failed);
    assert_eq!(
        ids(&ledger.latest()),
        [3, 2],
        "by kind: admin, confirmation"
    );
    let now = datetime!(2026-11-30 12:00 UTC);
    assert_eq!(ids(&ledger.attention(now, true)), [2]);
}

#[test]
fn a_bounce_stands_until_a_later_attempt_at_the_same_email_goes_through() {
    use EmailStatus::{Failed, Sent, Unknown};
    use InboxState::{Bounced, Delivered, Rejected};
    let at = |id, sub, status| {
        let mut d = attempt(id, "confirmation", status);
        d.submission_id = SubmissionId(sub);
        d
    };
    let standing = |log: &[Delivery]| ids(&Ledger::new(log).standing_bounces());
    let bounce = reported(at(1, 7, Sent), Bounced);
    assert_eq!(standing(std::slice::from_ref(&bounce)), [1]);
    assert_eq!(standing(&[bounce.clone(), at(2, 7, Sent)]), [0u64; 0]);
    assert_eq!(
        standing(&[reported(at(2, 7, Sent), Delivered), bounce.clone()]),
        [0u64; 0],
        "in any order"
    );
    assert_eq!(standing(&[bounce.clone(), at(2, 7, Failed)]), [1]);
    assert_eq!(
        standing(&[bounce.clone(), at(2, 7, Unknown)]),
        [1],
        "may not have arrived"
    );
    assert_eq!(
        standing(&[bounce.clone(), reported(at(2, 7, Sent), Rejected)]),
        [2],
        "the later refusal stands for both"
    );
    assert_eq!(
        standing(&[at(0, 7, Sent), bounce.clone()]),
        [1],
        "an earlier success does not make good a later bounce"
    );
    assert_eq!(
        standing(&[bounce.clone(), at(2, 8, Sent)]),
        [1],
        "another submission's email"
    );
    let mut other_kind = at(2, 7, Sent);
    other_kind.kind = "welcome".into();
    assert_eq!(standing(&[bounce.clone(), other_kind]), [1]);
    let mut owner = reported(at(3, 9, Sent), Bounced);
    owner.kind = "admin".into();
    owner.to_visitor = false;
    let many = [bounce.clone(), owner, reported(at(4, 8, Sent), Bounced)];
    assert_eq!(
        standing(&many),
        [4, 3, 1],
        "over several submissions, the owner's own notification too, newest first"
    );

    // A bounce made good leaves "needs attention"; a failed resend keeps it there once.
    let now = datetime!(2026-11-30 12:00 UTC);
    let made_good = [bounce.clone(), at(2, 7, Sent)];
    assert!(Ledger::new(&made_good).attention(now, true).is_empty());
    let resend_failed = [bounce, at(2, 7, Failed)];
    assert_eq!(ids(&Ledger::new(&resend_failed).attention(now, true)), [2]);
    let queued = Ledger::new(&resend_failed).retries_queued([(SubmissionId(7), "confirmation")]);
    assert_eq!(
        ids(&queued.attention(now, true)),
        [1],
        "while the retry waits, the bounce stands"
    );
}

#[test]
fn latest_is_per_submission_and_kind_whatever_the_order() {
    let mut other = attempt(5, "admin", EmailStatus::Sent);
    other.submission_id = SubmissionId(8);
    let log = [
        attempt(4, "admin", EmailStatus::Sent),
        attempt(1, "admin", EmailStatus::Failed),
        other,
        attempt(2, "confirmation", EmailStatus::Failed),
        attempt(3, "confirmation", EmailStatus::Unknown),
    ];
    assert_eq!(ids(&Ledger::new(&log).latest()), [4, 3, 5]);
}

/// Mailtrap's `reject` (e.g. an address on its suppression list) is not a bounce: the owner
/// reads `rejected` with Mailtrap's reason.
#[test]
fn a_reject_is_rejected_with_its_reason_not_bounced() {
    let reason = "Recipient in suppression list. Reason: unsubscription";
    let mut d = attempt(1, "confirmation", EmailStatus::Sent);
    assert!(d.apply(&event(InboxState::Rejected, Some(reason))));
    let log = [d];
    let ledger = Ledger::new(&log);
    assert_eq!(ledger.state(), DeliveryState::Rejected);
    assert_eq!(ledger.email_state(&log[0]), DeliveryState::Rejected);
    let standing = ledger.standing_bounces();
    assert_eq!(ids(&standing), [1]);
    let kept = standing[0].inbox.as_ref().unwrap();
    assert_eq!(kept.detail.as_deref(), Some(reason));
}

#[test]
fn an_unknown_attempt_waits_30_minutes_for_an_event_with_webhooks_only() {
    // Attempt 0 started at 09:00.
    let log = [attempt(0, "confirmation", EmailStatus::Unknown)];
    let ledger = Ledger::new(&log);
    let unknown = &log[0];
    let soon = datetime!(2026-11-30 09:29:59 UTC);
    let late = datetime!(2026-11-30 09:30 UTC);
    assert_eq!(
        ledger.confirmation(unknown, true, soon),
        Confirmation::Waiting {
            deadline: datetime!(2026-11-30 09:30 UTC)
        }
    );
    assert!(ledger.attention(soon, true).is_empty());
    assert_eq!(
        ledger.confirmation(unknown, true, late),
        Confirmation::Overdue
    );
    assert_eq!(ids(&ledger.attention(late, true)), [0]);
    assert_eq!(
        ledger.confirmation(unknown, false, late),
        Confirmation::NotAwaited
    );
    assert_eq!(ids(&ledger.attention(soon, false)), [0], "no webhooks");
    assert_eq!(ledger.state(), DeliveryState::Unknown);

    let bounced = [reported(
        attempt(0, "confirmation", EmailStatus::Unknown),
        InboxState::Bounced,
    )];
    assert_eq!(
        Ledger::new(&bounced).confirmation(&bounced[0], true, late),
        Confirmation::Reported
    );
    let sent = [attempt(0, "confirmation", EmailStatus::Sent)];
    assert_eq!(
        Ledger::new(&sent).confirmation(&sent[0], true, soon),
        Confirmation::NotAwaited
    );
    assert!(Ledger::new(&sent).attention(late, true).is_empty());
    let replaced = [
        log[0].clone(),
        attempt(1, "confirmation", EmailStatus::Sent),
    ];
    assert_eq!(
        Ledger::new(&replaced).confirmation(&replaced[0], true, late),
        Confirmation::NotAwaited,
        "the owner already resent it"
    );
}

#[test]
fn events_only_move_an_email_towards_a_stronger_state() {
    let soft = event(InboxState::SoftBounce, None);
    let delivered = event(InboxState::Delivered, None);
    let bounced = event(InboxState::Bounced, Some("550 no such user"));

    let mut d = attempt(1, "admin", EmailStatus::Sent);
    assert!(d.apply(&soft));
    assert!(d.apply(&delivered), "a delivery outranks a soft bounce");
    assert!(!d.apply(&soft), "a late soft bounce never hides a delivery");
    assert_eq!(
        d.inbox.as_ref().map(|e| e.state),
        Some(InboxState::Delivered)
    );
    assert!(!d.apply(&delivered), "the same event again changes nothing");
    assert!(d.apply(&bounced), "a bounce after a delivery stands");
    let again = event(InboxState::Bounced, Some("550 mailbox disabled"));
    assert!(d.apply(&again), "an event of the same rank brings its news");
    assert_eq!(
        d.inbox.as_ref().and_then(|e| e.detail.as_deref()),
        Some("550 mailbox disabled")
    );
    assert!(!d.apply(&delivered));
    assert!(d.apply(&event(InboxState::Complained, None)));
    assert!(!d.apply(&bounced), "a complaint is the reader's last word");

    let mut unknown = attempt(2, "admin", EmailStatus::Unknown);
    assert!(unknown.apply(&soft));
    assert_eq!(unknown.outcome.status, EmailStatus::Unknown);
    assert!(unknown.apply(&delivered));
    assert_eq!(
        unknown.outcome.status,
        EmailStatus::Sent,
        "Mailtrap had it: not offered for resending"
    );
}

/// An attempt written before its request went to Mailtrap (in flight: `pending`, with the
/// delivery id its message carries) is neither sent nor failed: it needs nothing of the
/// owner, makes no earlier bounce good, and a failure of the other email still gives the
/// submission its word. Cut off by a stop of the server (`Interrupted`), it is `unknown`
/// and awaits Mailtrap's word like any unknown; reported delivered while in flight, it is
/// delivered.
#[test]
fn an_email_in_flight_is_pending_and_one_cut_off_by_a_stop_unknown() {
    let in_flight = || {
        let mut d = attempt(3, "confirmation", EmailStatus::Pending);
        d.outcome.failure = None;
        assert!(d.in_flight());
        d
    };
    let now = datetime!(2026-11-30 09:10 UTC);

    // The retry runner claimed the confirmation's queued retry (the job left the queue) and
    // the notification went through earlier.
    let mut bounced = attempt(1, "confirmation", EmailStatus::Sent);
    bounced = reported(bounced, InboxState::Bounced);
    let log = [bounced, attempt(2, "admin", EmailStatus::Sent), in_flight()];
    let ledger = Ledger::new(&log);
    let state = ledger.email_state(&log[2]);
    assert_eq!(state, DeliveryState::Pending);
    assert!(!matches!(
        state,
        DeliveryState::Sent | DeliveryState::Delivered | DeliveryState::Failed
    ));
    assert!(!state.needs_owner());
    assert_eq!(state.tone(), "warn");
    assert_eq!(log[2].state(), DeliveryState::Pending, "the log's badge");
    assert_eq!(
        ledger.state(),
        DeliveryState::Pending,
        "read from the latest attempt"
    );
    assert_eq!(ids(&ledger.standing_bounces()), [1], "not made good yet");
    assert_eq!(ids(&ledger.attention(now, true)), [1]);
    let alone = [attempt(2, "admin", EmailStatus::Sent), in_flight()];
    assert_eq!(
        Ledger::new(&alone).state(),
        DeliveryState::Pending,
        "not sent until its answer is recorded"
    );
    assert!(Ledger::new(&alone).attention(now, true).is_empty());
    // A retry queued for the same email (a job queued after the claim) does not make an
    // attempt in flight `retrying`: only a failed latest attempt is.
    let queued = Ledger::new(&alone).retries_queued([(SubmissionId(7), "confirmation")]);
    assert_eq!(queued.state(), DeliveryState::Pending);
    let failed = [attempt(2, "admin", EmailStatus::Failed), in_flight()];
    assert_eq!(Ledger::new(&failed).state(), DeliveryState::Failed);

    // The server stopped while Mailtrap had it.
    let mut cut = in_flight();
    cut.interrupted();
    assert_eq!(cut.outcome.status, EmailStatus::Unknown);
    assert_eq!(cut.outcome.failure, Some(FailureKind::Interrupted));
    let log = [attempt(2, "admin", EmailStatus::Sent), cut];
    let ledger = Ledger::new(&log);
    assert_eq!(ledger.email_state(&log[1]), DeliveryState::Unknown);
    assert_eq!(ledger.state(), DeliveryState::Unknown);
    assert_eq!(
        ledger.confirmation(&log[1], true, now),
        Confirmation::Waiting {
            deadline: datetime!(2026-11-30 09:33 UTC)
        }
    );
    assert!(
        ledger.attention(now, true).is_empty(),
        "awaiting Mailtrap's word"
    );
    assert_eq!(
        ids(&ledger.attention(now, false)),
        [3],
        "no webhooks: the owner checks"
    );

    // Mailtrap reported its delivery before the stop.
    let mut delivered = reported(in_flight(), InboxState::Delivered);
    delivered.interrupted();
    assert_eq!(delivered.outcome.status, EmailStatus::Sent);
    let log = [delivered];
    assert_eq!(Ledger::new(&log).state(), DeliveryState::Delivered);
}
