//! What Mailtrap's answer to a send means for each email in it: its message ids, or a
//! [`Failure`] saying why it did not go and whether it may have gone anyway.

use serde_json::{json, Value};

use crate::model::{Failure, FailureKind};

/// `/api/send`'s answer for one message (seed mode): its ids, or why it failed.
pub(super) fn parse_send_answer(status: u16, body: &str) -> Result<Vec<String>, Failure> {
    let json: Option<Value> = serde_json::from_str(body).ok();
    match json {
        Some(v) if (200..300).contains(&status) && v.get("success") == Some(&json!(true)) => {
            Ok(message_ids(&v))
        }
        _ => parse_batch_answer(status, body, 1).remove(0),
    }
}

fn message_ids(v: &Value) -> Vec<String> {
    v.get("message_ids")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A failure without an HTTP answer. `whole`: the request body had been handed over whole,
/// so Mailtrap may have received and accepted it.
pub(super) fn transport_failure(t: &ureq::Transport, whole: bool) -> Failure {
    let (kind, text) = match t.kind() {
        ureq::ErrorKind::ConnectionFailed => {
            (FailureKind::Connect, "could not connect to Mailtrap")
        }
        ureq::ErrorKind::Dns => (
            FailureKind::Connect,
            "could not resolve Mailtrap's host name",
        ),
        ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
            (FailureKind::BadUrl, "MAILTRAP_API_URL is not a valid URL")
        }
        _ if whole => (
            FailureKind::TimeoutAfterSent,
            "sent to Mailtrap, but no answer came in time (it may have been delivered)",
        ),
        _ => (
            FailureKind::TimeoutBeforeSent,
            "the connection to Mailtrap failed or timed out before the email was sent",
        ),
    };
    let detail = match t.message() {
        Some(detail) => format!("{text}: {detail}"),
        None => match std::error::Error::source(t) {
            Some(source) => format!("{text}: {source}"),
            None => text.to_string(),
        },
    };
    Failure::new(kind, detail)
}

/// Reads Mailtrap's answer to a batch of `n` messages: for each, its message ids or why it
/// failed. Tolerates every error shape the API has been seen to use; an error status whose
/// body is not JSON comes from something in front of Mailtrap (a gateway's page).
pub fn parse_batch_answer(status: u16, body: &str, n: usize) -> Vec<Result<Vec<String>, Failure>> {
    let json: Option<Value> = serde_json::from_str::<Value>(body)
        .ok()
        .filter(Value::is_object);
    let whole = |kind: FailureKind, why: String| vec![Err(Failure::new(kind, why)); n];
    if !(200..300).contains(&status) {
        let kind = FailureKind::Http {
            status,
            mailtrap: json.is_some(),
        };
        let detail = json.as_ref().and_then(error_text).unwrap_or_else(|| {
            if body.trim().is_empty() {
                "empty answer".into()
            } else {
                "non-JSON answer".into()
            }
        });
        return whole(kind, format!("HTTP {status}: {detail}"));
    }
    let Some(json) = json else {
        return whole(
            FailureKind::UnreadableAnswer,
            format!("HTTP {status}: non-JSON answer"),
        );
    };
    let Some(items) = json.get("responses").and_then(Value::as_array) else {
        // `{"success":false,"errors":[…]}` with a 2xx: refused as a whole.
        return match error_text(&json) {
            Some(detail) => whole(FailureKind::Rejected, format!("HTTP {status}: {detail}")),
            None => whole(
                FailureKind::UnreadableAnswer,
                format!("HTTP {status}: answer without responses"),
            ),
        };
    };
    (0..n)
        .map(|i| match items.get(i) {
            Some(item) if item.get("success").and_then(Value::as_bool) == Some(true) => {
                Ok(message_ids(item))
            }
            Some(item) => Err(Failure::new(
                FailureKind::Rejected,
                error_text(item).unwrap_or_else(|| "rejected without a reason".into()),
            )),
            None => Err(Failure::new(
                FailureKind::UnreadableAnswer,
                "Mailtrap's answer did not cover this message",
            )),
        })
        .collect()
}

/// `errors` as a list, a string or an object; or `error`.
fn error_text(v: &Value) -> Option<String> {
    let text = match v.get("errors").or_else(|| v.get("error"))? {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}: {}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    Some(crate::model::single_line(&text, 500))
}

#[cfg(test)]
mod tests;
