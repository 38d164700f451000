//! Typed HTTP client for Sentari (ARCHITECTURE.md §3: the only crate that imports reqwest).
//!
//! Agents, the fleet simulator, operator tooling and the server's own integration tests talk
//! to the server through this crate, so every caller sees the same wire types and the same
//! error mapping.

pub mod agent;
pub mod feeds;
pub mod oidc;

use std::time::Duration;

use sentari_proto::error::ErrorBody;
use sentari_proto::health::HealthBody;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request never got an HTTP answer (connection refused, TLS, timeout).
    #[error("cannot reach {url}: {source}")]
    Transport {
        /// The URL requested.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status and (usually) an error body.
    #[error("server answered {status}: {}", body.as_ref().map(|b| b.detail.as_str()).unwrap_or("no error body"))]
    Status {
        /// HTTP status code.
        status: u16,
        /// The parsed `{error, detail}` body, when there was one.
        body: Option<ErrorBody>,
    },
    /// The body did not have the expected shape.
    #[error("unexpected response body from {url}: {source}")]
    Decode {
        /// The URL requested.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The client could not be built.
    #[error("cannot build HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

/// A response whose status the caller wants to see even when it is not a success.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// HTTP status code.
    pub status: u16,
    /// The decoded body.
    pub body: T,
    /// The `X-Request-ID` the server returned.
    pub request_id: Option<String>,
}

/// A client bound to one server base URL (`http://127.0.0.1:8443`).
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client with sane timeouts and no redirects.
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sentari-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Build)?;
        Ok(Client {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET /api/health`; answers for both 200 and 503, since both carry a health body.
    pub async fn health(&self) -> Result<Answer<HealthBody>, ClientError> {
        let url = self.url("/api/health");
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        let status = resp.status().as_u16();
        let request_id = header(&resp, "x-request-id");
        if status != 200 && status != 503 {
            return Err(ClientError::Status {
                status,
                body: resp.json().await.ok(),
            });
        }
        let body = resp
            .json()
            .await
            .map_err(|source| ClientError::Decode { url, source })?;
        Ok(Answer {
            status,
            body,
            request_id,
        })
    }

    /// A raw GET of any path, returning the status, the body as JSON and the request id.
    pub async fn get_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Answer<serde_json::Value>, ClientError> {
        let url = self.url(path);
        let mut req = self.http.get(&url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        let request_id = header(&resp, "x-request-id");
        let body = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok(Answer {
            status,
            body,
            request_id,
        })
    }
}

/// A response with its status, headers and JSON body, for callers (tests, tools) that need to
/// look at everything the server sent, such as `Set-Cookie` or `Retry-After`.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    /// HTTP status code.
    pub status: u16,
    /// Every response header, lowercased names, in order.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: serde_json::Value,
}

impl RawAnswer {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    /// Sends any request with extra headers and an optional JSON body, and returns the whole
    /// answer whatever its status.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<RawAnswer, ClientError> {
        let url = self.url(path);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = self.http.request(method, &url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
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
        let body = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok(RawAnswer {
            status,
            headers,
            body,
        })
    }

    /// A GET whose body is returned as bytes (downloads: CSV, XLSX, pages).
    pub async fn get_bytes(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Vec<(String, String)>, Vec<u8>), ClientError> {
        let url = self.url(path);
        let mut req = self.http.get(&url);
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
        let body = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Decode { url, source })?;
        Ok((status, headers, body.to_vec()))
    }
}

/// A response with its status, headers and body as text, for callers that read HTML pages or
/// other non-JSON answers (the dashboard's tests).
#[derive(Debug, Clone)]
pub struct TextAnswer {
    /// HTTP status code.
    pub status: u16,
    /// Every response header, lowercased names, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl TextAnswer {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header (`Set-Cookie` may come more than once).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl Client {
    /// Sends any request with extra headers and an optional raw body (with its content type),
    /// and returns the whole answer as text, whatever its status. Redirects are not followed.
    pub async fn send_text(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<TextAnswer, ClientError> {
        let url = self.url(path);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = self.http.request(method, &url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
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
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Decode { url, source })?;
        Ok(TextAnswer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
