//! Admin sessions, recorded server-side so that logout, a password change and the owner's
//! "log out that device" revoke them.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::{codec, Result, Store};

/// An admin session. Its `Debug` masks the id and the CSRF token: either one is a login.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    /// Every state-changing admin form must echo this.
    pub csrf: String,
    /// Identifies the password the session was opened with; a new password ends it.
    pub password_tag: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// Opened with "keep me logged in on this device": it lasts [`Idle::remembered`].
    #[serde(default)]
    pub remembered: bool,
    /// The browser's `User-Agent` at login, cut to [`DEVICE_CHARS`], so the owner can tell
    /// their devices apart; empty for sessions from before it was kept.
    #[serde(default)]
    pub device: String,
}

/// How long a session may go unused before it ends.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    pub normal: Duration,
    /// For a session opened with "keep me logged in on this device".
    pub remembered: Duration,
}

/// Characters of the `User-Agent` kept on a session.
pub const DEVICE_CHARS: usize = 200;

impl Session {
    /// A name for the session that can be shown and posted back (to log it out) without
    /// giving the session away: the first 16 hex digits of the SHA-256 of its id.
    pub fn handle(&self) -> String {
        hex::encode(&Sha256::digest(self.id.as_bytes())[..8])
    }

    fn expired(&self, idle: Idle, now: OffsetDateTime) -> bool {
        let limit = if self.remembered {
            idle.remembered
        } else {
            idle.normal
        };
        now - self.last_seen > limit
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &"***")
            .field("csrf", &"***")
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
            .field("remembered", &self.remembered)
            .finish_non_exhaustive()
    }
}

fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `last_seen` is rewritten at most this often, not on every page view.
const TOUCH_EVERY: Duration = Duration::minutes(1);

impl Store {
    /// Opens a session for the password `password_tag`; `device` is the browser's
    /// `User-Agent` (cut to [`DEVICE_CHARS`], control characters dropped).
    pub async fn create_session(
        &self,
        password_tag: &str,
        remembered: bool,
        device: &str,
    ) -> Result<Session> {
        let now = OffsetDateTime::now_utc();
        let session = Session {
            id: random_token(),
            csrf: random_token(),
            password_tag: password_tag.to_string(),
            created_at: now,
            last_seen: now,
            remembered,
            device: device
                .chars()
                .filter(|c| !c.is_control())
                .take(DEVICE_CHARS)
                .collect(),
        };
        self.sessions
            .insert(session.id.as_bytes(), codec::encode(&session))?;
        self.flusher.flush(&self.db).await?;
        Ok(session)
    }

    /// The live session with this id: not idle longer than `idle` allows it, opened with the
    /// current password. Expired or revoked sessions are removed as they are met.
    pub fn session(&self, id: &str, password_tag: &str, idle: Idle) -> Result<Option<Session>> {
        let Some(raw) = self.sessions.get(id.as_bytes())? else {
            return Ok(None);
        };
        let mut session: Session = codec::decode("sessions", &raw)?;
        let now = OffsetDateTime::now_utc();
        if session.password_tag != password_tag || session.expired(idle, now) {
            self.sessions.remove(id.as_bytes())?;
            return Ok(None);
        }
        if now - session.last_seen > TOUCH_EVERY {
            session.last_seen = now;
            self.sessions
                .insert(id.as_bytes(), codec::encode(&session))?;
        }
        Ok(Some(session))
    }

    pub async fn delete_session(&self, id: &str) -> Result<()> {
        self.sessions.remove(id.as_bytes())?;
        self.flusher.flush(&self.db).await?;
        Ok(())
    }

    /// The live sessions of the password `password_tag`, most recently used first; ended
    /// ones are removed on the way.
    pub fn live_sessions(&self, password_tag: &str, idle: Idle) -> Result<Vec<Session>> {
        let now = OffsetDateTime::now_utc();
        let mut live = Vec::new();
        for item in self.sessions.iter() {
            let (key, raw) = item?;
            let session: Session = codec::decode("sessions", &raw)?;
            if session.password_tag != password_tag || session.expired(idle, now) {
                self.sessions.remove(key)?;
            } else {
                live.push(session);
            }
        }
        live.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        Ok(live)
    }

