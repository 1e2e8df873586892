//! Admin sessions, recorded server-side so that logout and a password change revoke them.

use rand::RngCore;
use serde::{Deserialize, Serialize};
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
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &"***")
            .field("csrf", &"***")
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
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
    pub async fn create_session(&self, password_tag: &str) -> Result<Session> {
        let now = OffsetDateTime::now_utc();
        let session = Session {
            id: random_token(),
            csrf: random_token(),
            password_tag: password_tag.to_string(),
            created_at: now,
            last_seen: now,
        };
        self.sessions
            .insert(session.id.as_bytes(), codec::encode(&session))?;
        self.flusher.flush(&self.db).await?;
        Ok(session)
    }

    /// The live session with this id: not idle longer than `idle`, opened with the current
    /// password. Expired or revoked sessions are removed as they are met.
    pub fn session(&self, id: &str, password_tag: &str, idle: Duration) -> Result<Option<Session>> {
        let Some(raw) = self.sessions.get(id.as_bytes())? else {
            return Ok(None);
        };
        let mut session: Session = codec::decode("sessions", &raw)?;
        let now = OffsetDateTime::now_utc();
        if session.password_tag != password_tag || now - session.last_seen > idle {
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

    #[rocket::async_test]
    async fn sessions_end_on_logout_idle_or_password_change() {
        let store = Store::temporary().unwrap();
        let hour = Duration::hours(1);
        let s = store.create_session("pw1").await.unwrap();
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

        let s = store.create_session("pw1").await.unwrap();
        assert!(
            store
                .session(&s.id, "pw1", Duration::ZERO)
                .unwrap()
                .is_none(),
            "idle"
        );
        let s = store.create_session("pw1").await.unwrap();
        store.delete_session(&s.id).await.unwrap();
        assert!(
            store.session(&s.id, "pw1", hour).unwrap().is_none(),
            "logout"
        );
    }
}
