//! The HTTP side of OpenID Connect single sign-on: fetching the provider's discovery document
//! and JSON Web Key Set, and redeeming an authorization code at the token endpoint.
//!
//! The server validates what comes back (issuer, ID-token signature, audience, nonce); this
//! module only moves bytes, with timeouts, no redirects (a provider that redirects its
//! discovery document elsewhere is misconfigured, and following it blindly would be an SSRF
//! path), and a size cap on every answer so a hostile endpoint cannot exhaust memory.

use std::time::Duration;

use sentari_proto::oidc::{ProviderMetadata, TokenResponse};

use crate::{Client, ClientError, RawAnswer};

/// The largest answer read from a provider.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// What went wrong talking to the identity provider.
#[derive(Debug, thiserror::Error)]
pub enum OidcHttpError {
    /// No HTTP answer (connection refused, TLS, timeout).
    #[error("cannot reach {url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The provider answered with an error status.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of the body (OAuth error bodies say what is wrong).
        body: String,
    },
    /// The answer is too large or not the expected JSON.
    #[error("unexpected answer from {url}: {reason}")]
    Decode {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
}

/// An HTTP client for one identity provider.
#[derive(Debug, Clone)]
pub struct OidcHttp {
    http: reqwest::Client,
}

impl OidcHttp {
    /// A client with the given timeout for every exchange.
    pub fn new(timeout: Duration) -> Result<Self, OidcHttpError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sentari/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OidcHttpError::Build(e.to_string()))?;
        Ok(OidcHttp { http })
    }

    async fn read(url: &str, resp: reqwest::Response) -> Result<(u16, Vec<u8>), OidcHttpError> {
        let status = resp.status().as_u16();
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(OidcHttpError::Decode {
                url: url.to_owned(),
                reason: "the answer is larger than 1 MiB".into(),
            });
        }
        let mut resp = resp;
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > MAX_RESPONSE_BYTES {
                        return Err(OidcHttpError::Decode {
                            url: url.to_owned(),
                            reason: "the answer is larger than 1 MiB".into(),
                        });
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(OidcHttpError::Transport {
                        url: url.to_owned(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok((status, body))
    }

    async fn json<T: serde::de::DeserializeOwned>(
        url: &str,
        resp: reqwest::Response,
    ) -> Result<T, OidcHttpError> {
        let (status, body) = Self::read(url, resp).await?;
        if !(200..300).contains(&status) {
            return Err(OidcHttpError::Status {
                url: url.to_owned(),
                status,
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| OidcHttpError::Decode {
            url: url.to_owned(),
            reason: e.to_string(),
        })
    }

    fn transport(url: &str, e: reqwest::Error) -> OidcHttpError {
        OidcHttpError::Transport {
            url: url.to_owned(),
            reason: e.to_string(),
        }
    }

    /// Fetches `<issuer>/.well-known/openid-configuration`.
    pub async fn discover(&self, issuer: &str) -> Result<ProviderMetadata, OidcHttpError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let resp = self
            .http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| Self::transport(&url, e))?;
        Self::json(&url, resp).await
    }

    /// Fetches the JSON Web Key Set at `jwks_uri`, as JSON for the caller to interpret.
    pub async fn jwks(&self, jwks_uri: &str) -> Result<serde_json::Value, OidcHttpError> {
        let resp = self
            .http
            .get(jwks_uri)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| Self::transport(jwks_uri, e))?;
        Self::json(jwks_uri, resp).await
    }

    /// Redeems an authorization code (with its PKCE verifier) at the token endpoint.
    #[allow(clippy::too_many_arguments)]
    pub async fn exchange_code(
        &self,
        token_endpoint: &str,
        auth: ClientAuth,
        client_id: &str,
        client_secret: Option<&str>,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<TokenResponse, OidcHttpError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ];
        let mut req = self
            .http
            .post(token_endpoint)
            .header("accept", "application/json");
        match (auth, client_secret) {
            (ClientAuth::Basic, Some(secret)) => {
                // RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
                let id = form_encode(client_id);
                let secret = form_encode(secret);
                req = req.basic_auth(id, Some(secret));
            }
            (ClientAuth::Post, Some(secret)) => {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret));
            }
            (_, None) => form.push(("client_id", client_id)),
        }
        let resp = req
            .form(&form)
            .send()
            .await
            .map_err(|e| Self::transport(token_endpoint, e))?;
        Self::json(token_endpoint, resp).await
    }
}

fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Client {
    /// Sends an `application/x-www-form-urlencoded` request to any URL (absolute, or a path on
    /// this client's server) and returns the whole answer, redirects not followed. Tests use it
    /// to play the browser's part in a sign-in form.
    pub async fn send_form(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> Result<RawAnswer, ClientError> {
        let url = if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else {
            self.url(url)
        };
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut req = self.http.request(method, &url).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Ok(RawAnswer {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c/d"), "a+b%3Ac%2Fd");
        assert_eq!(form_encode("plain-id_1.x"), "plain-id_1.x");
    }
}
