//! The log filter: what `RUST_LOG` asks for, except that the HTTP layers never log below
//! `info`. Below it they dump whole requests (`Cookie`, `Authorization`), form fields
//! (passwords, visitors' messages) and flash cookies, which would put secrets in the journal.

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

/// Targets capped at `info`, with everything under them. Rocket 0.5 logs
/// `received request: Request { headers … }` (`rocket::server`, debug) and
/// `url-encoded field: ("password", …)` (`rocket::form::parser`, trace).
const CAPPED: &[&str] = &["rocket", "hyper", "hyper_util", "h2"];
const CAP: LevelFilter = LevelFilter::INFO;

/// `rust_log` (the `RUST_LOG` value; `default` when unset or unreadable), with the level of
/// every target in `CAPPED`, and of anything under it, lowered to `info` where it was higher.
pub fn filter(rust_log: Option<&str>, default: &str) -> EnvFilter {
    let asked = rust_log
        .filter(|v| EnvFilter::try_new(v).is_ok())
        .unwrap_or(default);
    let capped = capped_directives(asked);
    EnvFilter::try_new(&capped).unwrap_or_else(|_| EnvFilter::new(default))
}

/// The directives of `spec` with the caps applied, as a `RUST_LOG` string.
fn capped_directives(spec: &str) -> String {
    let items: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut out: Vec<String> = items.iter().map(|item| cap_one(item)).collect();
    for target in CAPPED {
        let level = effective_level(&items, target).min(CAP);
        out.push(format!("{target}={level}"));
    }
    out.join(",")
}

/// One directive with its level lowered if its target is capped. Directives with span or
/// field filters keep their shape but are capped the same way.
fn cap_one(item: &str) -> String {
    let (lhs, level) = split(item);
    let target = lhs.split('[').next().unwrap_or_default();
    if target.is_empty() || !is_capped(target) {
        return item.to_string();
    }
    format!("{lhs}={}", level.min(CAP))
}

fn is_capped(target: &str) -> bool {
    CAPPED
        .iter()
        .any(|c| target == *c || target.starts_with(&format!("{c}::")))
}

/// `target=level`, a bare `level`, or a bare `target` (which means trace).
fn split(item: &str) -> (&str, LevelFilter) {
    match item.rsplit_once('=') {
        Some((lhs, level)) => (lhs, level.parse().unwrap_or(LevelFilter::TRACE)),
        None => match item.parse::<LevelFilter>() {
            Ok(level) => ("", level),
            Err(_) => (item, LevelFilter::TRACE),
        },
    }
}

/// The level `items` give `target`: its most specific plain-target directive, else the
/// global one, else off.
fn effective_level(items: &[&str], target: &str) -> LevelFilter {
    let mut best: Option<(usize, LevelFilter)> = None;
    for item in items.iter().filter(|i| !i.contains('[')) {
        let (lhs, level) = split(item);
        let applies = lhs.is_empty() || target == lhs || target.starts_with(&format!("{lhs}::"));
        if applies && best.is_none_or(|(len, _)| lhs.len() >= len) {
            best = Some((lhs.len(), level));
        }
    }
    best.map_or(LevelFilter::OFF, |(_, level)| level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_layers_never_log_below_info() {
        let spec = capped_directives("trace,rocket::server=trace,hyper=debug,rocket::form");
        for item in [
            "trace",
            "rocket::server=info",
            "hyper=info",
            "rocket::form=info",
        ] {
            assert!(spec.split(',').any(|d| d == item), "{item} not in {spec}");
        }
        assert!(
            spec.ends_with("rocket=info,hyper=info,hyper_util=info,h2=info"),
            "{spec}"
        );
    }

    #[test]
    fn quieter_levels_are_kept() {
        let spec = capped_directives("info,rocket=warn,_=warn");
        assert!(spec.contains("rocket=warn"), "{spec}");
        assert!(!spec.contains("rocket=info"), "{spec}");
        assert!(capped_directives("warn").contains("hyper=warn"));
        assert!(capped_directives("kipekee=debug").contains("rocket=off"));
    }

    #[test]
    fn an_unreadable_value_falls_back_to_the_default() {
        let f = filter(Some("rocket=[[["), "info,rocket=warn");
        assert!(f.to_string().contains("rocket=warn"), "{f}");
    }
}
