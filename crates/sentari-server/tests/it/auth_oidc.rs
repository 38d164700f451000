//! OIDC single sign-on against a real OpenID Connect provider run locally
//! (`oidc-provider-mock`, from PyPI: discovery, JWKS, RS256 ID tokens, an authorization form that
//! takes the subject by POST). The test plays the browser: it follows the server's redirect to
//! the provider, submits the provider's form, and brings the code back to the callback with the
//! flow cookie.
//!
//! Covered: auto-creation with the default role, the role claim (and an unknown value ignored),
//! an existing user matched by e-mail, an inactive or local account refused, a bad or missing
//! state refused, a code from another sign-in (wrong nonce) refused, and 501 when not
//! configured. Without the provider the tests skip loudly locally and fail under CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::auth_support::*;
use crate::common::{Env, Server, eventually, read_log};
use serde_json::{Value, json};

const CLIENT_ID: &str = "sentari-test";

fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

/// A running `oidc-provider-mock`, killed on drop.
struct Provider {
    child: Child,
    url: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    async fn start() -> Option<Provider> {
        // The console script, or the module under the `python3` on PATH.
        let mut cmd = match find_on_path("oidc-provider-mock") {
            Some(exe) => Command::new(exe),
            None if Command::new("python3")
                .args(["-c", "import oidc_provider_mock"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()) =>
            {
                let mut c = Command::new("python3");
                c.args(["-m", "oidc_provider_mock"]);
                c
            }
            None => {
                let msg = "oidc-provider-mock not installed (pip install oidc-provider-mock, see .ci/setup.d/auth.sh)";
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{msg}; CI must install it"
                );
                eprintln!("\n!!!!!!!! SKIPPING OIDC TESTS: {msg} !!!!!!!!\n");
                return None;
            }
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = cmd
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Provider {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = sentari_client::Client::new(&p.url).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(a) = client
                .get_json("/.well-known/openid-configuration", &[])
                .await
                && a.status == 200
            {
                return Some(p);
            }
            assert!(
                Instant::now() < deadline,
                "oidc-provider-mock did not start"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sets the claims the provider will put in `sub`'s tokens.
    async fn set_user(&self, sub: &str, claims: Value) {
        let r = sentari_client::Client::new(&self.url)
            .unwrap()
            .send("PUT", &format!("/users/{sub}"), &[], Some(&claims))
            .await
            .unwrap();
        assert!(r.status < 300, "set user {sub}: {} {:?}", r.status, r.body);
    }
}

fn oidc_vars(p: &Provider) -> Vec<(&'static str, String)> {
    vec![
        ("SENTARI_OIDC_ISSUER_URL", p.url.clone()),
        ("SENTARI_OIDC_CLIENT_ID", CLIENT_ID.into()),
        (
            "SENTARI_OIDC_CLIENT_SECRET",
            "client-secret-for-tests".into(),
        ),
        ("SENTARI_OIDC_AUTO_CREATE_USERS", "true".into()),
        ("SENTARI_OIDC_DEFAULT_ROLE", "viewer".into()),
        ("SENTARI_OIDC_ROLE_CLAIM", "sentari_role".into()),
        ("SENTARI_LOGIN_RATE_PER_MINUTE", "1000".into()),
    ]
}

async fn start_with(env: &Env, vars: &[(&'static str, String)]) -> Server {
    let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start(env, &v).await
}

fn cookie_value(answer: &sentari_client::RawAnswer, name: &str) -> Option<String> {
    answer
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A sign-in started at the server: the provider URL and the flow cookie.
struct Started {
    authorize_url: String,
    flow_cookie: String,
}

async fn begin(server: &Server) -> Started {
    let r = server
        .client()
        .send("GET", "/api/v1/auth/oidc/login", &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 303, "{:?}", r.body);
    let set = r.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    Started {
        authorize_url: r.header("location").unwrap().to_owned(),
        flow_cookie: cookie_value(&r, "sentari_oidc").unwrap(),
    }
}

/// The provider's form, submitted for `sub`: returns the callback path with code and state.
async fn authorize(server: &Server, s: &Started, sub: &str) -> String {
    assert!(s.authorize_url.contains("code_challenge_method=S256"));
    assert!(s.authorize_url.contains("nonce="));
    let r = server
        .client()
        .send_form("POST", &s.authorize_url, &[], &[("sub", sub)])
        .await
        .unwrap();
    assert_eq!(r.status, 302, "{:?}", r.body);
    let loc = r.header("location").unwrap();
    let path = loc.strip_prefix(server.url()).unwrap_or(loc).to_owned();
    assert!(path.starts_with("/api/v1/auth/oidc/callback?"), "{loc}");
    path
}

async fn callback(
    server: &Server,
    path: &str,
    flow_cookie: Option<&str>,
) -> sentari_client::RawAnswer {
    let cookie = flow_cookie.map(|c| format!("sentari_oidc={c}"));
    let mut headers = Vec::new();
    if let Some(c) = &cookie {
        headers.push(("cookie", c.as_str()));
    }
    // `send_form` keeps a non-JSON body as text, so the success page can be checked.
    server
        .client()
        .send_form("GET", path, &headers, &[])
        .await
        .unwrap()
}

/// A whole sign-in; returns the callback's answer.
async fn sign_in(server: &Server, sub: &str) -> sentari_client::RawAnswer {
    let s = begin(server).await;
    let path = authorize(server, &s, sub).await;
    callback(server, &path, Some(&s.flow_cookie)).await
}

/// The user the session cookie of a successful callback belongs to.
async fn me(server: &Server, answer: &sentari_client::RawAnswer) -> Value {
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(
        answer.body.as_str().unwrap_or("").contains("url=/"),
        "{:?}",
        answer.body
    );
    let session = cookie_value(answer, "sentari_session").expect("no session cookie");
    let cookie = format!("sentari_session={session}");
    let r = server
        .client()
        .send(
            "GET",
            "/api/v1/auth/me",
            &[("cookie", cookie.as_str())],
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["user"].clone()
}

fn with_state(path: &str, state: &str) -> String {
    let (base, query) = path.split_once('?').unwrap();
    let q: Vec<String> = query
        .split('&')
        .map(|kv| {
            if kv.starts_with("state=") {
                format!("state={state}")
            } else {
                kv.to_owned()
            }
        })
        .collect();
    format!("{base}?{}", q.join("&"))
}

fn state_of(path: &str) -> String {
    path.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix("state="))
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_creates_users_applies_the_role_claim_and_matches_by_email() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let env = Env::new().await;
    let server = start_with(&env, &oidc_vars(&provider)).await;

    // Auto-creation with the default role.
    provider
        .set_user(
            "sub-vera",
            json!({"email": "vera@example.com", "name": "Vera V"}),
        )
        .await;
    let user = me(&server, &sign_in(&server, "sub-vera").await).await;
    assert_eq!(user["email"], "vera@example.com");
    assert_eq!(user["role"], "viewer");
    assert_eq!(user["identity_provider"], "oidc");
    assert_eq!(user["display_name"], "Vera V");

    // The role claim decides the role; an unknown value is ignored (default role) and logged.
    provider
        .set_user(
            "sub-ann",
            json!({"email": "ann@example.com", "sentari_role": "analyst"}),
        )
        .await;
    assert_eq!(
        me(&server, &sign_in(&server, "sub-ann").await).await["role"],
        "analyst"
    );
    provider
        .set_user(
            "sub-wiz",
            json!({"email": "wiz@example.com", "sentari_role": ["wizard"]}),
        )
        .await;
    assert_eq!(
        me(&server, &sign_in(&server, "sub-wiz").await).await["role"],
        "viewer"
    );
    // The claim changing at the provider changes the role at the next sign-in.
    provider
        .set_user(
            "sub-vera",
            json!({"email": "vera@example.com", "sentari_role": "analyst"}),
        )
        .await;
    assert_eq!(
        me(&server, &sign_in(&server, "sub-vera").await).await["role"],
        "analyst"
    );

    // An account an admin created for SSO is matched by e-mail; a deactivated one is refused;
    // a local account with the same e-mail is never taken over; the owner is never granted.
    let owner = login(&server, OWNER, OWNER_PW).await;
    let r = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&owner),
        Some(json!({"email": "adm@example.com", "role": "admin", "identity_provider": "oidc"})),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let adm_id = r.body["id"].as_str().unwrap().to_owned();
    provider
        .set_user("sub-adm", json!({"email": "adm@example.com"}))
        .await;
    let adm = me(&server, &sign_in(&server, "sub-adm").await).await;
    assert_eq!(
        (adm["role"].as_str(), adm["id"].as_str()),
        (Some("admin"), Some(adm_id.as_str()))
    );
    // Someone else at the provider with the same e-mail (another subject) is refused.
    provider
        .set_user("sub-impostor", json!({"email": "adm@example.com"}))
        .await;
    assert_eq!(sign_in(&server, "sub-impostor").await.status, 403);
    let r = call(
        &server,
        "PATCH",
        &format!("/api/v1/users/{adm_id}"),
        Some(&owner),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = sign_in(&server, "sub-adm").await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    provider
        .set_user("sub-own", json!({"email": OWNER, "sentari_role": "owner"}))
        .await;
    let r = sign_in(&server, "sub-own").await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(cookie_value(&r, "sentari_session").is_none());

    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=user.auto_create",
        Some(&owner),
        None,
    )
    .await;
    let created: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert!(
        created.contains(&"vera@example.com") && created.contains(&"ann@example.com"),
        "{created:?}"
    );
    assert_eq!(audit.body["items"][0]["actor"], "oidc");
    let sec = eventually(Duration::from_secs(5), "role claim warning", || async {
        let s = read_log(&env.data_dir(), "security");
        s.contains("oidc_role_ignored").then_some(s)
    })
    .await;
    assert!(sec.contains("oidc_failed"), "{sec}");
    assert!(
        sec.contains("provider=\"oidc\"") || sec.contains("provider=oidc"),
        "{sec}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_state_missing_cookie_and_wrong_nonce_are_refused() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let env = Env::new().await;
    let server = start_with(&env, &oidc_vars(&provider)).await;
    provider
        .set_user("sub-eve", json!({"email": "eve@example.com"}))
        .await;

    // A state that is not this sign-in's.
    let s = begin(&server).await;
    let path = authorize(&server, &s, "sub-eve").await;
    let r = callback(
        &server,
        &with_state(&path, "forged-state"),
        Some(&s.flow_cookie),
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["field"], "state");
    assert!(cookie_value(&r, "sentari_session").is_none());
    // No flow cookie (a link planted in someone else's browser).
    let r = callback(&server, &path, None).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // A forged flow cookie.
    let r = callback(&server, &path, Some("eyJzIjoieCJ9.AAAA")).await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // The code of sign-in A brought back with B's state and cookie: the state matches B, but
    // the ID token carries A's nonce, so it is refused.
    let a = begin(&server).await;
    let b = begin(&server).await;
    let path_a = authorize(&server, &a, "sub-eve").await;
    let path_b = authorize(&server, &b, "sub-eve").await;
    let spliced = with_state(&path_a, &state_of(&path_b));
    let r = callback(&server, &spliced, Some(&b.flow_cookie)).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("nonce"),
        "{:?}",
        r.body
    );
    // The untouched sign-in B still works; and the user was not created by the refused tries
    // before it.
    let ok = callback(&server, &path_b, Some(&b.flow_cookie)).await;
    assert_eq!(me(&server, &ok).await["email"], "eve@example.com");
    // A code is single-use at the provider: replaying B's callback fails.
    let again = callback(&server, &path_b, Some(&b.flow_cookie)).await;
    assert_eq!(again.status, 401, "{:?}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_configured_is_501_and_no_auto_create_is_403() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    for path in [
        "/api/v1/auth/oidc/login",
        "/api/v1/auth/oidc/callback?code=x&state=y",
    ] {
        let r = server.client().send("GET", path, &[], None).await.unwrap();
        assert_eq!(r.status, 501, "{path}: {:?}", r.body);
        assert_eq!(r.body["error"], "not_implemented");
    }
    drop(server);

    let Some(provider) = Provider::start().await else {
        return;
    };
    let env = Env::new().await;
    let mut vars = oidc_vars(&provider);
    vars.retain(|(k, _)| *k != "SENTARI_OIDC_AUTO_CREATE_USERS");
    let server = start_with(&env, &vars).await;
    provider
        .set_user("sub-new", json!({"email": "new@example.com"}))
        .await;
    let r = sign_in(&server, "sub-new").await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("no Sentari account")
    );

    // A provider that cannot be reached answers 503 at the start of a sign-in.
    drop(server);
    let env = Env::new().await;
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut vars = oidc_vars(&provider);
    vars.retain(|(k, _)| *k != "SENTARI_OIDC_ISSUER_URL");
    vars.push((
        "SENTARI_OIDC_ISSUER_URL",
        format!("http://127.0.0.1:{closed}"),
    ));
    let server = start_with(&env, &vars).await;
    let r = server
        .client()
        .send("GET", "/api/v1/auth/oidc/login", &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.body["error"], "unavailable");
}
