use super::*;

use crate::i18n::{english, Catalogue, Locale, StringOverrides};

fn shipped(locale: Locale) -> Catalogue {
    Catalogue::new(locale, &StringOverrides::default()).unwrap()
}

#[test]
fn builtin_forms_declare_their_roles_and_pass_their_own_checks() {
    for (slug, def) in builtin() {
        def.check().unwrap();
        for role in [FieldRole::Name, FieldRole::Email] {
            assert!(def.field(role).is_some(), "{slug} declares no {role}");
        }
    }
    assert_eq!(
        builtin()["job"].field(FieldRole::Phone).unwrap().name,
        "phone"
    );
}

/// Each text a visitor reads of a built-in form, with its catalogue key.
fn visitor_texts(slug: &str, def: &FormDef) -> Vec<(String, String)> {
    let key = |rest: &str| format!("forms.{slug}.{rest}");
    let mut texts = vec![
        (key("title"), def.title.clone()),
        (key("intro"), def.intro.clone()),
        (key("thanks"), def.thanks.clone()),
        (key("submit"), def.submit_label.clone()),
    ];
    for f in &def.fields {
        texts.push((key(&format!("fields.{}", f.name)), f.label.clone()));
    }
    for e in def.emails.iter().filter(|e| e.to_visitor()) {
        texts.push((key(&format!("subjects.{}", e.kind)), e.subject.clone()));
    }
    texts
}

/// `builtin.toml` writes every visitor text as its catalogue key, and loading puts each in
/// the locale's words: a label written in English, a mistyped key or a key the catalogue
/// lacks fails here.
#[test]
fn every_built_in_text_a_visitor_reads_comes_from_the_catalogue_in_every_locale() {
    for (slug, def) in builtin() {
        for (key, text) in visitor_texts(slug.as_str(), &def) {
            assert_eq!(text, key, "builtin.toml writes {key} as its key");
            assert!(english().has(&key), "{key} is not in locales/en.toml");
        }
    }
    for locale in Locale::ALL {
        let strings = shipped(locale);
        let forms = load(builtin(), &strings).unwrap();
        assert_eq!(forms.len(), 4);
        for (slug, def) in &forms {
            for (key, text) in visitor_texts(slug.as_str(), def) {
                assert_eq!(text, strings.text(&key), "{locale}: {key}");
            }
        }
    }
    let sw = load(builtin(), &shipped(Locale::Sw)).unwrap();
    assert_eq!(sw["quote"].fields[2].label, "Simu");
    assert_eq!(sw["job"].fields[4].label, "Barua ya maombi");
}

#[test]
fn built_in_forms_follow_the_locale_unless_the_owner_changed_a_text() {
    let mut forms = builtin();
    forms.get_mut("contact").unwrap().title = "Write to Mbugani".into();
    // An owner's copy of a built-in text, in English, is still the built-in text.
    forms.get_mut("job").unwrap().intro = "Send us your application and CV.".into();
    let forms = load(forms, &shipped(Locale::Sw)).unwrap();
    assert_eq!(forms["quote"].title, "Omba bei");
    assert_eq!(forms["quote"].fields[0].label, "Jina kamili");
    assert_eq!(forms["contact"].title, "Write to Mbugani");
    assert_eq!(forms["contact"].submit_label, "Tuma ujumbe");
    assert_eq!(
        forms["job"].intro,
        "Tutumie maombi yako ya kazi pamoja na CV yako."
    );
    let confirmation = forms["job"].email("confirmation").unwrap();
    assert_eq!(
        confirmation.subject,
        "Tumepokea maombi yako ({{ reference }})"
    );
    let admin = forms["job"].email("admin").unwrap();
    assert!(
        admin.subject.starts_with("Job application"),
        "owner mail stays English"
    );
}

