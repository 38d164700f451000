//! LDAP logins against a real OpenLDAP `slapd` that the test starts on a free loopback port
//! with a seed LDIF in a temporary directory: good password, bad password, empty password,
//! unknown user, an entry whose mail names someone else, LDAP configured but down (503), LDAP
//! not configured (501), StartTLS with a CA file, and the `ldap.log` lines.
//!
//! `slapd` and `slapadd` come from Debian's `slapd` package (`.ci/setup.d/auth.sh`). Without
//! them the tests say so loudly and skip locally; under CI (`CI` set) they fail instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::auth_support::*;
use crate::common::{Env, eventually, read_log};
use serde_json::json;

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const ADMIN_DN: &str = "cn=admin,dc=example,dc=com";
const ADMIN_PW: &str = "Admin-Pass-123!";
const ALICE_PW: &str = "Alice-Pass-123!";

const SEED: &str = "\
dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.com
userPassword: Alice-Pass-123!

dn: uid=carol,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: carol
cn: Carol Other
sn: Other
mail: carol@elsewhere.example
userPassword: Carol-Pass-123!

dn: uid=dave,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: dave
cn: Dave NoMail
sn: NoMail
userPassword: Dave-Pass-123!
";

/// Whether the LDAP tools are here; skips loudly (or fails under CI) when not.
fn tools_present() -> bool {
    if Path::new(SLAPD).exists() && Path::new(SLAPADD).exists() {
        return true;
    }
    let msg =
        "slapd/slapadd not installed (Debian packages `slapd ldap-utils`, see .ci/setup.d/auth.sh)";
    assert!(
        std::env::var_os("CI").is_none(),
        "{msg}; CI must install them"
    );
    eprintln!("\n!!!!!!!! SKIPPING LDAP TESTS: {msg} !!!!!!!!\n");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running slapd, killed on drop.
struct Slapd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a CA and a server certificate for 127.0.0.1 (PEM) and returns the CA file.
fn make_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Sentari test LDAP CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let (ca_file, cert_file, key_file) = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (ca_file, cert_file, key_file)
}

impl Slapd {
    fn start() -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("db")).unwrap();
        let (ca_file, cert_file, key_file) = make_tls(d);
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             pidfile {dir}/slapd.pid\n\
             argsfile {dir}/slapd.args\n\
             TLSCACertificateFile {ca}\n\
             TLSCertificateFile {cert}\n\
             TLSCertificateKeyFile {key}\n\
             database mdb\n\
             maxsize 10485760\n\
             suffix \"dc=example,dc=com\"\n\
             rootdn \"{ADMIN_DN}\"\n\
             rootpw {ADMIN_PW}\n\
             directory {dir}/db\n\
             access to attrs=userPassword by self read by anonymous auth by * none\n\
             access to * by * read\n",
            dir = d.display(),
            ca = ca_file.display(),
            cert = cert_file.display(),
            key = key_file.display(),
        );
        let conf_file = d.join("slapd.conf");
        std::fs::write(&conf_file, conf).unwrap();
        std::fs::write(d.join("seed.ldif"), SEED).unwrap();
        let out = Command::new(SLAPADD)
            .arg("-f")
            .arg(&conf_file)
            .arg("-l")
            .arg(d.join("seed.ldif"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let child = Command::new(SLAPD)
            .arg("-d")
            .arg("0")
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{port}/"))
            .arg("-f")
            .arg(&conf_file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut s = Slapd {
            child,
            port,
            _dir: dir,
            ca_file,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = s.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = s.child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("slapd exited with {status}: {err}");
            }
            assert!(Instant::now() < deadline, "slapd did not start listening");
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }
}

fn ldap_vars(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SENTARI_LDAP_URL", url.to_owned()),
        ("SENTARI_LDAP_BASE_DN", "ou=people,dc=example,dc=com".into()),
        ("SENTARI_LDAP_BIND_DN", ADMIN_DN.into()),
        ("SENTARI_LDAP_BIND_PASSWORD", ADMIN_PW.into()),
        ("SENTARI_LOGIN_RATE_PER_MINUTE", "1000".into()),
        ("SENTARI_LOCKOUT_THRESHOLD", "50".into()),
    ]
}

