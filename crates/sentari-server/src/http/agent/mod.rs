//! The agent gateway (ARCHITECTURE.md §5): enrollment, renewal, configuration and scan upload,
//! served on its own mTLS listener (`SENTARI_AGENT_BIND`).
//!
//! Every endpoint except `register` authenticates the device by the client certificate of the
//! connection: the certificate already chains to the CA (checked during the TLS handshake), and
//! its fingerprint and serial must name an active device row, so deleting a device revokes it
//! at once. Failures answer with the usual `{error, detail, field?}` body and leave a line in
//! `security.log`.

pub mod body;
pub mod error;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use sentari_proto::agent::{
    AgentConfigBody, RegisterRequest, RegisterResponse, RenewRequest, RenewResponse, ScanAccepted,
    ScanUpload,
};
use sentari_store::{Device, DeviceCert, DeviceEnrollment, NewJob, NewScan, Store, TokenState};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

pub use error::GatewayError;

use crate::logging::SECURITY;
use crate::pki::{self, Ca};
use crate::state::AppState;
use crate::tls::PeerCertificate;

/// Registration attempts one address may make per minute, by default
/// (`SENTARI_AGENT_REGISTER_RATE_PER_MINUTE`).
pub const REGISTER_ATTEMPTS_PER_MINUTE: u32 = 10;
/// A device may renew when its certificate expires within this many days.
pub const RENEW_WINDOW_DAYS: i64 = 30;
/// The replaced certificate keeps working for this long after a renewal.
pub const RENEW_OVERLAP_DAYS: i64 = 7;
/// The largest JSON body `register` and `renew` accept.
const SMALL_BODY: usize = 64 * 1024;

/// Body caps of the scan endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Compressed (on the wire) bytes.
    pub max_body: u64,
    /// Bytes after decompression.
    pub max_decompressed: u64,
    /// Registration attempts one address may make per minute.
    pub register_per_minute: u32,
}

/// Everything the gateway's handlers share.
#[derive(Clone)]
pub struct Gateway {
    app: AppState,
    ca: Option<Arc<Ca>>,
    ca_error: Option<String>,
    static_token: Option<[u8; 32]>,
    limiter: Arc<RateLimiter>,
    limits: Limits,
    agent_config: AgentConfigBody,
}

impl Gateway {
    /// Gateway state; `ca` is `None` when the CA is degraded (`ca_error` says why).
    pub fn new(
        app: AppState,
        ca: Option<Arc<Ca>>,
        ca_error: Option<String>,
        static_token: Option<&str>,
        limits: Limits,
        agent_config: AgentConfigBody,
    ) -> Gateway {
        Gateway {
            app,
            ca,
            ca_error,
            static_token: static_token.map(|t| Sha256::digest(t.as_bytes()).into()),
            limiter: Arc::new(RateLimiter::new(limits.register_per_minute)),
            limits,
            agent_config,
        }
    }

    fn store(&self) -> Result<&Store, GatewayError> {
        self.app
            .store()
            .ok_or_else(|| GatewayError::Unavailable("the database is not reachable yet".into()))
    }
}

/// The gateway router.
pub fn router(gw: Gateway) -> Router {
    let app = gw.app.clone();
    Router::new()
        .route("/api/v1/agent/register", post(register))
        .route("/api/v1/agent/renew", post(renew))
        .route("/api/v1/agent/config", get(config))
        .route("/api/v1/agent/scan", post(scan))
        .fallback(crate::http::error::not_found)
        .method_not_allowed_fallback(crate::http::error::method_not_allowed)
        .with_state(gw)
        .layer(axum::middleware::from_fn_with_state(
            app,
            crate::http::access::access_log,
        ))
}

