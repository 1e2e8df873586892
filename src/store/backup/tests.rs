use std::collections::BTreeMap;

use time::Duration;

use super::*;
use crate::model::{Delivery, EmailAddress, EmailBody, FileType, NewSubmission, Upload};
use crate::store::SCHEMA_VERSION;

const CV: &[u8] = b"%PDF-1.7 \x00\xff bytes";

fn quote(message: &str) -> NewSubmission {
    NewSubmission::for_test("quote", "Q", &[("message", message)])
}

async fn filled_store() -> Store {
    let store = Store::temporary().unwrap();
    let mut job = quote("cv attached");
    job.form = "job".into();
    job.reference_prefix = "J".into();
    let tmp = tempfile::tempdir().unwrap();
    job.uploads = vec![Upload {
        field: "cv".into(),
        filename: "cv.pdf".into(),
        file_type: FileType::Pdf,
        file: crate::forms::temp::from_bytes(tmp.path(), CV)
            .await
            .unwrap(),
    }];
    let job = store.insert_submission(job).await.unwrap();
    store.insert_submission(quote("a quote")).await.unwrap();
    let attempt = Delivery::planned("admin", Some("o@example.com"), "New job");
    let body = EmailBody {
        text: "A new job application: cv attached".into(),
        html: "<p>A new job application</p>".into(),
    };
    let failed = store
        .record_deliveries(job.id, vec![(attempt, body)])
        .await
        .unwrap()
        .remove(0);
    let retry = crate::store::RetryJob {
        submission_id: job.id,
        kind: "admin".into(),
        attempt: 2,
        after: Some(failed.id),
    };
    store.schedule_retry(1_000, &retry).await.unwrap();
    let email = EmailAddress::parse("reader@example.com").unwrap();
    store
        .subscribe(&email, Some("Reader"), job.id, Duration::HOUR)
        .await
        .unwrap();
    store
        .db
        .open_tree("later_feature")
        .unwrap()
        .insert("k1", "x")
        .unwrap();
    store.create_session("tag", true, "phone").await.unwrap();
    store
}

fn dump(store: &Store) -> BTreeMap<(String, Vec<u8>), Vec<u8>> {
    let mut all = BTreeMap::new();
    for name in store.db.tree_names() {
        let tree = String::from_utf8(name.to_vec()).unwrap();
        if tree == "sessions" {
            continue;
        }
        for entry in store.db.open_tree(&name).unwrap().iter() {
            let (k, v) = entry.unwrap();
            all.insert((tree.clone(), k.to_vec()), v.to_vec());
        }
    }
    all
}

#[rocket::async_test]
async fn a_restored_backup_equals_the_store_it_was_taken_from_tree_by_tree() {
    let store = filled_store().await;
    let mut backup = Vec::new();
    let stats = store.backup_to(&mut backup).unwrap();
    assert_eq!(stats.count("submissions"), 2);
    assert_eq!(stats.count("files"), 1);
    assert_eq!(stats.count("deliveries"), 1);
    assert_eq!(stats.count("deliveryid_body"), 1, "the emails as rendered");
    assert_eq!(stats.count("claims"), 1, "who sent each email last");
    assert_eq!(stats.count("retries"), 1);
    assert_eq!(stats.count("subscribers"), 1);
    assert_eq!(
        stats.count("later_feature"),
        1,
        "a tree added later is backed up"
    );
    assert_eq!(stats.count("sessions"), 0, "admin sessions are left out");
    assert_eq!(Store::verify_backup(backup.as_slice()).unwrap(), stats);

    let dir = tempfile::tempdir().unwrap();
    let restored = Store::restore_from(dir.path(), backup.as_slice(), false).unwrap();
    assert_eq!(restored, stats);
    let copy = Store::open(dir.path()).unwrap();
    assert_eq!(dump(&copy), dump(&store));
    assert!(copy.sessions.is_empty());
    let job = copy.submission_by_reference("J-1001").unwrap().unwrap();
    assert_eq!(
        copy.file(job.id, "cv").unwrap().unwrap(),
        CV,
        "the file is restored"
    );
    let ids: Vec<_> = copy
        .submissions_oldest_first(None)
        .map(|s| s.unwrap().reference)
        .collect();
    assert_eq!(ids, ["J-1001", "Q-1001"]);
    let quotes: Vec<_> = copy
        .submissions_oldest_first(Some("quote"))
        .map(|s| s.unwrap().reference)
        .collect();
    assert_eq!(quotes, ["Q-1001"]);
}

