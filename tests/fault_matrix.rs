//! Every Mailtrap fault mode, side by side: each row posts the same submissions and checks
//! that none is lost, none is mailed twice, and no visitor waits past the timeout budget.
//! Prints the table (`cargo test --test fault_matrix -- --nocapture`).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{form_body, Fault, TestApp};
use rocket::http::{ContentType, Status};

const POSTS: usize = 4;

#[test]
fn no_fault_mode_loses_a_submission_or_mails_twice() {
    let json_error = |code: u16, text: &str| Fault::Status {
        code,
        body: format!(r#"{{"errors":["{text}"]}}"#),
        retry_after: None,
    };
    let modes: Vec<(&str, Fault, Duration)> = vec![
        ("ok", Fault::None, Duration::ZERO),
        ("slow 300 ms", Fault::None, Duration::from_millis(300)),
        (
            "400",
            json_error(400, "'subject' is required"),
            Duration::ZERO,
        ),
        ("401", json_error(401, "Unauthorized"), Duration::ZERO),
        ("403", json_error(403, "Account is banned"), Duration::ZERO),
        (
            "429",
            Fault::Status {
                code: 429,
                body: String::new(),
                retry_after: Some(5),
            },
            Duration::ZERO,
        ),
        (
            "500",
            json_error(500, "Internal server error"),
            Duration::ZERO,
        ),
        (
            "502 html",
            Fault::Status {
                code: 502,
                body: "<html>bad gateway</html>".into(),
                retry_after: None,
            },
            Duration::ZERO,
        ),
        ("items fail", Fault::FailAllItems, Duration::ZERO),
        ("dropped", Fault::Drop, Duration::ZERO),
        ("hang", Fault::Hang, Duration::ZERO),
    ];
    let budget = Duration::from_secs(1);
    println!("| mode | requests | acknowledged | stored | emails delivered | duplicates | max latency ms |");
    println!("|---|---|---|---|---|---|---|");
    for (name, fault, latency) in modes {
        let t = TestApp::start_with(|f| f.merge(("mailtrap_timeout_secs", 1)));
        t.fake.set_fault(fault);
        t.fake.set_latency(latency);
        let (mut acknowledged, mut max) = (Vec::new(), Duration::ZERO);
        for i in 0..POSTS {
            let started = Instant::now();
            let res = t
                .client
                .post("/f/contact")
                .header(ContentType::Form)
                .body(form_body(&[
                    ("name", "Ann"),
                    ("email", "ann@visitor.example"),
                    ("message", &format!("m{i}")),
                ]))
                .dispatch();
            max = max.max(started.elapsed());
            if res.status() == Status::SeeOther {
                let location = res.headers().get_one("Location").unwrap();
                acknowledged.push(common::query_param(location, "reference").unwrap());
            }
        }
        let store = t.store();
        let stored = acknowledged
            .iter()
            .filter(|r| store.submission_by_reference(r).unwrap().is_some())
            .count();
        let delivered = t.fake.delivered();
        let mut seen = HashMap::new();
        for m in &delivered {
            *seen
                .entry((
                    m["to"].to_string(),
                    m["subject"].to_string(),
                    m["text"].to_string(),
                ))
                .or_insert(0) += 1;
        }
        let duplicates: usize = seen.values().map(|n| n - 1).sum();
        println!(
            "| {name} | {} | {} | {stored} | {} | {duplicates} | {} |",
            t.fake.requests().len(),
            acknowledged.len(),
            delivered.len(),
            max.as_millis()
        );
        assert_eq!(
            acknowledged.len(),
            POSTS,
            "{name}: every post is acknowledged"
        );
        assert_eq!(stored, acknowledged.len(), "{name}");
        assert_eq!(duplicates, 0, "{name}");
        assert!(max < budget + Duration::from_millis(800), "{name}: {max:?}");
    }
}
