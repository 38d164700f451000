//! Helpers for the dashboard's handler tests: a browser-like session over plain HTTP that keeps
//! the session cookie, sends forms the way a browser does (same-origin headers, the CSRF token
//! of the session) and reads HTML answers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sentari_client::TextAnswer;

use crate::common::Server;

/// The `Content-Type` of HTML forms.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// A visitor of the dashboard: anonymous, or signed in with a session cookie.
pub struct Web<'a> {
    pub server: &'a Server,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

/// The value of the first `name="csrf"` hidden field of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

/// The `name=value` part of a `Set-Cookie` header for the session cookie.
pub fn session_cookie(answer: &TextAnswer) -> Option<String> {
    answer
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("sentari_session="))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

impl<'a> Web<'a> {
    /// An anonymous visitor.
    pub fn anonymous(server: &'a Server) -> Web<'a> {
        Web {
            server,
            cookie: None,
            csrf: None,
        }
    }

    /// Signs in through the login form and reads the CSRF token from the profile page.
    pub async fn login(server: &'a Server, email: &str, password: &str) -> Web<'a> {
        let mut web = Web::anonymous(server);
        let r = web
            .post_raw("/login", &[("email", email), ("password", password)], true)
            .await;
        assert_eq!(r.status, 303, "login {email}: {}", r.body);
        web.cookie = Some(session_cookie(&r).expect("the login sets the session cookie"));
        let profile = web.get("/profile").await;
        assert_eq!(profile.status, 200, "{}", profile.body);
        web.csrf = Some(csrf_of(&profile.body).expect("the profile page has a form"));
        web
    }

    fn origin(&self) -> String {
        self.server.url().trim_end_matches('/').to_owned()
    }

    /// `GET path`, without following redirects.
    pub async fn get(&self, path: &str) -> TextAnswer {
        let mut headers = vec![("accept", "text/html")];
        let cookie;
        if let Some(c) = &self.cookie {
            cookie = c.clone();
            headers.push(("cookie", cookie.as_str()));
        }
        self.server
            .client()
            .send_text("GET", path, &headers, None)
            .await
            .unwrap()
    }

    /// Posts a form as a browser would from this site, with the session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> TextAnswer {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = &self.csrf {
            all.push(("csrf", t.as_str()));
        }
        self.post_raw(path, &all, true).await
    }

    /// Posts exactly `fields`, with or without the same-origin headers.
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        same_site: bool,
    ) -> TextAnswer {
        self.post_with(
            path,
            fields,
            if same_site { Some("same-origin") } else { None },
        )
        .await
    }

    /// Posts exactly `fields` with the given `Sec-Fetch-Site` (and a matching `Origin` when it
    /// is `same-origin`).
    pub async fn post_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        sec_fetch_site: Option<&str>,
    ) -> TextAnswer {
        let body = serde_urlencoded::to_string(fields).unwrap().into_bytes();
        let origin = self.origin();
        let mut headers: Vec<(&str, &str)> = vec![("accept", "text/html")];
        let cookie;
        if let Some(c) = &self.cookie {
            cookie = c.clone();
            headers.push(("cookie", cookie.as_str()));
        }
        if let Some(site) = sec_fetch_site {
            headers.push(("sec-fetch-site", site));
            if site == "same-origin" {
                headers.push(("origin", origin.as_str()));
            }
        }
        self.server
            .client()
            .send_text("POST", path, &headers, Some((FORM, body)))
            .await
            .unwrap()
    }
}

/// Asserts a `303` to `to` (a prefix of the `Location`).
pub fn assert_redirect(r: &TextAnswer, to: &str) {
    assert_eq!(r.status, 303, "expected a redirect to {to}: {}", r.body);
    let loc = r.header("location").unwrap_or("");
    assert!(loc.starts_with(to), "redirected to {loc}, expected {to}");
}

/// Runs SQL behind the server's back with the database's own client tool.
pub fn raw_sql(database_url: &str, sql: &str) {
    let status = if let Some(path) = database_url.strip_prefix("sqlite://") {
        std::process::Command::new("sqlite3")
            .arg(path)
            .arg(sql)
            .status()
    } else {
        std::process::Command::new("psql")
            .arg(database_url)
            .arg("-qc")
            .arg(sql)
            .status()
    };
    match status {
        Ok(s) => assert!(s.success(), "SQL failed: {sql}"),
        Err(e) => panic!("sqlite3/psql is needed to change the database directly: {e}"),
    }
}
