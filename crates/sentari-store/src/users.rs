//! Operator accounts: creation (including the race-free bootstrap of the first owner), roles
//! with the one-owner rule, activation, password hashes and login-failure bookkeeping.
//!
//! E-mails arrive as [`Email`] values, already lowercased, so the unique index on `email` is the
//! case-insensitive uniqueness the product promises. The "exactly one owner" rule is enforced
//! twice: by a partial unique index (at most one) and by refusing every change that would
//! demote or deactivate the owner (at least one).

use sentari_core::auth::{Email, IdentityProvider, Role};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{BeginWrite, Pool, Store, with_pool};
use crate::ts::Ts;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    /// Lowercased.
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub provider: IdentityProvider,
    pub active: bool,
    /// The PHC-format Argon2id hash; only local users have one.
    pub password_hash: Option<String>,
    pub mfa_enabled: bool,
    /// The identity provider's subject (OIDC `sub`, LDAP DN), when known.
    pub external_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
}

/// What is needed to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub provider: IdentityProvider,
    pub password_hash: Option<String>,
    pub external_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct UserRecord {
    id: Uuid,
    email: String,
    display_name: String,
    role: String,
    provider: String,
    active: bool,
    password_hash: Option<String>,
    mfa_enabled: bool,
    external_id: Option<String>,
    created_at: Ts,
    updated_at: Ts,
    last_login_at: Option<Ts>,
}

impl TryFrom<UserRecord> for User {
    type Error = StoreError;
    fn try_from(r: UserRecord) -> Result<Self, StoreError> {
        Ok(User {
            id: r.id,
            role: r
                .role
                .parse()
                .map_err(|e| StoreError::Invalid(format!("user {}: {e}", r.id)))?,
            provider: r
                .provider
                .parse()
                .map_err(|e| StoreError::Invalid(format!("user {}: {e}", r.id)))?,
            email: r.email,
            display_name: r.display_name,
            active: r.active,
            password_hash: r.password_hash,
            mfa_enabled: r.mfa_enabled,
            external_id: r.external_id,
            created_at: r.created_at.get(),
            updated_at: r.updated_at.get(),
            last_login_at: r.last_login_at.map(Ts::get),
        })
    }
}

pub(crate) const USER_COLUMNS: &str = "id, email, display_name, role, provider, active, password_hash, mfa_enabled, \
     external_id, created_at, updated_at, last_login_at";

const INSERT_USER: &str = "INSERT INTO users (id, email, display_name, role, provider, active, password_hash, \
     mfa_enabled, external_id, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, TRUE, $6, FALSE, $7, $8, $8)";

/// The key of the advisory lock that serialises the first-user bootstrap on PostgreSQL.
const BOOTSTRAP_LOCK: i64 = 0x5345_4e54_0006;

fn duplicate(email: &Email, role: Role, err: StoreError) -> StoreError {
    match err {
        StoreError::Conflict(_) if role == Role::Owner => {
            StoreError::Conflict("there is already an owner; transfer ownership instead".into())
        }
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("a user with e-mail {email} already exists"))
        }
        other => other,
    }
}

fn not_found(id: Uuid) -> StoreError {
    StoreError::NotFound(format!("user {id}"))
}

