//! The admin's backup download from the real binary: a store holding a dozen scanned CVs
//! (about 60 MB) is streamed as it is written, not built in the server's memory, and what
//! arrives restores with every file.

mod common;

use std::fs::File;
use std::io::BufReader;

use common::admin_http::{login, Browser};
use common::multipart::Multipart;
use common::process::{self, Server};
use common::FakeMailtrap;
use kipekee::store::Store;

const PASSWORD: &str = "a password for the backup download";

/// Job applications stored, each with `tests/fixtures/cv/scan.pdf` (4.97 MiB) as its CV.
const SCANS: usize = 12;

/// What the server's peak memory may grow by while the backup (over 75 MiB) is sent.
const GROWTH_MIB: u64 = 24;

fn apply(server: &Server, n: usize, scan: &[u8]) {
    let (ct, body) = Multipart::default()
        .text("full_name", &format!("Applicant {n}"))
        .text("email", &format!("applicant{n}@visitor.example"))
        .text("position", "Guide")
        .file("cv", "scan.pdf", "application/pdf", scan)
        .finish();
    let resp = match process::http()
        .post(&server.url("/f/job"))
        .set("Origin", &server.url(""))
        .set("Content-Type", &ct)
        .send_bytes(&body)
    {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("POST /f/job: {e}"),
    };
    assert_eq!(resp.status(), 303, "application {n} is stored");
}

#[test]
fn the_backup_download_streams_every_scan_and_restores_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let phc = kipekee::web::admin::hash_password(PASSWORD);
    let server = Server::start_command(&data, |port| {
        let mut cmd = process::command(&data, port, &fake.url());
        cmd.env("KIPEKEE_ADMIN_PASSWORD_HASH", &phc);
        cmd
    });
    let scan = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cv/scan.pdf"
    ))
    .expect("the scan fixture");
    for n in 0..SCANS {
        apply(&server, n, &scan);
    }
    let mut browser = Browser::default();
    assert_eq!(login(&server, &mut browser, PASSWORD).status, 303);

    let before = common::process::peak_rss_mib(server.child.id());
    let resp = process::http()
        .get(&server.url("/admin/backup"))
        .set("Cookie", &browser.cookie_header())
        .call()
        .expect("the backup download");
    assert_eq!(resp.status(), 200);
    let saved = dir.path().join("backup.jsonl");
    let mut out = File::create(&saved).expect("backup file");
    std::io::copy(&mut resp.into_reader(), &mut out).expect("the whole backup");
    let size_mib = std::fs::metadata(&saved).expect("backup file").len() >> 20;
    let grown = common::process::peak_rss_mib(server.child.id()).saturating_sub(before);
    assert!(
        size_mib >= 75,
        "the backup carries the scans: {size_mib} MiB"
    );
    assert!(
        grown < GROWTH_MIB,
        "the server's peak memory grew by {grown} MiB sending a {size_mib} MiB backup"
    );

    let restored = dir.path().join("restored");
    let stats = Store::restore_from(
        &restored,
        BufReader::new(File::open(&saved).expect("backup file")),
        false,
    )
    .expect("the downloaded backup restores");
    assert_eq!(stats.count("files"), SCANS as u64);
    let store = Store::open(&restored).expect("restored store");
    let jobs: Vec<_> = store
        .submissions_oldest_first(Some("job"))
        .collect::<Result<_, _>>()
        .expect("restored submissions");
    assert_eq!(jobs.len(), SCANS);
    for s in jobs {
        let (meta, path) = store
            .file_on_disk(s.id, "cv")
            .expect("files")
            .expect("the restored scan");
        assert_eq!(meta.filename, "scan.pdf");
        assert!(
            std::fs::read(path).expect("scan") == scan,
            "{}",
            s.reference
        );
    }
}
