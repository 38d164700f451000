//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the REST API, generated from the
//! route table at request time, so it always lists exactly the routes the server answers, with
//! their methods, path parameters and minimum roles (ARCHITECTURE.md §16).

use axum::Json;
use serde_json::{Map, Value, json};

use super::route_table;
use crate::auth::Access;

/// Query parameters of the list endpoints, by path: shared pagination plus each list's filters.
fn list_filters(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "/api/v1/devices" => &[
            "q",
            "os",
            "tag",
            "scan_status",
            "seen_after",
            "seen_before",
            "severity",
            "package",
            "version",
            "range",
            "ecosystem",
            "package_version_id",
            "advisory",
        ],
        "/api/v1/devices/{id}/packages" => &[
            "q",
            "ecosystem",
            "env_type",
            "source",
            "environment",
            "vulnerable",
        ],
        "/api/v1/devices/{id}/findings" | "/api/v1/findings" => &[
            "severity",
            "min_severity",
            "ecosystem",
            "device_id",
            "advisory",
            "package",
            "tag",
            "suppressed",
            "resolved",
            "group",
        ],
        "/api/v1/packages" => &[
            "name",
            "q",
            "prefix",
            "ecosystem",
            "version",
            "range",
            "vulnerable",
        ],
        "/api/v1/runtimes" => &["kind", "version", "eol_status", "device_id", "q"],
        "/api/v1/scans" => &["device_id", "status", "since", "until"],
        "/api/v1/diagnostics" => &["device_id", "scan_id"],
        "/api/v1/suppressions" => &["expired"],
        "/api/v1/audit" => &["actor", "action", "since", "until"],
        _ => return None,
    })
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// Builds the document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (method, path, access) in route_table() {
        let mut params = Vec::new();
        for seg in path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
            }
        }
        if method == axum::http::Method::GET
            && let Some(filters) = list_filters(path)
        {
            // Diagnostics and the audit log have a fixed order, and refuse `sort`.
            let fixed_order = matches!(path, "/api/v1/diagnostics" | "/api/v1/audit");
            for (name, desc) in [
                ("page", "page number, from 1"),
                ("page_size", "rows per page, 1 to 500 (default 50)"),
                ("sort", "field to sort by; prefix with - for descending"),
                ("format", "json (default) or csv; runtimes also xlsx"),
            ] {
                if fixed_order && name == "sort" {
                    continue;
                }
                params.push(json!({"name": name, "in": "query", "required": false,
                    "description": desc, "schema": {"type": "string"}}));
            }
            for f in filters {
                params.push(json!({"name": f, "in": "query", "required": false, "schema": {"type": "string"}}));
            }
        }
        let tag = path
            .trim_start_matches("/api/v1/")
            .split('/')
            .next()
            .unwrap_or("api")
            .to_owned();
        let op_id = format!(
            "{}_{}",
            method.as_str().to_ascii_lowercase(),
            path.trim_start_matches("/api/v1/")
                .replace(['/', '-', '.'], "_")
                .replace(['{', '}'], "")
        );
        let (role, security) = match access {
            Access::Public => ("public".to_owned(), json!([])),
            Access::Role(r) => (
                r.as_str().to_owned(),
                json!([{"bearer": []}, {"session": []}]),
            ),
        };
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({"description": "success (201/202/204 for writes that create, queue or delete)"}),
        );
        responses.insert(
            "400".into(),
            error_response("malformed or invalid input; `field` names the offending field"),
        );
        if access != Access::Public {
            responses.insert("401".into(), error_response("not authenticated"));
            responses.insert(
                "403".into(),
                error_response(&format!(
                    "authenticated, but below the {role} role (or a cross-site cookie write)"
                )),
            );
        }
        if crate::license::management_write(&method, path) {
            responses.insert(
                "402".into(),
                error_response(
                    "`license_read_only`: the license key is invalid or expired, so management writes are refused",
                ),
            );
        }
        responses.insert(
            "404".into(),
            error_response("no such object (also for objects the caller may not see)"),
        );
        responses.insert(
            "429".into(),
            error_response("rate limited; see Retry-After"),
        );
        let mut op = json!({
            "operationId": op_id,
            "tags": [tag],
            "summary": format!("{} {}", method.as_str(), path),
            "description": format!("Minimum role: {role}."),
            "x-sentari-min-role": role,
            "parameters": params,
            "security": security,
            "responses": responses,
        });
        if matches!(method.as_str(), "POST" | "PUT" | "PATCH")
            && let Some(o) = op.as_object_mut()
        {
            o.insert(
                "requestBody".into(),
                json!({"required": false, "content": {"application/json": {"schema": {"type": "object"}}}}),
            );
        }
        let entry = paths
            .entry(path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(o) = entry.as_object_mut() {
            o.insert(method.as_str().to_ascii_lowercase(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Sentari REST API",
            "version": crate::VERSION,
            "description": "Fleet inventory, vulnerability findings, feeds, users and audit. Lists answer {items, total, page, page_size}; errors answer {error, detail, field?}.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a session token from /api/v1/auth/login, or an API key sk_…"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::tokens::SESSION_COOKIE},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {
                        "error": {"type": "string", "description": "snake_case code"},
                        "detail": {"type": "string"},
                        "field": {"type": "string"},
                    },
                },
            },
        },
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Json<Value> {
    Json(document())
}
