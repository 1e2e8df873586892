//! The admin panel of the real binary over HTTP, with a jar for the cookies it sets.

use std::collections::BTreeMap;

use super::admin::hidden;
use super::form_body;
use super::process::{http, Server};

/// One admin's browser: the cookies the server set, sent back on every request.
pub struct Browser {
    agent: ureq::Agent,
    cookies: BTreeMap<String, String>,
}

/// An answer: status, `Location` and body.
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Default for Browser {
    fn default() -> Self {
        Browser {
            agent: http(),
            cookies: BTreeMap::new(),
        }
    }
}

impl Browser {
    /// The value of a cookie the server set, as it travels in the `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Every cookie the server set, as one `Cookie` header.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.get(url).set("Cookie", &self.cookie_header());
        for (k, v) in headers {
            req = req.set(k, v);
        }
        self.read(req.call())
    }

    pub fn post(&mut self, url: &str, pairs: &[(&str, &str)]) -> Reply {
        let req = self
            .agent
            .post(url)
            .set("Cookie", &self.cookie_header())
            .set("Content-Type", "application/x-www-form-urlencoded");
        self.read(req.send_string(&form_body(pairs)))
    }

    fn read(&mut self, result: Result<ureq::Response, ureq::Error>) -> Reply {
        let resp = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("transport error: {e}"),
        };
        for set in resp.all("Set-Cookie") {
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || set.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        Reply {
            status: resp.status(),
            location: resp.header("Location").map(str::to_string),
            body: resp.into_string().unwrap_or_default(),
        }
    }
}

/// Opens the login page and posts `password`; the reply to the post.
pub fn login(server: &Server, browser: &mut Browser, password: &str) -> Reply {
    let page = browser.get(&server.url("/admin/login"), &[]);
    let token = hidden(&page.body, "csrf_token");
    browser.post(
        &server.url("/admin/login"),
        &[("password", password), ("csrf_token", &token)],
    )
}
