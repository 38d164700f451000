//! Enrollment tokens made with `sentari enroll-token create`.
//!
//! Only a SHA-256 hash of each token is stored, so a database dump does not hand out working
//! tokens. Using a token is one conditional `UPDATE`, so two agents racing for the last use of
//! a token cannot both win.

use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{Store, with_pool};
use crate::ts::Ts;

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrollmentToken {
    /// Lowercase hex SHA-256 of the token.
    pub token_hash: String,
    /// Tags (`key:value`) every device enrolled with it receives.
    pub tags: Vec<String>,
    /// How many enrollments it allows; `None` is unlimited.
    pub max_uses: Option<i32>,
    /// When it stops working; `None` never.
    pub expires_at: Option<OffsetDateTime>,
}

/// A stored token (without the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    pub id: Uuid,
    pub token_hash: String,
    pub tags: Vec<String>,
    pub max_uses: Option<i32>,
    pub uses: i32,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// Why a token cannot be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// It can be used.
    Usable,
    /// An operator revoked it.
    Revoked,
    /// Its expiry has passed.
    Expired,
    /// All its uses are spent.
    UsedUp,
}

impl EnrollmentToken {
    /// Whether the token can be used at `now`, and if not, why.
    pub fn state(&self, now: OffsetDateTime) -> TokenState {
        if self.revoked_at.is_some() {
            TokenState::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            TokenState::Expired
        } else if self.max_uses.is_some_and(|m| self.uses >= m) {
            TokenState::UsedUp
        } else {
            TokenState::Usable
        }
    }
}

#[derive(sqlx::FromRow)]
struct TokenRecord {
    id: Uuid,
    token_hash: String,
    tags: Json<Vec<String>>,
    max_uses: Option<i32>,
    uses: i32,
    expires_at: Option<Ts>,
    revoked_at: Option<Ts>,
    created_at: Ts,
}

impl From<TokenRecord> for EnrollmentToken {
    fn from(r: TokenRecord) -> Self {
        EnrollmentToken {
            id: r.id,
            token_hash: r.token_hash,
            tags: r.tags.0,
            max_uses: r.max_uses,
            uses: r.uses,
            expires_at: r.expires_at.map(Ts::get),
            revoked_at: r.revoked_at.map(Ts::get),
            created_at: r.created_at.get(),
        }
    }
}

const COLUMNS: &str = "id, token_hash, tags, max_uses, uses, expires_at, revoked_at, created_at";

impl Store {
    /// Stores a new token; returns its id.
    pub async fn create_enrollment_token(
        &self,
        t: &NewEnrollmentToken,
    ) -> Result<Uuid, StoreError> {
        if t.max_uses.is_some_and(|m| m < 1) {
            return Err(StoreError::Invalid("max_uses must be at least 1".into()));
        }
        self.timed("create_enrollment_token", async {
            let id = Uuid::now_v7();
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO enrollment_tokens (id, token_hash, tags, max_uses, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)"
            )
            .bind(id)
            .bind(&t.token_hash)
            .bind(Json(&t.tags))
            .bind(t.max_uses)
            .bind(t.expires_at.map(Ts::new))
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            Ok(id)
        })
        .await
    }

    /// Every token, newest first.
    pub async fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentToken>, StoreError> {
        self.timed("list_enrollment_tokens", async {
            let sql = format!(
                "SELECT {COLUMNS} FROM enrollment_tokens ORDER BY created_at DESC, id DESC"
            );
            let rows: Vec<TokenRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(EnrollmentToken::from).collect())
        })
        .await
    }

    /// The token whose hash is `token_hash`, if any.
    pub async fn find_enrollment_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<EnrollmentToken>, StoreError> {
        self.timed("find_enrollment_token", async {
            let sql = format!("SELECT {COLUMNS} FROM enrollment_tokens WHERE token_hash = $1");
            let r: Option<TokenRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?);
            Ok(r.map(EnrollmentToken::from))
        })
        .await
    }

    /// Uses the token once if it is still usable at `now`; `false` when it is not (revoked,
    /// expired or used up — possibly by a concurrent enrollment).
    pub async fn use_enrollment_token(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.timed("use_enrollment_token", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = $1 AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > $2) AND (max_uses IS NULL OR uses < max_uses)"
            )
            .bind(id)
            .bind(Ts::new(now))
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Revokes a token; `false` when there is no such token or it was already revoked.
    pub async fn revoke_enrollment_token(&self, id: Uuid) -> Result<bool, StoreError> {
        self.timed("revoke_enrollment_token", async {
            let n = with_pool!(self, |pool| {
                sqlx::query(
                "UPDATE enrollment_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
            )
            .bind(id)
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected()
            });
            Ok(n == 1)
        })
        .await
    }
}
