//! Property tests (proptest, bounded: 256 cases each) over what hostile input reaches first:
//! form validation, address parsing, and the parser of Mailtrap's answers.

use kipekee::forms::temp::Received;
use kipekee::forms::{builtin, validate, FieldKind, RawFile, RawInput};
use kipekee::mail::parse_batch_answer;
use kipekee::model::EmailAddress;
use proptest::prelude::*;

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("full_name".to_string()),
        Just("email".to_string()),
        Just("message".to_string()),
        Just("name".to_string()),
        Just("phone".to_string()),
        Just("_next".to_string()),
        Just("_subject".to_string()),
        Just("website".to_string()),
        ".{0,12}",
    ]
}

proptest! {
    #[test]
    fn validation_never_panics_and_what_it_accepts_is_clean(
        form in prop_oneof![Just("quote"), Just("contact"), Just("job"), Just("newsletter")],
        values in proptest::collection::vec((field_name(), any::<String>()), 0..12),
        file in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    ) {
        let forms = builtin();
        let def = &forms[form];
        let tmp = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let upload = |bytes: Vec<u8>| {
            runtime.block_on(kipekee::forms::temp::from_bytes(tmp.path(), &bytes)).unwrap()
        };
        let input = RawInput {
            values,
            files: file
                .map(|bytes| vec![RawFile {
                    field: "cv".into(),
                    filename: Some("x.pdf".into()),
                    content: Received::Whole(upload(bytes)),
                }])
                .unwrap_or_default(),
            too_many_fields: false,
        };
        if let Ok(valid) = validate(def, input, 1024, kipekee::i18n::english()) {
            for (name, value) in &valid.fields {
                let f = def.field_named(name).expect("only defined fields are kept");
                prop_assert!(value.chars().count() <= f.max_length());
                let multiline = f.kind == FieldKind::Textarea;
                prop_assert!(value.chars().all(|c| !c.is_control() || (multiline && (c == '\n' || c == '\t'))));
            }
            if let Some(subject) = &valid.subject {
                prop_assert!(!subject.contains(['\r', '\n']));
            }
        }
    }

    #[test]
    fn accepted_addresses_can_never_break_a_header(s in any::<String>()) {
        if let Ok(a) = EmailAddress::parse(&s) {
            prop_assert!(a.as_str().chars().all(|c| !c.is_control() && !c.is_whitespace()));
            prop_assert!(a.as_str().contains('@'));
        }
    }

    #[test]
    fn every_answer_from_mailtrap_yields_one_outcome_per_message(
        status in 100u16..600,
        body in prop_oneof![
            any::<String>(),
            Just(r#"{"success":true,"responses":[{"success":true,"message_ids":["a"]}]}"#.to_string()),
            Just(r#"{"errors":{"x":[1,{"y":null}]}}"#.to_string()),
            Just(r#"{"responses":[null, 3, "x", {"success":"yes"}]}"#.to_string()),
        ],
        n in 0usize..6,
    ) {
        prop_assert_eq!(parse_batch_answer(status, &body, n).len(), n);
    }
}
