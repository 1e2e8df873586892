//! Raw fields in, a `Valid` submission or per-field messages out. Pure: no I/O, no state.
//! Messages are in the visitor's language (`validate.*` keys of the catalogue).

use std::collections::BTreeMap;

use super::raw::{RawFile, RawInput, Received};
use super::{FieldDef, FieldKind, FieldRole, FormDef};
use crate::i18n::Catalogue;
use crate::model::{is_bidi_or_format, single_line, EmailAddress, FileType, Upload};

/// Field name → message, shown next to the field or returned as JSON `errors`.
pub type FieldErrors = BTreeMap<String, String>;

/// Most fields a post may carry; anything beyond is refused, not silently dropped.
pub const MAX_FIELDS: usize = 64;

/// A submission that passed every check of its form.
#[derive(Debug)]
pub struct Valid {
    /// Defined, non-empty fields only.
    pub fields: BTreeMap<String, String>,
    pub uploads: Vec<Upload>,
    pub visitor_email: Option<EmailAddress>,
    /// The honeypot (`website`, or Formspree's `_gotcha`) was filled in: a bot.
    pub honeypot: bool,
    /// Formspree's `_next`: where to send the visitor afterwards (checked by the web layer).
    pub next: Option<String>,
    /// Formspree's `_subject`: subject of the owner's notification.
    pub subject: Option<String>,
    /// The form page's signed time field `_t` (see `spam::TimeTrap`).
    pub shown_at: Option<String>,
    /// The form page's one-time `_idem` token: a second post with it is the same submission.
    pub idempotency_key: Option<String>,
}

/// Why a post was refused, with what the visitor typed so the form can be shown again.
#[derive(Debug)]
pub struct Invalid {
    pub errors: FieldErrors,
    pub values: BTreeMap<String, String>,
    /// The files that passed their own checks, so that the form shown again can keep them
    /// (`kept`) instead of asking for them again.
    pub uploads: Vec<Upload>,
    /// More fields than `MAX_FIELDS` were sent (answered 413 rather than 422). A file over
    /// the upload limit is an error of its field, answered 422 like any other.
    pub too_large: bool,
}

/// Checks `input` against the form; `max_upload` is the largest file accepted, in bytes;
/// messages come from `strings`.
pub fn validate(
    def: &FormDef,
    mut input: RawInput,
    max_upload: u64,
    strings: &Catalogue,
) -> Result<Valid, Invalid> {
    let mut errors = FieldErrors::new();
    let too_large = input.too_many_fields;
    if input.too_many_fields {
        errors.insert(
            "_form".into(),
            strings.plural("validate.too_many_fields", MAX_FIELDS as u64, &[]),
        );
    }
    let mut fields = BTreeMap::new();
    let mut values = BTreeMap::new();
    let mut uploads = Vec::new();
    for f in &def.fields {
        if f.kind == FieldKind::File {
            let file = input
                .files
                .iter()
                .position(|r| r.field == f.name && r.is_present())
                .map(|i| input.files.swap_remove(i));
            match check_file(f, file, max_upload, strings) {
                Ok(Some(upload)) => uploads.push(upload),
                Ok(None) => {}
                Err(message) => {
                    errors.insert(f.name.clone(), message);
                }
            }
            continue;
        }
        let mut raw = input.value(&f.name).unwrap_or("");
        if f.role == Some(FieldRole::Email) && raw.trim().is_empty() {
            raw = input.value("_replyto").unwrap_or("");
        }
        values.insert(f.name.clone(), raw.to_string());
        match check_value(f, raw, strings) {
            Ok(v) if v.is_empty() => {}
            Ok(v) => {
                fields.insert(f.name.clone(), v);
            }
            Err(message) => {
                errors.insert(f.name.clone(), message);
            }
        }
    }
    if !errors.is_empty() {
        return Err(Invalid {
            errors,
            values,
            uploads,
            too_large,
        });
    }
    let visitor_email = def
        .value(FieldRole::Email, &fields)
        .and_then(|e| EmailAddress::parse(e).ok());
    let filled = |name: &str| input.value(name).is_some_and(|v| !v.trim().is_empty());
    Ok(Valid {
        visitor_email,
        honeypot: filled("website") || filled("_gotcha"),
        next: input
            .value("_next")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        shown_at: input.value("_t").map(str::to_string),
        idempotency_key: input
            .value("_idem")
            .map(|s| single_line(s, 64))
            .filter(|s| !s.is_empty()),
        subject: input
            .value("_subject")
            .map(|s| single_line(s, 150))
            .filter(|s| !s.is_empty()),
        fields,
        uploads,
    })
}

