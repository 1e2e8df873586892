//! The catalogue in templates: `t(key=…)` for plain text, `th(key=…)` for a text with
//! `code` and **strong** spans, `lang()` for `<html lang>`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::{fill, Catalogue, Locale};

/// `t(key="form.submit")`, `t(key="form.errors_summary", n=3)`, `t(key="email.reply",
/// site=site_name)`: the catalogue in templates. An unknown key is a render error (caught by
/// the unit test that checks every key used in `templates/`). The result is escaped by
/// Tera's autoescaping like any other value.
pub struct TeraT(pub Arc<Catalogue>);

impl tera::Function for TeraT {
    fn call(&self, args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        let (key, n, values) = template_args(&self.0, args)?;
        let text = with_args(&values, |args| match n {
            Some(n) => self.0.plural(key, n, args),
            None => self.0.t(key, args),
        });
        Ok(tera::Value::String(text))
    }
}

/// `th(key=…)`: like `t`, for a text with markup, used as `{{ th(key=…) | safe }}`.
/// `` `MAILTRAP_API_TOKEN` `` becomes `<code>` and `**…**` becomes `<strong>`; everything
/// else, the placeholders' values included, is HTML-escaped, so an owner's override or a
/// visitor's text can never add a tag.
pub struct TeraHtml(pub Arc<Catalogue>);

impl tera::Function for TeraHtml {
    fn call(&self, args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        let (key, n, values) = template_args(&self.0, args)?;
        let mut all = values;
        if let Some(n) = n {
            all.push(("n", n.to_string()));
        }
        let text = match n {
            Some(n) => self.0.plural_text(key, n as f64),
            None => self.0.text(key),
        };
        Ok(tera::Value::String(with_args(&all, |args| {
            markup(text, args)
        })))
    }
}

type TemplateArgs<'a> = (&'a str, Option<u64>, Vec<(&'a str, String)>);

fn template_args<'a>(
    catalogue: &Catalogue,
    args: &'a HashMap<String, tera::Value>,
) -> tera::Result<TemplateArgs<'a>> {
    let key = args
        .get("key")
        .and_then(tera::Value::as_str)
        .ok_or_else(|| tera::Error::msg("t() needs key=\"…\""))?;
    if !catalogue.has(key) {
        return Err(tera::Error::msg(format!("t(): unknown string key {key:?}")));
    }
    let values = args
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "key" | "n"))
        .map(|(name, v)| {
            let text = match v {
                tera::Value::String(s) => s.clone(),
                tera::Value::Null => String::new(),
                other => other.to_string(),
            };
            (name.as_str(), text)
        })
        .collect();
    Ok((key, args.get("n").and_then(tera::Value::as_u64), values))
}

fn with_args<T>(values: &[(&str, String)], f: impl FnOnce(&[(&str, &dyn fmt::Display)]) -> T) -> T {
    let args: Vec<(&str, &dyn fmt::Display)> = values
        .iter()
        .map(|(n, v)| (*n, v as &dyn fmt::Display))
        .collect();
    f(&args)
}

/// The HTML of a catalogue text: `` `…` `` spans as `<code>`, `**…**` as `<strong>`, each
/// piece's placeholders filled and escaped; a span left open is closed at the end.
fn markup(text: &str, args: &[(&str, &dyn fmt::Display)]) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let (mut code, mut strong) = (false, false);
    let bytes = text.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let (open, name, len) = match bytes[i] {
            b'`' => (&mut code, "code", 1),
            b'*' if !code && bytes.get(i + 1) == Some(&b'*') => (&mut strong, "strong", 2),
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&tera::escape_html(&fill(&text[start..i], args)));
        out.push_str(if *open { "</" } else { "<" });
        out.push_str(name);
        out.push('>');
        *open = !*open;
        i += len;
        start = i;
    }
    out.push_str(&tera::escape_html(&fill(&text[start..], args)));
    if code {
        out.push_str("</code>");
    }
    if strong {
        out.push_str("</strong>");
    }
    out
}

/// `lang()`: the locale's tag, for `<html lang>`.
pub struct TeraLang(pub Locale);

impl tera::Function for TeraLang {
    fn call(&self, _: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        Ok(tera::Value::String(self.0.code().into()))
    }
}

#[cfg(test)]
mod tests;
