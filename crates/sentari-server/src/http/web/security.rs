//! Security headers on every dashboard response.
//!
//! The Content-Security-Policy allows nothing but this origin: no inline script, no inline
//! style (the templates use classes only, the charts presentation attributes), no frames, no
//! plugins, forms only to this origin. Pages are never cached (they show account data); the
//! static files set their own cache headers. `Strict-Transport-Security` is sent only when the
//! listener itself serves HTTPS, since behind a TLS-terminating proxy the proxy owns it.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The dashboard's Content-Security-Policy.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Which optional headers apply.
#[derive(Debug, Clone, Copy)]
pub struct HeaderPolicy {
    /// Send `Strict-Transport-Security` (the listener serves HTTPS).
    pub hsts: bool,
}

/// The middleware.
pub async fn headers(State(policy): State<HeaderPolicy>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(h, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    );
    set(h, header::CACHE_CONTROL, "no-store");
    if policy.hsts {
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    resp
}
