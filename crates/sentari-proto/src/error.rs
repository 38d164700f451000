//! The one error body every HTTP endpoint answers with (ARCHITECTURE.md §16).

use serde::{Deserialize, Serialize};

/// `{"error": "snake_case_code", "detail": "a sentence for humans", "field"?: "path"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable machine-readable code such as `not_found` or `invalid_body`.
    pub error: String,
    /// A sentence meant for the human reading the response.
    pub detail: String,
    /// For validation errors, the path of the offending field (`packages.3.version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    /// Builds an error body without a field path.
    pub fn new(error: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            detail: detail.into(),
            field: None,
        }
    }
}
