use std::collections::BTreeSet;
use std::path::Path;

use time::macros::datetime;

use super::*;
use crate::zone::Zone;

/// The message keys of a flattened catalogue: plural categories folded into their message.
fn message_keys(texts: &BTreeMap<String, String>) -> BTreeSet<String> {
    let plural_groups: BTreeSet<&str> = texts
        .keys()
        .filter_map(|k| k.strip_suffix(".other"))
        .collect();
    texts
        .keys()
        .map(|k| match k.rsplit_once('.') {
            Some((group, cat)) if CATEGORIES.contains(&cat) && plural_groups.contains(group) => {
                group.to_string()
            }
            _ => k.clone(),
        })
        .collect()
}

fn shipped(locale: Locale) -> Catalogue {
    Catalogue::new(locale, &StringOverrides::default()).unwrap()
}

/// The admin panel's keys: English only in this release (`locales/admin/en.toml`).
fn is_admin(key: &str) -> bool {
    key.starts_with("admin.")
}

#[test]
fn every_locale_has_exactly_the_messages_of_english() {
    let all = message_keys(&SHIPPED[Locale::En.index()]);
    let english: BTreeSet<String> = all.iter().filter(|k| !is_admin(k)).cloned().collect();
    assert!(english.len() > 100, "{}", english.len());
    assert!(
        all.len() - english.len() > 150,
        "{}",
        all.len() - english.len()
    );
    for locale in [Locale::Sw, Locale::Fr] {
        let keys: BTreeSet<String> = message_keys(&SHIPPED[locale.index()])
            .into_iter()
            .filter(|k| !is_admin(k))
            .collect();
        let missing: Vec<_> = english.difference(&keys).collect();
        let extra: Vec<_> = keys.difference(&english).collect();
        assert!(missing.is_empty(), "{locale} lacks {missing:?}");
        assert!(
            extra.is_empty(),
            "{locale} has keys English lacks: {extra:?}"
        );
    }
}

#[test]
fn every_plural_message_has_each_category_its_language_uses() {
    let counts: Vec<f64> = (0..=1100)
        .map(f64::from)
        .chain([1e6, 2e6, 1.5, 0.5])
        .collect();
    for locale in Locale::ALL {
        let c = shipped(locale);
        let groups: BTreeSet<&str> = c
            .texts
            .keys()
            .filter_map(|k| k.strip_suffix(".other"))
            .collect();
        assert!(groups.contains("form.errors_summary"), "{locale}");
        for group in groups {
            for n in &counts {
                let category = category_name(c.rules.select(*n).unwrap());
                assert!(
                    c.texts.contains_key(&format!("{group}.{category}")),
                    "{locale}: {group} has no `{category}` (for {n})"
                );
            }
        }
    }
}

#[test]
fn plurals_follow_each_language() {
    let en = shipped(Locale::En);
    assert_eq!(
        en.plural("validate.too_long", 1, &[]),
        "Must be at most 1 character."
    );
    assert_eq!(
        en.plural("validate.too_long", 0, &[]),
        "Must be at most 0 characters."
    );
    // French counts 0 and 1 as singular, unlike English.
    let fr = shipped(Locale::Fr);
    let nb = '\u{a0}';
    assert_eq!(
        fr.plural("validate.too_long", 0, &[]),
        format!("0{nb}caractère au maximum.")
    );
    assert_eq!(
        fr.plural("validate.too_long", 1, &[]),
        format!("1{nb}caractère au maximum.")
    );
    assert_eq!(
        fr.plural("validate.too_long", 2, &[]),
        format!("2{nb}caractères au maximum.")
    );
    // Swahili nouns of this class do not change, their agreement does (i- / zi-).
    let sw = shipped(Locale::Sw);
    assert_eq!(
        sw.plural("validate.too_many_fields", 1, &[]),
        "Zaidi ya sehemu 1 imetumwa."
    );
    assert_eq!(
        sw.plural("validate.too_many_fields", 64, &[]),
        "Zaidi ya sehemu 64 zimetumwa."
    );
    assert_eq!(
        sw.plural("form.errors_summary", 3, &[]),
        "Tafadhali sahihisha sehemu 3 zilizowekwa alama."
    );
}

#[test]
fn dates_spell_the_month_in_each_language_in_the_owners_zone() {
    let nairobi = Zone::parse("Africa/Nairobi").unwrap();
    // 22:30 UTC on the 30th is 01:30 on the 1st in Nairobi.
    let t = datetime!(2026-11-30 22:30 UTC);
    let later = datetime!(2026-11-28 09:14 UTC);
    assert_eq!(
        shipped(Locale::En).date_time(&nairobi, later),
        "28 November 2026, 12:14 EAT"
    );
    assert_eq!(
        shipped(Locale::Sw).date_time(&nairobi, later),
        "28 Novemba 2026, 12:14 EAT"
    );
    assert_eq!(
        shipped(Locale::Fr).date_time(&nairobi, t),
        "1er décembre 2026 à 01:30 EAT"
    );
    assert_eq!(shipped(Locale::Sw).date(&nairobi, t), "1 Desemba 2026");
    assert_eq!(
        shipped(Locale::En).date(&Zone::utc(), t),
        "30 November 2026"
    );
}

