//! `cargo bench --bench admin`: the admin panel over a store of 100,000 submissions
//! (`KIPEKEE_BENCH_ROWS` to change). Times the list page, filters, a text search, the
//! dashboard and the CSV export, in-process, median of 5 runs each. Prints one table.

use std::time::Instant;

use kipekee::model::NewSubmission;
use rocket::http::{ContentType, Status};
use rocket::local::blocking::Client;

const PASSWORD: &str = "bench password";
const WORDS: &[&str] = &[
    "safari",
    "tents",
    "lodge",
    "serengeti",
    "transfer",
    "family",
    "honeymoon",
    "budget",
    "camping",
    "guide",
    "zanzibar",
    "beach",
    "kilimanjaro",
    "trek",
    "balloon",
    "migration",
];

fn fixture(i: usize) -> NewSubmission {
    let (form, prefix) = [
        ("quote", "Q"),
        ("contact", "C"),
        ("job", "J"),
        ("newsletter", "N"),
    ][i % 4];
    let word = |k: usize| WORDS[(i * 7 + k * 13) % WORDS.len()];
    let email = format!("visitor{i}@example.com");
    let message = format!(
        "We would like a {} {} trip with {} for {} people.",
        word(1),
        word(2),
        word(3),
        i % 9 + 1
    );
    NewSubmission {
        visitor_email: kipekee::model::EmailAddress::parse(&email).ok(),
        ..NewSubmission::new(
            form,
            prefix,
            [
                ("full_name", format!("Visitor {i}")),
                ("email", email),
                ("message", message),
            ],
        )
    }
}

fn median_ms(client: &Client, path: &str) -> (f64, usize) {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let res = client.get(path).dispatch();
        assert_eq!(res.status(), Status::Ok, "{path}");
        size = res.into_bytes().map_or(0, |b| b.len());
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[2], size)
}

fn main() {
    let rows: usize = std::env::var("KIPEKEE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let fill = Instant::now();
    {
        let store = kipekee::store::Store::open(dir.path()).unwrap();
        rocket::execute(async {
            let mut all = (0..rows).map(fixture).peekable();
            while all.peek().is_some() {
                let chunk: Vec<NewSubmission> = all.by_ref().take(10_000).collect();
                store.insert_submissions(chunk).await.unwrap();
            }
        });
    }
    let fill_s = fill.elapsed().as_secs_f64();
    let figment = kipekee::config::figment()
        .merge(("data_dir", dir.path().display().to_string()))
        .merge((
            "admin_password_hash",
            kipekee::web::admin::hash_password(PASSWORD),
        ))
        .merge(("log_level", "off"));
    let client = Client::tracked(kipekee::rocket(figment).unwrap()).unwrap();
    let login = client.get("/admin/login").dispatch().into_string().unwrap();
    let at = login.find("name=\"csrf_token\" value=\"").unwrap() + 25;
    let token = login[at..].split('"').next().unwrap().to_string();
    let res = client
        .post("/admin/login")
        .header(ContentType::Form)
        .body(format!("password=bench+password&csrf_token={token}"))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);

    println!("admin panel over {rows} stored submissions (filled in {fill_s:.1} s); median of 5 requests, in-process");
    println!("| request | ms | bytes |");
    println!("|---|---|---|");
    let deep = {
        // Cursor of a page deep in the list: the 2,000th newest submission.
        let page = client.get("/admin/submissions").dispatch();
        drop(page);
        let store = &client.rocket().state::<kipekee::store::Store>().unwrap();
        let filter = kipekee::store::SubmissionFilter::default();
        store
            .list_submissions(&filter, None, 2000)
            .unwrap()
            .next
            .unwrap_or(0)
    };
    for (label, path) in [
        ("list, first page", "/admin/submissions".to_string()),
        ("list, one form", "/admin/submissions?form=quote".into()),
        (
            "list, page 80 (cursor)",
            format!("/admin/submissions?before={deep}"),
        ),
        (
            "search, common word",
            "/admin/submissions?q=serengeti".into(),
        ),
        (
            "search, one match",
            format!("/admin/submissions?q=visitor{}%40", rows / 2),
        ),
        (
            "filter, email failed (no match)",
            "/admin/submissions?email=failed".into(),
        ),
        ("dashboard", "/admin".into()),
        (
            "CSV export, one form",
            "/admin/export.csv?form=quote".into(),
        ),
    ] {
        let (ms, bytes) = median_ms(&client, &path);
        println!("| {label} | {ms:.1} | {bytes} |");
    }
}
