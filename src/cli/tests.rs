use super::*;

#[test]
fn a_piped_password_loses_its_line_ending_only() {
    assert_eq!(read_password(&b"s3cret pass\n"[..]).unwrap(), "s3cret pass");
    assert_eq!(read_password(&b"s3cret\r\n"[..]).unwrap(), "s3cret");
    assert_eq!(read_password(&b" x "[..]).unwrap(), " x ");
    assert_eq!(read_password(&b"\n"[..]).unwrap(), "");
    assert!(read_password(&b"one\ntwo\n"[..]).is_err());
    assert!(read_password(&[b'a'; 5000][..]).is_err());
}

#[test]
#[allow(clippy::result_large_err)]
fn check_finds_every_bad_key_not_only_the_first() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("ADMIN_EMAIL", "not-an-address");
        jail.set_env("JOBS_EMAIL", "also bad");
        jail.set_env("KIPEKEE_PUBLIC_URL", "shop.example");
        jail.set_env("ROCKET_PORT", "eighty");
        let figment = config::figment();
        let defaults = Figment::from(Serialized::defaults(AppConfig::default()));
        let (app, problems) = every_problem(&figment, &defaults, AppConfig::from_figment);
        assert!(app.is_some(), "{problems:?}");
        assert_eq!(problems.len(), 3, "{problems:#?}");
        for name in ["ADMIN_EMAIL", "JOBS_EMAIL", "KIPEKEE_PUBLIC_URL"] {
            assert!(
                problems.iter().any(|p| p.contains(name)),
                "{name}: {problems:#?}"
            );
        }
        let defaults = Figment::from(rocket::Config::default());
        let (_, problems) = every_problem(&figment, &defaults, |f| {
            f.extract::<rocket::Config>().map_err(ConfigError::from)
        });
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains("ROCKET_PORT"), "{problems:#?}");
        Ok(())
    });
}

#[test]
fn an_upload_limit_that_makes_a_message_over_mailtrap_limit_is_a_warning() {
    assert_eq!(
        upload_limit_warning(5 * 1024 * 1024),
        None,
        "the default fits"
    );
    let fits = (10_000_000 - crate::mail::MESSAGE_RESERVE) / 4 * 3;
    assert_eq!(upload_limit_warning(fits), None);
    let warning = upload_limit_warning(fits + 1).expect("one byte more is over");
    assert!(warning.contains("KIPEKEE_MAX_UPLOAD_BYTES"), "{warning}");
    assert!(warning.contains("10000000"), "{warning}");
    assert!(upload_limit_warning(8 * 1024 * 1024).is_some());
}

#[test]
fn a_hash_that_is_not_argon2_is_a_problem() {
    let mut app = AppConfig::default();
    assert!(password_hash_problem(&app).is_none());
    app.admin_password_hash = Some(crate::model::Secret::new("hunter2"));
    assert!(password_hash_problem(&app).is_some());
    app.admin_password_hash = Some(crate::model::Secret::new(phc_hash("pw").unwrap()));
    assert!(password_hash_problem(&app).is_none());
}
