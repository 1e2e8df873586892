//! Crash safety against the real binary: clients post concurrently, the server is killed
//! with SIGKILL at a random moment, and every submission it acknowledged is still there.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{http, Server};
use common::FakeMailtrap;
use rand::Rng;

#[test]
fn every_acknowledged_submission_survives_sigkill_under_concurrent_load() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let server = Server::start(&data, &fake.url());
    let url = server.url("/f/contact");
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (url, acknowledged, stop) = (url.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = http();
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let message = format!("client {c} message {i}");
                    let Ok(res) = agent.post(&url).send_form(&[
                        ("name", "Load"),
                        ("email", "load@visitor.example"),
                        ("message", &message),
                    ]) else {
                        continue; // refused or cut off by the kill: not acknowledged
                    };
                    if res.status() == 303 {
                        let reference = res
                            .header("Location")
                            .and_then(|l| common::query_param(l, "reference"))
                            .expect("a reference");
                        acknowledged.lock().unwrap().push(reference);
                    }
                }
            })
        })
        .collect();
    let kill_after = rand::thread_rng().gen_range(800..2500);
    std::thread::sleep(Duration::from_millis(kill_after));
    server.kill_9();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 10,
        "the load ran ({} acknowledged)",
        acknowledged.len()
    );

    let store = kipekee::store::Store::open(&data).expect("the store opens cleanly after SIGKILL");
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|r| store.submission_by_reference(r).unwrap().is_none())
        .collect();
    println!(
        "killed after {kill_after} ms: {} acknowledged, {} stored, {} missing",
        acknowledged.len(),
        store.count_submissions(),
        missing.len()
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    drop(store);
    let again = Server::start(&data, &fake.url());
    let health: serde_json::Value = http()
        .get(&again.url("/healthz"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(health["status"], "ok");
}