impl Store {
    /// How many users exist.
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        self.timed("count_users", async {
            Ok(with_pool!(self, |pool| sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM users"
            )
            .fetch_one(pool)
            .await?))
        })
        .await
    }

    /// Creates a user. Fails with [`StoreError::Conflict`] when the e-mail is taken or when
    /// the new user would be a second owner.
    pub async fn create_user(&self, u: &NewUser) -> Result<User, StoreError> {
        let id = Uuid::now_v7();
        self.timed("create_user", async {
            let now = Ts::now();
            let r = with_pool!(self, |pool| sqlx::query(INSERT_USER)
                .bind(id)
                .bind(u.email.as_str())
                .bind(&u.display_name)
                .bind(u.role.as_str())
                .bind(u.provider.as_str())
                .bind(&u.password_hash)
                .bind(&u.external_id)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ()));
            r.map_err(|e| duplicate(&u.email, u.role, e.into()))
        })
        .await?;
        self.get_user(id).await?.ok_or_else(|| not_found(id))
    }

    /// Creates `u` only when no user exists yet, atomically: of several processes starting at
    /// once, exactly one creates the bootstrap owner. Returns `None` when users already exist.
    pub async fn create_first_user(&self, u: &NewUser) -> Result<Option<User>, StoreError> {
        let id = Uuid::now_v7();
        let created = self
            .timed("create_first_user", async {
                let now = Ts::now();
                let created = match &self.inner.pool {
                    Pool::Sqlite(pool) => {
                        let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                            .fetch_one(&mut *tx)
                            .await?;
                        if n == 0 {
                            sqlx::query(INSERT_USER)
                                .bind(id)
                                .bind(u.email.as_str())
                                .bind(&u.display_name)
                                .bind(u.role.as_str())
                                .bind(u.provider.as_str())
                                .bind(&u.password_hash)
                                .bind(&u.external_id)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                        }
                        tx.commit().await?;
                        n == 0
                    }
                    Pool::Postgres(pool) => {
                        let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                        sqlx::query("SELECT pg_advisory_xact_lock($1)")
                            .bind(BOOTSTRAP_LOCK)
                            .execute(&mut *tx)
                            .await?;
                        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                            .fetch_one(&mut *tx)
                            .await?;
                        if n == 0 {
                            sqlx::query(INSERT_USER)
                                .bind(id)
                                .bind(u.email.as_str())
                                .bind(&u.display_name)
                                .bind(u.role.as_str())
                                .bind(u.provider.as_str())
                                .bind(&u.password_hash)
                                .bind(&u.external_id)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                        }
                        tx.commit().await?;
                        n == 0
                    }
                };
                Ok(created)
            })
            .await?;
        if !created {
            return Ok(None);
        }
        self.get_user(id).await
    }

    /// The user with this id.
    pub async fn get_user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.timed("get_user", async {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
            let r: Option<UserRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(id)
            .fetch_optional(pool)
            .await?);
            r.map(User::try_from).transpose()
        })
        .await
    }

    /// The user with this e-mail (compared case-insensitively through [`Email`]).
    pub async fn get_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.timed("get_user_by_email", async {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
            let r: Option<UserRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?);
            r.map(User::try_from).transpose()
        })
        .await
    }

    /// Every user, by e-mail.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.timed("list_users", async {
            let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
            let rows: Vec<UserRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .fetch_all(pool)
            .await?);
            rows.into_iter().map(User::try_from).collect()
        })
        .await
    }

    /// Changes a user's role. The owner cannot be demoted and nobody becomes owner this way
    /// (use [`Store::transfer_ownership`]); both are [`StoreError::Conflict`].
    pub async fn set_user_role(&self, id: Uuid, role: Role) -> Result<User, StoreError> {
        if role == Role::Owner {
            return Err(StoreError::Conflict(
                "ownership is only transferred, never granted".into(),
            ));
        }
        let n = self
            .timed("set_user_role", async {
                Ok(with_pool!(self, |pool| sqlx::query(
                    "UPDATE users SET role = $2, updated_at = $3 WHERE id = $1 AND role <> 'owner'"
                )
                .bind(id)
                .bind(role.as_str())
                .bind(Ts::now())
                .execute(pool)
                .await?
                .rows_affected()))
            })
            .await?;
        let user = self.get_user(id).await?.ok_or_else(|| not_found(id))?;
        if n == 0 {
            return Err(StoreError::Conflict(
                "the owner cannot be demoted; transfer ownership first".into(),
            ));
        }
        Ok(user)
    }

    /// Makes `to` the owner and `from` (the current owner) an admin, in one transaction.
    pub async fn transfer_ownership(&self, from: Uuid, to: Uuid) -> Result<(), StoreError> {
        if from == to {
            return Err(StoreError::Conflict(
                "that user is already the owner".into(),
            ));
        }
        self.timed("transfer_ownership", async {
            let now = Ts::now();
            with_pool!(self, |pool| {
                let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                let demoted = sqlx::query(
                    "UPDATE users SET role = 'admin', updated_at = $2 WHERE id = $1 AND role = 'owner'",
                )
                .bind(from)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if demoted != 1 {
                    return Err(StoreError::Conflict("the acting user is not the owner".into()));
                }
                let promoted = sqlx::query(
                    "UPDATE users SET role = 'owner', updated_at = $2 WHERE id = $1 AND active",
                )
                .bind(to)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if promoted != 1 {
                    return Err(StoreError::NotFound(format!("active user {to}")));
                }
                tx.commit().await?;
            });
            Ok(())
        })
        .await
    }

    /// Activates or deactivates a user; the owner cannot be deactivated.
    pub async fn set_user_active(&self, id: Uuid, active: bool) -> Result<User, StoreError> {
        let n = self
            .timed("set_user_active", async {
                Ok(with_pool!(self, |pool| sqlx::query(
                    "UPDATE users SET active = $2, updated_at = $3 WHERE id = $1 AND (role <> 'owner' OR $2)"
                )
                .bind(id)
                .bind(active)
                .bind(Ts::now())
                .execute(pool)
                .await?
                .rows_affected()))
            })
            .await?;
        let user = self.get_user(id).await?.ok_or_else(|| not_found(id))?;
        if n == 0 {
            return Err(StoreError::Conflict(
                "the owner cannot be deactivated".into(),
            ));
        }
        Ok(user)
    }

    /// Replaces a user's password hash (reset, or a rehash with new parameters).
    pub async fn set_password_hash(&self, id: Uuid, hash: &str) -> Result<(), StoreError> {
        self.update_user_field(
            "set_password_hash",
            "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
            id,
            hash.to_owned(),
        )
        .await
    }

    /// Changes a user's display name.
    pub async fn set_display_name(&self, id: Uuid, name: &str) -> Result<(), StoreError> {
        self.update_user_field(
            "set_display_name",
            "UPDATE users SET display_name = $2, updated_at = $3 WHERE id = $1",
            id,
            name.to_owned(),
        )
        .await
    }

    /// Records whether the user has MFA enabled.
    pub async fn set_mfa_enabled(&self, id: Uuid, enabled: bool) -> Result<(), StoreError> {
        let n = self
            .timed("set_mfa_enabled", async {
                Ok(with_pool!(self, |pool| sqlx::query(
                    "UPDATE users SET mfa_enabled = $2, updated_at = $3 WHERE id = $1"
                )
                .bind(id)
                .bind(enabled)
                .bind(Ts::now())
                .execute(pool)
                .await?
                .rows_affected()))
            })
            .await?;
        if n == 0 { Err(not_found(id)) } else { Ok(()) }
    }

    async fn update_user_field(
        &self,
        op: &'static str,
        sql: &'static str,
        id: Uuid,
        value: String,
    ) -> Result<(), StoreError> {
        let n = self
            .timed(op, async {
                Ok(with_pool!(self, |pool| sqlx::query(sql)
                    .bind(id)
                    .bind(&value)
                    .bind(Ts::now())
                    .execute(pool)
                    .await?
                    .rows_affected()))
            })
            .await?;
        if n == 0 { Err(not_found(id)) } else { Ok(()) }
    }

    /// Records a successful login: stamps `last_login_at` and clears the failure counter.
    pub async fn record_login(&self, id: Uuid) -> Result<(), StoreError> {
        self.timed("record_login", async {
            let now = Ts::now();
            with_pool!(self, |pool| {
                let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            });
            Ok(())
        })
        .await
    }

    /// Records a failed login and returns how many failures the user has had since `since`
    /// (including this one), which the caller compares with the lockout threshold.
    pub async fn record_login_failure(
        &self,
        id: Uuid,
        ip: Option<&str>,
        since: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        self.timed("record_login_failure", async {
            let now = Ts::now();
            let n = with_pool!(self, |pool| {
                sqlx::query("INSERT INTO login_failures (user_id, at, ip) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(now)
                    .bind(ip)
                    .execute(pool)
                    .await?;
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM login_failures WHERE user_id = $1 AND at >= $2",
                )
                .bind(id)
                .bind(Ts::new(since))
                .fetch_one(pool)
                .await?
            });
            Ok(n)
        })
        .await
    }

    /// Failures since `since` and the time of the latest one, for the lockout check.
    pub async fn login_failures_since(
        &self,
        id: Uuid,
        since: OffsetDateTime,
    ) -> Result<(i64, Option<OffsetDateTime>), StoreError> {
        self.timed("login_failures_since", async {
            let (n, last): (i64, Option<Ts>) = with_pool!(self, |pool| sqlx::query_as(
                "SELECT COUNT(*), MAX(at) FROM login_failures WHERE user_id = $1 AND at >= $2"
            )
            .bind(id)
            .bind(Ts::new(since))
            .fetch_one(pool)
            .await?);
            Ok((n, last.map(Ts::get)))
        })
        .await
    }

    /// Forgets a user's failed logins (the admin "unlock" action).
    pub async fn clear_login_failures(&self, id: Uuid) -> Result<u64, StoreError> {
        self.timed("clear_login_failures", async {
            Ok(with_pool!(self, |pool| sqlx::query(
                "DELETE FROM login_failures WHERE user_id = $1"
            )
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()))
        })
        .await
    }
}
