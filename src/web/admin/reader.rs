//! How the owner reads the panel: times in their zone (`KIPEKEE_TIMEZONE`) and texts from
//! the catalogue's `admin.*` keys (`locales/admin/en.toml`, overridable in `Rocket.toml`).

use std::fmt;

use time::OffsetDateTime;

use crate::i18n::Catalogue;
use crate::model::FailureKind;
use crate::templates::human_time;
use crate::web::Page;
use crate::zone::{ago, Ago, Zone};

/// The owner's zone and the panel's texts, for code that words what a page shows.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub zone: &'a Zone,
    pub strings: &'a Catalogue,
}

impl<'a> Reader<'a> {
    pub fn of(page: Page<'a>) -> Reader<'a> {
        Reader {
            zone: &page.config.timezone,
            strings: page.templates.strings(),
        }
    }

    /// `2026-11-28 12:14 EAT`.
    pub fn time(&self, t: OffsetDateTime) -> String {
        human_time(self.zone, t)
    }

    /// `5 min ago` (from now), or the local date from four weeks on.
    pub fn ago(&self, t: OffsetDateTime) -> String {
        let s = self.strings;
        match ago(self.zone, OffsetDateTime::now_utc(), t) {
            Ago::JustNow => s.t("admin.ago.just_now", &[]),
            Ago::Minutes(n) => s.plural("admin.ago.minutes", n.unsigned_abs(), &[]),
            Ago::Hours(n) => s.plural("admin.ago.hours", n.unsigned_abs(), &[]),
            Ago::Days(n) => s.plural("admin.ago.days", n.unsigned_abs(), &[]),
            Ago::Date(date) => date,
        }
    }

    /// The text of `key` with its `{name}`s filled in.
    pub fn t(&self, key: &str, args: &[(&str, &dyn fmt::Display)]) -> String {
        self.strings.t(key, args)
    }

    /// What the owner can do about a failed email.
    pub fn advice(&self, kind: FailureKind) -> String {
        self.strings.text(kind.advice_key()).to_string()
    }

    /// The plural message `key` for `n`.
    pub fn plural(&self, key: &str, n: u64, args: &[(&str, &dyn fmt::Display)]) -> String {
        self.strings.plural(key, n, args)
    }
}

#[cfg(test)]
impl Reader<'static> {
    /// UTC and the English panel.
    pub fn english() -> Reader<'static> {
        static UTC: std::sync::LazyLock<Zone> = std::sync::LazyLock::new(Zone::utc);
        Reader {
            zone: &UTC,
            strings: crate::i18n::english(),
        }
    }
}
