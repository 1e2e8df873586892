//! The four built-in forms of the design card: quote request, job application, newsletter
//! signup and contact. Their visitor-facing texts come from the English catalogue.

use std::collections::BTreeMap;

use super::{
    default_statuses, EmailDef, FieldDef, FieldKind, FieldRole, FormDef, FormKind, Recipient,
    Template, Trigger,
};
use crate::model::{FileType, FormSlug};

fn field(name: &str, label: &str, kind: FieldKind, required: bool) -> FieldDef {
    FieldDef {
        name: name.into(),
        label: label.into(),
        kind,
        required,
        max_length: None,
        options: Vec::new(),
        accept: Vec::new(),
        placeholder: String::new(),
        role: None,
    }
}

fn playing(role: FieldRole, field: FieldDef) -> FieldDef {
    FieldDef {
        role: Some(role),
        ..field
    }
}

fn email(kind: &str, to: Recipient, subject: &str, template: Template) -> EmailDef {
    EmailDef {
        kind: kind.into(),
        to,
        subject: subject.into(),
        template,
        when: Trigger::Submit,
        attach_files: false,
    }
}

/// The four forms of the design card. The texts a visitor sees are the English catalogue's
/// (`locales/en.toml`, `forms.<slug>.…`); `i18n::localize_forms` swaps them for the locale's.
pub fn builtin() -> BTreeMap<FormSlug, FormDef> {
    use FieldKind::*;
    let en = crate::i18n::english();
    let text = |slug: &str, key: &str| en.text(&format!("forms.{slug}.{key}")).to_string();
    let visible = |slug: &str, name: &str, kind: FieldKind, required: bool| {
        field(name, &text(slug, &format!("fields.{name}")), kind, required)
    };
    let confirmation = |slug: &str| {
        email(
            "confirmation",
            Recipient::Visitor,
            &text(slug, "subjects.confirmation"),
            Template::Confirmation,
        )
    };
    let quote = FormDef {
        title: text("quote", "title"),
        intro: text("quote", "intro"),
        reference_prefix: "Q".into(),
        enabled: true,
        position: 1,
        kind: FormKind::Standard,
        submit_label: text("quote", "submit"),
        thanks: text("quote", "thanks"),
        fields: vec![
            playing(FieldRole::Name, visible("quote", "full_name", Text, true)),
            playing(FieldRole::Email, visible("quote", "email", Email, true)),
            playing(FieldRole::Phone, visible("quote", "phone", Tel, false)),
            visible("quote", "company", Text, false),
            playing(
                FieldRole::Summary,
                visible("quote", "message", Textarea, true),
            ),
        ],
        emails: vec![
            email(
                "admin",
                Recipient::Admin,
                "New quote request {{ reference }} from {{ full_name }}",
                Template::Admin,
            ),
            confirmation("quote"),
        ],
        statuses: default_statuses(),
    };
    let mut cv = visible("job", "cv", File, true);
    cv.accept = vec![FileType::Pdf, FileType::Doc, FileType::Docx, FileType::Odt];
    let job = FormDef {
        title: text("job", "title"),
        intro: text("job", "intro"),
        reference_prefix: "J".into(),
        enabled: true,
        position: 2,
        kind: FormKind::Standard,
        submit_label: text("job", "submit"),
        thanks: text("job", "thanks"),
        fields: vec![
            playing(FieldRole::Name, visible("job", "full_name", Text, true)),
            playing(FieldRole::Email, visible("job", "email", Email, true)),
            playing(FieldRole::Phone, visible("job", "phone", Tel, false)),
            playing(FieldRole::Summary, visible("job", "position", Text, true)),
            visible("job", "cover_letter", Textarea, false),
            cv,
        ],
        emails: vec![
            EmailDef {
                attach_files: true,
                ..email(
                    "admin",
                    Recipient::Jobs,
                    "Job application {{ reference }}: {{ position }} from {{ full_name }}",
                    Template::Admin,
                )
            },
            confirmation("job"),
        ],
        statuses: [
            "new",
            "reviewing",
            "interview",
            "hired",
            "rejected",
            "archived",
        ]
        .map(String::from)
        .to_vec(),
    };
    let newsletter = FormDef {
        title: text("newsletter", "title"),
        intro: text("newsletter", "intro"),
        reference_prefix: "N".into(),
        enabled: true,
        position: 3,
        kind: FormKind::Newsletter,
        submit_label: text("newsletter", "submit"),
        thanks: text("newsletter", "thanks"),
        fields: vec![
            playing(
                FieldRole::Email,
                visible("newsletter", "email", Email, true),
            ),
            playing(FieldRole::Name, visible("newsletter", "name", Text, false)),
        ],
        emails: vec![
            email(
                "optin",
                Recipient::Visitor,
                &text("newsletter", "subjects.optin"),
                Template::Optin,
            ),
            EmailDef {
                when: Trigger::Confirm,
                ..email(
                    "welcome",
                    Recipient::Visitor,
                    &text("newsletter", "subjects.welcome"),
                    Template::Welcome,
                )
            },
            EmailDef {
                when: Trigger::Confirm,
                ..email(
                    "notice",
                    Recipient::Newsletter,
                    "New newsletter subscriber {{ email }}",
                    Template::Notice,
                )
            },
        ],
        statuses: ["new", "archived"].map(String::from).to_vec(),
    };
    let contact = FormDef {
        title: text("contact", "title"),
        intro: text("contact", "intro"),
        reference_prefix: "C".into(),
        enabled: true,
        position: 4,
        kind: FormKind::Standard,
        submit_label: text("contact", "submit"),
        thanks: text("contact", "thanks"),
        fields: vec![
            playing(FieldRole::Name, visible("contact", "name", Text, true)),
            playing(FieldRole::Email, visible("contact", "email", Email, true)),
            playing(
                FieldRole::Summary,
                visible("contact", "message", Textarea, true),
            ),
        ],
        emails: vec![
            email(
                "admin",
                Recipient::Admin,
                "New message {{ reference }} from {{ name }}",
                Template::Admin,
            ),
            confirmation("contact"),
        ],
        statuses: ["new", "replied", "archived"].map(String::from).to_vec(),
    };
    [
        ("quote", quote),
        ("job", job),
        ("newsletter", newsletter),
        ("contact", contact),
    ]
    .into_iter()
    .map(|(s, d)| (FormSlug::parse(s).expect("built-in slugs are valid"), d))
    .collect()
}
