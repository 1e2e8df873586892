//! The one `tera::Tera` of the process: page and email templates compiled into the binary
//! (rust-embed), plus each form's subject lines from the config. Autoescaping is on for
//! every `.html` template; `.txt` and subjects are plain text. `t(key=…)`, `th(key=…)` (a text
//! with `code` and **strong** spans) and `lang()` give templates the catalogue (`crate::i18n`).

use std::sync::Arc;

use rust_embed::Embed;
use tera::{Context, Tera};
use time::OffsetDateTime;

use crate::config::AppConfig;
use crate::i18n::{Catalogue, TeraHtml, TeraLang, TeraT};
use crate::zone::Zone;

#[derive(Embed)]
#[folder = "templates/"]
struct Embedded;

pub struct Templates {
    tera: Tera,
    strings: Arc<Catalogue>,
}

impl Templates {
    /// Parses every embedded template and every configured subject; an error names the template.
    pub fn load(config: &AppConfig) -> Result<Templates, tera::Error> {
        let mut sources = Vec::new();
        for name in Embedded::iter() {
            if let Some(file) = Embedded::get(&name) {
                let text = String::from_utf8_lossy(&file.data).into_owned();
                sources.push((name.to_string(), text));
            }
        }
        for (slug, form) in &config.forms {
            for email in &form.emails {
                sources.push((
                    Self::subject_name(slug.as_str(), &email.kind),
                    email.subject.clone(),
                ));
            }
        }
        let strings = Arc::new(
            config
                .strings()
                .map_err(|e| tera::Error::msg(e.to_string()))?,
        );
        let mut tera = Tera::default();
        tera.register_function("t", TeraT(strings.clone()));
        tera.register_function("th", TeraHtml(strings.clone()));
        tera.register_function("lang", TeraLang(strings.locale()));
        tera.add_raw_templates(sources)?;
        Ok(Templates { tera, strings })
    }

    /// The visitor's catalogue, for texts built in code (validation messages, page titles).
    pub fn strings(&self) -> &Catalogue {
        &self.strings
    }

    pub fn subject_name(slug: &str, kind: &str) -> String {
        format!("subject/{slug}/{kind}")
    }

    pub fn render(&self, name: &str, ctx: &Context) -> Result<String, tera::Error> {
        self.tera.render(name, ctx)
    }
}

/// `2026-11-28 12:14 EAT`: what pages and emails show, in the owner's `KIPEKEE_TIMEZONE`.
pub fn human_time(zone: &Zone, t: OffsetDateTime) -> String {
    zone.human(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_parses_and_html_is_escaped() {
        let t = Templates::load(&AppConfig::default()).unwrap();
        let mut ctx = Context::new();
        ctx.insert(
            "fields",
            &[serde_json::json!({"name":"m","label":"Message","value":"<script>x</script>"})],
        );
        ctx.insert("form_title", "Quote");
        ctx.insert("reference", "Q-1001");
        ctx.insert("submitted_at", "now");
        ctx.insert("files", &Vec::<String>::new());
        ctx.insert("site_name", "Shop");
        ctx.insert("admin_url", "http://x/admin");
        let html = t.render("email/admin.html", &ctx).unwrap();
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>x"));
        let text = t.render("email/admin.txt", &ctx).unwrap();
        assert!(text.contains("<script>x</script>"));
    }
}
