//! The append-only, hash-chained audit log (ARCHITECTURE.md §6).
//!
//! Appends are serialised (SQLite's write lock, a PostgreSQL advisory lock) so that sequence
//! numbers have no gaps and every entry links to the one before it. `before`/`after` are stored
//! as the canonical JSON text that was hashed, so verification recomputes exactly the bytes that
//! were hashed whatever the database does to JSON. Hashing and verification are pure functions
//! in `sentari_core::audit`.

use sentari_core::audit::{AuditContent, ChainReport, ChainVerifier, ChainedEntry, GENESIS_HASH};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{BeginWrite, Pool, Store, with_pool};
use crate::ts::Ts;

/// The advisory lock key that serialises appends on PostgreSQL.
const AUDIT_LOCK: i64 = 0x5345_4e54_0a0d;

/// How many rows verification reads per page.
const VERIFY_PAGE: i64 = 1000;

/// An entry to append.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    pub actor: String,
    pub actor_ip: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub seq: i64,
    pub id: Uuid,
    pub at: OffsetDateTime,
    pub actor: String,
    pub actor_ip: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub prev_hash: String,
    pub hash: String,
}

/// Filters for listing; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// 1-based page.
    pub page: i64,
    /// Rows per page, at most 1,000,000 (an export).
    pub page_size: i64,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    id: Uuid,
    at: Ts,
    actor: String,
    actor_ip: Option<String>,
    action: String,
    target: Option<String>,
    before: Option<String>,
    after: Option<String>,
    prev_hash: String,
    hash: String,
}

fn parse_json(seq: i64, s: Option<String>) -> Result<Option<Value>, StoreError> {
    s.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            StoreError::Invalid(format!("audit entry {seq}: stored JSON is invalid: {e}"))
        })
    })
    .transpose()
}

impl AuditRow {
    fn chained(&self) -> Result<ChainedEntry, StoreError> {
        Ok(ChainedEntry {
            content: AuditContent {
                seq: self.seq,
                id: self.id,
                at_micros: self.at.unix_micros(),
                actor: self.actor.clone(),
                actor_ip: self.actor_ip.clone(),
                action: self.action.clone(),
                target: self.target.clone(),
                before: parse_json(self.seq, self.before.clone())?,
                after: parse_json(self.seq, self.after.clone())?,
            },
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        })
    }

