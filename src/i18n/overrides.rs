//! `[default.strings]` in `Rocket.toml` (or `KIPEKEE_STRINGS.FORM.SUBMIT=…`): the owner's own
//! text for any catalogue key. Written flat (`"form.submit" = "Send it"`) or as tables
//! (`[default.strings.form]` then `submit = "Send it"`); both read as `form.submit`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Catalogue key → the owner's text, keys joined with dots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StringOverrides(BTreeMap<String, String>);

impl StringOverrides {
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for StringOverrides {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        StringOverrides(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// A text, or a table of them. The environment's values are parsed (`KIPEKEE_STRINGS`
/// is a table), so a text of digits or `true` arrives as a number or a boolean: read back as
/// the text it was.
#[derive(Deserialize)]
#[serde(untagged)]
enum Node {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Table(BTreeMap<String, Node>),
}

fn flatten(prefix: &str, node: Node, out: &mut BTreeMap<String, String>) {
    let text = match node {
        Node::Table(table) => {
            for (key, child) in table {
                let key = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&key, child, out);
            }
            return;
        }
        Node::Text(text) => text,
        Node::Integer(n) => n.to_string(),
        Node::Float(x) => x.to_string(),
        Node::Boolean(b) => b.to_string(),
    };
    out.insert(prefix.to_string(), text);
}

impl<'de> Deserialize<'de> for StringOverrides {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = BTreeMap::<String, Node>::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "strings: expected texts by catalogue key, e.g. \"form.submit\" = \"Send\"",
            )
        })?;
        let mut out = BTreeMap::new();
        flatten("", Node::Table(table), &mut out);
        Ok(StringOverrides(out))
    }
}
