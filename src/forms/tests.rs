use super::*;

#[test]
fn builtin_forms_pass_their_own_checks() {
    for (_, def) in builtin() {
        def.check().unwrap();
    }
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
