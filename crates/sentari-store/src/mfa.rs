//! TOTP multi-factor state of users: the sealed secret (the server encrypts it before it gets
//! here, the store never sees it in clear), an enrollment in progress, the last accepted time
//! step, and hashed single-use recovery codes.
//!
//! Accepting a code and using a recovery code are single conditional `UPDATE`s, so two requests
//! racing with the same code cannot both win: the one whose update matched no row lost.

use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{BeginWrite, Store, with_pool};
use crate::ts::Ts;

/// The MFA columns of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MfaState {
    /// Whether MFA is on.
    pub enabled: bool,
    /// The sealed secret of the confirmed enrollment.
    pub secret: Option<String>,
    /// The sealed secret of an enrollment that no code has confirmed yet.
    pub pending_secret: Option<String>,
    /// The RFC 6238 counter of the last accepted code.
    pub last_step: Option<i64>,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
}

/// `mfa_enabled, mfa_secret, mfa_pending_secret, mfa_last_step` of one row.
type MfaRow = (bool, Option<String>, Option<String>, Option<i64>);

fn not_found(id: Uuid) -> StoreError {
    StoreError::NotFound(format!("user {id}"))
}

impl Store {
    /// The MFA state of a user.
    pub async fn mfa_state(&self, user: Uuid) -> Result<MfaState, StoreError> {
        self.timed("mfa_state", async {
            let row: Option<MfaRow> =
                with_pool!(self, |pool| sqlx::query_as(
                    "SELECT mfa_enabled, mfa_secret, mfa_pending_secret, mfa_last_step FROM users WHERE id = $1"
                )
                .bind(user)
                .fetch_optional(pool)
                .await?);
            let Some((enabled, secret, pending_secret, last_step)) = row else {
                return Err(not_found(user));
            };
            let left: i64 = with_pool!(self, |pool| sqlx::query_scalar(
                "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL"
            )
            .bind(user)
            .fetch_one(pool)
            .await?);
            Ok(MfaState {
                enabled,
                secret,
                pending_secret,
                last_step,
                recovery_codes_left: left,
            })
        })
        .await
    }

    /// Stores the sealed secret of a new enrollment, replacing any earlier unconfirmed one.
    pub async fn set_mfa_pending(&self, user: Uuid, sealed: &str) -> Result<(), StoreError> {
        let n = self
            .timed("set_mfa_pending", async {
                Ok(with_pool!(self, |pool| sqlx::query(
                    "UPDATE users SET mfa_pending_secret = $2, updated_at = $3 WHERE id = $1"
                )
                .bind(user)
                .bind(sealed)
                .bind(Ts::now())
                .execute(pool)
                .await?
                .rows_affected()))
            })
            .await?;
        if n == 0 { Err(not_found(user)) } else { Ok(()) }
    }

    /// Turns MFA on: the pending secret becomes the secret, `step` (the confirming code's
    /// counter) becomes the last used step, and the recovery codes replace any earlier ones, in
    /// one transaction. Fails with [`StoreError::Conflict`] when the pending secret changed in
    /// the meantime (another enrollment started).
    pub async fn enable_mfa(
        &self,
        user: Uuid,
        sealed: &str,
        step: i64,
        recovery_hashes: &[String],
    ) -> Result<(), StoreError> {
        self.timed("enable_mfa", async {
            let now = Ts::now();
            with_pool!(self, |pool| {
                let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                let n = sqlx::query(
                    "UPDATE users SET mfa_enabled = TRUE, mfa_secret = mfa_pending_secret, \
                     mfa_pending_secret = NULL, mfa_last_step = $3, updated_at = $4 \
                     WHERE id = $1 AND mfa_pending_secret = $2",
                )
                .bind(user)
                .bind(sealed)
                .bind(step)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict(
                        "the enrollment changed; start it again".into(),
                    ));
                }
                sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                for h in recovery_hashes {
                    sqlx::query(
                        "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(user)
                    .bind(h)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            });
            Ok(())
        })
        .await
    }

    /// Turns MFA off and forgets the secret, any pending enrollment, the last step and the
    /// recovery codes (the user's own "disable" and the admin's "reset MFA").
    pub async fn clear_mfa(&self, user: Uuid) -> Result<(), StoreError> {
        self.timed("clear_mfa", async {
            let now = Ts::now();
            let n = with_pool!(self, |pool| {
                let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                let n = sqlx::query(
                    "UPDATE users SET mfa_enabled = FALSE, mfa_secret = NULL, mfa_pending_secret = NULL, \
                     mfa_last_step = NULL, updated_at = $2 WHERE id = $1",
                )
                .bind(user)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                n
            });
            if n == 0 { Err(not_found(user)) } else { Ok(()) }
        })
        .await
    }

    /// Records that the code of counter `step` was accepted. Returns `false` when that step or
    /// a later one was already used: RFC 6238 §5.2, a code is accepted at most once.
    pub async fn claim_totp_step(&self, user: Uuid, step: i64) -> Result<bool, StoreError> {
        self.timed("claim_totp_step", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE users SET mfa_last_step = $2 \
                 WHERE id = $1 AND (mfa_last_step IS NULL OR mfa_last_step < $2)"
            )
            .bind(user)
            .bind(step)
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Marks the unused recovery code with this hash as used; `false` when there is none.
    pub async fn use_recovery_code(&self, user: Uuid, code_hash: &str) -> Result<bool, StoreError> {
        self.timed("use_recovery_code", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE mfa_recovery_codes SET used_at = $3 \
                 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL"
            )
            .bind(user)
            .bind(code_hash)
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Records the user's subject at the identity provider (OIDC `sub`, LDAP DN).
    pub async fn set_external_id(&self, user: Uuid, external_id: &str) -> Result<(), StoreError> {
        let n = self
            .timed("set_external_id", async {
                Ok(with_pool!(self, |pool| sqlx::query(
                    "UPDATE users SET external_id = $2, updated_at = $3 WHERE id = $1"
                )
                .bind(user)
                .bind(external_id)
                .bind(Ts::now())
                .execute(pool)
                .await?
                .rows_affected()))
            })
            .await?;
        if n == 0 { Err(not_found(user)) } else { Ok(()) }
    }
}
