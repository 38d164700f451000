//! Runtime settings that operators change in the dashboard (`system_config`), as JSON values.
//!
//! Secrets are not kept here in clear: the server encrypts them before storing, or keeps them
//! in files.

use serde_json::Value;
use sqlx::types::Json;

use crate::error::StoreError;
use crate::store::{Store, with_pool};
use crate::ts::Ts;

impl Store {
    /// The value stored under `key`, if any.
    pub async fn get_setting(&self, key: &str) -> Result<Option<Value>, StoreError> {
        self.timed("get_setting", async {
            let v: Option<Json<Value>> = with_pool!(self, |pool| sqlx::query_scalar(
                "SELECT value FROM system_config WHERE key = $1"
            )
            .bind(key)
            .fetch_optional(pool)
            .await?);
            Ok(v.map(|j| j.0))
        })
        .await
    }

    /// Stores `value` under `key`, replacing any earlier value.
    pub async fn put_setting(&self, key: &str, value: &Value) -> Result<(), StoreError> {
        self.timed("put_setting", async {
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO system_config (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
            )
            .bind(key)
            .bind(Json(value))
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }

    /// Deletes the value under `key`; `false` when there was none.
    pub async fn delete_setting(&self, key: &str) -> Result<bool, StoreError> {
        self.timed("delete_setting", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "DELETE FROM system_config WHERE key = $1"
            )
            .bind(key)
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }
}
