//! What Mailtrap's webhooks told about an email, as the owner reads it: a line per delivery
//! and, on the dashboard, the visitors whose confirmation never reached them.

use serde_json::{json, Value};

use crate::forms::FieldKind;
use crate::model::{Delivery, InboxEvent, InboxState};
use crate::templates::human_time;
use crate::zone::Zone;
use crate::App;

/// A delivery's inbox state for the templates: `state` (the filter's label) and `text`
/// (one plain sentence); `Null` when no event came.
pub fn view(zone: &Zone, inbox: Option<&InboxEvent>) -> Value {
    let Some(e) = inbox else {
        return Value::Null;
    };
    let detail = e.detail.as_deref().unwrap_or("no reason given");
    let text = match e.state {
        InboxState::Delivered => {
            format!(
                "Delivered: the recipient's mail server accepted it at {}",
                human_time(zone, e.at)
            )
        }
        InboxState::SoftBounce => format!(
            "Delayed: the recipient's server refused it for now ({detail}); Mailtrap keeps trying"
        ),
        InboxState::Bounced => match &e.bounce_category {
            Some(c) => format!("Bounced ({c}): {detail}"),
            None => format!("Bounced: {detail}"),
        },
        InboxState::Complained => "Marked as spam by the recipient".to_string(),
        InboxState::Unsubscribed => "The recipient unsubscribed".to_string(),
        InboxState::Rejected => format!("Not sent by Mailtrap: {detail}"),
        InboxState::Suspended => format!("Mailtrap suspended sending: {detail}"),
    };
    json!({ "state": e.state.label(), "text": text, "at": human_time(zone, e.at) })
}

/// Visitors whose confirmation bounced or was refused among `recent` deliveries, newest
/// first, each with a sentence naming a way to reach them (the form's phone field).
pub fn bounced_visitors(app: &App, recent: &[Delivery]) -> Vec<Value> {
    recent
        .iter()
        .filter(|d| d.to_visitor)
        .filter(|d| {
            d.inbox
                .as_ref()
                .is_some_and(|i| matches!(i.state, InboxState::Bounced | InboxState::Rejected))
        })
        .take(8)
        .map(|d| {
            let to = d.to.as_deref().unwrap_or("the visitor");
            let phone = phone_of(app, d);
            let text = match phone {
                Some(p) => format!(
                    "The {} to {to} bounced: the address may be mistyped — call them on {p}.",
                    d.kind
                ),
                None => format!(
                    "The {} to {to} bounced: the address may be mistyped.",
                    d.kind
                ),
            };
            json!({ "text": text, "submission_id": d.submission_id })
        })
        .collect()
}

/// The submission's phone number: its form's first telephone field that was filled in.
fn phone_of(app: &App, d: &Delivery) -> Option<String> {
    let sub = app.store.submission(d.submission_id).ok()??;
    let def = app.forms.get(&sub.form)?;
    def.fields
        .iter()
        .filter(|f| f.kind == FieldKind::Tel)
        .find_map(|f| sub.fields.get(&f.name).filter(|v| !v.trim().is_empty()))
        .cloned()
}
