use super::*;

#[test]
#[allow(clippy::result_large_err)]
fn env_names_of_the_seed_work_and_bad_recipient_names_its_key() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("ADMIN_EMAIL", "owner@shop.example");
        jail.set_env("KIPEKEE_DATA_DIR", "/tmp/kipekee-x");
        jail.set_env(
            "KIPEKEE_ALLOWED_ORIGINS",
            "https://a.example, https://b.example/",
        );
        jail.set_env("MAILTRAP_API_TOKEN", "tok");
        let c = AppConfig::from_figment(&figment()).unwrap();
        assert_eq!(c.admin_email.unwrap().as_str(), "owner@shop.example");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/kipekee-x"));
        assert_eq!(
            c.allowed_origins.to_strings(),
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(format!("{:?}", c.mailtrap_api_token), "Some(\"***\")");
        assert_eq!(c.max_upload_bytes, 5 << 20);
        assert_eq!(c.max_body_bytes, 32 << 20);
        assert_eq!(c.min_free_bytes, 512 << 20);
        let limits: rocket::data::Limits = figment().extract_inner("limits").unwrap();
        assert_eq!(
            limits.get("json"),
            Some(rocket::data::ByteUnit::Mebibyte(1))
        );

        jail.set_env("JOBS_EMAIL", "not an address");
        let err = AppConfig::from_figment(&figment()).unwrap_err().to_string();
        assert!(
            err.contains("JOBS_EMAIL") && err.contains("not a valid email"),
            "{err}"
        );
        Ok(())
    });
}

/// The shipped `Rocket.toml` documents real keys: uncommented, it still loads.
#[test]
fn shipped_rocket_toml_with_its_examples_uncommented_is_valid() {
    let text = include_str!("../../Rocket.toml");
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with('[')
                    || rest.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
                    }) =>
            {
                rest
            }
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let figment = Figment::from(Serialized::defaults(AppConfig::default()))
        .merge(Toml::string(&uncommented).nested());
    let c = AppConfig::from_figment(&figment).unwrap();
    assert_eq!(c.forms["quote"].title, "Book a safari");
    assert!(!c.forms["contact"].enabled);
    assert_eq!(c.admin_email.unwrap().as_str(), "owner@shop.example");
    let limits: rocket::data::Limits = figment.extract_inner("limits").unwrap();
    assert_eq!(
        limits.get("json"),
        Some(rocket::data::ByteUnit::Mebibyte(1))
    );
    assert_eq!(c.max_body_bytes, 32 << 20);
}

#[test]
#[allow(clippy::result_large_err)]
fn empty_env_values_mean_unset() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("ADMIN_EMAIL", "");
        let c = AppConfig::from_figment(&figment()).unwrap();
        assert!(c.admin_email.is_none());
        Ok(())
    });
}

#[test]
fn a_sandbox_inbox_goes_to_mailtrap_sandbox_or_to_the_configured_api() {
    let mut c = AppConfig::default();
    assert_eq!(
        c.mailtrap_batch_url(),
        "https://send.api.mailtrap.io/api/batch"
    );
    c.mailtrap_inbox_id = Some(InboxId(4242));
    assert_eq!(
        c.mailtrap_batch_url(),
        "https://sandbox.api.mailtrap.io/api/batch/4242"
    );
    c.mailtrap_api_url = "http://127.0.0.1:9/".into();
    assert_eq!(c.mailtrap_batch_url(), "http://127.0.0.1:9/api/batch/4242");
    assert!(InboxId::try_from("12ab".to_string()).is_err());
}

