use super::*;

#[test]
fn builtin_forms_pass_their_own_checks() {
    for (slug, def) in builtin() {
        def.check(&slug).unwrap();
    }
}

#[test]
fn check_rejects_unknown_roles() {
    let mut forms = builtin();
    let quote = forms.get_mut("quote").unwrap();
    quote.emails[0].to = "boss".into();
    assert!(quote.check("quote").unwrap_err().contains("to must be"));
}