    /// Ends every session `end` picks (by [`Session::handle`], or all but one); how many
    /// ended.
    pub async fn end_sessions(&self, mut end: impl FnMut(&Session) -> bool) -> Result<usize> {
        let mut ended = 0;
        for item in self.sessions.iter() {
            let (key, raw) = item?;
            let session: Session = codec::decode("sessions", &raw)?;
            if end(&session) {
                self.sessions.remove(key)?;
                ended += 1;
            }
        }
        self.flusher.flush(&self.db).await?;
        Ok(ended)
    }

    /// The generated admin password's PHC hash, if one was generated.
    pub fn generated_password_hash(&self) -> Result<Option<String>> {
        Ok(self
            .meta
            .get("admin_password_hash")?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn set_generated_password_hash(&self, phc: &str) -> Result<()> {
        self.meta.insert("admin_password_hash", phc.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Idle = Idle {
        normal: Duration::hours(1),
        remembered: Duration::days(30),
    };

    /// Rewrites a session's `last_seen`, as if it had not been used since `ago`.
    fn unused_for(store: &Store, s: &Session, ago: Duration) {
        let mut old = s.clone();
        old.last_seen = OffsetDateTime::now_utc() - ago;
        store
            .sessions
            .insert(s.id.as_bytes(), codec::encode(&old))
            .unwrap();
    }

    #[rocket::async_test]
    async fn a_remembered_session_outlives_the_idle_limit_until_its_own() {
        let store = Store::temporary().unwrap();
        let short = store.create_session("pw1", false, "Firefox").await.unwrap();
        let long = store
            .create_session("pw1", true, "Chrome\n on phone")
            .await
            .unwrap();
        assert_eq!(long.device, "Chrome on phone", "no control characters");
        for s in [&short, &long] {
            unused_for(&store, s, Duration::hours(3));
        }
        assert!(store.session(&short.id, "pw1", HOUR).unwrap().is_none());
        assert!(store.session(&long.id, "pw1", HOUR).unwrap().is_some());
        unused_for(&store, &long, Duration::days(31));
        assert!(store.session(&long.id, "pw1", HOUR).unwrap().is_none());
    }

    #[rocket::async_test]
    async fn the_owner_sees_live_sessions_and_ends_them_by_handle() {
        let store = Store::temporary().unwrap();
        let a = store.create_session("pw1", true, "phone").await.unwrap();
        let b = store.create_session("pw1", false, "laptop").await.unwrap();
        let old = store
            .create_session("pw0", true, "old password")
            .await
            .unwrap();
        let live = store.live_sessions("pw1", HOUR).unwrap();
        let devices: Vec<_> = live.iter().map(|s| s.device.as_str()).collect();
        assert_eq!(devices.len(), 2);
        assert!(devices.contains(&"phone") && devices.contains(&"laptop"));
        assert!(
            store.session(&old.id, "pw0", HOUR).unwrap().is_none(),
            "removed"
        );
        assert_eq!(a.handle().len(), 16);
        assert!(!a.handle().contains(&a.id[..8]), "the handle is not the id");
        let ended = store
            .end_sessions(|s| s.handle() == a.handle())
            .await
            .unwrap();
        assert_eq!(ended, 1);
        assert!(store.session(&a.id, "pw1", HOUR).unwrap().is_none());
        assert!(store.session(&b.id, "pw1", HOUR).unwrap().is_some());
    }

    #[rocket::async_test]
    async fn sessions_end_on_logout_idle_or_password_change() {
        let store = Store::temporary().unwrap();
        let hour = HOUR;
        let s = store.create_session("pw1", false, "").await.unwrap();
        assert_eq!(
            store.session(&s.id, "pw1", hour).unwrap().unwrap().csrf,
            s.csrf
        );
        assert!(store.session("nope", "pw1", hour).unwrap().is_none());
        assert!(
            store.session(&s.id, "pw2", hour).unwrap().is_none(),
            "new password"
        );
        assert!(
            store.session(&s.id, "pw1", hour).unwrap().is_none(),
            "and it stays gone"
        );

        let s = store.create_session("pw1", false, "").await.unwrap();
        unused_for(&store, &s, Duration::hours(2));
        assert!(store.session(&s.id, "pw1", hour).unwrap().is_none(), "idle");
        let s = store.create_session("pw1", false, "").await.unwrap();
        store.delete_session(&s.id).await.unwrap();
        assert!(
            store.session(&s.id, "pw1", hour).unwrap().is_none(),
            "logout"
        );
    }
}