/// `Rocket.toml` may write the inbox id as a number or as a string; the environment's
/// text is read the same; a bad value stops start-up with one line naming the key.
#[test]
#[allow(clippy::result_large_err)]
fn an_inbox_id_is_read_as_a_toml_number_or_text_and_a_bad_one_is_named() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("ROCKET_CONFIG", "Rocket.toml");
        for (toml, expected) in [
            ("mailtrap_inbox_id = 123456", Some(InboxId(123456))),
            ("mailtrap_inbox_id = \"123456\"", Some(InboxId(123456))),
            ("mailtrap_inbox_id = \"\"", None),
        ] {
            jail.create_file("Rocket.toml", &format!("[default]\n{toml}\n"))?;
            let c = AppConfig::from_figment(&figment()).unwrap();
            assert_eq!(c.mailtrap_inbox_id, expected, "{toml}");
        }
        for (toml, shown) in [
            ("mailtrap_inbox_id = -5", "-5"),
            ("mailtrap_inbox_id = 12.5", "12.5"),
            ("mailtrap_inbox_id = \"12ab\"", "\"12ab\""),
        ] {
            jail.create_file("Rocket.toml", &format!("[default]\n{toml}\n"))?;
            let err = AppConfig::from_figment(&figment()).unwrap_err().to_string();
            assert!(
                err.contains("mailtrap_inbox_id") && err.contains(shown),
                "{toml}: {err}"
            );
            assert!(!err.contains('\n'), "one line: {err}");
        }
        jail.create_file("Rocket.toml", "[default]\nmailtrap_inbox_id = 1\n")?;
        jail.set_env("MAILTRAP_INBOX_ID", "0042");
        let c = AppConfig::from_figment(&figment()).unwrap();
        assert_eq!(
            c.mailtrap_inbox_id,
            Some(InboxId(42)),
            "the environment wins"
        );
        Ok(())
    });
}

/// `KIPEKEE_STRINGS` is an inline table, as the README says, with dotted keys quoted or
/// nested; a text of digits stays text.
#[test]
#[allow(clippy::result_large_err)]
fn kipekee_strings_is_an_inline_table_of_texts() {
    figment::Jail::expect_with(|jail| {
        jail.set_env(
            "KIPEKEE_STRINGS",
            r#"{"admin.nav.dashboard"="Muhtasari", form={submit="Tuma"}, "size.decimal"="0"}"#,
        );
        let c = AppConfig::from_figment(&figment()).unwrap();
        let strings = c.strings().unwrap();
        assert_eq!(strings.text("admin.nav.dashboard"), "Muhtasari");
        assert_eq!(strings.text("form.submit"), "Tuma");
        assert_eq!(strings.text("size.decimal"), "0");
        Ok(())
    });
}

/// A recipient or template outside the closed sets stops start-up with one line naming the
/// key, the word written and the words allowed, as the old string check did.
#[test]
#[allow(clippy::result_large_err)]
fn an_unknown_recipient_or_template_names_the_value_and_the_allowed_ones() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("ROCKET_CONFIG", "Rocket.toml");
        for (to, template, key, allowed) in [
            (
                "boss",
                "admin",
                "emails.0.to",
                "`visitor`, `admin`, `jobs`, `newsletter`",
            ),
            (
                "admin",
                "fancy",
                "emails.0.template",
                "`admin`, `confirmation`, `optin`, `welcome`, `notice`",
            ),
        ] {
            jail.create_file(
                "Rocket.toml",
                &format!(
                    "[default.forms.safari]\ntitle = \"Safari\"\nreference_prefix = \"S\"\n\
                     fields = []\n[[default.forms.safari.emails]]\nkind = \"admin\"\n\
                     subject = \"New\"\nto = \"{to}\"\ntemplate = \"{template}\"\n"
                ),
            )?;
            let err = AppConfig::from_figment(&figment()).unwrap_err().to_string();
            let bad = if to == "boss" { to } else { template };
            assert!(
                err.contains(&format!("forms.safari.{key}"))
                    && err.contains(&format!("`{bad}`"))
                    && err.contains(allowed),
                "{err}"
            );
            assert!(!err.contains('\n'), "one line: {err}");
        }
        Ok(())
    });
}

/// A form's slug is checked as the configuration is read: one line naming the slug and the rule.
#[test]
#[allow(clippy::result_large_err)]
fn a_bad_form_slug_stops_start_up_naming_it() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("ROCKET_CONFIG", "Rocket.toml");
        jail.create_file(
            "Rocket.toml",
            "[default.forms.\"Book Now\"]\ntitle = \"Safari\"\nreference_prefix = \"S\"\n\
             fields = []\nemails = []\n",
        )?;
        let err = AppConfig::from_figment(&figment()).unwrap_err().to_string();
        assert!(
            err.contains("forms") && err.contains("\"Book Now\"") && err.contains("dashes"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
        Ok(())
    });
}