fn check_value(f: &FieldDef, raw: &str, strings: &Catalogue) -> Result<String, String> {
    let say = |key: &str| strings.text(key).to_string();
    let value = if f.kind == FieldKind::Textarea {
        raw.replace("\r\n", "\n").trim().to_string()
    } else {
        raw.trim().to_string()
    };
    let allowed_control = |c: char| f.kind == FieldKind::Textarea && (c == '\n' || c == '\t');
    if value.chars().any(|c| c.is_control() && !allowed_control(c)) {
        return Err(if f.kind == FieldKind::Textarea {
            say("validate.control_characters")
        } else {
            say("validate.single_line")
        });
    }
    if f.kind != FieldKind::Textarea && value.chars().any(is_bidi_or_format) {
        return Err(say("validate.invisible"));
    }
    if f.kind == FieldKind::Checkbox {
        return match value.to_ascii_lowercase().as_str() {
            "" | "off" | "false" | "0" | "no" if f.required => Err(say("validate.tick")),
            "" | "off" | "false" | "0" | "no" => Ok(String::new()),
            _ => Ok("yes".into()),
        };
    }
    if value.is_empty() {
        return if f.required {
            Err(say("validate.required"))
        } else {
            Ok(value)
        };
    }
    let max = f.max_length();
    if value.chars().count() > max {
        return Err(strings.plural("validate.too_long", max as u64, &[]));
    }
    match f.kind {
        FieldKind::Email => EmailAddress::parse(&value)
            .map(|e| e.to_string())
            .map_err(|_| say("validate.email")),
        FieldKind::Tel
            if !value
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c)) =>
        {
            Err(say("validate.tel"))
        }
        FieldKind::Url if !(value.starts_with("https://") || value.starts_with("http://")) => {
            Err(say("validate.url"))
        }
        FieldKind::Select if !f.options.contains(&value) => Err(say("validate.select")),
        _ => Ok(value),
    }
}

fn check_file(
    f: &FieldDef,
    file: Option<RawFile>,
    max_upload: u64,
    strings: &Catalogue,
) -> Result<Option<Upload>, String> {
    let Some(file) = file else {
        return if f.required {
            Err(strings.text("validate.attach").to_string())
        } else {
            Ok(None)
        };
    };
    let file_content = match file.content {
        Received::Whole(t) if t.size <= max_upload => t,
        _ => {
            return Err(strings.t(
                "validate.file_too_large",
                &[("size", &strings.size(max_upload))],
            ))
        }
    };
    let file_type = file_content
        .sniffed
        .filter(|t| f.accept.contains(t))
        .ok_or_else(|| {
            strings.t(
                "validate.file_type",
                &[("types", &strings.list_or(&labels(&f.accept)))],
            )
        })?;
    let stem = file
        .filename
        .as_deref()
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n))
        .map(|n| n.rsplit_once('.').map_or(n, |(stem, _)| stem))
        .map(|n| {
            n.chars()
                .filter(|c| c.is_alphanumeric() || " -_".contains(*c))
                .take(80)
                .collect::<String>()
        })
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| f.name.clone());
    Ok(Some(Upload {
        field: f.name.clone(),
        filename: format!("{stem}.{}", file_type.extension()),
        file_type,
        file: file_content,
    }))
}

/// `PDF`, `DOCX`, …: the names people know the accepted types by.
pub fn labels(types: &[FileType]) -> Vec<String> {
    types.iter().map(|t| t.label()).collect()
}

#[cfg(test)]
mod tests;
