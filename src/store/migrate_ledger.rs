//! Schema 4: the rendered emails leave the delivery records for `deliveryid_body`, and every
//! submission gets its state from the ledger's one rule, its standing bounces indexed in
//! `bounced_deliveryid` (see `settle`).

use std::collections::BTreeMap;

use super::settle::Settling;
use super::{codec, keys, Result, Store};
use crate::model::{Delivery, DeliveryId, EmailBody, SubmissionId};

/// Version 3 kept each attempt's rendered email (`text`, `html`) on its delivery record.
/// They move to `deliveryid_body` and the records are rewritten without them; then every
/// submission is settled: its state by the one rule over its whole log (a bounced
/// confirmation no longer reads `sent`, emails queued for retry read `retrying`) and its
/// standing bounces indexed. Run again after a crash, it finds the bodies already moved.
pub(super) fn v3_to_v4(store: &Store) -> Result<()> {
    for entry in store.deliveries.iter() {
        let (key, raw) = entry?;
        let d: Delivery = codec::decode("deliveries", &raw)?;
        rewrite_delivery(store, &key, &raw, &d)?;
    }
    let mut retrying: BTreeMap<SubmissionId, Vec<String>> = BTreeMap::new();
    for (id, kind) in store.retries_queued()? {
        retrying.entry(id).or_default().push(kind);
    }
    let mut logs: BTreeMap<SubmissionId, Vec<DeliveryId>> = BTreeMap::new();
    for key in store.submissionid_deliveryid.iter().keys() {
        let key = key?;
        if let (Some(s), Some(d)) = (SubmissionId::from_key(&key), keys::trailing_id(&key)) {
            logs.entry(s).or_default().push(DeliveryId(d));
        }
    }
    for key in store.submissions.iter().keys() {
        let Some(id) = SubmissionId::from_key(&key?) else {
            continue;
        };
        let settling = Settling::new(
            id,
            logs.remove(&id).unwrap_or_default(),
            retrying.remove(&id).unwrap_or_default(),
        );
        store.settle_now(&settling)?;
    }
    Ok(())
}

/// Writes `d` over the delivery record `raw` it was read from. A record written before
/// schema 4 carries its rendered email (`text`, `html`), which [`Delivery`] no longer reads:
/// it moves to `deliveryid_body` first, so that no step that rewrites records through the
/// current type loses it.
pub(super) fn rewrite_delivery(store: &Store, key: &[u8], raw: &[u8], d: &Delivery) -> Result<()> {
    let body: EmailBody = codec::decode("deliveries", raw)?;
    if !body.is_empty() {
        store.deliveryid_body.insert(key, codec::encode(&body))?;
    }
    store.deliveries.insert(key, codec::encode(d))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::DeliveryState;
    use crate::store::SCHEMA_VERSION;

    const ANNA: u64 = 1_000_001;
    const JUMA: u64 = 1_000_002;

    fn submission(id: u64, reference: &str) -> serde_json::Value {
        serde_json::json!({
            "id": format!("{id:016x}"), "form": "quote", "reference": reference,
            "created_at": "2026-11-01T09:30:00Z", "fields": { "message": "Hi" },
            "visitor_email": "v@visitor.example", "email_status": "sent",
        })
    }

    /// A delivery record as schema 3 wrote it: the rendered email on the record.
    fn delivery(id: u64, submission: u64, kind: &str, status: &str) -> serde_json::Value {
        serde_json::json!({
            "id": format!("{id:016x}"), "submission_id": format!("{submission:016x}"),
            "kind": kind, "to_visitor": kind == "confirmation", "to": "v@visitor.example",
            "subject": "Thanks", "status": status, "started_at": "2026-11-01T09:30:01Z",
            "duration_ms": 40, "attempt": "first_try",
            "text": format!("Dear visitor ({kind})"), "html": format!("<p>{kind}</p>"),
        })
    }

    /// A schema 3 store: Anna's confirmation bounced (her record still says `sent`), Juma's
    /// failed and waits for a retry (his record says `failed`).
    fn write_v3_store(dir: &Path) {
        let db = sled::open(dir).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &3u64.to_be_bytes())
            .unwrap();
        let subs = db.open_tree("submissions").unwrap();
        subs.insert(
            ANNA.to_be_bytes(),
            submission(ANNA, "Q-1001").to_string().as_bytes(),
        )
        .unwrap();
        let mut juma = submission(JUMA, "Q-1002");
        juma["email_status"] = "failed".into();
        subs.insert(JUMA.to_be_bytes(), juma.to_string().as_bytes())
            .unwrap();
        let mut bounced = delivery(11, ANNA, "confirmation", "sent");
        bounced["inbox"] = serde_json::json!({
            "state": "bounced", "at": "2026-11-01T09:31:00Z", "detail": "550 no such user",
        });
        let records = [
            delivery(10, ANNA, "admin", "sent"),
            bounced,
            delivery(20, JUMA, "admin", "sent"),
            delivery(21, JUMA, "confirmation", "failed"),
        ];
        let deliveries = db.open_tree("deliveries").unwrap();
        let index = db.open_tree("submissionid_deliveryid").unwrap();
        for d in records {
            let id = u64::from_str_radix(d["id"].as_str().unwrap(), 16).unwrap();
            let sub = u64::from_str_radix(d["submission_id"].as_str().unwrap(), 16).unwrap();
            deliveries
                .insert(id.to_be_bytes(), d.to_string().as_bytes())
                .unwrap();
            let key = keys::delivery_key(SubmissionId(sub), DeliveryId(id));
            index.insert(key, &[]).unwrap();
        }
        let mut retry_key = 5u64.to_be_bytes().to_vec();
        retry_key.extend_from_slice(&JUMA.to_be_bytes());
        retry_key.extend_from_slice(b"confirmation");
        let job = serde_json::json!({
            "submission_id": format!("{JUMA:016x}"), "kind": "confirmation", "attempt": 2,
        });
        db.open_tree("retries")
            .unwrap()
            .insert(retry_key, job.to_string().as_bytes())
            .unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn a_version_3_store_gets_its_bodies_apart_and_its_states_settled() {
        let dir = tempfile::tempdir().unwrap();
        write_v3_store(dir.path());
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        for (id, kind) in [(10, "admin"), (11, "confirmation"), (21, "confirmation")] {
            let raw = store
                .deliveries
                .get(DeliveryId(id).to_key())
                .unwrap()
                .unwrap();
            let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            assert!(
                json.get("text").is_none() && json.get("html").is_none(),
                "{json}"
            );
            assert_eq!(json["kind"], kind, "the rest is kept");
            let body = store.body(DeliveryId(id)).unwrap().unwrap();
            assert_eq!(body.text, format!("Dear visitor ({kind})"));
            assert_eq!(body.html, format!("<p>{kind}</p>"));
        }
        let bounced = store.delivery(DeliveryId(11)).unwrap().unwrap();
        assert_eq!(bounced.state(), DeliveryState::Bounced, "its event is kept");
        let state = |id| {
            store
                .submission(SubmissionId(id))
                .unwrap()
                .unwrap()
                .email_status
        };
        assert_eq!(state(ANNA), DeliveryState::Bounced, "no longer `sent`");
        assert_eq!(state(JUMA), DeliveryState::Retrying, "no longer `failed`");
        let standing: Vec<_> = store
            .standing_bounces(8)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(standing, [DeliveryId(11)]);

        // Interrupted and run again: nothing is lost.
        v3_to_v4(&store).unwrap();
        assert_eq!(
            store.body(DeliveryId(11)).unwrap().unwrap().text,
            "Dear visitor (confirmation)"
        );
    }
}
