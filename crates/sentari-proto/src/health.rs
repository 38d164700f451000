//! Bodies of `/api/health`, `/api/live` and `/api/ready` (ARCHITECTURE.md §12).

use serde::{Deserialize, Serialize};

/// `200 {"status":"ok","version"}` or `503 {"status":"degraded","version","unreachable":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthBody {
    /// `ok` or `degraded`.
    pub status: String,
    /// The server's version string.
    pub version: String,
    /// Components that could not be reached (`database`, `queue`); absent when healthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
    /// Non-fatal problems an operator should see (stale feeds, degraded CA).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
