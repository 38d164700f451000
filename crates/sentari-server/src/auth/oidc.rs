//! OpenID Connect single sign-on: the authorization-code flow with PKCE (RFC 7636), state and
//! nonce, and validation of the ID token (OpenID Connect Core §3.1.3.7).
//!
//! HTTP exchanges with the provider (discovery, JWKS, token endpoint) go through
//! `sentari_client::oidc` (ARCHITECTURE.md invariant 3); everything that decides whether to
//! trust the answer happens here: the discovery document's issuer must be the configured one,
//! the ID token's signature must verify with a key from the provider's JWKS (asymmetric
//! algorithms only, so a token "signed" with the public key as an HMAC secret is refused), and
//! its issuer, audience, expiry and nonce must match. The `jsonwebtoken` crate checks the
//! signature and the registered claims.
//!
//! The state, the nonce, the PKCE verifier and the redirect URI of a sign-in in progress travel
//! in a short-lived cookie signed with a key derived from `SENTARI_SECRET_KEY`, so any server
//! process of a scaled-out deployment can finish a flow another one started, with no table.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngExt;
use sentari_client::oidc::{ClientAuth, OidcHttp, OidcHttpError};
use sentari_core::auth::{Email, IdentityProvider, Role};
use sentari_proto::oidc::ProviderMetadata;
use sentari_store::{NewUser, Store, StoreError, User};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;

use crate::auth::{AuthConfig, audit};
use crate::logging::SECURITY;

/// The name of the cookie that carries a sign-in in progress.
pub const FLOW_COOKIE: &str = "sentari_oidc";
/// The path the flow cookie is limited to.
pub const FLOW_COOKIE_PATH: &str = "/api/v1/auth/oidc";
/// How long a sign-in may take at the provider.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// How long discovery and keys are cached before they are fetched again.
const PROVIDER_TTL: Duration = Duration::from_secs(3600);
/// The actor of audit entries the OIDC flow writes on its own.
pub const ACTOR: &str = "oidc";

/// Why a single sign-on failed; `http::api::oidc` maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense (discovery, keys).
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The flow cookie is missing, expired, forged, or its state differs from the callback's.
    #[error("{0}")]
    BadState(String),
    /// The provider refused the code, or returned an error to the callback.
    #[error("{0}")]
    Refused(String),
    /// The ID token is not acceptable.
    #[error("the ID token is not valid: {0}")]
    InvalidToken(String),
    /// No key of the provider's JWKS has the token's key id (perhaps the keys were rotated).
    #[error("the ID token is not valid: no key of the provider matches its key id")]
    UnknownKey,
    /// The person is known to the provider but may not use Sentari (yet).
    #[error("{0}")]
    Forbidden(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<OidcHttpError> for OidcError {
    fn from(e: OidcHttpError) -> Self {
        match e {
            OidcHttpError::Status { status, body, .. } if (400..500).contains(&status) => {
                OidcError::Refused(format!(
                    "the identity provider refused the sign-in ({status}): {body}"
                ))
            }
            other => OidcError::Unavailable(other.to_string()),
        }
    }
}

/// The OIDC settings, checked at start (`AuthConfig::validate`).
#[derive(Clone)]
pub struct OidcSettings {
    /// The issuer URL, without a trailing slash.
    pub issuer: String,
    /// This server's client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Option<String>,
    /// Requested scopes.
    pub scopes: String,
    /// Create unknown users at their first sign-in.
    pub auto_create: bool,
    /// The role of created users.
    pub default_role: Role,
    /// A claim naming a role.
    pub role_claim: Option<String>,
    /// The configured callback URL, if any.
    pub redirect_url: Option<String>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("auto_create", &self.auto_create)
            .field("default_role", &self.default_role)
            .field("role_claim", &self.role_claim)
            .finish_non_exhaustive()
    }
}

impl OidcSettings {
    /// The settings from the configuration; `None` when `SENTARI_OIDC_ISSUER_URL` is not set.
    pub fn from_config(c: &AuthConfig) -> Option<Self> {
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let issuer = nonempty(&c.oidc_issuer_url)?;
        Some(OidcSettings {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: nonempty(&c.oidc_client_id).unwrap_or_default(),
            client_secret: nonempty(&c.oidc_client_secret),
            scopes: c
                .oidc_scopes
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            auto_create: c.oidc_auto_create_users,
            default_role: c.oidc_default_role.parse().unwrap_or(Role::Viewer),
            role_claim: nonempty(&c.oidc_role_claim),
            redirect_url: nonempty(&c.oidc_redirect_url),
        })
    }
}

