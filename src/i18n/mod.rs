//! The visitor's side in their language (`KIPEKEE_LOCALE`; DESIGN.md, Round 2 contract,
//! "Owners in their language and time"): a string catalogue per locale, one TOML table each
//! (`locales/<code>.toml`), compiled into the binary and parsed once; the owner's
//! `[default.strings]` on top. The admin panel's texts are the same catalogue's `admin.*`
//! keys (`locales/admin/en.toml`): English only in this release, so a locale without them
//! shows the panel in English, with English plurals; plural categories by CLDR rules (`intl_pluralrules`); dates
//! with month names by locale. Templates use the `t(key=…, n=…, name=…)` Tera function,
//! code uses [`Catalogue::t`] and [`Catalogue::plural`].

mod dates;
mod overrides;
mod tera;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use intl_pluralrules::{PluralCategory, PluralRuleType, PluralRules};
use serde::{Deserialize, Serialize};

pub use overrides::StringOverrides;
pub use tera::{TeraHtml, TeraLang, TeraT};

/// A shipped language of the visitor's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    #[default]
    En,
    Sw,
    Fr,
}

/// `KIPEKEE_LOCALE` names no shipped locale.
#[derive(Debug, thiserror::Error)]
#[error("KIPEKEE_LOCALE: unknown locale {0:?} (one of en, sw, fr)")]
pub struct UnknownLocale(String);

/// A `[default.strings]` key that is not a text of the catalogue (a typo would otherwise be
/// ignored).
#[derive(Debug, thiserror::Error)]
pub enum UnknownKey {
    #[error(
        "not a key of the string catalogue (the keys are those of locales/en.toml and \
         locales/admin/en.toml)"
    )]
    Unknown(String),
    /// A plural message given one text: its categories are the keys.
    #[error("a plural message: give its texts by category, as {0}.one and {0}.other")]
    Plural(String),
}

