//! `POST /hooks/mailtrap`: Mailtrap's webhook events (as its webhook docs define them), on only
//! when `KIPEKEE_MAILTRAP_WEBHOOK_SECRET` is set. The `Mailtrap-Signature` header is the
//! lower-case hex HMAC-SHA256 of the raw body under that secret, checked in constant time
//! before anything is parsed; an authenticated request is answered 200 even when no event
//! matches, since any other answer makes Mailtrap retry it for hours.

use hmac::{Hmac, Mac};
use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{post, routes, Route, State};
use sha2::Sha256;
use tracing::warn;

use crate::config::AppConfig;
use crate::webhooks::{WebhookError, Webhooks};

/// Largest body read: Mailtrap posts events in batches; 10 MiB holds tens of thousands.
pub const MAX_WEBHOOK_BODY: u64 = 10 * 1024 * 1024;

pub fn routes() -> Vec<Route> {
    routes![mailtrap]
}

/// The `Mailtrap-Signature` header, if any.
pub struct Signature(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Signature {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let value = req
            .headers()
            .get_one("Mailtrap-Signature")
            .map(str::to_string);
        Outcome::Success(Signature(value))
    }
}

/// True when `signature` is the lower-case hex HMAC-SHA256 of `body` keyed with `secret`;
/// the comparison is the `hmac` crate's constant-time one.
pub fn signature_valid(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[post("/hooks/mailtrap", data = "<body>")]
async fn mailtrap(
    config: &State<AppConfig>,
    webhooks: &State<Webhooks>,
    signature: Signature,
    body: Data<'_>,
) -> Status {
    let Some(secret) = &config.mailtrap_webhook_secret else {
        return Status::NotFound;
    };
    let Ok(body) = body.open(MAX_WEBHOOK_BODY.bytes()).into_bytes().await else {
        return Status::BadRequest;
    };
    if !body.is_complete() {
        return Status::PayloadTooLarge;
    }
    let valid = signature
        .0
        .as_deref()
        .is_some_and(|s| signature_valid(secret.expose(), &body, s));
    if !valid {
        warn!("mailtrap webhook: missing or wrong signature; nothing applied");
        return Status::Unauthorized;
    }
    match webhooks.apply(&body).await {
        Ok(()) => Status::Ok,
        Err(WebhookError::Malformed) => Status::BadRequest,
        Err(WebhookError::Store(e)) => {
            warn!("mailtrap webhook: could not apply an event: {e}");
            Status::ServiceUnavailable
        }
    }
}
