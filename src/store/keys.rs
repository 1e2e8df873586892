//! Byte layouts of sled keys: the only place bytes are sliced. Big-endian ids keep sled's
//! lexicographic order equal to time order.

use crate::model::{DeliveryId, SubmissionId};

/// `formslug_submissionid` index: `slug 0x00 id`.
pub fn form_key(slug: &str, id: SubmissionId) -> Vec<u8> {
    let mut k = Vec::with_capacity(slug.len() + 9);
    k.extend_from_slice(slug.as_bytes());
    k.push(0);
    k.extend_from_slice(&id.to_key());
    k
}

/// Prefix of every `form_key` of one form.
pub fn form_prefix(slug: &str) -> Vec<u8> {
    let mut k = slug.as_bytes().to_vec();
    k.push(0);
    k
}

/// `submissionid_deliveryid` index: 16 bytes.
pub fn delivery_key(sub: SubmissionId, delivery: DeliveryId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&sub.to_key());
    k[8..].copy_from_slice(&delivery.to_key());
    k
}

/// `files`: `submission id ++ field name`.
pub fn file_key(sub: SubmissionId, field: &str) -> Vec<u8> {
    let mut k = sub.to_key().to_vec();
    k.extend_from_slice(field.as_bytes());
    k
}

/// The id stored at the end of an index key.
pub fn trailing_id(key: &[u8]) -> Option<u64> {
    let tail = key.len().checked_sub(8).map(|at| &key[at..])?;
    Some(u64::from_be_bytes(tail.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_keys() {
        let id = SubmissionId(0x0006_1a2b_3c4d_5e6f);
        assert_eq!(id.to_string(), "00061a2b3c4d5e6f");
        assert_eq!(id.to_string().parse::<SubmissionId>().unwrap(), id);
        assert_eq!(SubmissionId::from_key(&id.to_key()), Some(id));
        assert!("xyz".parse::<SubmissionId>().is_err());
    }

    #[test]
    fn index_keys_sort_by_time_within_a_form() {
        let a = form_key("quote", SubmissionId(1));
        let b = form_key("quote", SubmissionId(256));
        assert!(a < b && a.starts_with(&form_prefix("quote")));
        assert!(!form_key("quotes", SubmissionId(1)).starts_with(&form_prefix("quote")));
        assert_eq!(trailing_id(&b), Some(256));
        let d = delivery_key(SubmissionId(7), DeliveryId(9));
        assert_eq!(SubmissionId::from_key(&d), Some(SubmissionId(7)));
        assert_eq!(trailing_id(&d), Some(9));
    }
}
