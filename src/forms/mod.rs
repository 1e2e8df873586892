//! Forms as data: a `FormDef` says which fields a form has, how each is checked and which
//! emails it sends to whom. The four built-in forms are defaults the config can override.

mod builtin;
mod load;
mod raw;
pub mod spam;
pub mod upload;
mod validate;
mod vocabulary;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{FileType, FormSlug};

pub use builtin::builtin;
pub use load::{load, InvalidForm};
pub use raw::{RawFile, RawInput};
pub use upload::{kept, list_in_words, size_in_words, sniff, temp};
pub use validate::{labels, validate, FieldErrors, Invalid, Valid, MAX_FIELDS};
pub use vocabulary::{FieldRole, Recipient, Template};

/// What a form does with a valid submission besides storing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormKind {
    /// Sends the form's emails right away.
    #[default]
    Standard,
    /// Double opt-in: the `email` field becomes a pending subscriber.
    Newsletter,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FormDef {
    pub title: String,
    #[serde(default)]
    pub intro: String,
    /// Prefix of the visitor's reference (`Q` gives `Q-1042`).
    pub reference_prefix: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Position on the index page, smallest first.
    #[serde(default)]
    pub position: u32,
    #[serde(default)]
    pub kind: FormKind,
    #[serde(default = "default_submit_label")]
    pub submit_label: String,
    /// Shown on the thank-you page above the reference.
    #[serde(default)]
    pub thanks: String,
    pub fields: Vec<FieldDef>,
    pub emails: Vec<EmailDef>,
    /// The pipeline the owner moves a submission through in the admin panel; first is the start.
    #[serde(default = "default_statuses")]
    pub statuses: Vec<String>,
}

pub(crate) fn default_statuses() -> Vec<String> {
    ["new", "replied", "won", "lost", "archived"]
        .map(String::from)
        .to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Email,
    Tel,
    Url,
    Textarea,
    Select,
    Checkbox,
    File,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldDef {
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// Most characters accepted; each kind has a default.
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Choices of a `select`.
    #[serde(default)]
    pub options: Vec<String>,
    /// Accepted types of a `file` field.
    #[serde(default)]
    pub accept: Vec<FileType>,
    #[serde(default)]
    pub placeholder: String,
    /// What the field means (`role = "name"`); see [`FormDef::infer_roles`] for a form that
    /// says nothing.
    #[serde(default)]
    pub role: Option<FieldRole>,
}

impl FieldDef {
    pub fn max_length(&self) -> usize {
        self.max_length.unwrap_or(match self.kind {
            FieldKind::Textarea => 5000,
            FieldKind::Email => 254,
            FieldKind::Url => 500,
            _ => 200,
        })
    }
}

/// When an email of a form goes out, in the order a visitor meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    #[default]
    Submit,
    /// Newsletter only: when the visitor follows the confirmation link.
    Confirm,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailDef {
    /// Names the email in the delivery log and the JSON answer (`admin`, `confirmation`, …).
    pub kind: String,
    /// `visitor` (the form's `email` field) or a role: `admin`, `jobs`, `newsletter`.
    pub to: Recipient,
    /// A tera template over the submission's fields, `reference` and `form_title`.
    pub subject: String,
    /// Embedded template pair `email/<template>.html` + `.txt`.
    pub template: Template,
    #[serde(default)]
    pub when: Trigger,
    /// Attach the submission's uploaded files.
    #[serde(default)]
    pub attach_files: bool,
}

impl EmailDef {
    /// Whether the email goes to the visitor's own address rather than to the owner.
    pub fn to_visitor(&self) -> bool {
        self.to == Recipient::Visitor
    }
}

fn yes() -> bool {
    true
}

/// The catalogue's button text, in the visitor's language once loaded.
fn default_submit_label() -> String {
    "form.submit".into()
}

impl FormDef {
    /// The field called `name`.
    pub fn field_named(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field that plays `role`, if the form has one.
    pub fn field(&self, role: FieldRole) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.role == Some(role))
    }

    /// What the visitor gave for the field that plays `role` in a submission's `fields`
    /// (which keep only filled-in values).
    pub fn value<'a>(
        &self,
        role: FieldRole,
        fields: &'a BTreeMap<String, String>,
    ) -> Option<&'a str> {
        fields.get(&self.field(role)?.name).map(String::as_str)
    }

    /// Gives each role that no field declares to the field the conventions of the built-in
    /// forms name, so an owner's form written before roles existed keeps its "who", its
    /// summary, its Reply-To name and its phone link: `full_name` or `name` → name, `email` →
    /// email, the first `tel` field → phone, `message`, `position` or `cover_letter` →
    /// summary. Run once, when the configuration is loaded.
    pub fn infer_roles(&mut self) {
        for role in FieldRole::ALL {
            if self.field(role).is_some() {
                continue;
            }
            let free = |f: &FieldDef| f.role.is_none();
            let first = |fits: &dyn Fn(&FieldDef) -> bool| {
                self.fields.iter().position(|f| free(f) && fits(f))
            };
            let named = |names: &[&str]| names.iter().find_map(|n| first(&|f| f.name == *n));
            let guess = match role {
                FieldRole::Name => named(&["full_name", "name"]),
                FieldRole::Email => named(&["email"]),
                FieldRole::Phone => first(&|f| f.kind == FieldKind::Tel),
                FieldRole::Summary => named(&["message", "position", "cover_letter"]),
            };
            if let Some(at) = guess {
                self.fields[at].role = Some(role);
            }
        }
    }

    /// The email the delivery log names `kind` (`admin`, `confirmation`, …).
    pub fn email(&self, kind: &str) -> Option<&EmailDef> {
        self.emails.iter().find(|e| e.kind == kind)
    }

    pub fn emails_on(&self, when: Trigger) -> impl Iterator<Item = &EmailDef> {
        self.emails.iter().filter(move |e| e.when == when)
    }

    /// Structural checks run at start-up so a config mistake is one clear line, not a 500 later.
    pub fn check(&self) -> Result<(), String> {
        if self.reference_prefix.is_empty()
            || !self
                .reference_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        {
            return Err("reference_prefix must be letters or digits".into());
        }
        for f in &self.fields {
            if f.name.is_empty() || f.name.starts_with('_') || f.name == "website" {
                return Err(format!("field name {:?} is reserved or empty", f.name));
            }
            if f.kind == FieldKind::Select && f.options.is_empty() {
                return Err(format!("select field {:?} has no options", f.name));
            }
            if f.kind == FieldKind::File && f.accept.is_empty() {
                return Err(format!("file field {:?} accepts no type", f.name));
            }
            if f.kind == FieldKind::File && f.role.is_some() {
                return Err(format!("file field {:?} cannot have a role", f.name));
            }
        }
        for role in FieldRole::ALL {
            let mut playing = self.fields.iter().filter(|f| f.role == Some(role));
            if let (Some(a), Some(b)) = (playing.next(), playing.next()) {
                return Err(format!(
                    "fields {:?} and {:?} both have role \"{role}\"; give it to one",
                    a.name, b.name
                ));
            }
        }
        let has_email = self
            .field(FieldRole::Email)
            .is_some_and(|f| f.kind == FieldKind::Email);
        for e in &self.emails {
            if e.to_visitor() && !has_email {
                return Err(format!(
                    "email {:?} goes to the visitor but the form has no email field",
                    e.kind
                ));
            }
        }
        if self.statuses.is_empty() {
            return Err("statuses must name at least one status".into());
        }
        if self.kind == FormKind::Newsletter && !has_email {
            return Err("a newsletter form needs an email field".into());
        }
        Ok(())
    }
}