async fn start_with(env: &Env, vars: &[(&'static str, String)]) -> crate::common::Server {
    let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start(env, &v).await
}

async fn create_ldap_user(server: &crate::common::Server, owner: &str, email: &str) {
    let r = call(
        server,
        "POST",
        "/api/v1/users",
        Some(owner),
        Some(json!({"email": email, "role": "analyst", "identity_provider": "ldap"})),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_logins_against_slapd() {
    if !tools_present() {
        return;
    }
    let slapd = Slapd::start();
    let env = Env::new().await;
    let server = start_with(&env, &ldap_vars(&slapd.url())).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    for email in [
        "*@example.com",
        "alice@example.com",
        "carol@example.com",
        "dave@example.com",
        "ghost@example.com",
    ] {
        create_ldap_user(&server, &owner, email).await;
    }

    // Good password: a session, the user's role, the DN remembered.
    let r = login_raw(&server, "Alice@Example.com", ALICE_PW).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["identity_provider"], "ldap");
    assert_eq!(r.body["user"]["role"], "analyst");
    let alice = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&server, "GET", "/api/v1/auth/me", Some(&alice), None)
            .await
            .status,
        200
    );

    // Bad password, empty password, an entry that does not exist, an entry whose mail names
    // someone else: all the same generic 401.
    let bad = login_raw(&server, "alice@example.com", "Wrong-Pass-123!").await;
    assert_eq!(bad.status, 401, "{:?}", bad.body);
    let empty = login_raw(&server, "alice@example.com", "").await;
    assert_eq!(empty.status, 401, "{:?}", empty.body);
    let ghost = login_raw(&server, "ghost@example.com", "Ghost-Pass-123!").await;
    assert_eq!(ghost.status, 401, "{:?}", ghost.body);
    let carol = login_raw(&server, "carol@example.com", "Carol-Pass-123!").await;
    assert_eq!(carol.status, 401, "{:?}", carol.body);
    assert_eq!(bad.body, ghost.body);
    assert_eq!(bad.body, carol.body);
    // Not a Sentari user at all, though the directory knows them.
    let r = login_raw(&server, "bob@example.com", ALICE_PW).await;
    assert_eq!(r.status, 401);
    // An entry without mail is found by uid = the login's local part.
    let dave = login_raw(&server, "dave@example.com", "Dave-Pass-123!").await;
    assert_eq!(dave.status, 200, "{:?}", dave.body);
    // A filter metacharacter in the login is escaped, never a wildcard.
    let r = login_raw(&server, "*@example.com", ALICE_PW).await;
    assert_eq!(r.status, 401);

    // A local password cannot be set for an LDAP user.
    let r = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&owner),
        Some(json!({"email": "x@example.com", "role": "viewer", "identity_provider": "ldap", "password": "Some-Pass-123!"})),
    )
    .await;
    assert_eq!(r.status, 400);

    let ldap_log = eventually(Duration::from_secs(5), "ldap.log lines", || async {
        let s = read_log(&env.data_dir(), "ldap");
        s.contains("user bind refused").then_some(s)
    })
    .await;
    assert!(ldap_log.contains("service bind succeeded"), "{ldap_log}");
    assert!(ldap_log.contains("user bind succeeded"), "{ldap_log}");
    assert!(
        ldap_log.contains("uid=alice,ou=people,dc=example,dc=com"),
        "{ldap_log}"
    );
    assert!(ldap_log.contains("(mail=\\2a@example.com)"), "{ldap_log}");
    assert!(!ldap_log.contains(ALICE_PW), "a password reached ldap.log");
    assert!(
        !ldap_log.contains(ADMIN_PW),
        "the service password reached ldap.log"
    );
    let sec = crate::common::log_with(
        &env.data_dir(),
        "security",
        &["LDAP bind refused", "empty password", "mail differs"],
    )
    .await;
    assert!(sec.contains("mail differs"), "{sec}");

    // The directory goes away: 503 with a clear message, for LDAP users only.
    drop(slapd);
    let r = login_raw(&server, "alice@example.com", ALICE_PW).await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.body["error"], "unavailable");
    assert!(
        r.body["detail"].as_str().unwrap().contains("unreachable"),
        "{:?}",
        r.body
    );
    assert_eq!(login_raw(&server, OWNER, OWNER_PW).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_down_at_start_answers_503_and_unconfigured_answers_501() {
    // Nothing listens on this port: configured, but unreachable.
    let env = Env::new().await;
    let url = format!("ldap://127.0.0.1:{}", free_port());
    let server = start_with(&env, &ldap_vars(&url)).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    create_ldap_user(&server, &owner, "alice@example.com").await;
    let r = login_raw(&server, "alice@example.com", ALICE_PW).await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    // Empty passwords are refused before the server is contacted, so even now they are 401.
    assert_eq!(
        login_raw(&server, "alice@example.com", "").await.status,
        401
    );
    drop(server);

    let env = Env::new().await;
    let server = start(&env, &[]).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    create_ldap_user(&server, &owner, "alice@example.com").await;
    let r = login_raw(&server, "alice@example.com", ALICE_PW).await;
    assert_eq!(r.status, 501, "{:?}", r.body);
    assert_eq!(r.body["error"], "not_implemented");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_starttls_with_a_ca_file() {
    if !tools_present() {
        return;
    }
    let slapd = Slapd::start();
    let env = Env::new().await;
    let mut vars = ldap_vars(&slapd.url());
    vars.push(("SENTARI_LDAP_STARTTLS", "true".into()));
    vars.push(("SENTARI_LDAP_CA_FILE", slapd.ca_file.display().to_string()));
    let server = start_with(&env, &vars).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    create_ldap_user(&server, &owner, "alice@example.com").await;
    let r = login_raw(&server, "alice@example.com", ALICE_PW).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    drop(server);

    // The same directory with a CA that did not sign its certificate: the TLS handshake fails,
    // which is "unreachable", never a silent plain-text fallback.
    let other = tempfile::tempdir().unwrap();
    let (wrong_ca, _, _) = make_tls(other.path());
    let env = Env::new().await;
    let mut vars = ldap_vars(&slapd.url());
    vars.push(("SENTARI_LDAP_STARTTLS", "true".into()));
    vars.push(("SENTARI_LDAP_CA_FILE", wrong_ca.display().to_string()));
    let server = start_with(&env, &vars).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    create_ldap_user(&server, &owner, "alice@example.com").await;
    let r = login_raw(&server, "alice@example.com", ALICE_PW).await;
    assert_eq!(r.status, 503, "{:?}", r.body);
}

#[test]
fn bad_ldap_and_oidc_settings_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let not_pem = not_pem.to_str().unwrap();
    let ldap = [
        ("SENTARI_LDAP_URL", "ldap://127.0.0.1:1"),
        ("SENTARI_LDAP_BASE_DN", "dc=example,dc=com"),
    ];
    let oidc = [
        ("SENTARI_OIDC_ISSUER_URL", "https://idp.example"),
        ("SENTARI_OIDC_CLIENT_ID", "sentari"),
    ];
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "SENTARI_LDAP_URL",
            vec![("SENTARI_LDAP_URL", "http://ad.example")],
        ),
        ("SENTARI_LDAP_BASE_DN", vec![ldap[0]]),
        (
            "SENTARI_LDAP_BIND_DN",
            vec![ldap[0], ldap[1], ("SENTARI_LDAP_BIND_DN", "cn=svc")],
        ),
        (
            "SENTARI_LDAP_CA_FILE",
            vec![
                ldap[0],
                ldap[1],
                ("SENTARI_LDAP_CA_FILE", "/nonexistent/ca.pem"),
            ],
        ),
        (
            "SENTARI_LDAP_CA_FILE",
            vec![ldap[0], ldap[1], ("SENTARI_LDAP_CA_FILE", not_pem)],
        ),
        (
            "SENTARI_LDAP_USER_FILTER",
            vec![
                ldap[0],
                ldap[1],
                ("SENTARI_LDAP_USER_FILTER", "(uid=alice)"),
            ],
        ),
        ("SENTARI_OIDC_CLIENT_ID", vec![oidc[0]]),
        (
            "SENTARI_OIDC_DEFAULT_ROLE",
            vec![oidc[0], oidc[1], ("SENTARI_OIDC_DEFAULT_ROLE", "owner")],
        ),
        (
            "SENTARI_OIDC_DEFAULT_ROLE",
            vec![oidc[0], oidc[1], ("SENTARI_OIDC_DEFAULT_ROLE", "wizard")],
        ),
        (
            "SENTARI_OIDC_SCOPES",
            vec![oidc[0], oidc[1], ("SENTARI_OIDC_SCOPES", "email profile")],
        ),
    ];
    for (key, vars) in cases {
        let mut cmd = crate::common::sentari();
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SENTARI_DATA_DIR", d)
            .env("SENTARI_HTTP_BIND", "127.0.0.1:0")
            .env("SENTARI_AGENT_BIND", "127.0.0.1:0")
            .env("SENTARI_METRICS_BIND", "127.0.0.1:0")
            .env("SENTARI_HTTP_TLS", "off")
            .env("SENTARI_CA_KEY_TYPE", "ecdsa-p384");
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key} {vars:?}: {err}");
        assert!(err.contains(key), "the message names {key}: {err}");
    }
}
