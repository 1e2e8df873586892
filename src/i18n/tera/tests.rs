use std::fmt;
use std::path::Path;

use super::markup;

#[test]
fn markup_makes_code_and_strong_and_escapes_everything_else() {
    let name: &dyn fmt::Display = &"<b>`x`</b>";
    assert_eq!(
        markup("Set `MAILTRAP_API_TOKEN` for **{who}** & more", &[("who", name)]),
        "Set <code>MAILTRAP_API_TOKEN</code> for <strong>&lt;b&gt;`x`&lt;&#x2F;b&gt;</strong> &amp; more"
    );
    assert_eq!(
        markup("a * b ** c `d", &[]),
        "a * b <strong> c <code>d</code></strong>"
    );
}

/// The admin panel's texts come from the catalogue: no words are left in an admin
/// template's text or in its `title`, `placeholder`, `aria-label` or `alt` attributes once
/// the Tera tags are taken out.
#[test]
fn admin_templates_have_no_text_outside_the_catalogue() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/admin");
    let mut found = Vec::new();
    for file in crate::i18n::tests::files(&root) {
        let source = std::fs::read_to_string(&file).unwrap();
        for text in visible_texts(&without_tera(&source)) {
            if text.chars().any(char::is_alphabetic) {
                found.push(format!("{}: {text:?}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_admin_template_check_sees_words_in_text_and_attributes() {
    let page = r#"<p title="Open it">{{ t(key="a") }} Log out</p><input placeholder='Search'><b>{% if x %}{{ y }}{% endif %}</b>"#;
    assert_eq!(
        visible_texts(&without_tera(page)),
        ["Open it", " Log out", "Search"]
    );
}

/// The page with every `{{ … }}`, `{% … %}` and `{# … #}` removed.
fn without_tera(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(open) = rest.find(['{']) {
        let close = match &rest[open..] {
            s if s.starts_with("{{") => "}}",
            s if s.starts_with("{%") => "%}",
            s if s.starts_with("{#") => "#}",
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
                continue;
            }
        };
        out.push_str(&rest[..open]);
        let end = rest[open..]
            .find(close)
            .map_or(rest.len(), |e| open + e + 2);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Text between tags, and the values of the attributes a person reads or hears (`title`,
/// `placeholder`, `aria-label`, `alt`).
fn visible_texts(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        if !text.trim().is_empty() {
            out.push(text.to_string());
        }
        rest = &rest[lt..];
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[..gt];
        for attribute in ["title=", "placeholder=", "aria-label=", "alt="] {
            for (at, _) in tag.match_indices(attribute) {
                let value = &tag[at + attribute.len()..];
                let Some(quote) = value.chars().next().filter(|q| *q == '"' || *q == '\'') else {
                    continue;
                };
                let value = &value[1..];
                let value = &value[..value.find(quote).unwrap_or(value.len())];
                if !value.trim().is_empty() {
                    out.push(value.to_string());
                }
            }
        }
        rest = &rest[gt + 1..];
    }
    out
}
