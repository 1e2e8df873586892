//! The devices the owner is logged in on ("remember this device"): listed on the settings
//! page, each one's session ended from there, every one but this, or this one (log out).

use rocket::form::FromForm;
use rocket::http::{Cookie, CookieJar};
use rocket::response::{Flash, Redirect};
use rocket::{post, State};
use serde_json::{json, Value};

use super::auth::{Admin, IDLE, SESSION_COOKIE};
use super::csrf::Csrf;
use super::{back_to, Reader};
use crate::store::Store;
use crate::web::Error;
use crate::web::Page;

/// Each live session for the settings page: its handle (never its id), the device, when it
/// was opened and last used, whether it is remembered and whether it is this one.
pub fn list(
    page: Page<'_>,
    store: &Store,
    (admin, tag): (&Admin, &str),
) -> Result<Vec<Value>, Error> {
    let r = Reader::of(page);
    let current = admin.session.handle();
    Ok(store
        .live_sessions(tag, IDLE)?
        .iter()
        .map(|s| {
            let handle = s.handle();
            json!({
                "current": handle == current, "handle": handle,
                "device": device_name(&s.device), "user_agent": s.device,
                "created_at": r.time(s.created_at), "last_seen": r.time(s.last_seen),
                "last_seen_ago": r.ago(s.last_seen), "remembered": s.remembered,
            })
        })
        .collect())
}

/// `Chrome on Android`: a browser and system named from a `User-Agent`, for telling the
/// owner's own devices apart (not for any decision); `None` when neither is recognised.
pub fn device_name(user_agent: &str) -> Option<String> {
    const BROWSERS: [(&str, &str); 6] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(marker, _)| user_agent.contains(marker))
            .map(|(_, name)| *name)
    };
    match (find(&BROWSERS), find(&SYSTEMS)) {
        (Some(b), Some(s)) => Some(format!("{b} · {s}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}

#[derive(FromForm)]
pub struct EndForm {
    /// The session's [`crate::store::Session::handle`].
    handle: String,
}

/// Logs one device out; ending this device's own session is logging out.
#[post("/sessions/end", data = "<form>")]
pub async fn end(
    _admin: Admin,
    form: Csrf<EndForm>,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<Flash<Redirect>, Error> {
    let ended = store.end_sessions(|s| s.handle() == form.handle).await?;
    Ok(ended_notice(page, ended))
}

/// Logs out every device but the one asking.
#[post("/sessions/end-others", data = "<_csrf>")]
pub async fn end_others(
    admin: Admin,
    _csrf: Csrf,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<Flash<Redirect>, Error> {
    let ended = store.end_sessions(|s| s.id != admin.session.id).await?;
    Ok(ended_notice(page, ended))
}

#[post("/logout", data = "<_csrf>")]
pub async fn logout(
    admin: Admin,
    _csrf: Csrf,
    store: &State<Store>,
    jar: &CookieJar<'_>,
) -> Result<Redirect, Error> {
    store.delete_session(&admin.session.id).await?;
    jar.remove_private(Cookie::build(SESSION_COOKIE).path("/admin"));
    Ok(Redirect::to("/admin/login"))
}

/// Back to the top of Settings, where "2 devices logged out." shows.
fn ended_notice(page: Page<'_>, ended: usize) -> Flash<Redirect> {
    let notice = Reader::of(page).plural("admin.devices.ended", ended as u64, &[]);
    back_to("/admin/settings".into(), notice)
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn devices_are_named_from_real_user_agents() {
        for (ua, name) in [
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.6778.104 Mobile Safari/537.36",
                Some("Chrome · Android"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                Some("Safari · iPhone"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70",
                Some("Edge · Windows"),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                Some("Firefox · Linux"),
            ),
            ("curl/8.11.0", None),
            ("", None),
        ] {
            assert_eq!(device_name(ua).as_deref(), name, "{ua}");
        }
    }
}
