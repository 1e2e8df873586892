//! The submissions list (also the review queue): its filter in the query string, one row
//! per submission as the owner reads it (unread, who, form, a preview, when, files), and
//! the pager.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{get, State};
use serde_json::json;
use tera::Context;

use super::auth::Admin;
use super::pager::Pager;
use super::{form_refs, render};
use crate::forms::FieldRole;
use crate::model::{DeliveryState, Submission};
use crate::store::Store;
use crate::store::SubmissionFilter;
use crate::templates::human_time;
use crate::web::Error;
use crate::web::Page;

/// Rows per page of the submissions list.
pub(super) const PAGE: usize = 25;

/// Characters of a row's preview before it is cut (at a word, ended with "…").
const PREVIEW_CHARS: usize = 90;

#[allow(clippy::too_many_arguments)]
#[get("/submissions?<form>&<email>&<status>&<q>&<before>&<spam>&<test>&<review>")]
pub fn list(
    admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
    flash: Option<FlashMessage<'_>>,
    form: Option<&str>,
    email: Option<&str>,
    status: Option<&str>,
    q: Option<&str>,
    before: Option<u64>,
    spam: Option<bool>,
    test: Option<bool>,
    review: Option<bool>,
) -> Result<RawHtml<String>, Error> {
    let filter = filter_from(form, email, status, q, [spam, test, review]);
    let (found, position) = store.submissions_page(&filter, before, PAGE)?;
    let rows: Vec<_> = found.items.iter().map(|s| row(page, store, s)).collect();
    let mut ctx = Context::new();
    ctx.insert("rows", &rows);
    let forms: Vec<_> = form_refs(page)
        .into_iter()
        .map(|f| json!({ "slug": f.slug, "title": f.title, "unread": store.unread_count(f.slug) }))
        .collect();
    ctx.insert("forms", &forms);
    ctx.insert(
        "email_states",
        &DeliveryState::ALL.map(DeliveryState::as_str),
    );
    ctx.insert(
        "filter",
        &json!({ "form": filter.form, "email": email, "status": filter.status, "q": filter.query,
                 "spam": filter.spam, "test": filter.test, "review": filter.review }),
    );
    let query = filter_query(&filter);
    ctx.insert("filter_query", &query.join("&"));
    ctx.insert(
        "pager",
        &Pager::new(
            "/admin/submissions",
            &query,
            rows.len(),
            position,
            found.next,
        ),
    );
    render(
        page,
        store,
        &admin,
        flash,
        ("admin/submissions.html", "submissions"),
        ctx,
    )
}

/// The list's filter from its query parameters (shared by the list and its exports); the
/// flags are `[spam, test, review]`.
pub(super) fn filter_from(
    form: Option<&str>,
    email: Option<&str>,
    status: Option<&str>,
    q: Option<&str>,
    [spam, test, review]: [Option<bool>; 3],
) -> SubmissionFilter {
    let nonempty = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    SubmissionFilter {
        form: nonempty(form),
        email_status: email.and_then(|e| e.parse().ok()),
        status: nonempty(status),
        query: nonempty(q),
        spam: spam.unwrap_or(false),
        test: test.unwrap_or(false),
        review: review.unwrap_or(false),
    }
}

/// `form=quote&q=Zo%C3%AB&test=true`: the filter as query parameters, for the pager and the
/// export links.
fn filter_query(filter: &SubmissionFilter) -> Vec<String> {
    let mut query = Vec::new();
    for (k, v) in [
        ("form", &filter.form),
        ("status", &filter.status),
        ("q", &filter.query),
    ] {
        if let Some(v) = v {
            query.push(format!("{k}={}", urlencode(v)));
        }
    }
    if let Some(e) = filter.email_status {
        query.push(format!("email={e}"));
    }
    for (k, on) in [
        ("spam", filter.spam),
        ("test", filter.test),
        ("review", filter.review),
    ] {
        if on {
            query.push(format!("{k}=true"));
        }
    }
    query
}

/// Everything but RFC 3986's unreserved characters, so a value fits in a query or `mailto:`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(super) fn urlencode(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// `text` on one line (runs of white space become one space), at most `max` characters:
/// when longer, cut at the last word that fits and ended with "…".
pub(super) fn preview(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max).collect();
    let at_word = match cut.rfind(' ') {
        Some(space) if space > cut.len() / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", at_word.trim_end_matches([' ', ',', '.', ';', ':']))
}

/// A list row: who, what, when, whether it is unread, and how it stands.
pub(super) fn row(page: Page<'_>, store: &Store, s: &Submission) -> serde_json::Value {
    let z = &page.config.timezone;
    let def = page.forms.definition(&s.form);
    let value = |role| def.and_then(|d| d.value(role, &s.fields));
    let who = value(FieldRole::Name).unwrap_or_default();
    let title = page
        .forms
        .get(&s.form)
        .map_or(s.form.as_str(), |f| f.title.as_str());
    let summary = value(FieldRole::Summary)
        .map(|m| preview(m, PREVIEW_CHARS))
        .unwrap_or_default();
    // The original of an edit, while it is still stored.
    let edit_of = s
        .edit_of
        .and_then(|id| store.submission(id).ok().flatten())
        .map(|o| json!({ "id": o.id, "reference": o.reference }));
    let files: Vec<&str> = s.files.iter().map(|f| f.filename.as_str()).collect();
    json!({
        "id": s.id, "reference": s.reference, "form": s.form, "form_title": title,
        "who": who, "email": s.visitor_email, "summary": summary,
        "created_at": human_time(z, s.created_at), "created_iso": z.rfc3339(s.created_at),
        "created_ago": super::Reader::of(page).ago(s.created_at),
        "email_status": s.email_status.as_str(), "email_tone": s.email_status.tone(),
        "status": s.status, "spam": s.spam, "test": s.test,
        "review": s.review.map(|r| r.describe()), "edit_of": edit_of,
        "unread": store.is_unread(s).unwrap_or(false), "files": files,
    })
}

#[cfg(test)]
mod tests {
    use super::preview;

    #[test]
    fn a_preview_is_one_line_cut_at_a_word_with_an_ellipsis() {
        assert_eq!(preview("Two tents\n\nfor June", 90), "Two tents for June");
        let long = "We would like a mid-range lodge near the crater for four nights in August, \
                    with a guide who speaks German";
        let p = preview(long, 60);
        assert!(p.ends_with('…'), "{p}");
        assert!(p.chars().count() <= 61, "{p}");
        assert!(
            long.starts_with(p.trim_end_matches('…')),
            "cut at a word: {p}"
        );
        assert_eq!(
            p,
            "We would like a mid-range lodge near the crater for four…"
        );
        let word = "x".repeat(100);
        assert_eq!(preview(&word, 10), format!("{}…", "x".repeat(10)));
    }
}
