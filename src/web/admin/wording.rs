//! How the panel names what more than one page shows, so that the pages that show it need
//! not import each other.

use super::Reader;
use crate::model::Attempt;

/// How the submission page names an attempt.
pub(super) fn attempt_label(r: Reader, a: Attempt) -> String {
    match a {
        Attempt::FirstTry => r.t("admin.attempt.first_try", &[]),
        Attempt::AutomaticRetry(n) => r.t(
            "admin.attempt.automatic_retry",
            &[("n", &n.saturating_sub(1))],
        ),
        Attempt::ResentByOwner => r.t("admin.attempt.resent", &[]),
        Attempt::ApprovedByOwner => r.t("admin.attempt.approved", &[]),
    }
}
