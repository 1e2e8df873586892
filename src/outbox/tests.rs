use super::*;

fn failed(failure: FailureKind, error: &str) -> Delivery {
    let mut d = Delivery::planned("admin", Some("o@example.com"), "s");
    d.outcome.status = failure.status();
    d.outcome.http_status = failure.http_status();
    d.outcome.failure = Some(failure);
    d.outcome.error = Some(error.into());
    d
}

#[test]
fn rewording_an_error_changes_no_retry_decision() {
    let kinds = [
        FailureKind::Connect,
        FailureKind::TimeoutBeforeSent,
        FailureKind::TimeoutAfterSent,
        FailureKind::Http {
            status: 500,
            mailtrap: true,
        },
        FailureKind::Http {
            status: 504,
            mailtrap: false,
        },
        FailureKind::Http {
            status: 401,
            mailtrap: true,
        },
        FailureKind::Rejected,
    ];
    let texts = [
        "could not connect to Mailtrap: refused",
        "connection to Mailtrap failed or timed out",
        "HTTP 500: non-JSON answer",
        "something else entirely",
        "",
    ];
    for kind in kinds {
        for text in texts {
            assert_eq!(
                classify(&failed(kind, text)),
                Some(kind.retry()),
                "{kind:?} {text}"
            );
        }
    }
    let mut sent = failed(FailureKind::Connect, "");
    sent.outcome.status = EmailStatus::Sent;
    assert_eq!(classify(&sent), None);
}
