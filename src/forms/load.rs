//! A configuration's forms made ready to serve, once, when it is loaded: roles inferred,
//! definitions checked, visitor texts in the catalogue's language.

use std::collections::BTreeMap;

use super::FormDef;
use crate::i18n::{english, Catalogue};
use crate::model::FormSlug;

/// A form definition that cannot be served, and why.
#[derive(Debug, thiserror::Error)]
#[error("forms.{slug}: {message}")]
pub struct InvalidForm {
    pub slug: FormSlug,
    pub message: String,
}

/// Infers each form's missing roles ([`FormDef::infer_roles`]), checks it
/// ([`FormDef::check`]) and puts its texts in `strings`' language (see [`localize`]).
pub fn load(
    mut defs: BTreeMap<FormSlug, FormDef>,
    strings: &Catalogue,
) -> Result<BTreeMap<FormSlug, FormDef>, InvalidForm> {
    for (slug, def) in &mut defs {
        def.infer_roles();
        def.check().map_err(|message| InvalidForm {
            slug: slug.clone(),
            message,
        })?;
        localize(slug, def, strings);
    }
    Ok(defs)
}

/// A text of a form follows the visitor's language when it is a built-in one: written as
/// its catalogue key (`forms.<slug>.title`, as `builtin.toml` writes it; `form.submit` for a
/// form's default button), or equal to that key's English text (an owner's copy of a built-in
/// form). Any other text is the owner's and stays as written.
fn localize(slug: &FormSlug, def: &mut FormDef, strings: &Catalogue) {
    let base = format!("forms.{slug}");
    let put = |text: &mut String, key: &str| {
        let built_in = english().has(key) && (text == key || text == english().text(key));
        if built_in {
            *text = strings.text(key).to_string();
        }
        built_in
    };
    put(&mut def.title, &format!("{base}.title"));
    put(&mut def.intro, &format!("{base}.intro"));
    put(&mut def.thanks, &format!("{base}.thanks"));
    if !put(&mut def.submit_label, &format!("{base}.submit")) {
        put(&mut def.submit_label, "form.submit");
    }
    for field in &mut def.fields {
        put(&mut field.label, &format!("{base}.fields.{}", field.name));
    }
    for email in &mut def.emails {
        put(
            &mut email.subject,
            &format!("{base}.subjects.{}", email.kind),
        );
    }
}
