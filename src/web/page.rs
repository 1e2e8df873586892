//! What a page is rendered with: the templates, the settings and the forms, borrowed from
//! Rocket's managed state by a request guard. Data comes from the services (`Store`,
//! `Intake`, `Outbox`), which a handler takes on its own.

use std::sync::Arc;

use rocket::request::{FromRequest, Outcome};
use rocket::response::content::RawHtml;
use rocket::{Request, Rocket};
use tera::Context;

use crate::config::AppConfig;
use crate::forms::Forms;
use crate::i18n::Catalogue;
use crate::mail::Mailtrap;
use crate::templates::Templates;

/// Facts about the site that only the web layer needs, fixed at start.
pub struct Site {
    /// Absolute base of the site's links, without a trailing slash.
    pub public_base: String,
}

impl Site {
    /// Served over HTTPS (so cookies are `Secure`).
    pub fn https(&self) -> bool {
        self.public_base.starts_with("https://")
    }
}

/// The rendering side of the managed state, for one request.
#[derive(Clone, Copy)]
pub struct Page<'r> {
    pub config: &'r AppConfig,
    pub templates: &'r Templates,
    pub forms: &'r Forms,
    pub site: &'r Site,
    mailer: &'r Mailtrap,
}

impl<'r> Page<'r> {
    /// From a Rocket's managed state; `None` before it is built (never while serving).
    pub fn of<P: rocket::Phase>(rocket: &'r Rocket<P>) -> Option<Page<'r>> {
        Some(Page {
            config: rocket.state::<AppConfig>()?,
            templates: rocket.state::<Arc<Templates>>()?,
            forms: rocket.state::<Forms>()?,
            site: rocket.state::<Site>()?,
            mailer: rocket.state::<Arc<Mailtrap>>()?,
        })
    }

    /// The visitor's catalogue (the configured locale).
    pub fn strings(&self) -> &'r Catalogue {
        self.templates.strings()
    }

    /// A Mailtrap token is set: emails are really sent.
    pub fn mailtrap_configured(&self) -> bool {
        self.mailer.is_configured()
    }

    /// What every public page's context holds.
    pub fn context(&self) -> Context {
        let mut ctx = Context::new();
        ctx.insert("site_name", self.config.site_name());
        ctx
    }

    pub fn render(&self, name: &str, ctx: &Context) -> Result<RawHtml<String>, tera::Error> {
        Ok(RawHtml(self.templates.render(name, ctx)?))
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Page<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match Page::of(req.rocket()) {
            Some(page) => Outcome::Success(page),
            None => Outcome::Error((rocket::http::Status::InternalServerError, ())),
        }
    }
}