#[test]
fn sizes_and_lists_read_as_the_language_writes_them() {
    let fr = shipped(Locale::Fr);
    assert_eq!(fr.size(1536 * 1024), "1,5\u{a0}Mio");
    assert_eq!(
        fr.list_or(&["PDF".into(), "DOC".into(), "ODT".into()]),
        "PDF, DOC ou ODT"
    );
    let en = shipped(Locale::En);
    assert_eq!(en.size(5 << 20), "5 MiB");
    assert_eq!(en.size(1000), "1 KiB");
    assert_eq!(shipped(Locale::Sw).list_or(&["PDF".into()]), "PDF");
}

#[test]
fn placeholders_are_filled_and_template_braces_kept() {
    assert_eq!(
        fill(
            "{site} got {{ reference }} {x} {missing}",
            &[("site", &"Acme"), ("x", &5)]
        ),
        "Acme got {{ reference }} 5 {missing}"
    );
    assert_eq!(fill("a { b {", &[]), "a { b {");
}

#[test]
fn overrides_replace_texts_and_unknown_keys_are_refused() {
    let overrides: StringOverrides = [("form.submit", "Tuma sasa")].into_iter().collect();
    let sw = Catalogue::new(Locale::Sw, &overrides).unwrap();
    assert_eq!(sw.text("form.submit"), "Tuma sasa");
    assert_eq!(sw.text("form.choose"), "Chagua…");
    let typo: StringOverrides = [("admin.nav.dashbord", "x")].into_iter().collect();
    let e = Catalogue::new(Locale::Sw, &typo).unwrap_err();
    assert_eq!(e.key(), "admin.nav.dashbord");
    let said = e.to_string();
    assert!(
        said.contains("locales/admin/en.toml") && !said.contains('\n'),
        "{said}"
    );
    let plural: StringOverrides = [("admin.devices.ended", "x")].into_iter().collect();
    let said = Catalogue::new(Locale::Sw, &plural).unwrap_err().to_string();
    assert!(
        said.contains("admin.devices.ended.one and admin.devices.ended.other"),
        "{said}"
    );
}

#[test]
fn nested_and_dotted_override_tables_read_alike() {
    let toml = r#"
        "form.submit" = "Go"
        [thanks]
        heading = "Cheers"
        [form.errors_summary]
        one = "Fix it"
    "#;
    let o: StringOverrides = toml::from_str(toml).unwrap();
    let keys: Vec<_> = o.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["form.errors_summary.one", "form.submit", "thanks.heading"]
    );
    let c = Catalogue::new(Locale::En, &o).unwrap();
    assert_eq!(c.plural("form.errors_summary", 1, &[]), "Fix it");
    assert_eq!(
        c.plural("form.errors_summary", 2, &[]),
        "Please correct the 2 highlighted fields."
    );
}

#[test]
fn unknown_locale_names_the_setting_on_one_line() {
    let e = Locale::parse("de").unwrap_err().to_string();
    assert!(e.contains("KIPEKEE_LOCALE") && e.contains("\"de\"") && !e.contains('\n'));
    assert_eq!(Locale::parse("SW").unwrap(), Locale::Sw);
}

/// Every `t(key="…")` in `templates/` and every `.t("…"`, `.plural("…"` and `.text("…"` in
/// `src/` names a message of the catalogue: a typo fails here, not on a visitor's page.
#[test]
fn every_key_used_in_templates_and_code_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = Vec::new();
    for (dir, patterns) in [
        ("templates", &["t(key=\""][..]),
        ("src", &[".t(\"", ".plural(\"", ".text(\""][..]),
    ] {
        for file in files(&root.join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for pattern in patterns {
                for (at, _) in text.match_indices(pattern) {
                    let rest = &text[at + pattern.len()..];
                    let key = &rest[..rest.find('"').unwrap_or(0)];
                    used.push((file.display().to_string(), key.to_string()));
                }
            }
        }
    }
    // Keys passed around as literals (`title: "link.confirm_title"`).
    let sections: BTreeSet<&str> = SHIPPED[Locale::En.index()]
        .keys()
        .filter_map(|k| k.split('.').next())
        .collect();
    for file in files(&root.join("src")) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for section in &sections {
            for (at, _) in text.match_indices(&format!("\"{section}.")) {
                let rest = &text[at + 1..];
                let key = &rest[..rest.find('"').unwrap_or(0)];
                let file_name = key.ends_with(".html") || key.ends_with(".txt");
                if !file_name
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || "._".contains(c))
                {
                    used.push((file.display().to_string(), key.to_string()));
                }
            }
        }
    }
    assert!(used.len() > 250, "{}", used.len());
    let en = english();
    // `t(key="admin.email_status." ~ status)`: a key built from a prefix and a value.
    let known = |key: &str| match key.strip_suffix('.') {
        Some(prefix) => SHIPPED[Locale::En.index()]
            .keys()
            .any(|k| k.starts_with(&format!("{prefix}."))),
        None => en.has(key),
    };
    let unknown: Vec<_> = used
        .iter()
        .filter(|(file, key)| !known(key) && !file.ends_with("tests.rs") && !key.contains('{'))
        .collect();
    assert!(unknown.is_empty(), "{unknown:?}");
}

pub(super) fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn admin_texts_are_english_in_every_locale_with_english_plurals() {
    for locale in Locale::ALL {
        let c = shipped(locale);
        assert_eq!(c.text("admin.nav.log_out"), "Log out", "{locale}");
        // French counts 0 as singular; the English text must still say "0 … notifications".
        assert_eq!(
            c.plural("admin.dashboard.failing_owners", 0, &[]),
            "0 owner notifications did not go out.",
            "{locale}"
        );
    }
}
