//! API keys for automation: stored as hashes, each with its own role (never above its owner's,
//! checked by the server), an optional expiry and a revocation time.

use sentari_core::auth::Role;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{Store, with_pool};
use crate::ts::Ts;

/// An API key as stored (without its secret, which is never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The first characters of the key, shown in listings so users can tell keys apart.
    pub prefix: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// What is needed to create a key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    /// The hash of the full key (hex).
    pub key_hash: String,
    pub role: Role,
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct ApiKeyRecord {
    id: Uuid,
    user_id: Uuid,
    name: String,
    prefix: String,
    role: String,
    created_at: Ts,
    expires_at: Option<Ts>,
    last_used_at: Option<Ts>,
    revoked_at: Option<Ts>,
}

impl TryFrom<ApiKeyRecord> for ApiKey {
    type Error = StoreError;
    fn try_from(r: ApiKeyRecord) -> Result<Self, StoreError> {
        Ok(ApiKey {
            role: r
                .role
                .parse()
                .map_err(|e| StoreError::Invalid(format!("API key {}: {e}", r.id)))?,
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at.get(),
            expires_at: r.expires_at.map(Ts::get),
            last_used_at: r.last_used_at.map(Ts::get),
            revoked_at: r.revoked_at.map(Ts::get),
        })
    }
}

const KEY_COLUMNS: &str =
    "id, user_id, name, prefix, role, created_at, expires_at, last_used_at, revoked_at";

impl Store {
    /// Stores a new key.
    pub async fn create_api_key(&self, k: &NewApiKey) -> Result<ApiKey, StoreError> {
        let id = Uuid::now_v7();
        let now = Ts::now();
        self.timed("create_api_key", async {
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, role, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            )
            .bind(id)
            .bind(k.user_id)
            .bind(&k.name)
            .bind(&k.prefix)
            .bind(&k.key_hash)
            .bind(k.role.as_str())
            .bind(now)
            .bind(k.expires_at.map(Ts::new))
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await?;
        Ok(ApiKey {
            id,
            user_id: k.user_id,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            role: k.role,
            created_at: now.get(),
            expires_at: k.expires_at.map(|t| Ts::new(t).get()),
            last_used_at: None,
            revoked_at: None,
        })
    }

    /// The key whose hash is `key_hash`, revoked or expired or not (the caller decides).
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.timed("api_key_by_hash", async {
            let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
            let r: Option<ApiKeyRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(key_hash)
            .fetch_optional(pool)
            .await?);
            r.map(ApiKey::try_from).transpose()
        })
        .await
    }

    /// A user's keys, newest first.
    pub async fn list_api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKey>, StoreError> {
        self.timed("list_api_keys", async {
            let sql = format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
            );
            let rows: Vec<ApiKeyRecord> = with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(user_id)
                .fetch_all(pool)
                .await?);
            rows.into_iter().map(ApiKey::try_from).collect()
        })
        .await
    }

    /// Revokes one of `user_id`'s keys; `false` when there is no such unrevoked key of theirs.
    pub async fn revoke_api_key(&self, id: Uuid, user_id: Uuid) -> Result<bool, StoreError> {
        self.timed("revoke_api_key", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"
            )
            .bind(id)
            .bind(user_id)
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Records that the key was used now.
    pub async fn touch_api_key(&self, id: Uuid) -> Result<(), StoreError> {
        self.timed("touch_api_key", async {
            with_pool!(self, |pool| sqlx::query(
                "UPDATE api_keys SET last_used_at = $2 WHERE id = $1"
            )
            .bind(id)
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }
}