/// What a backup of a store with an attempt in flight restores: the attempt is `unknown`
/// (it may have arrived), its email no longer in flight, the submission settled; whether
/// the backup read `claims` before or after the claim was written.
#[rocket::async_test]
async fn an_attempt_in_flight_when_the_backup_was_taken_is_unknown_after_the_restore() {
    use crate::model::{DeliveryState, EmailStatus, FailureKind, Outcome};
    use crate::store::Claim;

    let store = Store::temporary().unwrap();
    let s = store.insert_submission(quote("in flight")).await.unwrap();
    let d = Delivery {
        id: store.new_delivery_id(),
        submission_id: s.id,
        outcome: Outcome::in_flight(),
        ..Delivery::planned("admin", Some("o@example.com"), "New quote")
    };
    let taken = store
        .claim_round(s.id, Claim::First, &[(d.clone(), EmailBody::default())])
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let mut backup = Vec::new();
    store.backup_to(&mut backup).unwrap();
    let text = String::from_utf8(backup).unwrap();
    // The same backup, had it read `claims` before the claim was written.
    let lagging: String = text
        .lines()
        .filter(|l| !l.contains(r#""tree":"claims""#))
        .map(|l| match l.strip_prefix(r#"{"kipekee_backup_end":"#) {
            Some(n) => {
                let n: u64 = n.trim_end_matches('}').parse().unwrap();
                format!(r#"{{"kipekee_backup_end":{}}}"#, n - 1) + "\n"
            }
            None => format!("{l}\n"),
        })
        .collect();
    for backup in [text.as_str(), lagging.as_str()] {
        let dir = tempfile::tempdir().unwrap();
        Store::restore_from(dir.path(), backup.as_bytes(), false).unwrap();
        let copy = Store::open(dir.path()).unwrap();
        let restored = copy.deliveries_of(s.id).unwrap().remove(0);
        assert_eq!(restored.outcome.status, EmailStatus::Unknown);
        assert_eq!(restored.outcome.failure, Some(FailureKind::Interrupted));
        assert!(!copy.in_flight(s.id, "admin").unwrap());
        let settled = copy.submission(s.id).unwrap().unwrap();
        assert_eq!(settled.email_status, DeliveryState::Unknown);
    }
}

/// A retry queued by a release before jobs named the attempt they follow restores, and the
/// runner still takes it.
#[rocket::async_test]
async fn a_backup_with_retries_queued_before_they_named_their_attempt_restores() {
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine;

    let store = filled_store().await;
    let mut backup = Vec::new();
    store.backup_to(&mut backup).unwrap();
    let old: String = String::from_utf8(backup)
        .unwrap()
        .lines()
        .map(|l| {
            let mut line: serde_json::Value = serde_json::from_str(l).unwrap();
            if line["tree"] == "retries" {
                let raw = BASE64.decode(line["value"].as_str().unwrap()).unwrap();
                let mut job: serde_json::Value = serde_json::from_slice(&raw).unwrap();
                job.as_object_mut().unwrap().remove("after");
                line["value"] = BASE64.encode(job.to_string()).into();
            }
            line.to_string() + "\n"
        })
        .collect();
    assert!(!old.contains("after"));
    Store::verify_backup(old.as_bytes()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    Store::restore_from(dir.path(), old.as_bytes(), false).unwrap();
    let copy = Store::open(dir.path()).unwrap();
    let job = copy.submission_by_reference("J-1001").unwrap().unwrap();
    let queued = copy.queued_retries(job.id).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].1.kind.as_str(), queued[0].1.after),
        ("admin", None)
    );
}

#[rocket::async_test]
async fn restore_refuses_a_store_holding_data_unless_forced_and_then_replaces_it() {
    let source = filled_store().await;
    let mut backup = Vec::new();
    source.backup_to(&mut backup).unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let target = Store::open(dir.path()).unwrap();
        target
            .insert_submission(quote("already here"))
            .await
            .unwrap();
        target
            .db
            .open_tree("only_here")
            .unwrap()
            .insert("k", "v")
            .unwrap();
        target.db.flush().unwrap();
    }
    let err = Store::restore_from(dir.path(), backup.as_slice(), false).unwrap_err();
    assert!(
        matches!(err, BackupError::NotEmpty { submissions: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--force"), "{err}");
    let left = {
        let target = Store::open(dir.path()).unwrap();
        target.files.write(SubmissionId(42), 0, b"old").unwrap()
    };
    Store::restore_from(dir.path(), backup.as_slice(), true).unwrap();
    assert!(!left.exists(), "the old store's files are gone");
    let target = Store::open(dir.path()).unwrap();
    assert_eq!(
        dump(&target),
        dump(&source),
        "nothing of the old store is left"
    );
}

#[rocket::async_test]
async fn verify_refuses_a_cut_off_or_altered_backup() {
    let store = filled_store().await;
    let mut backup = Vec::new();
    store.backup_to(&mut backup).unwrap();
    let text = String::from_utf8(backup).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines[..lines.len() - 1].join("\n");
    let err = Store::verify_backup(cut.as_bytes()).unwrap_err();
    assert!(matches!(err, BackupError::Truncated), "{err}");
    let dropped = [&lines[..1], &lines[2..]].concat().join("\n");
    let err = Store::verify_backup(dropped.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("end line counts"), "{err}");
    let file_line = lines
        .iter()
        .position(|l| l.starts_with(r#"{"tree":"files""#))
        .expect("the file is in the backup");
    let mut broken = lines.clone();
    let bad = r#"{"tree":"files","key":"a2V5","value":"AA=="}"#;
    broken[file_line] = bad;
    let err = Store::verify_backup(broken.join("\n").as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("backup line {}:", file_line + 1)),
        "{err}"
    );
    let err = Store::verify_backup(&b"hello\n"[..]).unwrap_err();
    assert!(err.to_string().contains("not a kipekee backup"), "{err}");
    assert!(Store::verify_backup(&b""[..]).is_err());
}

#[test]
fn a_backup_of_a_newer_schema_is_refused() {
    let line = serde_json::json!({
        "kipekee_backup": 1,
        "schema_version": SCHEMA_VERSION + 1,
        "created_at": "2026-01-01T00:00:00Z",
    });
    let backup = format!("{line}\n{{\"kipekee_backup_end\":0}}\n");
    let dir = tempfile::tempdir().unwrap();
    let err = Store::restore_from(dir.path(), backup.as_bytes(), true).unwrap_err();
    assert!(matches!(err, BackupError::NewerSchema { .. }), "{err}");
    assert!(err.to_string().contains("newer kipekee"), "{err}");
}

/// `backup` as a schema 3 backup would hold the same store: the rendered emails on their
/// delivery records, no `deliveryid_body`.
fn as_schema_3(backup: &[u8]) -> String {
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine;
    let lines: Vec<serde_json::Value> = String::from_utf8(backup.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decode = |v: &serde_json::Value| BASE64.decode(v.as_str().unwrap()).unwrap();
    let bodies: BTreeMap<Vec<u8>, serde_json::Value> = lines
        .iter()
        .filter(|l| l["tree"] == "deliveryid_body")
        .map(|l| {
            (
                decode(&l["key"]),
                serde_json::from_slice(&decode(&l["value"])).unwrap(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for mut line in lines {
        if line.get("schema_version").is_some() {
            line["schema_version"] = 3.into();
        } else if line["tree"] == "deliveryid_body" {
            continue;
        } else if line["tree"] == "deliveries" {
            let mut record: serde_json::Value =
                serde_json::from_slice(&decode(&line["value"])).unwrap();
            for (k, v) in bodies[&decode(&line["key"])].as_object().unwrap() {
                record[k] = v.clone();
            }
            line["value"] = BASE64.encode(record.to_string()).into();
        } else if line["tree"] == "meta" && decode(&line["key"]) == b"schema_version" {
            line["value"] = BASE64.encode(3u64.to_be_bytes()).into();
        } else if let Some(n) = line.get("kipekee_backup_end").and_then(|n| n.as_u64()) {
            line["kipekee_backup_end"] = (n - bodies.len() as u64).into();
        }
        out.push(line.to_string());
    }
    out.join("\n") + "\n"
}

/// A backup from before the rendered emails were kept apart still restores: the next start
/// moves them out of the delivery records, and the preview still has them.
#[rocket::async_test]
async fn a_backup_with_the_emails_on_their_delivery_records_restores_with_them() {
    let store = filled_store().await;
    let mut backup = Vec::new();
    store.backup_to(&mut backup).unwrap();
    let old = as_schema_3(&backup);
    assert!(!old.contains("deliveryid_body"));
    let stats = Store::verify_backup(old.as_bytes()).unwrap();
    assert_eq!((stats.schema_version, stats.count("deliveries")), (3, 1));

    let dir = tempfile::tempdir().unwrap();
    Store::restore_from(dir.path(), old.as_bytes(), false).unwrap();
    let copy = Store::open(dir.path()).unwrap();
    assert_eq!(copy.schema_version().unwrap(), SCHEMA_VERSION);
    let job = copy.submission_by_reference("J-1001").unwrap().unwrap();
    let d = copy.deliveries_of(job.id).unwrap().remove(0);
    let body = copy.body(d.id).unwrap().expect("the email as rendered");
    assert_eq!(body.text, "A new job application: cv attached");
    assert_eq!(body.html, "<p>A new job application</p>");
    let raw = copy.deliveries.get(d.id.to_key()).unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("cv attached"));
}
