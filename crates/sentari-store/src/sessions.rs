//! Browser and API sessions: opaque tokens stored only as keyed hashes, with an idle and an
//! absolute expiry.
//!
//! The store never sees a token, only the hash the server computes with a key derived from
//! `SENTARI_SECRET_KEY`; rotating that key therefore makes every stored hash unreachable, which
//! is how a rotation signs everyone out.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{Store, with_pool};
use crate::ts::Ts;

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// The absolute expiry; the idle expiry is `last_seen_at` plus the configured idle time.
    pub expires_at: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What is needed to create a session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The keyed hash of the token (hex).
    pub token_hash: String,
    pub user_id: Uuid,
    pub expires_at: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SessionRecord {
    id: Uuid,
    user_id: Uuid,
    created_at: Ts,
    last_seen_at: Ts,
    expires_at: Ts,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<SessionRecord> for Session {
    fn from(r: SessionRecord) -> Self {
        Session {
            id: r.id,
            user_id: r.user_id,
            created_at: r.created_at.get(),
            last_seen_at: r.last_seen_at.get(),
            expires_at: r.expires_at.get(),
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}

impl Store {
    /// Stores a new session and returns its id.
    pub async fn create_session(&self, s: &NewSession) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        self.timed("create_session", async {
            let now = Ts::now();
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7)"
            )
            .bind(id)
            .bind(&s.token_hash)
            .bind(s.user_id)
            .bind(now)
            .bind(Ts::new(s.expires_at))
            .bind(&s.ip)
            .bind(&s.user_agent)
            .execute(pool)
            .await?
            .rows_affected());
            Ok(id)
        })
        .await
    }

    /// The session whose token hashes to `token_hash`, expired or not (the caller decides).
    pub async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<Session>, StoreError> {
        self.timed("session_by_token_hash", async {
            let r: Option<SessionRecord> = with_pool!(self, |pool| sqlx::query_as(
                "SELECT id, user_id, created_at, last_seen_at, expires_at, ip, user_agent \
                 FROM sessions WHERE token_hash = $1"
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?);
            Ok(r.map(Session::from))
        })
        .await
    }

    /// Marks the session as used now (extends the idle window).
    pub async fn touch_session(&self, id: Uuid) -> Result<(), StoreError> {
        self.timed("touch_session", async {
            with_pool!(self, |pool| sqlx::query(
                "UPDATE sessions SET last_seen_at = $2 WHERE id = $1"
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

    /// Deletes one session (logout, or an expired one found on use); `false` if it was gone.
    pub async fn delete_session(&self, id: Uuid) -> Result<bool, StoreError> {
        self.timed("delete_session", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "DELETE FROM sessions WHERE id = $1"
            )
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Deletes every session of a user (deactivation, password or role change).
    pub async fn delete_user_sessions(&self, user_id: Uuid) -> Result<u64, StoreError> {
        self.timed("delete_user_sessions", async {
            Ok(with_pool!(self, |pool| sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1"
            )
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected()))
        })
        .await
    }

    /// Deletes sessions past their absolute expiry or idle since before `idle_since`.
    pub async fn prune_sessions(
        &self,
        now: OffsetDateTime,
        idle_since: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.timed("prune_sessions", async {
            Ok(with_pool!(self, |pool| sqlx::query(
                "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2"
            )
            .bind(Ts::new(now))
            .bind(Ts::new(idle_since))
            .execute(pool)
            .await?
            .rows_affected()))
        })
        .await
    }
}