/// A per-address fixed-window counter for `register`.
pub struct RateLimiter {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    per_minute: u32,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` attempts per address and minute.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            windows: Mutex::new(HashMap::new()),
            per_minute: per_minute.max(1),
        }
    }

    /// Counts one attempt; `Err(retry_after)` when the address is over the limit.
    fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let Ok(mut w) = self.windows.lock() else {
            return Ok(());
        };
        if w.len() > 10_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < minute);
        }
        let entry = w.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= minute {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.per_minute {
            return Err(minute.saturating_sub(now.duration_since(entry.0)));
        }
        Ok(())
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, GatewayError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        GatewayError::BadRequest {
            detail: format!("invalid request body: {}", e.inner()),
            field: (path != ".").then_some(path),
        }
    })
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), GatewayError> {
    check_text_lazy(|| field.to_owned(), value, max, required)
}

/// [`check_text`] for fields inside lists: the field's path (`packages.3.name`) is formatted
/// only when the value is refused, since a 20,000-package upload has 80,000 such fields.
fn check_text_lazy(
    field: impl Fn() -> String,
    value: &str,
    max: usize,
    required: bool,
) -> Result<(), GatewayError> {
    if required && value.trim().is_empty() {
        let field = field();
        return Err(GatewayError::field(
            &field,
            format!("{field} must not be empty"),
        ));
    }
    // Control characters are ASCII or in U+0080..U+009F (two bytes starting with 0xC2), so a
    // byte scan finds every candidate without decoding the text.
    let suspicious = value.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2);
    if value.len() > max || (suspicious && value.chars().any(char::is_control)) {
        let field = field();
        return Err(GatewayError::field(
            &field,
            format!("{field} must be at most {max} bytes of printable text"),
        ));
    }
    Ok(())
}

/// Which token an enrollment used.
enum TokenUse {
    Static,
    Stored(Uuid, Vec<String>),
}

async fn check_token(
    gw: &Gateway,
    store: &Store,
    token: &str,
) -> Result<TokenUse, (GatewayError, &'static str)> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some(expected) = &gw.static_token
        && bool::from(digest.ct_eq(expected))
    {
        return Ok(TokenUse::Static);
    }
    let found = store
        .find_enrollment_token(&hex::encode(digest))
        .await
        .map_err(|e| (GatewayError::from(e), "database error"))?;
    let invalid = || GatewayError::Unauthorized {
        code: "invalid_token",
        detail: "the enrollment token is not valid".into(),
    };
    let Some(t) = found else {
        return Err((invalid(), "unknown token"));
    };
    match t.state(OffsetDateTime::now_utc()) {
        TokenState::Usable => Ok(TokenUse::Stored(t.id, t.tags)),
        TokenState::Revoked => Err((
            GatewayError::Forbidden {
                code: "token_revoked",
                detail: "the enrollment token has been revoked".into(),
            },
            "revoked token",
        )),
        TokenState::Expired => Err((
            GatewayError::Forbidden {
                code: "token_expired",
                detail: "the enrollment token has expired".into(),
            },
            "expired token",
        )),
        TokenState::UsedUp => Err((
            GatewayError::Forbidden {
                code: "token_exhausted",
                detail: "the enrollment token has no uses left".into(),
            },
            "over-used token",
        )),
    }
}

async fn register(
    State(gw): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Json<RegisterResponse>, GatewayError> {
    let ip = peer.ip();
    let fail = |reason: &str, e: GatewayError| {
        tracing::warn!(target: SECURITY, event = "agent_register_failed", ip = %ip, reason, "agent registration refused: {reason}");
        e
    };
    if let Err(retry) = gw.limiter.check(ip) {
        return Err(fail("rate limited", GatewayError::TooManyRequests(retry)));
    }
    // A new device is a management change: refused in read-only license mode (the refusal is
    // logged there), while enrolled agents keep scanning and renewing.
    let who = format!("agent at {ip}");
    if let Some(detail) = crate::license::refusal(
        &gw.app,
        &axum::http::Method::POST,
        "/api/v1/agent/register",
        &who,
    ) {
        return Err(GatewayError::ReadOnly(detail));
    }
    let Some(ca) = gw.ca.clone() else {
        let why = gw.ca_error.clone().unwrap_or_else(|| "unknown".into());
        return Err(fail(
            "CA unavailable",
            GatewayError::Unavailable(format!(
                "the internal CA is unavailable, so no certificate can be issued ({why}); the operator must fix the CA key or passphrase"
            )),
        ));
    };
    if body.len() > SMALL_BODY {
        return Err(fail(
            "body too large",
            GatewayError::TooLarge(SMALL_BODY as u64),
        ));
    }
    let req: RegisterRequest = parse_json(&body).map_err(|e| fail("malformed body", e))?;
    if req.enrollment_token.is_empty() || req.enrollment_token.len() > 512 {
        return Err(fail(
            "malformed token",
            GatewayError::Unauthorized {
                code: "invalid_token",
                detail: "the enrollment token is not valid".into(),
            },
        ));
    }
    for (f, v, max) in [
        ("hostname", &req.hostname, 255),
        ("machine_id", &req.machine_id, 128),
    ] {
        check_text(f, v, max, true).map_err(|e| fail("invalid field", e))?;
    }
    for (f, v) in [
        ("os", &req.os),
        ("arch", &req.arch),
        ("agent_version", &req.agent_version),
    ] {
        check_text(f, v, 128, false).map_err(|e| fail("invalid field", e))?;
    }
    let store = gw.store()?.clone();
    let token = match check_token(&gw, &store, &req.enrollment_token).await {
        Ok(t) => t,
        Err((e, reason)) => return Err(fail(reason, e)),
    };
    let existing = store.device_by_machine_id(&req.machine_id).await?;
    let device_id = existing.as_ref().map(|d| d.id).unwrap_or_else(Uuid::now_v7);
    let csr = req.csr.clone();
    let issued = tokio::task::spawn_blocking(move || {
        ca.sign_device_csr(&csr, device_id, time::Duration::days(pki::DEVICE_CERT_DAYS))
    })
    .await
    .map_err(|e| GatewayError::Internal(e.to_string()))?
    .map_err(|e| fail("bad CSR", GatewayError::field("csr", e.to_string())))?;
    let tags = match &token {
        TokenUse::Static => Vec::new(),
        TokenUse::Stored(id, tags) => {
            if !store
                .use_enrollment_token(*id, OffsetDateTime::now_utc())
                .await?
            {
                return Err(fail(
                    "over-used token",
                    GatewayError::Forbidden {
                        code: "token_exhausted",
                        detail: "the enrollment token has no uses left".into(),
                    },
                ));
            }
            tags.clone()
        }
    };
    let device = store
        .enroll_device(
            &DeviceEnrollment {
                id: device_id,
                machine_id: req.machine_id.clone(),
                hostname: req.hostname.clone(),
                os: req.os.clone(),
                arch: req.arch.clone(),
                agent_version: req.agent_version.clone(),
                tags,
            },
            &DeviceCert {
                fingerprint: issued.fingerprint.clone(),
                serial: issued.serial.clone(),
                not_after: issued.not_after,
            },
        )
        .await?;
    tracing::info!(
        target: SECURITY,
        event = "agent_registered",
        ip = %ip,
        device_id = %device.id,
        hostname = %req.hostname,
        reenrolled = existing.is_some(),
        fingerprint = %issued.fingerprint,
        "agent registered"
    );
    Ok(Json(RegisterResponse {
        device_id: device.id,
        device_cert: issued.pem,
        ca_cert: gw
            .ca
            .as_ref()
            .map(|c| c.cert.pem.clone())
            .unwrap_or_default(),
        config: gw.agent_config.clone(),
    }))
}

/// A request authenticated by a device certificate that names an active device.
pub struct AuthedDevice(pub Device);

impl FromRequestParts<Gateway> for AuthedDevice {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, gw: &Gateway) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_default();
        let Some(PeerCertificate(der)) = parts.extensions.get::<PeerCertificate>().cloned() else {
            tracing::warn!(target: SECURITY, event = "certificate_missing", ip = %ip, path = %parts.uri.path(), "agent request without a client certificate");
            return Err(GatewayError::Unauthorized {
                code: "certificate_required",
                detail: "this endpoint requires a device client certificate".into(),
            });
        };
        let summary = pki::summarize(&der).map_err(|e| GatewayError::Unauthorized {
            code: "invalid_certificate",
            detail: e.to_string(),
        })?;
        let store = gw.store()?;
        match store
            .device_for_cert(
                &summary.fingerprint,
                &summary.serial,
                OffsetDateTime::now_utc(),
            )
            .await?
        {
            Some(d) => Ok(AuthedDevice(d)),
            None => {
                tracing::warn!(target: SECURITY, event = "revoked_device", ip = %ip, subject = %summary.subject, fingerprint = %summary.fingerprint, serial = %summary.serial, "certificate of a deleted or re-enrolled device rejected");
                Err(GatewayError::Forbidden {
                    code: "device_revoked",
                    detail:
                        "this certificate does not belong to an active device; re-enroll the agent"
                            .into(),
                })
            }
        }
    }
}

async fn renew(
    State(gw): State<Gateway>,
    AuthedDevice(device): AuthedDevice,
    body: Bytes,
) -> Result<Json<RenewResponse>, GatewayError> {
    let Some(ca) = gw.ca.clone() else {
        return Err(GatewayError::Unavailable(
            "the internal CA is unavailable, so no certificate can be issued".into(),
        ));
    };
    if body.len() > SMALL_BODY {
        return Err(GatewayError::TooLarge(SMALL_BODY as u64));
    }
    let req: RenewRequest = parse_json(&body)?;
    let now = OffsetDateTime::now_utc();
    if device.cert.not_after - now > time::Duration::days(RENEW_WINDOW_DAYS) {
        return Err(GatewayError::Conflict {
            code: "renewal_not_due",
            detail: format!(
                "the certificate is valid until {}; renewal opens {RENEW_WINDOW_DAYS} days before expiry",
                device.cert.not_after
            ),
        });
    }
    let id = device.id;
    let issued = tokio::task::spawn_blocking(move || {
        ca.sign_device_csr(&req.csr, id, time::Duration::days(pki::DEVICE_CERT_DAYS))
    })
    .await
    .map_err(|e| GatewayError::Internal(e.to_string()))?
    .map_err(|e| GatewayError::field("csr", e.to_string()))?;
    gw.store()?
        .renew_device_cert(
            device.id,
            &DeviceCert {
                fingerprint: issued.fingerprint.clone(),
                serial: issued.serial.clone(),
                not_after: issued.not_after,
            },
            now + time::Duration::days(RENEW_OVERLAP_DAYS),
        )
        .await?;
    tracing::info!(target: SECURITY, event = "agent_renewed", device_id = %device.id, fingerprint = %issued.fingerprint, "device certificate renewed");
    Ok(Json(RenewResponse {
        device_cert: issued.pem,
    }))
}

async fn config(
    State(gw): State<Gateway>,
    AuthedDevice(device): AuthedDevice,
) -> Result<Json<AgentConfigBody>, GatewayError> {
    gw.store()?
        .touch_device(device.id, OffsetDateTime::now_utc())
        .await?;
    Ok(Json(gw.agent_config.clone()))
}

/// Bounds on the content of an upload, beyond its byte size.
const MAX_PACKAGES: usize = 500_000;
const MAX_TEXT: usize = 4096;

fn validate_scan(s: &ScanUpload) -> Result<(), GatewayError> {
    if s.scan_id.is_nil() {
        return Err(GatewayError::field(
            "scan_id",
            "scan_id must not be the nil UUID",
        ));
    }
    if s.packages.len() > MAX_PACKAGES {
        return Err(GatewayError::field(
            "packages",
            format!("at most {MAX_PACKAGES} packages per scan"),
        ));
    }
    check_text("host.hostname", &s.host.hostname, 255, false)?;
    check_text("agent_version", &s.agent_version, 128, false)?;
    for (i, p) in s.packages.iter().enumerate() {
        for (name, v, required) in [
            ("ecosystem", &p.ecosystem, true),
            ("name", &p.name, true),
            ("version", &p.version, true),
            ("install_path", &p.install_path, false),
        ] {
            check_text_lazy(|| format!("packages.{i}.{name}"), v, MAX_TEXT, required)?;
        }
    }
    for (i, e) in s.errors.iter().enumerate() {
        check_text_lazy(|| format!("errors.{i}.error"), &e.error, 16 * 1024, false)?;
    }
    Ok(())
}

/// How long an oversized body is drained before the 413 goes out anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Reads at most `cap` bytes of `body`. Past the cap the rest is read and discarded (so the
/// client, still sending, receives the 413 instead of a reset connection) and `None` is
/// returned; memory stays bounded by `cap` whatever the client sends.
async fn read_capped(
    mut body: axum::body::Body,
    cap: usize,
    already_over: bool,
) -> Result<Option<Vec<u8>>, GatewayError> {
    use http_body_util::BodyExt;
    let mut buf = Vec::new();
    let mut over = already_over;
    let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(f))) => f,
            Ok(Some(Err(e))) => {
                return Err(GatewayError::BadRequest {
                    detail: format!("the request body could not be read: {e}"),
                    field: None,
                });
            }
            Ok(None) => break,
            Err(_) if over => break,
            Err(_) => {
                return Err(GatewayError::BadRequest {
                    detail: "the request body did not arrive in time".into(),
                    field: None,
                });
            }
        };
        if let Ok(data) = frame.into_data() {
            if !over && buf.len() + data.len() > cap {
                over = true;
                buf = Vec::new();
            }
            if !over {
                buf.extend_from_slice(&data);
            }
        }
    }
    Ok((!over).then_some(buf))
}

async fn scan(
    State(gw): State<Gateway>,
    AuthedDevice(device): AuthedDevice,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<ScanAccepted>), GatewayError> {
    let limits = gw.limits;
    let encoding = body::Encoding::parse(
        headers
            .get(axum::http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    )
    .ok_or(GatewayError::UnsupportedEncoding)?;
    // A declared length over the cap is refused without keeping a single byte.
    let declared_over = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > limits.max_body);
    let cap = usize::try_from(limits.max_body).unwrap_or(usize::MAX);
    let bytes = read_capped(body, cap, declared_over)
        .await?
        .ok_or(GatewayError::TooLarge(limits.max_body))?;
    // Parsing and checking 20,000 packages takes milliseconds of CPU: not on the runtime.
    let (upload, bytes) = tokio::task::spawn_blocking(move || {
        let upload =
            body::decode_scan(&bytes, encoding, limits.max_decompressed).map_err(|e| match e {
                body::DecodeError::TooLarge(n) => GatewayError::TooLarge(n),
                body::DecodeError::Corrupt(d) => GatewayError::BadRequest {
                    detail: d,
                    field: None,
                },
                body::DecodeError::Invalid { detail, field } => GatewayError::BadRequest {
                    detail: format!("invalid scan upload: {detail}"),
                    field,
                },
            })?;
        validate_scan(&upload)?;
        Ok::<_, GatewayError>((upload, bytes))
    })
    .await
    .map_err(|e| GatewayError::Internal(e.to_string()))??;
    let scan_id = upload.scan_id;
    let packages = upload.packages.len() as u64;
    let scanned_at = upload.scanned_at;
    // A zstd body that parsed as a valid upload is stored as it came: the ingest job reads
    // it exactly as it would read our own encoding, so serialising and compressing it again
    // here would only cost the gateway time per upload.
    let upload = std::sync::Arc::new(upload);
    let compressed = if encoding == body::Encoding::Zstd {
        bytes
    } else {
        drop(bytes);
        let u = upload.clone();
        tokio::task::spawn_blocking(move || crate::ingest::encode(&u))
            .await
            .map_err(|e| GatewayError::Internal(e.to_string()))?
            .map_err(GatewayError::Internal)?
    };
    // Offered before the job exists, so a worker that claims it at once finds it; the job
    // parses the stored copy when this process runs no worker or the entry was evicted.
    crate::ingest::handoff::global().offer(upload.clone());
    // Freeing twenty thousand parsed packages is not work for the request's thread; when the
    // handoff keeps the upload, there is only a reference to drop.
    if let Some(upload) = std::sync::Arc::into_inner(upload) {
        tokio::task::spawn_blocking(move || drop(upload));
    }
    let job = NewJob::new(
        "ingest_scan",
        serde_json::json!({"scan_id": scan_id, "device_id": device.id}),
    )
    .queue("ingest")
    .unique_key(format!("ingest_scan:{scan_id}"));
    let stored = gw
        .store()?
        .store_scan_compressed(
            &NewScan {
                scan_id,
                device_id: device.id,
                scanned_at,
                packages_received: packages,
            },
            &compressed,
            &job,
        )
        .await?;
    if !stored.inserted {
        // A retried upload of a scan stored before: its job has the stored copy.
        crate::ingest::handoff::global().take(scan_id);
    }
    tracing::info!(device_id = %device.id, scan_id = %scan_id, packages, new = stored.inserted, "scan received");
    Ok((
        StatusCode::ACCEPTED,
        Json(ScanAccepted {
            scan_id,
            packages_received: stored.packages_received,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_checks_refuse_control_characters_and_name_the_field() {
        for ok in ["requests", "é-ü 2.0", "日本語", "a b", "a\u{a0}b"] {
            assert!(check_text("f", ok, 100, true).is_ok(), "{ok:?}");
        }
        for bad in ["a\tb", "a\nb", "\u{7f}", "x\u{85}y", "\u{9f}"] {
            match check_text_lazy(|| "packages.3.name".to_owned(), bad, 100, false) {
                Err(GatewayError::BadRequest { field, .. }) => {
                    assert_eq!(field.as_deref(), Some("packages.3.name"))
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(check_text("f", "  ", 100, true).is_err());
        assert!(check_text("f", "  ", 100, false).is_ok());
        assert!(check_text("f", "abcd", 3, false).is_err());
    }
}
