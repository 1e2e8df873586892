//! The built-in forms in the visitor's language. A text the owner changed in `Rocket.toml`
//! stays the owner's: only a text still equal to the English built-in one (the catalogue's
//! `forms.<slug>.…` key, or `form.submit` for a form's default button) is replaced.

use std::collections::BTreeMap;

use super::{english, Catalogue};
use crate::forms::FormDef;

/// Swaps each built-in English text of `forms` for `strings`' text of the same key.
pub fn localize_forms(forms: &mut BTreeMap<crate::model::FormSlug, FormDef>, strings: &Catalogue) {
    for (slug, form) in forms.iter_mut() {
        let base = format!("forms.{slug}");
        swap(strings, &format!("{base}.title"), &mut form.title);
        swap(strings, &format!("{base}.intro"), &mut form.intro);
        swap(strings, &format!("{base}.thanks"), &mut form.thanks);
        swap(strings, &format!("{base}.submit"), &mut form.submit_label);
        swap(strings, "form.submit", &mut form.submit_label);
        for field in &mut form.fields {
            swap(
                strings,
                &format!("{base}.fields.{}", field.name),
                &mut field.label,
            );
        }
        for email in &mut form.emails {
            swap(
                strings,
                &format!("{base}.subjects.{}", email.kind),
                &mut email.subject,
            );
        }
    }
}

fn swap(strings: &Catalogue, key: &str, text: &mut String) {
    if english().has(key) && text.as_str() == english().text(key) {
        *text = strings.text(key).to_string();
    }
}
