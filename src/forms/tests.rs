use super::*;

#[test]
fn builtin_forms_pass_their_own_checks() {
    for (slug, def) in builtin() {
        def.check(&slug).unwrap();
    }
}
