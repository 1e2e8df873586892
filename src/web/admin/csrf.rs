//! The CSRF check of every admin form that changes something: a data guard that reads the
//! form, takes its `csrf_token` aside and compares it with the session's in constant time,
//! so a forged post is refused (403) before its handler runs.

use std::ops::Deref;

use rocket::catch;
use rocket::data::{self, Data, FromData};
use rocket::form::{self, DataField, Form, FromForm, ValueField};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::Request;
use subtle::ConstantTimeEq;

use super::auth;
use crate::web::Error;

/// The name of the hidden input every admin form carries (`admin/base.html` and the pages).
const FIELD: &str = "csrf_token";

/// An admin form `T` whose `csrf_token` was the session's. Without a session the post is
/// sent to the login (401); with a wrong or missing token it is refused (403, the panel's
/// "the form expired" page) whatever else it holds; a right token with fields `T` cannot
/// read is refused as `Form<T>` would refuse it.
pub struct Csrf<T = NoFields>(T);

impl<T> Deref for Csrf<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Set on a request whose token was refused, for [`refused`] to say why.
struct Expired(bool);

#[rocket::async_trait]
impl<'r, T: FromForm<'r>> FromData<'r> for Csrf<T> {
    type Error = Error;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let session = match auth::cached_session(req) {
            Ok(Some(session)) => session,
            Ok(None) => return fail(Status::Unauthorized),
            Err(()) => return fail(Status::InternalServerError),
        };
        let posted = match Form::<Tokened<'r, T>>::from_data(req, data).await {
            Outcome::Success(posted) => posted.into_inner(),
            Outcome::Error((status, _)) => return fail(status),
            Outcome::Forward(f) => return Outcome::Forward(f),
        };
        let token = posted.token.unwrap_or_default();
        if !bool::from(token.as_bytes().ct_eq(session.csrf.as_bytes())) {
            req.local_cache(|| Expired(true));
            return Outcome::Error((Status::Forbidden, Error::FormExpired));
        }
        match posted.form {
            Ok(form) => Outcome::Success(Csrf(form)),
            Err(errors) => fail(errors.status()),
        }
    }
}

/// Refused with `status`, shown as Rocket's catcher for it shows it.
fn fail<'r, T>(status: Status) -> data::Outcome<'r, T, Error> {
    Outcome::Error((status, Error::Status(status)))
}

/// A post refused with 403 under `/admin`: "the form expired" when [`Csrf`] refused its
/// token. A data guard's error never reaches a catcher in Rocket 0.5, so the guard leaves
/// its verdict in the request's local cache.
#[catch(403)]
pub fn refused(req: &Request<'_>) -> Error {
    if req.local_cache(|| Expired(false)).0 {
        Error::FormExpired
    } else {
        Error::Status(Status::Forbidden)
    }
}

/// The body of a form that carries nothing but its token (approve, delete, log out…).
pub struct NoFields;

#[rocket::async_trait]
impl<'r> FromForm<'r> for NoFields {
    type Context = ();

    fn init(_: form::Options) {}

    fn push_value(_: &mut (), _: ValueField<'r>) {}

    async fn push_data(_: &mut (), _: DataField<'r, '_>) {}

    fn finalize(_: ()) -> form::Result<'r, Self> {
        Ok(NoFields)
    }
}

/// `T` read from a form with its `csrf_token` taken aside, and `T`'s own verdict kept for
/// after the token is checked: a forged post learns nothing about what `T` expects.
struct Tokened<'r, T> {
    token: Option<&'r str>,
    form: form::Result<'r, T>,
}

#[rocket::async_trait]
impl<'r, T: FromForm<'r>> FromForm<'r> for Tokened<'r, T> {
    type Context = (Option<&'r str>, T::Context);

    fn init(opts: form::Options) -> Self::Context {
        (None, T::init(opts))
    }

    fn push_value((token, ctxt): &mut Self::Context, field: ValueField<'r>) {
        if field.name == FIELD {
            token.get_or_insert(field.value);
        } else {
            T::push_value(ctxt, field);
        }
    }

    async fn push_data((_, ctxt): &mut Self::Context, field: DataField<'r, '_>) {
        T::push_data(ctxt, field).await;
    }

    fn push_error((_, ctxt): &mut Self::Context, error: form::Error<'r>) {
        T::push_error(ctxt, error);
    }

    fn finalize((token, ctxt): Self::Context) -> form::Result<'r, Self> {
        Ok(Tokened {
            token,
            form: T::finalize(ctxt),
        })
    }
}
