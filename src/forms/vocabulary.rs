//! The closed sets a form definition chooses from: who an email goes to, which email it is,
//! and what a field means. `Rocket.toml` spells them in lower case (`to = "jobs"`,
//! `template = "optin"`, `role = "name"`), `to` and `template` with the words they always
//! took; any other word stops start-up with a line naming the allowed ones.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who receives one of a form's emails: the visitor (at the form's email field) or the
/// owner's address configured for a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipient {
    /// The address the visitor typed into the form.
    Visitor,
    /// `ADMIN_EMAIL`.
    Admin,
    /// `JOBS_EMAIL`, else `ADMIN_EMAIL`.
    Jobs,
    /// `NEWSLETTER_EMAIL`, else `ADMIN_EMAIL`.
    Newsletter,
}

impl Recipient {
    /// The word `Rocket.toml` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Recipient::Visitor => "visitor",
            Recipient::Admin => "admin",
            Recipient::Jobs => "jobs",
            Recipient::Newsletter => "newsletter",
        }
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which embedded email an email definition renders: `email/<template>.html` and `.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Template {
    /// The owner's notification: every field, the files, a link to the admin panel.
    Admin,
    /// The visitor's receipt with their reference.
    Confirmation,
    /// The newsletter's double opt-in: the link a new subscriber follows to confirm.
    Optin,
    /// The newsletter's first email after the confirmation.
    Welcome,
    /// The owner's note that someone subscribed.
    Notice,
}

impl Template {
    /// The template's file stem under `templates/email/`, and its word in `Rocket.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Template::Admin => "admin",
            Template::Confirmation => "confirmation",
            Template::Optin => "optin",
            Template::Welcome => "welcome",
            Template::Notice => "notice",
        }
    }

    /// Whether the email carries one-click `List-Unsubscribe` headers (RFC 8058): the
    /// newsletter's own mail does; the opt-in goes to someone not yet subscribed.
    pub fn list_unsubscribe(self) -> bool {
        self == Template::Welcome
    }

    /// Whether this is the first email to a new subscriber's address, so that a hard bounce
    /// of it means the address cannot receive mail at all.
    pub fn is_optin(self) -> bool {
        self == Template::Optin
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a field means to the appliance beyond its own name: who wrote, where to answer,
/// what about. `role = "name"` in a field's definition; a form that gives a role to no field
/// gets the field today's conventions name (see `FormDef::infer_roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldRole {
    /// Who the visitor is: the admin list's "who", the name on the Reply-To of the owner's
    /// email, a subscriber's name.
    Name,
    /// The visitor's own address: where their emails go and where the owner's replies go.
    Email,
    /// A number to call, offered beside a visitor's email that bounced.
    Phone,
    /// What the submission is about: the admin list's one-line summary.
    Summary,
}

impl FieldRole {
    /// Every role, in the order they are inferred.
    pub const ALL: [FieldRole; 4] = [
        FieldRole::Name,
        FieldRole::Email,
        FieldRole::Phone,
        FieldRole::Summary,
    ];

    /// The word `Rocket.toml` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldRole::Name => "name",
            FieldRole::Email => "email",
            FieldRole::Phone => "phone",
            FieldRole::Summary => "summary",
        }
    }
}

impl fmt::Display for FieldRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