/// The configured forms: the enabled ones in index order, and the disabled ones, whose
/// stored submissions still say what their fields mean. Cheap to clone: the services share
/// one list.
#[derive(Debug, Clone)]
pub struct Forms(std::sync::Arc<FormList>);

#[derive(Debug)]
struct FormList {
    enabled: Vec<(FormSlug, FormDef)>,
    disabled: Vec<(FormSlug, FormDef)>,
}

impl Forms {
    pub fn new(defs: &BTreeMap<FormSlug, FormDef>) -> Forms {
        let (mut enabled, disabled): (Vec<_>, Vec<_>) = defs
            .iter()
            .map(|(s, d)| (s.clone(), d.clone()))
            .partition(|(_, d)| d.enabled);
        enabled.sort_by_key(|(slug, d)| (d.position, slug.clone()));
        Forms(std::sync::Arc::new(FormList { enabled, disabled }))
    }

    /// The enabled form `slug`: what visitors can see and post to.
    pub fn get(&self, slug: &str) -> Option<&FormDef> {
        self.0
            .enabled
            .iter()
            .find(|(s, _)| s.as_str() == slug)
            .map(|(_, d)| d)
    }

    /// The form `slug`, enabled or not: what a stored submission's fields mean.
    pub fn definition(&self, slug: &str) -> Option<&FormDef> {
        self.0
            .enabled
            .iter()
            .chain(&self.0.disabled)
            .find(|(s, _)| s.as_str() == slug)
            .map(|(_, d)| d)
    }

    /// The enabled forms, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FormDef)> {
        self.0.enabled.iter().map(|(s, d)| (s.as_str(), d))
    }
}

#[cfg(test)]
mod tests;