#[test]
fn an_owners_form_gets_the_default_button_in_the_locale_and_keeps_its_own_texts() {
    let mut forms = BTreeMap::new();
    let mut def = owners_form(
        r#"
        [[fields]]
        name = "name"
        label = "Name"
        kind = "text"
        "#,
    );
    def.title = "forms.quote.title".into();
    forms.insert(FormSlug::parse("safari").unwrap(), def);
    let forms = load(forms, &shipped(Locale::Fr)).unwrap();
    let safari = &forms["safari"];
    assert_eq!(safari.submit_label, shipped(Locale::Fr).text("form.submit"));
    assert_ne!(safari.submit_label, "form.submit");
    assert_eq!(
        safari.fields[0].label, "Name",
        "not a built-in form's label"
    );
    assert_eq!(
        safari.title, "forms.quote.title",
        "another form's key is text"
    );
    assert_eq!(
        safari.field(FieldRole::Name).unwrap().name,
        "name",
        "inferred"
    );
}

#[test]
fn loading_names_the_form_that_fails_its_check() {
    let mut forms = builtin();
    forms.get_mut("job").unwrap().statuses.clear();
    let e = load(forms, english()).unwrap_err();
    assert_eq!(e.slug.as_str(), "job");
    assert!(e.to_string().starts_with("forms.job: statuses"), "{e}");
}

/// An owner's form from before roles, as `Rocket.toml` gives it.
fn owners_form(fields: &str) -> FormDef {
    toml::from_str(&format!(
        "title = \"T\"\nreference_prefix = \"T\"\nemails = []\n{fields}"
    ))
    .unwrap()
}

fn role_of(def: &FormDef, role: FieldRole) -> Option<&str> {
    def.field(role).map(|f| f.name.as_str())
}

#[test]
fn a_form_without_roles_gets_those_its_field_names_and_kinds_imply() {
    let mut def = owners_form(
        r#"
        [[fields]]
        name = "office"
        label = "Office"
        kind = "tel"
        [[fields]]
        name = "mobile"
        label = "Mobile"
        kind = "tel"
        [[fields]]
        name = "name"
        label = "Name"
        kind = "text"
        [[fields]]
        name = "full_name"
        label = "Full name"
        kind = "text"
        [[fields]]
        name = "cover_letter"
        label = "Letter"
        kind = "textarea"
        [[fields]]
        name = "email"
        label = "Email"
        kind = "email"
        "#,
    );
    def.infer_roles();
    assert_eq!(role_of(&def, FieldRole::Name), Some("full_name"));
    assert_eq!(role_of(&def, FieldRole::Email), Some("email"));
    assert_eq!(role_of(&def, FieldRole::Phone), Some("office"));
    assert_eq!(role_of(&def, FieldRole::Summary), Some("cover_letter"));
    def.check().unwrap();
}

#[test]
fn a_declared_role_is_kept_and_not_guessed_again() {
    let mut def = owners_form(
        r#"
        [[fields]]
        name = "name"
        label = "Company"
        kind = "text"
        [[fields]]
        name = "contact_name"
        label = "Your name"
        kind = "text"
        role = "name"
        "#,
    );
    def.infer_roles();
    assert_eq!(role_of(&def, FieldRole::Name), Some("contact_name"));
    assert_eq!(def.fields[0].role, None);
    let fields = [("contact_name", "Amina"), ("name", "Acme")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    assert_eq!(def.value(FieldRole::Name, &fields), Some("Amina"));
}

#[test]
fn check_refuses_a_role_given_twice_or_to_a_file() {
    let mut quote = builtin().remove("quote").unwrap();
    quote.fields[3].role = Some(FieldRole::Name);
    let e = quote.check().unwrap_err();
    assert!(
        e.contains("\"full_name\" and \"company\"") && e.contains("\"name\""),
        "{e}"
    );
    let mut job = builtin().remove("job").unwrap();
    let cv = job.fields.iter_mut().find(|f| f.name == "cv").unwrap();
    cv.role = Some(FieldRole::Summary);
    assert!(job.check().unwrap_err().contains("cannot have a role"));
}

#[test]
fn a_disabled_form_is_not_served_but_still_defines_its_submissions() {
    let mut defs = builtin();
    defs.get_mut("contact").unwrap().enabled = false;
    let forms = Forms::new(&defs);
    assert!(forms.get("contact").is_none());
    assert!(forms.iter().all(|(slug, _)| slug != "contact"));
    let contact = forms.definition("contact").expect("still defined");
    assert_eq!(role_of(contact, FieldRole::Name), Some("name"));
    assert!(forms.definition("quote").is_some() && forms.definition("nope").is_none());
}