struct Provider {
    meta: ProviderMetadata,
    jwks: JwkSet,
    fetched: Instant,
}

/// Everything the OIDC routes need at run time.
pub struct Oidc {
    /// The settings.
    pub settings: OidcSettings,
    http: OidcHttp,
    cookie_key: [u8; 32],
    provider: RwLock<Option<Provider>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A sign-in in progress, as carried by the flow cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// `state` sent to the provider.
    #[serde(rename = "s")]
    pub state: String,
    /// `nonce` sent to the provider.
    #[serde(rename = "n")]
    pub nonce: String,
    /// The PKCE code verifier.
    #[serde(rename = "v")]
    pub verifier: String,
    /// The redirect URI used (the token request must repeat it).
    #[serde(rename = "r")]
    pub redirect_uri: String,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The claims Sentari reads from an ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct IdClaims {
    /// `sub`.
    pub subject: String,
    /// `email`.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: Option<bool>,
    /// `name`.
    pub name: Option<String>,
    /// Every claim, for the role claim.
    pub all: Value,
}

/// Validates an ID token against the provider's keys and the expected issuer, audience and
/// nonce.
pub fn validate_id_token(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> Result<IdClaims, OidcError> {
    let bad = |m: String| OidcError::InvalidToken(m);
    let header = jsonwebtoken::decode_header(token).map_err(|e| bad(e.to_string()))?;
    // Only public-key algorithms: an HMAC "signature" made with a published key proves nothing.
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(bad(format!("algorithm {:?} is not accepted", header.alg)));
    }
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or(OidcError::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| bad(e.to_string()))?;
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[client_id]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 60;
    let data = jsonwebtoken::decode::<Value>(token, &key, &v).map_err(|e| bad(e.to_string()))?;
    let c = data.claims;
    let got_nonce = c.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !ct_eq(got_nonce, nonce) {
        return Err(bad("the nonce does not match this sign-in".into()));
    }
    // With several audiences, the authorized party must be this client (Core §3.1.3.7 item 5).
    if let Some(azp) = c.get("azp").and_then(Value::as_str)
        && azp != client_id
    {
        return Err(bad("the token was issued to another client (azp)".into()));
    }
    let subject = c
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("the token has no subject".into()))?
        .to_owned();
    Ok(IdClaims {
        subject,
        email: c.get("email").and_then(Value::as_str).map(str::to_owned),
        email_verified: c.get("email_verified").and_then(Value::as_bool),
        name: c.get("name").and_then(Value::as_str).map(str::to_owned),
        all: c,
    })
}

