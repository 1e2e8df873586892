//! Records in and out of sled's bytes: JSON, and a decoding error that names its tree.

use serde::{de::DeserializeOwned, Serialize};

use super::StoreError;

pub(super) fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail: no maps with non-string keys, no I/O.
    serde_json::to_vec(record).unwrap_or_default()
}

pub(super) fn decode<T: DeserializeOwned>(
    tree: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt { tree, source })
}