impl UnknownKey {
    /// The key as written under `[default.strings]`.
    pub fn key(&self) -> &str {
        match self {
            UnknownKey::Unknown(key) | UnknownKey::Plural(key) => key,
        }
    }
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::Sw, Locale::Fr];

    /// The BCP 47 tag: `<html lang>` and the plural rules' language.
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Sw => "sw",
            Locale::Fr => "fr",
        }
    }

    pub fn parse(code: &str) -> Result<Locale, UnknownLocale> {
        let code = code.trim();
        Locale::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
            .ok_or_else(|| UnknownLocale(code.to_string()))
    }

    /// The locale's catalogue files: the visitor's texts, then the admin panel's if the
    /// locale has them.
    fn sources(self) -> &'static [&'static str] {
        match self {
            Locale::En => &[
                include_str!("../../locales/en.toml"),
                include_str!("../../locales/admin/en.toml"),
            ],
            Locale::Sw => &[include_str!("../../locales/sw.toml")],
            Locale::Fr => &[include_str!("../../locales/fr.toml")],
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Locale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Locale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        if code.trim().is_empty() {
            return Ok(Locale::En);
        }
        Locale::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// The shipped catalogues, flattened to `section.key` → text (a plural message's categories
/// are `section.key.one`, `section.key.other`, …), parsed once per process.
static SHIPPED: LazyLock<[BTreeMap<String, String>; 3]> =
    LazyLock::new(|| Locale::ALL.map(|l| l.sources().iter().flat_map(|s| parse(s)).collect()));

static ENGLISH: LazyLock<Catalogue> = LazyLock::new(|| Catalogue::shipped(Locale::En));

fn parse(source: &str) -> BTreeMap<String, String> {
    let table: toml::Table = toml::from_str(source).expect("shipped catalogues are valid TOML");
    let mut out = BTreeMap::new();
    flatten("", &toml::Value::Table(table), &mut out);
    out
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// The CLDR plural categories, as the catalogue's keys name them.
pub const CATEGORIES: [&str; 6] = ["zero", "one", "two", "few", "many", "other"];

fn category_name(c: PluralCategory) -> &'static str {
    match c {
        PluralCategory::ZERO => "zero",
        PluralCategory::ONE => "one",
        PluralCategory::TWO => "two",
        PluralCategory::FEW => "few",
        PluralCategory::MANY => "many",
        PluralCategory::OTHER => "other",
    }
}

/// One locale's texts with the owner's overrides applied.
pub struct Catalogue {
    locale: Locale,
    texts: BTreeMap<String, String>,
    rules: PluralRules,
}

impl Catalogue {
    /// The locale's shipped texts with `overrides` on top; a key the catalogue does not
    /// have is refused, so a typo in `Rocket.toml` stops start-up instead of being ignored.
    pub fn new(locale: Locale, overrides: &StringOverrides) -> Result<Catalogue, UnknownKey> {
        let mut catalogue = Catalogue::shipped(locale);
        let english = &SHIPPED[Locale::En.index()];
        for (key, text) in overrides.iter() {
            if !catalogue.texts.contains_key(key) && !english.contains_key(key) {
                return Err(if english.contains_key(&format!("{key}.other")) {
                    UnknownKey::Plural(key.clone())
                } else {
                    UnknownKey::Unknown(key.clone())
                });
            }
            catalogue.texts.insert(key.clone(), text.clone());
        }
        Ok(catalogue)
    }

    fn shipped(locale: Locale) -> Catalogue {
        let tag: unic_langid::LanguageIdentifier = locale
            .code()
            .parse()
            .expect("shipped locale codes are tags");
        Catalogue {
            locale,
            texts: SHIPPED[locale.index()].clone(),
            rules: PluralRules::create(tag, PluralRuleType::CARDINAL)
                .expect("CLDR has plural rules for every shipped locale"),
        }
    }

    pub fn locale(&self) -> Locale {
        self.locale
    }

    /// Whether `key` names a message of this locale or of English: a text, or a plural
    /// message (`key.other`).
    pub fn has(&self, key: &str) -> bool {
        let other = format!("{key}.other");
        [&self.texts, &SHIPPED[Locale::En.index()]]
            .iter()
            .any(|texts| texts.contains_key(key) || texts.contains_key(&other))
    }

    /// The text of `key` as written, placeholders unfilled; English if this locale lacks
    /// it (never happens for shipped locales: a unit test checks), the key itself if no
    /// catalogue has it.
    pub fn text<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts
            .get(key)
            .or_else(|| SHIPPED[Locale::En.index()].get(key))
            .map_or(key, String::as_str)
    }

    /// The text of `key` with each `{name}` of `args` filled in.
    pub fn t(&self, key: &str, args: &[(&str, &dyn fmt::Display)]) -> String {
        fill(self.text(key), args)
    }

    /// The plural message `key` for the count `n` (its `{n}` filled in): the category
    /// the locale's CLDR rules choose for `n`, or `other` if the message lacks it.
    pub fn plural(&self, key: &str, n: u64, args: &[(&str, &dyn fmt::Display)]) -> String {
        let mut all: Vec<(&str, &dyn fmt::Display)> = vec![("n", &n)];
        all.extend_from_slice(args);
        fill(self.plural_text(key, n as f64), &all)
    }

    fn plural_text(&self, key: &str, n: f64) -> &str {
        let other = format!("{key}.other");
        let rules = if self.texts.contains_key(&other) || self.locale == Locale::En {
            &self.rules
        } else {
            &ENGLISH.rules
        };
        let category = rules.select(n).map_or("other", category_name);
        let exact = format!("{key}.{category}");
        if self.texts.contains_key(&exact) || SHIPPED[Locale::En.index()].contains_key(&exact) {
            return self.text_owned_key(exact);
        }
        self.text_owned_key(other)
    }

    fn text_owned_key(&self, key: String) -> &str {
        self.texts
            .get(&key)
            .or_else(|| SHIPPED[Locale::En.index()].get(&key))
            .map_or("", String::as_str)
    }

    /// `PDF, DOC or DOCX`: items joined as the locale lists alternatives.
    pub fn list_or(&self, items: &[String]) -> String {
        match items.split_last() {
            None => String::new(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => self.t("list.or", &[("first", &rest.join(", ")), ("last", last)]),
        }
    }

    /// `5 MiB`, `1,5 Mio`, `512 KiB`: a byte count as the locale writes it on a form.
    pub fn size(&self, bytes: u64) -> String {
        const MIB: u64 = 1024 * 1024;
        if bytes < MIB {
            return self.t("size.kib", &[("n", &bytes.div_ceil(1024))]);
        }
        let tenths = (bytes.saturating_mul(10) + MIB / 2) / MIB;
        let n = match tenths % 10 {
            0 => (tenths / 10).to_string(),
            t => format!("{}{}{t}", tenths / 10, self.text("size.decimal")),
        };
        self.t("size.mib", &[("n", &n)])
    }
}

impl fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Catalogue({})", self.locale)
    }
}

/// The English catalogue without overrides: the reference the other locales and the
/// owner's texts are compared with.
pub fn english() -> &'static Catalogue {
    &ENGLISH
}

/// Replaces each `{name}` whose name is in `args`; any other brace (`{{ reference }}` of a
/// subject template, a literal `{`) is left as written.
fn fill(text: &str, args: &[(&str, &dyn fmt::Display)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let arg = after[name_end..]
            .starts_with('}')
            .then(|| args.iter().find(|(n, _)| *n == &after[..name_end]))
            .flatten();
        match arg {
            Some((_, value)) => {
                out.push_str(&value.to_string());
                rest = &after[name_end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