/// The role named by the role claim: a string or a list of strings; unknown values are
/// ignored (and logged), the owner role is never taken from a claim, and of several known
/// roles the highest wins.
pub fn role_from_claim(claims: &Value, claim: &str, email: &str) -> Option<Role> {
    let values: Vec<&str> = match claims.get(claim)? {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut best: Option<Role> = None;
    for v in values {
        match v.parse::<Role>() {
            Ok(Role::Owner) => {
                tracing::warn!(target: SECURITY, event = "oidc_role_ignored", email = ?email, value = ?v, "the owner role is never granted from a claim");
            }
            Ok(r) => best = best.max(Some(r)),
            Err(_) => {
                tracing::warn!(target: SECURITY, event = "oidc_role_ignored", email = ?email, claim = %claim, value = ?v, "unknown role value in the role claim ignored");
            }
        }
    }
    best
}

impl Oidc {
    /// Builds the runtime. `secret` is the master secret (for the flow-cookie key).
    pub fn new(settings: OidcSettings, secret: &str) -> Result<Self, OidcHttpError> {
        let mut h = Sha256::new();
        h.update(b"sentari oidc flow cookie key v1\0");
        h.update(secret.as_bytes());
        Ok(Oidc {
            settings,
            http: OidcHttp::new(Duration::from_secs(10))?,
            cookie_key: h.finalize().into(),
            provider: RwLock::new(None),
        })
    }

    async fn fetch(&self) -> Result<Provider, OidcError> {
        let meta = self.http.discover(&self.settings.issuer).await?;
        if meta.issuer.trim_end_matches('/') != self.settings.issuer {
            return Err(OidcError::Unavailable(format!(
                "the discovery document names issuer {:?}, not the configured {:?}",
                meta.issuer, self.settings.issuer
            )));
        }
        let jwks = self.http.jwks(&meta.jwks_uri).await?;
        let jwks: JwkSet = serde_json::from_value(jwks)
            .map_err(|e| OidcError::Unavailable(format!("the provider's JWKS is invalid: {e}")))?;
        Ok(Provider {
            meta,
            jwks,
            fetched: Instant::now(),
        })
    }

    /// The provider's metadata, fetched on first use and refreshed hourly.
    async fn metadata(&self) -> Result<ProviderMetadata, OidcError> {
        if let Some(p) = self.provider.read().await.as_ref()
            && p.fetched.elapsed() < PROVIDER_TTL
        {
            return Ok(p.meta.clone());
        }
        let p = self.fetch().await?;
        let meta = p.meta.clone();
        *self.provider.write().await = Some(p);
        Ok(meta)
    }

    /// The provider's keys; `refresh` fetches them again (a token with an unknown key id may
    /// mean the provider rotated its keys).
    async fn keys(&self, refresh: bool) -> Result<JwkSet, OidcError> {
        if !refresh
            && let Some(p) = self.provider.read().await.as_ref()
            && p.fetched.elapsed() < PROVIDER_TTL
        {
            return Ok(p.jwks.clone());
        }
        let p = self.fetch().await?;
        let keys = p.jwks.clone();
        *self.provider.write().await = Some(p);
        Ok(keys)
    }

    /// Starts a sign-in: the provider URL to send the browser to, and the flow to keep in the
    /// cookie.
    pub async fn begin(&self, redirect_uri: &str) -> Result<(String, Flow), OidcError> {
        let meta = self.metadata().await?;
        let flow = Flow {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
            redirect_uri: redirect_uri.to_owned(),
            expires: time::OffsetDateTime::now_utc().unix_timestamp() + FLOW_TTL.as_secs() as i64,
        };
        let mut url = url::Url::parse(&meta.authorization_endpoint).map_err(|e| {
            OidcError::Unavailable(format!("the authorization endpoint is not a URL: {e}"))
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &self.settings.scopes)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &pkce_challenge(&flow.verifier))
            .append_pair("code_challenge_method", "S256");
        Ok((url.to_string(), flow))
    }

    /// The flow cookie's value: base64url JSON and an HMAC over it.
    pub fn seal_flow(&self, flow: &Flow) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(flow).unwrap_or_default());
        format!("{payload}.{}", self.mac(&payload))
    }

    fn mac(&self, payload: &str) -> String {
        match <Hmac<Sha256> as Mac>::new_from_slice(&self.cookie_key) {
            Ok(mut m) => {
                m.update(payload.as_bytes());
                URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }

    /// Reads the flow cookie back and checks the callback's `state` against it.
    pub fn open_flow(&self, cookie: Option<&str>, state: &str) -> Result<Flow, OidcError> {
        let cookie = cookie.ok_or_else(|| {
            OidcError::BadState(
                "no sign-in is in progress in this browser (the sign-in cookie is missing); start again".into(),
            )
        })?;
        let (payload, mac) = cookie
            .split_once('.')
            .ok_or_else(|| OidcError::BadState("the sign-in cookie is malformed".into()))?;
        if !ct_eq(&self.mac(payload), mac) {
            return Err(OidcError::BadState(
                "the sign-in cookie is not authentic".into(),
            ));
        }
        let flow: Flow = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| OidcError::BadState("the sign-in cookie is malformed".into()))?;
        if flow.expires < time::OffsetDateTime::now_utc().unix_timestamp() {
            return Err(OidcError::BadState(
                "the sign-in took too long; start again".into(),
            ));
        }
        if !ct_eq(&flow.state, state) {
            return Err(OidcError::BadState(
                "the state returned by the identity provider does not match this sign-in".into(),
            ));
        }
        Ok(flow)
    }

    /// Redeems the code and validates the ID token.
    pub async fn finish(&self, code: &str, flow: &Flow) -> Result<IdClaims, OidcError> {
        let meta = self.metadata().await?;
        let auth = match &meta.token_endpoint_auth_methods_supported {
            Some(m)
                if !m.iter().any(|x| x == "client_secret_basic")
                    && m.iter().any(|x| x == "client_secret_post") =>
            {
                ClientAuth::Post
            }
            _ => ClientAuth::Basic,
        };
        let tokens = self
            .http
            .exchange_code(
                &meta.token_endpoint,
                auth,
                &self.settings.client_id,
                self.settings.client_secret.as_deref(),
                code,
                &flow.redirect_uri,
                &flow.verifier,
            )
            .await?;
        let id_token = tokens.id_token.ok_or_else(|| {
            OidcError::InvalidToken("the token endpoint returned no ID token".into())
        })?;
        let issuer = meta.issuer.clone();
        let keys = self.keys(false).await?;
        match validate_id_token(
            &id_token,
            &keys,
            &issuer,
            &self.settings.client_id,
            &flow.nonce,
        ) {
            Err(OidcError::UnknownKey) => {
                let keys = self.keys(true).await?;
                validate_id_token(
                    &id_token,
                    &keys,
                    &issuer,
                    &self.settings.client_id,
                    &flow.nonce,
                )
            }
            other => other,
        }
    }

    /// Finds, updates or creates the Sentari user for validated claims.
    pub async fn resolve_user(
        &self,
        store: &Store,
        claims: &IdClaims,
        ip: Option<String>,
    ) -> Result<User, OidcError> {
        let email = claims.email.as_deref().ok_or_else(|| {
            OidcError::Forbidden(
                "the identity provider sent no e-mail address; request the `email` scope".into(),
            )
        })?;
        if claims.email_verified == Some(false) {
            return Err(OidcError::Forbidden(
                "the identity provider says this e-mail address is not verified".into(),
            ));
        }
        let email = Email::parse(email)
            .map_err(|e| OidcError::Forbidden(format!("the e-mail claim is not usable: {e}")))?;
        let claimed = self
            .settings
            .role_claim
            .as_deref()
            .and_then(|c| role_from_claim(&claims.all, c, email.as_str()));
        if let Some(user) = store.get_user_by_email(&email).await? {
            if user.provider != IdentityProvider::Oidc {
                return Err(OidcError::Forbidden(format!(
                    "the Sentari account {email} signs in with {}, not single sign-on",
                    user.provider
                )));
            }
            if !user.active {
                return Err(OidcError::Forbidden(format!(
                    "the Sentari account {email} is deactivated"
                )));
            }
            match user.external_id.as_deref() {
                Some(sub) if sub != claims.subject => {
                    return Err(OidcError::Forbidden(format!(
                        "the Sentari account {email} belongs to another identity at the provider"
                    )));
                }
                Some(_) => {}
                None => store.set_external_id(user.id, &claims.subject).await?,
            }
            let mut user = user;
            if let Some(role) = claimed
                && role != user.role
                && user.role != Role::Owner
            {
                let before = user.role;
                user = store.set_user_role(user.id, role).await?;
                audit::record(
                    store,
                    ACTOR,
                    ip.clone(),
                    "user.set_role",
                    Some(user.email.clone()),
                    Some(json!({"role": before})),
                    Some(json!({"role": role, "source": "oidc_role_claim"})),
                )
                .await?;
            }
            return Ok(user);
        }
        if !self.settings.auto_create {
            return Err(OidcError::Forbidden(format!(
                "there is no Sentari account for {email}; ask an administrator to create one with identity provider oidc"
            )));
        }
        let role = claimed.unwrap_or(self.settings.default_role);
        let user = store
            .create_user(&NewUser {
                email,
                display_name: claims
                    .name
                    .as_deref()
                    .unwrap_or("")
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
                role,
                provider: IdentityProvider::Oidc,
                password_hash: None,
                external_id: Some(claims.subject.clone()),
            })
            .await?;
        audit::record(
            store,
            ACTOR,
            ip,
            "user.auto_create",
            Some(user.email.clone()),
            None,
            Some(
                json!({"role": user.role, "identity_provider": "oidc", "subject": claims.subject}),
            ),
        )
        .await?;
        tracing::info!(target: SECURITY, event = "oidc_user_created", email = %user.email, role = %user.role, "user created at first single sign-on");
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header};

    fn signer() -> (EncodingKey, JwkSet) {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let key = EncodingKey::from_ec_der(&kp.serialize_der());
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        jwk.common.key_id = Some("k1".into());
        (key, JwkSet { keys: vec![jwk] })
    }

    fn token(key: &EncodingKey, claims: Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(&h, &claims, key).unwrap()
    }

    fn claims(over: Value) -> Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut c = json!({
            "iss": "https://idp.example", "aud": "sentari", "sub": "u1",
            "exp": now + 300, "iat": now, "nonce": "n1", "email": "a@example.com"
        });
        for (k, v) in over.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn id_token_checks() {
        let (key, jwks) = signer();
        let ok = token(&key, claims(json!({})));
        let c = validate_id_token(&ok, &jwks, "https://idp.example", "sentari", "n1").unwrap();
        assert_eq!(c.subject, "u1");
        assert_eq!(c.email.as_deref(), Some("a@example.com"));
        let refused = |t: &str, nonce: &str| {
            validate_id_token(t, &jwks, "https://idp.example", "sentari", nonce).is_err()
        };
        // Wrong nonce, audience, issuer, expired, other key, wrong azp.
        assert!(refused(&ok, "n2"));
        assert!(refused(
            &token(&key, claims(json!({"aud": "someone-else"}))),
            "n1"
        ));
        assert!(refused(
            &token(&key, claims(json!({"iss": "https://evil.example"}))),
            "n1"
        ));
        let past = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
        assert!(refused(&token(&key, claims(json!({"exp": past}))), "n1"));
        let (other_key, _) = signer();
        assert!(refused(&token(&other_key, claims(json!({}))), "n1"));
        assert!(refused(
            &token(&key, claims(json!({"aud": ["sentari", "x"], "azp": "x"}))),
            "n1"
        ));
        // A token whose payload was altered after signing.
        let mut parts: Vec<String> = ok.split('.').map(str::to_owned).collect();
        let forged = claims(json!({"sub": "admin"}));
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(refused(&parts.join("."), "n1"));
        // HS256 is never accepted, whatever the key.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(json!({})),
            &EncodingKey::from_secret(b"k").unwrap(),
        )
        .unwrap();
        assert!(refused(&hs, "n1"));
    }

    #[test]
    fn role_claim_mapping() {
        let c = json!({"roles": ["viewer", "admin", "wizard"], "r": "analyst", "o": "owner"});
        assert_eq!(role_from_claim(&c, "roles", "a@x"), Some(Role::Admin));
        assert_eq!(role_from_claim(&c, "r", "a@x"), Some(Role::Analyst));
        assert_eq!(role_from_claim(&c, "o", "a@x"), None);
        assert_eq!(role_from_claim(&c, "missing", "a@x"), None);
    }

    #[test]
    fn flow_cookie_is_authenticated_and_checks_state() {
        let settings = OidcSettings {
            issuer: "https://idp.example".into(),
            client_id: "sentari".into(),
            client_secret: None,
            scopes: "openid".into(),
            auto_create: false,
            default_role: Role::Viewer,
            role_claim: None,
            redirect_url: None,
        };
        let o = Oidc::new(settings.clone(), "secret one").unwrap();
        let flow = Flow {
            state: "s1".into(),
            nonce: "n1".into(),
            verifier: "v1".into(),
            redirect_uri: "https://x/cb".into(),
            expires: time::OffsetDateTime::now_utc().unix_timestamp() + 60,
        };
        let c = o.seal_flow(&flow);
        assert_eq!(o.open_flow(Some(&c), "s1").unwrap(), flow);
        assert!(o.open_flow(Some(&c), "s2").is_err());
        assert!(o.open_flow(None, "s1").is_err());
        let other = Oidc::new(settings, "secret two").unwrap();
        assert!(other.open_flow(Some(&c), "s1").is_err());
        let expired = Flow { expires: 1, ..flow };
        assert!(o.open_flow(Some(&o.seal_flow(&expired)), "s1").is_err());
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
