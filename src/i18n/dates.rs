//! Dates in visitor text: `28 November 2026`, `28 Novemba 2026`, `1er décembre 2026`, with
//! month names from the catalogue (`date.months.<1-12>`), in the owner's `KIPEKEE_TIMEZONE`.

use time::OffsetDateTime;

use super::Catalogue;
use crate::zone::Zone;

impl Catalogue {
    /// The local date of `t` in `zone`, as the locale writes it.
    pub fn date(&self, zone: &Zone, t: OffsetDateTime) -> String {
        let c = zone.civil(t);
        self.t(
            "date.date",
            &[
                ("day", &self.day(c.day)),
                ("month", &self.text(&format!("date.months.{}", c.month))),
                ("year", &c.year),
            ],
        )
    }

    /// The local date and 24-hour time of `t` in `zone`, with the zone's abbreviation.
    pub fn date_time(&self, zone: &Zone, t: OffsetDateTime) -> String {
        let c = zone.civil(t);
        self.t(
            "date.date_time",
            &[
                ("day", &self.day(c.day)),
                ("month", &self.text(&format!("date.months.{}", c.month))),
                ("year", &c.year),
                ("time", &format!("{:02}:{:02}", c.hour, c.minute)),
                ("zone", &c.zone),
            ],
        )
    }

    /// French writes the first of the month `1er`.
    fn day(&self, day: i8) -> String {
        if day == 1 {
            self.text("date.first_day").to_string()
        } else {
            day.to_string()
        }
    }
}
