//! Newsletter subscribers keyed by normalized address, with their double opt-in state.

use rand::RngCore;

use sled::transaction::ConflictableTransactionError;
use sled::Transactional;
use time::{Duration, OffsetDateTime};

use super::{abort, codec, Result, Store, StoreError};
use crate::model::{EmailAddress, SubmissionId, Subscriber, SubscriberState};

/// What a signup did, and so whether an opt-in email goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signup {
    /// First signup, or back after unsubscribing: send the opt-in.
    New,
    /// Still pending and the last opt-in is old enough to send again.
    Resend,
    /// Pending, with an opt-in sent recently: do not mail again.
    RecentlySent,
    /// Already confirmed: nothing to send.
    AlreadyConfirmed,
}

impl Signup {
    pub fn sends_optin(self) -> bool {
        matches!(self, Signup::New | Signup::Resend)
    }
}

fn token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Store {
    /// Records a signup; one subscriber per address however often it signs up.
    pub async fn subscribe(
        &self,
        email: &EmailAddress,
        name: Option<&str>,
        submission: SubmissionId,
        resend_after: Duration,
    ) -> Result<(Subscriber, Signup)> {
        let key = email.normalized();
        let now = OffsetDateTime::now_utc();
        let (confirm, unsubscribe) = (token(), token());
        let result = (&self.subscribers, &self.token_email).transaction(|(subs, tokens)| {
            let existing: Option<Subscriber> = subs
                .get(key.as_bytes())?
                .map(|raw| codec::decode("subscribers", &raw))
                .transpose()
                .map_err(abort)?;
            let (mut sub, signup) = match existing {
                Some(s) if s.state == SubscriberState::Confirmed => (s, Signup::AlreadyConfirmed),
                Some(s)
                    if s.state == SubscriberState::Pending
                        && s.optin_sent_at.is_some_and(|t| now - t < resend_after) =>
                {
                    (s, Signup::RecentlySent)
                }
                Some(s) if s.state == SubscriberState::Pending => (s, Signup::Resend),
                Some(s) => {
                    tokens.remove(s.confirm_token.as_bytes())?;
                    let fresh = Subscriber {
                        state: SubscriberState::Pending,
                        confirm_token: confirm.clone(),
                        unsubscribed_at: None,
                        submission_id: submission,
                        ..s
                    };
                    tokens.insert(confirm.as_bytes(), key.as_bytes())?;
                    (fresh, Signup::New)
                }
                None => {
                    tokens.insert(confirm.as_bytes(), key.as_bytes())?;
                    tokens.insert(unsubscribe.as_bytes(), key.as_bytes())?;
                    let fresh = Subscriber {
                        email: email.clone(),
                        name: name.map(str::to_string),
                        state: SubscriberState::Pending,
                        confirm_token: confirm.clone(),
                        unsubscribe_token: unsubscribe.clone(),
                        submission_id: submission,
                        created_at: now,
                        confirmed_at: None,
                        unsubscribed_at: None,
                        optin_sent_at: None,
                    };
                    (fresh, Signup::New)
                }
            };
            if signup.sends_optin() {
                sub.optin_sent_at = Some(now);
                if let Some(n) = name {
                    sub.name = Some(n.to_string());
                }
            }
            subs.insert(key.as_bytes(), codec::encode(&sub))?;
            Ok::<_, ConflictableTransactionError<StoreError>>((sub, signup))
        })?;
        self.flusher.flush(&self.db).await?;
        Ok(result)
    }

    /// Confirms the subscriber holding this opt-in token. `Some((s, true))` on the first
    /// confirmation, `Some((s, false))` when it was already confirmed.
    pub async fn confirm_subscriber(&self, token: &str) -> Result<Option<(Subscriber, bool)>> {
        let Some(mut sub) = self.subscriber_by_token(token)? else {
            return Ok(None);
        };
        if sub.confirm_token != token || sub.state == SubscriberState::Unsubscribed {
            return Ok(None);
        }
        if sub.state == SubscriberState::Confirmed {
            return Ok(Some((sub, false)));
        }
        sub.state = SubscriberState::Confirmed;
        sub.confirmed_at = Some(OffsetDateTime::now_utc());
        self.put_subscriber(&sub).await?;
        Ok(Some((sub, true)))
    }

    /// Unsubscribes the holder of this unsubscribe token; idempotent.
    pub async fn unsubscribe(&self, token: &str) -> Result<Option<Subscriber>> {
        let Some(mut sub) = self.subscriber_by_token(token)? else {
            return Ok(None);
        };
        if sub.unsubscribe_token != token {
            return Ok(None);
        }
        if sub.state != SubscriberState::Unsubscribed {
            sub.state = SubscriberState::Unsubscribed;
            sub.unsubscribed_at = Some(OffsetDateTime::now_utc());
            self.put_subscriber(&sub).await?;
        }
        Ok(Some(sub))
    }

    /// The subscriber an emailed link's token belongs to, without changing anything: what
    /// the page behind a `GET`/`HEAD` of that link shows.
    pub fn subscriber_for_link(&self, token: &str) -> Result<Option<Subscriber>> {
        Ok(self
            .subscriber_by_token(token)?
            .filter(|s| s.confirm_token == token || s.unsubscribe_token == token))
    }

    /// "Subscribe again" from the unsubscribed page, by the holder of the unsubscribe token:
    /// back to confirmed if the address had been confirmed before (the token proves the
    /// mailbox), otherwise back to pending, awaiting the opt-in link it already holds.
    pub async fn resubscribe(&self, token: &str) -> Result<Option<Subscriber>> {
        let Some(mut sub) = self.subscriber_by_token(token)? else {
            return Ok(None);
        };
        if sub.unsubscribe_token != token {
            return Ok(None);
        }
        if sub.state == SubscriberState::Unsubscribed {
            sub.state = if sub.confirmed_at.is_some() {
                SubscriberState::Confirmed
            } else {
                SubscriberState::Pending
            };
            sub.unsubscribed_at = None;
            self.put_subscriber(&sub).await?;
        }
        Ok(Some(sub))
    }

    /// Forgets that an opt-in went out (it failed), so signing up again sends one at once.
    pub async fn forget_optin(&self, email: &EmailAddress) -> Result<()> {
        if let Some(mut sub) = self.subscriber(email)? {
            sub.optin_sent_at = None;
            self.put_subscriber(&sub).await?;
        }
        Ok(())
    }

    /// Unsubscribes the holder of this address (a Mailtrap `unsubscribe` or `spam` event);
    /// idempotent, and nothing for an address that is not a subscriber.
    pub async fn unsubscribe_address(&self, email: &EmailAddress) -> Result<()> {
        match self.subscriber(email)? {
            Some(sub) => self.unsubscribe(&sub.unsubscribe_token).await.map(drop),
            None => Ok(()),
        }
    }

    /// Marks a pending subscriber whose opt-in bounced as [`SubscriberState::Undeliverable`].
    pub async fn mark_undeliverable(&self, email: &EmailAddress) -> Result<()> {
        if let Some(mut sub) = self.subscriber(email)? {
            if sub.state == SubscriberState::Pending {
                sub.state = SubscriberState::Undeliverable;
                self.put_subscriber(&sub).await?;
            }
        }
        Ok(())
    }

    pub fn subscriber(&self, email: &EmailAddress) -> Result<Option<Subscriber>> {
        self.subscribers
            .get(email.normalized().as_bytes())?
            .map(|raw| codec::decode("subscribers", &raw))
            .transpose()
    }

    pub fn subscribers(&self) -> Result<Vec<Subscriber>> {
        self.subscribers
            .iter()
            .map(|r| {
                let (_, v) = r?;
                codec::decode("subscribers", &v)
            })
            .collect()
    }

    fn subscriber_by_token(&self, token: &str) -> Result<Option<Subscriber>> {
        match self.token_email.get(token.as_bytes())? {
            Some(key) => self
                .subscribers
                .get(key)?
                .map(|raw| codec::decode("subscribers", &raw))
                .transpose(),
            None => Ok(None),
        }
    }

    async fn put_subscriber(&self, sub: &Subscriber) -> Result<()> {
        self.subscribers
            .insert(sub.email.normalized().as_bytes(), codec::encode(sub))?;
        self.flusher.flush(&self.db).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[rocket::async_test]
    async fn double_opt_in_lifecycle_keeps_one_subscriber() {
        let store = Store::temporary().unwrap();
        let hour = Duration::hours(1);
        let (s, first) = store
            .subscribe(&addr("A@x.com"), Some("A"), SubmissionId(1), hour)
            .await
            .unwrap();
        assert_eq!(first, Signup::New);
        let (_, again) = store
            .subscribe(&addr("a@x.com"), None, SubmissionId(2), hour)
            .await
            .unwrap();
        assert_eq!(again, Signup::RecentlySent);
        let (_, later) = store
            .subscribe(&addr("a@x.com"), None, SubmissionId(2), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(later, Signup::Resend);
        assert_eq!(store.subscribers().unwrap().len(), 1);

        assert!(store.confirm_subscriber("bogus").await.unwrap().is_none());
        assert!(store
            .confirm_subscriber(&s.unsubscribe_token)
            .await
            .unwrap()
            .is_none());
        let (c, newly) = store
            .confirm_subscriber(&s.confirm_token)
            .await
            .unwrap()
            .unwrap();
        assert!(newly && c.state == SubscriberState::Confirmed);
        assert!(
            !store
                .confirm_subscriber(&s.confirm_token)
                .await
                .unwrap()
                .unwrap()
                .1
        );
        let (_, confirmed) = store
            .subscribe(&addr("a@x.com"), None, SubmissionId(3), hour)
            .await
            .unwrap();
        assert_eq!(confirmed, Signup::AlreadyConfirmed);

        let u = store
            .unsubscribe(&s.unsubscribe_token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.state, SubscriberState::Unsubscribed);
        assert!(store
            .confirm_subscriber(&s.confirm_token)
            .await
            .unwrap()
            .is_none());
        let (back, signup) = store
            .subscribe(&addr("a@x.com"), None, SubmissionId(4), hour)
            .await
            .unwrap();
        assert_eq!(signup, Signup::New);
        assert_ne!(back.confirm_token, s.confirm_token);
        assert_eq!(back.unsubscribe_token, s.unsubscribe_token);
    }
}
