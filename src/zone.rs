//! The owner's time zone (`KIPEKEE_TIMEZONE`, an IANA name, default `UTC`): every time shown
//! to a person is in it, and the dashboard's "today" and "this week" start at its local
//! midnight (Round 2 contract, "Owners in their language and time"). The tz database is
//! compiled into the binary (jiff's `tzdb-bundle-always`), so a host without
//! `/usr/share/zoneinfo` knows every zone too.

use std::fmt;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A known IANA time zone and the name it was configured with.
#[derive(Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

/// `KIPEKEE_TIMEZONE` names no zone of the bundled tz database.
#[derive(Debug, thiserror::Error)]
#[error("KIPEKEE_TIMEZONE: unknown time zone {0:?} (an IANA name such as Africa/Nairobi or UTC)")]
pub struct UnknownZone(String);

/// Local midnights of today and of six days before, as instants (the dashboard's counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayStarts {
    pub today: OffsetDateTime,
    pub week: OffsetDateTime,
}

/// A local calendar date and wall-clock time, with the zone's abbreviation (or offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Civil {
    pub year: i16,
    /// 1 to 12.
    pub month: i8,
    pub day: i8,
    pub hour: i8,
    pub minute: i8,
    pub zone: String,
}

impl Zone {
    /// Looks `name` up in the bundled tz database (exact IANA spelling, e.g. `Africa/Nairobi`).
    pub fn parse(name: &str) -> Result<Zone, UnknownZone> {
        let name = name.trim();
        let tz = TimeZone::get(name).map_err(|_| UnknownZone(name.to_string()))?;
        Ok(Zone {
            name: name.to_string(),
            tz,
        })
    }

    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn zoned(&self, t: OffsetDateTime) -> Zoned {
        let ts =
            Timestamp::from_nanosecond(t.unix_timestamp_nanos()).unwrap_or(Timestamp::UNIX_EPOCH);
        ts.to_zoned(self.tz.clone())
    }

    /// `2026-11-28 12:14 EAT`: what pages and emails show (the zone's abbreviation, or its
    /// offset where the tz database has none, e.g. `+04`).
    pub fn human(&self, t: OffsetDateTime) -> String {
        format(&self.zoned(t), "%Y-%m-%d %H:%M %Z")
    }

    /// The local date and time of `t`, for texts that spell dates out by locale.
    pub fn civil(&self, t: OffsetDateTime) -> Civil {
        let z = self.zoned(t);
        Civil {
            year: z.year(),
            month: z.month(),
            day: z.day(),
            hour: z.hour(),
            minute: z.minute(),
            zone: format(&z, "%Z"),
        }
    }

    /// `2026-11-28T12:14:05+03:00`: RFC 3339 with the local offset (CSV, `<time datetime>`).
    pub fn rfc3339(&self, t: OffsetDateTime) -> String {
        format(&self.zoned(t), "%Y-%m-%dT%H:%M:%S%:z")
    }

    /// The local midnights that start "today" and "this week" (today and the six days before)
    /// for the instant `now`. A midnight skipped by a DST change starts at the first instant
    /// of that day.
    pub fn day_starts(&self, now: OffsetDateTime) -> DayStarts {
        let z = self.zoned(now);
        let today = z.start_of_day().unwrap_or_else(|_| z.clone());
        let week = today
            .date()
            .checked_sub(jiff::Span::new().days(6))
            .ok()
            .and_then(|d| d.to_zoned(self.tz.clone()).ok())
            .and_then(|w| w.start_of_day().ok())
            .unwrap_or_else(|| today.clone());
        let back = |z: &Zoned| {
            OffsetDateTime::from_unix_timestamp_nanos(z.timestamp().as_nanosecond())
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        };
        DayStarts {
            today: back(&today),
            week: back(&week),
        }
    }
}

/// `strftime` that cannot panic: a pattern jiff cannot fill falls back to RFC 9557 text.
fn format(z: &Zoned, pattern: &str) -> String {
    jiff::fmt::strtime::format(pattern, z).unwrap_or_else(|_| z.to_string())
}

/// How long before a moment an instant was, in the largest whole unit; the admin panel
/// words it (`5 min ago`) from its catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ago {
    /// Under a minute (or in the future: a clock set back).
    JustNow,
    Minutes(i64),
    Hours(i64),
    Days(i64),
    /// Four weeks or more: the local date, `2026-01-02`.
    Date(String),
}

/// How long before `now` the instant `t` was.
pub fn ago(zone: &Zone, now: OffsetDateTime, t: OffsetDateTime) -> Ago {
    let secs = (now - t).whole_seconds();
    match secs {
        ..=59 => Ago::JustNow,
        60..=3_599 => Ago::Minutes(secs / 60),
        3_600..=86_399 => Ago::Hours(secs / 3_600),
        86_400..=2_419_199 => Ago::Days(secs / 86_400),
        _ => Ago::Date(format(&zone.zoned(t), "%Y-%m-%d")),
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone::utc()
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if name.trim().is_empty() {
            return Ok(Zone::utc());
        }
        Zone::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn late_utc_evening_is_the_next_local_day_in_nairobi() {
        let nairobi = Zone::parse("Africa/Nairobi").unwrap();
        let post = datetime!(2026-11-27 22:30 UTC);
        let now = datetime!(2026-11-28 06:00 UTC);
        let starts = nairobi.day_starts(now);
        assert_eq!(starts.today, datetime!(2026-11-27 21:00 UTC));
        assert!(
            post >= starts.today,
            "22:30 UTC is 01:30 EAT on the 28th: today"
        );
        assert_eq!(starts.week, datetime!(2026-11-21 21:00 UTC));
        let utc = Zone::utc().day_starts(now);
        assert!(post < utc.today, "in UTC the same post was yesterday");
        assert_eq!(nairobi.human(post), "2026-11-28 01:30 EAT");
        assert_eq!(nairobi.rfc3339(post), "2026-11-28T01:30:00+03:00");
    }

    #[test]
    fn dst_zones_show_their_abbreviation_and_offset() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.human(datetime!(2026-07-01 10:00 UTC)),
            "2026-07-01 12:00 CEST"
        );
        assert_eq!(
            berlin.human(datetime!(2026-12-01 10:00 UTC)),
            "2026-12-01 11:00 CET"
        );
        assert_eq!(
            Zone::utc().human(datetime!(2026-12-01 10:00 UTC)),
            "2026-12-01 10:00 UTC"
        );
    }

    #[test]
    fn unknown_zone_names_the_setting() {
        let e = Zone::parse("Mars/Olympus").unwrap_err().to_string();
        assert!(
            e.contains("KIPEKEE_TIMEZONE") && e.contains("Mars/Olympus"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn ago_uses_the_largest_whole_unit() {
        let z = Zone::utc();
        let now = datetime!(2026-11-28 12:00 UTC);
        assert_eq!(ago(&z, now, now), Ago::JustNow);
        assert_eq!(
            ago(&z, now, datetime!(2026-11-28 11:55 UTC)),
            Ago::Minutes(5)
        );
        assert_eq!(ago(&z, now, datetime!(2026-11-28 09:59 UTC)), Ago::Hours(2));
        assert_eq!(ago(&z, now, datetime!(2026-11-25 12:00 UTC)), Ago::Days(3));
        assert_eq!(
            ago(&z, now, datetime!(2026-01-02 12:00 UTC)),
            Ago::Date("2026-01-02".into())
        );
    }
}