    fn record(self) -> Result<AuditRecord, StoreError> {
        Ok(AuditRecord {
            before: parse_json(self.seq, self.before)?,
            after: parse_json(self.seq, self.after)?,
            seq: self.seq,
            id: self.id,
            at: self.at.get(),
            actor: self.actor,
            actor_ip: self.actor_ip,
            action: self.action,
            target: self.target,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

const AUDIT_COLUMNS: &str =
    "seq, id, at, actor, actor_ip, action, target, before, after, prev_hash, hash";

fn canonical_text(v: &Option<Value>) -> Option<String> {
    // The hash is computed over the canonical form of the parsed value, which sorts keys, so
    // the stored text only has to parse back to the same value.
    v.as_ref().map(Value::to_string)
}

/// Appends inside an open write transaction; the macro is expanded once per backend.
macro_rules! append_in_tx {
    ($tx:expr, $e:expr, $id:expr, $at:expr) => {{
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_optional(&mut *$tx)
                .await?;
        let (prev_seq, prev_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
        let before = canonical_text(&$e.before);
        let after = canonical_text(&$e.after);
        let content = AuditContent {
            seq: prev_seq + 1,
            id: $id,
            at_micros: $at.unix_micros(),
            actor: $e.actor.clone(),
            actor_ip: $e.actor_ip.clone(),
            action: $e.action.clone(),
            target: $e.target.clone(),
            before: parse_json(prev_seq + 1, before.clone())?,
            after: parse_json(prev_seq + 1, after.clone())?,
        };
        let hash = sentari_core::audit::chain_hash(&prev_hash, &content);
        sqlx::query(
            "INSERT INTO audit_log (seq, id, at, actor, actor_ip, action, target, before, after, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(content.seq)
        .bind($id)
        .bind($at)
        .bind(&$e.actor)
        .bind(&$e.actor_ip)
        .bind(&$e.action)
        .bind(&$e.target)
        .bind(&before)
        .bind(&after)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        )
        .bind(content.seq)
        .bind(&hash)
        .execute(&mut *$tx)
        .await?;
        (content.seq, prev_hash, hash)
    }};
}

impl Store {
    /// Appends an entry to the chain and returns it as stored.
    pub async fn append_audit(&self, e: &NewAuditEntry) -> Result<AuditRecord, StoreError> {
        let id = Uuid::now_v7();
        let at = Ts::now();
        let (seq, prev_hash, hash) = self
            .timed("append_audit", async {
                let out = match &self.inner.pool {
                    Pool::Sqlite(pool) => {
                        let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                        let out = append_in_tx!(tx, e, id, at);
                        tx.commit().await?;
                        out
                    }
                    Pool::Postgres(pool) => {
                        let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                        sqlx::query("SELECT pg_advisory_xact_lock($1)")
                            .bind(AUDIT_LOCK)
                            .execute(&mut *tx)
                            .await?;
                        let out = append_in_tx!(tx, e, id, at);
                        tx.commit().await?;
                        out
                    }
                };
                Ok::<_, StoreError>(out)
            })
            .await?;
        Ok(AuditRecord {
            seq,
            id,
            at: at.get(),
            actor: e.actor.clone(),
            actor_ip: e.actor_ip.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            before: e.before.clone(),
            after: e.after.clone(),
            prev_hash,
            hash,
        })
    }

    /// Entries matching `f`, newest first, with the total count of matches.
    pub async fn list_audit(&self, f: &AuditFilter) -> Result<(Vec<AuditRecord>, i64), StoreError> {
        let mut conds = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.actor.is_some() {
            conds.push(format!("actor = {}", next()));
        }
        if f.action.is_some() {
            conds.push(format!("action = {}", next()));
        }
        if f.since.is_some() {
            conds.push(format!("at >= {}", next()));
        }
        if f.until.is_some() {
            conds.push(format!("at < {}", next()));
        }
        let lim = next();
        let off = next();
        let where_ = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let list_sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log{where_} ORDER BY seq DESC LIMIT {lim} OFFSET {off}"
        );
        let count_sql = format!("SELECT COUNT(*) FROM audit_log{where_}");
        // The API pages by at most 500; its CSV export asks for everything, up to a million.
        let page_size = f.page_size.clamp(1, 1_000_000);
        let offset = (f.page.max(1) - 1) * page_size;
        self.timed("list_audit", async {
            let (rows, total): (Vec<AuditRow>, i64) = with_pool!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(list_sql.as_str()));
                let mut c = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()));
                if let Some(a) = &f.actor {
                    q = q.bind(a);
                    c = c.bind(a);
                }
                if let Some(a) = &f.action {
                    q = q.bind(a);
                    c = c.bind(a);
                }
                if let Some(t) = f.since {
                    q = q.bind(Ts::new(t));
                    c = c.bind(Ts::new(t));
                }
                if let Some(t) = f.until {
                    q = q.bind(Ts::new(t));
                    c = c.bind(Ts::new(t));
                }
                let rows = q.bind(page_size).bind(offset).fetch_all(pool).await?;
                let total = c.fetch_one(pool).await?;
                (rows, total)
            });
            let items = rows
                .into_iter()
                .map(AuditRow::record)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((items, total))
        })
        .await
    }

    /// Walks the whole chain in sequence order and reports the first broken link, if any.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport, StoreError> {
        self.timed("verify_audit_chain", async {
            let mut v = ChainVerifier::new();
            let mut after = 0i64;
            let sql = format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
            );
            'pages: loop {
                let rows: Vec<AuditRow> = with_pool!(self, |pool| sqlx::query_as(
                    sqlx::AssertSqlSafe(sql.as_str())
                )
                .bind(after)
                .bind(VERIFY_PAGE)
                .fetch_all(pool)
                .await?);
                let Some(last) = rows.last() else { break };
                after = last.seq;
                for r in &rows {
                    let entry = match r.chained() {
                        Ok(e) => e,
                        Err(_) => {
                            // Unparseable JSON can only come from a direct edit of the row;
                            // feeding a placeholder makes the verifier report it as modified.
                            ChainedEntry {
                                content: AuditContent {
                                    seq: r.seq,
                                    id: r.id,
                                    at_micros: r.at.unix_micros(),
                                    actor: r.actor.clone(),
                                    actor_ip: None,
                                    action: String::new(),
                                    target: None,
                                    before: None,
                                    after: None,
                                },
                                prev_hash: r.prev_hash.clone(),
                                hash: "!".to_owned(),
                            }
                        }
                    };
                    if !v.push(&entry) {
                        break 'pages;
                    }
                }
                if (rows.len() as i64) < VERIFY_PAGE {
                    break;
                }
            }
            let head: Option<(i64, String)> = with_pool!(self, |pool| sqlx::query_as(
                "SELECT seq, hash FROM audit_head WHERE id = 1"
            )
            .fetch_optional(pool)
            .await?);
            Ok(v.finish(head.as_ref().map(|(s, h)| (*s, h.as_str()))))
        })
        .await
    }
}
