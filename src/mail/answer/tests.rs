use super::*;

#[test]
fn batch_items_are_read_one_by_one() {
    let body = r#"{"success":true,"responses":[
            {"success":true,"message_ids":["a1","a2"]},
            {"success":false,"errors":["'from' is required","'subject' is required"]}]}"#;
    let got = parse_batch_answer(200, body, 3);
    assert_eq!(got[0], Ok(vec!["a1".to_string(), "a2".to_string()]));
    assert_eq!(
        got[1],
        Err(Failure::new(
            FailureKind::Rejected,
            "'from' is required; 'subject' is required"
        ))
    );
    let uncovered = got[2].as_ref().unwrap_err();
    assert!(uncovered.detail.contains("did not cover"));
    assert_eq!(uncovered.kind, FailureKind::UnreadableAnswer);
}

#[test]
fn every_error_shape_is_understood() {
    let mt = |status| FailureKind::Http {
        status,
        mailtrap: true,
    };
    let gateway = |status| FailureKind::Http {
        status,
        mailtrap: false,
    };
    let cases = [
        (
            401,
            r#"{"errors":["Unauthorized"]}"#,
            mt(401),
            "HTTP 401: Unauthorized",
        ),
        (
            400,
            r#"{"success":false,"errors":["bad"]}"#,
            mt(400),
            "HTTP 400: bad",
        ),
        (
            401,
            r#"{"error":"Incorrect API token"}"#,
            mt(401),
            "HTTP 401: Incorrect API token",
        ),
        (
            422,
            r#"{"errors":{"base":["x"]}}"#,
            mt(422),
            r#"HTTP 422: base: ["x"]"#,
        ),
        (
            503,
            "<html>cloudflare</html>",
            gateway(503),
            "HTTP 503: non-JSON answer",
        ),
        (502, "", gateway(502), "HTTP 502: empty answer"),
        (
            500,
            r#"{"errors":["Internal"]}"#,
            mt(500),
            "HTTP 500: Internal",
        ),
        (
            200,
            r#"{"success":false,"errors":["general"]}"#,
            FailureKind::Rejected,
            "HTTP 200: general",
        ),
        (
            200,
            "not json",
            FailureKind::UnreadableAnswer,
            "HTTP 200: non-JSON answer",
        ),
    ];
    for (status, body, kind, want) in cases {
        assert_eq!(
            parse_batch_answer(status, body, 1),
            vec![Err(Failure::new(kind, want))],
            "{body}"
        );
    }
}
