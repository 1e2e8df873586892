//! The four built-in forms of the design card (quote request, job application, newsletter
//! signup, contact) as data: `builtin.toml`, in the schema of `Rocket.toml`, with catalogue
//! keys for the texts a visitor reads.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use super::FormDef;
use crate::model::FormSlug;

static BUILTIN: LazyLock<BTreeMap<FormSlug, FormDef>> = LazyLock::new(|| {
    toml::from_str(include_str!("builtin.toml")).expect("builtin.toml is a valid set of forms")
});

/// The built-in forms as written: the defaults an owner's `[default.forms.<slug>]` is merged
/// onto. Their visitor texts are catalogue keys until [`super::load`] puts them in a language.
pub fn builtin() -> BTreeMap<FormSlug, FormDef> {
    BUILTIN.clone()
}
