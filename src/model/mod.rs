//! The values every layer speaks: addresses, ids, submissions and their deliveries, the
//! outcome of an attempt and why it failed. A leaf: it imports nothing else of the crate,
//! so `store` persists these types and `mail` renders and sends them without either
//! knowing the other.

mod address;
mod failure;
mod ids;
mod inbox;
mod ledger;
mod outcome;
mod phone;
mod records;
mod slug;
mod spam;
mod state;
mod status;
mod subscriber;
mod text;
mod upload;

pub use address::{mailto_uri, EmailAddress, Mailbox, Secret};
pub use failure::{Failure, FailureKind, Retry};
pub use ids::{random_token, DeliveryId, SubmissionId};
pub use inbox::{InboxEvent, InboxState};
pub use ledger::{Confirmation, Ledger, CONFIRM_WITHIN};
pub use outcome::Outcome;
pub use phone::tel_uri;
pub use records::{Attempt, Delivery, EmailBody, NewSubmission, Note, StoredFile, Submission};
pub use slug::{FormSlug, InvalidSlug};
pub use spam::{SpamReason, Verdict};
pub use state::DeliveryState;
pub use status::EmailStatus;
pub use subscriber::{Subscriber, SubscriberState};
pub use text::{display_name, is_bidi_or_format, single_line};
pub use upload::{FileType, TempUpload, Upload};
